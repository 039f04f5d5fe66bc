"""Tiny fake datasets written by the data tests (no real data in git)."""

import numpy as np
from PIL import Image

SPLITS = {'train': 3, 'val': 2, 'test': 1}


def ab_pair(index, height=12, width=16):
  """A side-by-side pair whose B half is 255 - A, so in [-1, 1] B = -A exactly."""
  a = np.random.default_rng(index).integers(0, 256, (height, width, 3), dtype=np.uint8)
  return np.concatenate([a, 255 - a], axis=1)


def write_pix2pix_archive(root, name='facades'):
  """The extracted layout of an official pix2pix archive, with lossless images."""
  index = 0
  for split, n in SPLITS.items():
    (root / name / split).mkdir(parents=True)
    for i in range(n):
      Image.fromarray(ab_pair(index)).save(root / name / split / f'{i + 1}.png')
      index += 1
  (root / name / 'train' / 'Thumbs.db').write_bytes(b'not an image')
  return root
