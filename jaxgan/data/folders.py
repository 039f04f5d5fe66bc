"""Image folders in the official layouts, read through tf.io.gfile (local disks or gs://).

- 'aligned': dataroot/<split>/ holds images with A and B side by side (A on the left half).
- 'unaligned': dataroot/<split>A/ and dataroot/<split>B/.
- 'single': every image under dataroot (as the official SingleDataset; point dataroot at one
  domain's folder, e.g. datasets/horse2zebra/testA).

Folders are searched recursively for the official image extensions; files are sorted, then cut
to max_dataset_size (the official cuts in os.walk order, which is not reproducible).

Images are decoded with PIL, as the official loaders do, so pixels match theirs exactly (TF's
JPEG decoder differs by up to 22 levels with its default DCT), .ppm and .tif load, and a file
that does not decode is named in the error.
"""

import io
import os
import posixpath

import numpy as np
import tensorflow as tf
from PIL import Image

from jaxgan import errors
from jaxgan.data import transforms

# The official IMG_EXTENSIONS, matched case-sensitively as there.
IMG_EXTENSIONS = tuple(
  ext for e in ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff') for ext in (e, e.upper())
)
# PIL modes with 8-bit samples; convert('RGB') keeps their meaning.
_MODES_8BIT = ('1', 'L', 'LA', 'La', 'P', 'PA', 'RGB', 'RGBA', 'RGBa', 'RGBX', 'CMYK', 'YCbCr')
PIX2PIX_DATASETS = ('facades', 'maps', 'edges2shoes', 'edges2handbags', 'night2day', 'cityscapes')
# Unpaired sets only the official MUNIT configs use (its summer2winter_yosemite256 is
# CycleGAN's set under another folder: recognised by that folder's name).
MUNIT_DATASETS = ('edges2shoes', 'edges2handbags', 'synthia2cityscape')
CYCLEGAN_DATASETS = (
  'apple2orange',
  'summer2winter_yosemite',
  'horse2zebra',
  'monet2photo',
  'cezanne2photo',
  'ukiyoe2photo',
  'vangogh2photo',
  'maps',
  'cityscapes',
  'facades',
  'iphone2dslr_flower',
  'mini',
  'mini_pix2pix',
  'mini_colorization',
  'ae_photos',
  'grumpifycat',
)


def is_image_file(filename):
  return filename.endswith(IMG_EXTENSIONS)


def make_dataset(directory, max_dataset_size, mode):
  """Sorted image paths under `directory` (recursive), at most max_dataset_size (0 = all).

  Raises:
    InputError: the folder is missing or holds no image.
  """
  if not tf.io.gfile.isdir(directory):
    raise errors.InputError(f'{directory}: no such folder{_how_to_get(directory, mode)}')
  paths = sorted(p for p in _walk(directory) if is_image_file(posixpath.basename(p)))
  for path in paths:
    if '://' not in path and not os.path.exists(path):
      raise errors.InputError(f'{path}: a broken link (its target {os.readlink(path)} is missing)')
  if not paths:
    raise errors.InputError(
      f'{directory}: no images (expected files ending in '
      f'{", ".join(IMG_EXTENSIONS[::2])}, as the official loaders)'
    )
  return paths[:max_dataset_size] if max_dataset_size > 0 else paths


def _walk(directory):
  """Every file under `directory`. Local folders are walked as the official loaders walk them
  (os.walk: links to files are files, links to folders are not entered, so a link loop cannot
  hang); other file systems (gs://) through tf.io.gfile, which has no links."""
  if '://' in directory:
    for root, _, names in tf.io.gfile.walk(directory):
      yield from (posixpath.join(root, name) for name in names)
    return
  for root, _, names in os.walk(directory):
    yield from (os.path.join(root, name) for name in names)


def split_dirs(data, split):
  """{'A': dir} / {'A': dir, 'B': dir} / {'AB': dir} for the dataset mode."""
  root = data.dataroot
  if not root:
    raise errors.ConfigError(
      "data.dataroot is empty; data.source 'folder' needs the dataset's folder "
      '(or run on built-in data with --config=configs/pix2pix_shapes.py)'
    )
  if data.dataset_mode == 'aligned':
    return {'AB': posixpath.join(root, split)}
  if data.dataset_mode == 'unaligned':
    return {'A': posixpath.join(root, split + 'A'), 'B': posixpath.join(root, split + 'B')}
  domains = [d for d in ('trainA', 'trainB', 'testA', 'testB') if tf.io.gfile.isdir(f'{root}/{d}')]
  if domains:
    raise errors.InputError(
      f"{root}: dataset_mode 'single' reads every image under dataroot, and it holds the "
      f'domain folders {", ".join(domains)}; point dataroot at one, e.g. {root}/{domains[-1]}'
    )
  return {'A': root}


def _munit_dataset(directory, name):
  """Whether a missing unpaired folder is one of the official MUNIT configs' datasets."""
  return name in MUNIT_DATASETS or 'summer2winter_yosemite256' in directory


def _how_to_get(directory, mode):
  """The end of a missing-folder error: where a known dataset comes from."""
  parts = directory.rstrip('/').split('/')
  # dataroot/<split> or dataroot/<split>A: the dataset's name is the folder above.
  name = parts[-2] if len(parts) > 1 else parts[-1]
  hints = []
  if mode == 'aligned' and name in PIX2PIX_DATASETS:
    hints.append(
      f'get {name} with the official datasets/download_pix2pix_dataset.sh {name}, or read it '
      f'via --config.data.source=tfds --config.data.tfds_name=pix2pix/{name}'
    )
  elif mode != 'aligned' and _munit_dataset(directory, name):
    hints.append(
      f'make it as the official MUNIT scripts/demo_train_{name}.sh does (see '
      f'configs/munit_{name}.py)'
    )
  elif mode != 'aligned' and name in CYCLEGAN_DATASETS:
    hints.append(
      f'get {name} with the official datasets/download_cyclegan_dataset.sh {name}, or read it '
      f'via --config.data.source=tfds --config.data.tfds_name=cycle_gan/{name}'
    )
  demo = 'pix2pix_shapes' if mode == 'aligned' else 'cyclegan_shapes'
  if mode != 'aligned' and _munit_dataset(directory, name):
    demo = 'munit_shapes'
  hints.append(f'or run on built-in data with --config=configs/{demo}.py')
  return f' (dataset_mode {mode!r}); ' + '; '.join(hints)


def load(path):
  """Reads and decodes one image file inside tf.data: uint8 [h, w, 3], as PIL's convert('RGB').

  Args:
    path: scalar string tensor.
  """
  image = tf.numpy_function(_decode, [tf.io.read_file(path), path], tf.uint8, stateful=False)
  return tf.ensure_shape(image, [None, None, 3])


def _decode(contents, path):
  path = path.decode()
  try:
    with Image.open(io.BytesIO(contents)) as image:
      if image.mode not in _MODES_8BIT:
        raise ValueError(
          f'{transforms.ERROR_OPEN}{path}: image mode {image.mode!r} (high bit depth or '
          'unusual channels); expected an 8-bit gray, RGB or RGBA image'
          f'{transforms.ERROR_CLOSE}'
        )
      return np.asarray(image.convert('RGB'))
  except Image.UnidentifiedImageError:
    reason = 'unknown format or corrupt'
  except (OSError, SyntaxError, Image.DecompressionBombError) as error:
    reason = str(error).split('\n')[0]  # e.g. a truncated file
  raise ValueError(
    f'{transforms.ERROR_OPEN}{path}: not a readable image ({reason}){transforms.ERROR_CLOSE}'
  )
