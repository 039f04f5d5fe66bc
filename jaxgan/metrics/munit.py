"""Content preservation of a translation on the built-in shapes tasks: does the output keep
the input's shapes?

The shapes lie on a plain mid-grey background, so an image's content is its foreground mask:
the pixels whose colour differs from the background by more than `tolerance` in some channel
(in [-1, 1] units). Preservation is the intersection over union of the input's and the
output's masks, whatever the colours.
"""

import numpy as np
from scipy import ndimage

from jaxgan.data import pixels, synthetic

TOLERANCE = 0.25


def foreground(images, tolerance=TOLERANCE):
  """Boolean [..., H, W]: pixels away from the background colour."""
  background = pixels.normalize(synthetic.BACKGROUND)
  return (np.abs(np.asarray(images, np.float32) - background) > tolerance).any(-1)


def mask_iou(outputs, inputs, tolerance=TOLERANCE):
  """Per-image IoU of the foreground masks of outputs [..., H, W, C] and inputs [..., H, W, C].

  `inputs` broadcasts against `outputs` (e.g. [N, 1, H, W, C] against samples [N, M, ...]).
  Two empty masks count as agreeing (IoU 1).
  """
  a = foreground(outputs, tolerance)
  b = np.broadcast_to(foreground(inputs, tolerance), a.shape)
  inter = (a & b).sum((-2, -1))
  union = (a | b).sum((-2, -1))
  return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def content_preservation(outputs, inputs, tolerance=TOLERANCE):
  """Mean foreground-mask IoU of the outputs against their inputs (1 = shapes kept exactly)."""
  return float(mask_iou(outputs, inputs, tolerance).mean())


def keep_foreground(outputs, inputs, tolerance=TOLERANCE):
  """outputs with every pixel off the inputs' foreground set to the background colour.

  For scoring the style (the shapes' colour) apart from the content (the shapes' outline).
  `inputs` broadcasts against `outputs` as in `mask_iou`.
  """
  outputs = np.asarray(outputs, np.float32)
  background = pixels.normalize(synthetic.BACKGROUND)
  mask = np.broadcast_to(foreground(inputs, tolerance)[..., None], outputs.shape)
  return np.where(mask, outputs, background)


def interior(inputs, tolerance=TOLERANCE):
  """Boolean [..., H, W]: the inputs' foreground less its one-pixel outline.

  A pixel stays when it and its 4 neighbours are foreground. Scoring a translation's colour
  there leaves the outline, where the shapes' edges land a pixel off, to content preservation;
  a shape too thin to keep any interior keeps its whole mask.
  """
  mask = foreground(inputs, tolerance)
  # 4-neighbour erosion within each image: nothing reaches across the leading axes.
  cross = ndimage.generate_binary_structure(2, 1).reshape((1,) * (mask.ndim - 2) + (3, 3))
  inner = ndimage.binary_erosion(mask, cross)
  empty = ~inner.any(axis=(-2, -1), keepdims=True)
  return np.where(empty, mask, inner)
