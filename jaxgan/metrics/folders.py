"""FID and KID between two image folders (as pytorch-fid reads them), or two arrays.

A folder is read as pytorch-fid reads it: the files directly in it (not in subfolders) with an
image extension, sorted by name, each opened with PIL and converted to RGB (so grayscale files
become three equal channels). All images of a folder must have one size; they are resized to
299x299 by the preprocessing. Features of a dataset (the real folder) are cached on disk, keyed
by the names, sizes and modification times of its files and by the preprocessing and weights.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from jaxgan.errors import InputError
from jaxgan.metrics import fid as fid_lib
from jaxgan.metrics import inception
from jaxgan.metrics import kid as kid_lib
from jaxgan.metrics import weights as weights_lib

# pytorch-fid's extensions; matched here regardless of case.
IMAGE_EXTENSIONS = ('bmp', 'jpg', 'jpeg', 'pgm', 'png', 'ppm', 'tif', 'tiff', 'webp')


def list_images(folder: str | os.PathLike, option: str = 'folder') -> list[pathlib.Path]:
  """The image files directly in `folder`, sorted; InputError (naming `option`) if none."""
  path = pathlib.Path(folder)
  if not path.is_dir():
    raise InputError(f'{option}: no folder {path}')
  files = sorted(
    p for p in path.iterdir() if p.is_file() and p.suffix.lower().lstrip('.') in IMAGE_EXTENSIONS
  )
  if not files:
    raise InputError(f'{option}: no images ({", ".join(IMAGE_EXTENSIONS)}) in {path}')
  return files


def _read(path: pathlib.Path) -> np.ndarray:
  from PIL import Image

  try:
    with Image.open(path) as image:
      return np.asarray(image.convert('RGB'))
  except OSError as e:
    raise InputError(f'cannot read image {path}: {e}'.splitlines()[0]) from None


def read_batches(files: Sequence[pathlib.Path], batch_size: int) -> Iterator[np.ndarray]:
  """[n, H, W, 3] uint8 batches of the files, in order; InputError on mixed sizes."""
  first_shape, first_file = None, None
  for start in range(0, len(files), batch_size):
    batch = []
    for file in files[start : start + batch_size]:
      image = _read(file)
      if first_shape is None:
        first_shape, first_file = image.shape, file
      elif image.shape != first_shape:
        h, w = image.shape[:2]
        raise InputError(
          f'images of mixed sizes: {file} is {w}x{h}, {first_file} is '
          f'{first_shape[1]}x{first_shape[0]}; resize them to one size first'
        )
      batch.append(image)
    yield np.stack(batch)


def _fingerprint(files: Sequence[pathlib.Path], extra: str) -> str:
  digest = hashlib.sha256(extra.encode())
  for file in files:
    stat = file.stat()
    digest.update(f'{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n'.encode())
  return digest.hexdigest()[:16]


def features_cache_path(name: str, files, extractor, cache: str | os.PathLike | None = None):
  """Where features of `files` are cached: <cache>/features/<name>-<fingerprint>.npz."""
  base = pathlib.Path(cache) if cache is not None else weights_lib.cache_dir()
  return base / 'features' / f'{name}-{_fingerprint(files, extractor.cache_key)}.npz'


def files_features(
  files: Sequence[pathlib.Path],
  extractor: inception.FeatureExtractor,
  *,
  cache: bool | str | os.PathLike = False,
  name: str = 'images',
  progress: bool = False,
) -> np.ndarray:
  """[N, 2048] pool3 features of image files, read from the cache if present.

  Args:
    files: the image files (one size).
    extractor: a `FeatureExtractor` (weights and preprocessing).
    cache: False, True (the default cache directory) or a directory.
    name: names the cache entry and the progress bar.
    progress: show a progress bar.
  """
  cache_file = None
  if cache:
    cache_file = features_cache_path(name, files, extractor, None if cache is True else cache)
    if cache_file.is_file():
      with np.load(cache_file) as data:
        return data['features']
  features = extractor(
    read_batches(files, extractor.batch_size), progress=progress, total=len(files), desc=name
  )
  if cache_file is not None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_name(f'.{cache_file.stem}.{os.getpid()}.npz')
    np.savez(tmp, features=features)
    os.replace(tmp, cache_file)
  return features


def folder_features(
  folder: str | os.PathLike,
  extractor: inception.FeatureExtractor,
  *,
  cache: bool | str | os.PathLike = False,
  progress: bool = False,
  option: str = 'folder',
) -> np.ndarray:
  """[N, 2048] pool3 features of every image in `folder` (see `files_features`).

  `option` names the flag or argument that gave the folder, for messages.
  """
  files = list_images(folder, option)
  name = pathlib.Path(folder).resolve().name or 'root'
  return files_features(files, extractor, cache=cache, name=name, progress=progress)


def evaluate_features(
  real: np.ndarray,
  fake: np.ndarray,
  *,
  kid: bool = True,
  fid_allow_few: bool = False,
  kid_subsets: int = kid_lib.SUBSETS,
  kid_subset_size: int | None = None,
  seed: int = kid_lib.SEED,
  names: tuple[str, str] = ('the real set', 'the fake set'),
) -> dict[str, Any]:
  """FID and KID from two feature sets.

  Where a set has no more images than features, FID is not computed (unless fid_allow_few):
  the result holds 'fid': None and a line in 'notes' saying so and pointing to KID.

  Returns:
    {'fid', 'kid', 'kid_std', 'kid_subset_size', 'kid_subsets', 'num_real', 'num_fake',
    'notes': [lines]}.
  """
  results: dict[str, Any] = {'num_real': len(real), 'num_fake': len(fake), 'notes': []}
  few = [
    fid_lib.few_images_message(len(f), f.shape[1], name)
    for f, name in zip((real, fake), names, strict=True)
    if len(f) <= f.shape[1]
  ]
  if few and not fid_allow_few:
    results['fid'] = None
    results['notes'].append(few[0])
  else:
    dim = real.shape[1]
    if dim >= 512:  # seconds of one core: say so rather than sit silent
      print(f'FID: the square root of a {dim} x {dim} matrix (~20 s at 2048)', file=sys.stderr)
    results['fid'] = fid_lib.fid_from_features(real, fake, allow_few=True, names=names)
    if few:
      results['notes'].append('FID computed from fewer images than features (allowed): biased')
  if kid:
    results.update(
      kid_lib.kid_from_features(
        real, fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed, names=names
      )
    )
  return results


def evaluate_folders(
  real_dir: str | os.PathLike,
  fake_dir: str | os.PathLike,
  *,
  weights: str | None = None,
  preprocess: str = 'pytorch-fid',
  batch_size: int = 50,
  kid: bool = True,
  fid_allow_few: bool = False,
  kid_subsets: int = kid_lib.SUBSETS,
  kid_subset_size: int | None = None,
  seed: int = kid_lib.SEED,
  cache: bool | str | os.PathLike = True,
  progress: bool = True,
  download: bool = True,
  extractor: inception.FeatureExtractor | None = None,
) -> dict[str, Any]:
  """FID (and KID) between the images of two folders: what `eval.py --real --fake` reports.

  Args:
    real_dir: the reference images (its features are cached: `cache`).
    fake_dir: the generated images (never cached: they change every run).
    weights: the FID Inception's weight file (default: cache, download, packages).
    preprocess: 'pytorch-fid' (default) or 'clean' (clean-fid's resize).
    batch_size: images per step over all devices.
    kid: also compute KID.
    fid_allow_few: compute FID even with fewer images than features (biased).
    kid_subsets, kid_subset_size, seed: see `jaxgan.metrics.kid.kid_from_features`.
    cache: cache the real folder's features (True: the default cache directory, or a path).
    progress: show progress bars of the feature extraction.
    download: allow downloading the weights.
    extractor: a ready `FeatureExtractor` (then weights, preprocess, batch_size are unused).

  Returns:
    A JSON-able dict: fid, kid, kid_std, kid_subset_size, kid_subsets, num_real, num_fake,
    preprocess, fid_weights (where they came from), real, fake, notes.

  Raises:
    InputError: a missing or empty folder, an unreadable image, mixed sizes; WeightsError: no
    weights, or weights that do not fit. One line each.
  """
  # Fail on a missing folder before loading weights or reading the other folder.
  list_images(fake_dir, 'fake folder (--fake)')
  list_images(real_dir, 'real folder (--real)')
  if extractor is None:
    extractor = inception.FeatureExtractor(
      weights, preprocess=preprocess, batch_size=batch_size, download=download
    )
  real = folder_features(
    real_dir, extractor, cache=cache, progress=progress, option='real folder (--real)'
  )
  fake = folder_features(fake_dir, extractor, progress=progress, option='fake folder (--fake)')
  results = evaluate_features(
    real,
    fake,
    kid=kid,
    fid_allow_few=fid_allow_few,
    kid_subsets=kid_subsets,
    kid_subset_size=kid_subset_size,
    seed=seed,
    names=(str(real_dir), str(fake_dir)),
  )
  results.update(
    preprocess=extractor.preprocess,
    fid_weights=extractor.source,
    real=str(real_dir),
    fake=str(fake_dir),
  )
  return results


def evaluate_translations(
  out_dir: str | os.PathLike,
  *,
  extractor: inception.FeatureExtractor | None = None,
  progress: bool = True,
  **options,
) -> dict[str, dict[str, Any]]:
  """FID and KID of each direction of an eval.py output directory, from its saved PNGs.

  eval.py writes images/<direction>/<name>_<visual>.png. The fakes of a direction are its
  '*_fake_B.png' (or '*_fake_A.png'); the reals are its own '*_real_B.png' (the targets of a
  paired set), else those of the other directions (CycleGAN's B inputs). A direction without
  such reals is left out.

  Args:
    out_dir: the eval output directory.
    extractor: a ready `FeatureExtractor` (default: built from `options`' weights,
      preprocess, batch_size, download).
    progress: show progress bars.
    **options: `evaluate_features`' options (kid, fid_allow_few, kid_subsets,
      kid_subset_size, seed) and the extractor's (weights, preprocess, batch_size, download).

  Returns:
    {direction: the dict of `evaluate_folders`, with 'real'/'fake' the file patterns}.
  """
  images = pathlib.Path(out_dir) / 'images'
  build = {
    k: options.pop(k) for k in ('weights', 'preprocess', 'batch_size', 'download') if k in options
  }
  results = {}
  for direction in (
    sorted(p.name for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
  ):
    fakes = sorted((images / direction).glob('*_fake_[AB].png'))
    if not fakes:
      continue
    domain = fakes[0].stem[-1]
    # The direction's own targets where it has them (paired sets); else the other direction's
    # inputs. Never both: a paired CycleGAN run saves each real image in both directions.
    reals = sorted((images / direction).glob(f'*_real_{domain}.png'))
    pattern = f'{images}/{direction}/*_real_{domain}.png'
    if not reals:
      reals = sorted(images.glob(f'*/*_real_{domain}.png'))
      pattern = f'{images}/*/*_real_{domain}.png'
    if len(reals) < 2:
      continue
    if extractor is None:
      extractor = inception.FeatureExtractor(**build)
    real = files_features(reals, extractor, name=f'real_{domain}', progress=progress)
    fake = files_features(fakes, extractor, name=f'{direction} fake_{domain}', progress=progress)
    patterns = (pattern, f'{images}/{direction}/*_fake_{domain}.png')
    result = evaluate_features(real, fake, names=patterns, **options)
    result.update(
      preprocess=extractor.preprocess,
      fid_weights=extractor.source,
      real=patterns[0],
      fake=patterns[1],
    )
    results[direction] = result
  return results


def evaluate_arrays(
  real: Any,
  fake: Any,
  *,
  extractor: inception.FeatureExtractor | None = None,
  kid: bool = True,
  fid_allow_few: bool = False,
  kid_subsets: int = kid_lib.SUBSETS,
  kid_subset_size: int | None = None,
  seed: int = kid_lib.SEED,
  progress: bool = False,
) -> dict[str, Any]:
  """FID (and KID) between two image sets held in memory, for the evaluation loop.

  Args:
    real, fake: [N, H, W, 3] arrays (uint8, or floats in [-1, 1]) or iterables of such
      batches (a generator's outputs batch by batch). To match folder evaluation of saved
      PNGs exactly, pass uint8 images as they would be saved (`visualize.to_uint8`).
    extractor: a `FeatureExtractor` (default: real weights, pytorch-fid preprocessing); build
      it once and reuse it, it holds the compiled network.
    The rest: see `evaluate_folders`.
  """
  extractor = extractor if extractor is not None else inception.FeatureExtractor()
  real_features = extractor(real, progress=progress, desc='real')
  fake_features = extractor(fake, progress=progress, desc='fake')
  results = evaluate_features(
    real_features,
    fake_features,
    kid=kid,
    fid_allow_few=fid_allow_few,
    kid_subsets=kid_subsets,
    kid_subset_size=kid_subset_size,
    seed=seed,
  )
  results.update(preprocess=extractor.preprocess, fid_weights=extractor.source)
  return results


def format_table(results: dict[str, Any]) -> str:
  """FID/KID results (of `evaluate_folders` / `evaluate_arrays`) as a short text table."""
  rows = [('images (real / fake)', f'{results["num_real"]} / {results["num_fake"]}')]
  fid_value = results.get('fid')
  rows.append(('FID', 'n/a (see notes)' if fid_value is None else f'{fid_value:.3f}'))
  if 'kid' in results:
    if results.get('kid_std') is None:  # one subset of every image: no spread to report
      name, spread = f'KID x 1e3 (all {results["kid_subset_size"]} images, one subset)', ''
    else:
      name = f'KID x 1e3 ({results["kid_subsets"]} subsets of {results["kid_subset_size"]})'
      spread = f' +- {results["kid_std"] * 1e3:.3f} (std over subsets)'
    rows.append((name, f'{results["kid"] * 1e3:.3f}{spread}'))
  if 'preprocess' in results:
    rows.append(('preprocessing', results['preprocess']))
  width = max(len(name) for name, _ in rows)
  lines = [f'{name:<{width}}  {value}' for name, value in rows]
  return '\n'.join(lines + [f'note: {note}' for note in results.get('notes', [])])
