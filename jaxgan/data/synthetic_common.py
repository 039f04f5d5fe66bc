"""What the built-in tasks share: the shapes, their colours, scenes, rendering and hashing.

`synthetic` (the tasks and their dispatch), `synthetic_multimodal` and `synthetic_munit` (the
multimodal tasks) all build on these, and on nothing of each other's.
"""

import dataclasses
import hashlib

import numpy as np

from jaxgan.data import pixels

SHAPES = ('circle', 'square', 'triangle')
COLOURS = np.array(
  [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255]],
  np.uint8,
)
MAX_SHAPES = 3
RADIUS = (6, 10)  # pixels at 32 px, scaled with the size
# Mid grey: a fresh generator (tanh output near 0) already gets the background right, so training
# goes straight to the shapes; a black or white one (-1 or 1, where tanh saturates) is where
# generators stall, predicting background everywhere.
BACKGROUND = (128, 128, 128)


@dataclasses.dataclass(frozen=True)
class ModeTruth:
  """The right outputs of a multimodal task's inputs, for `jaxgan.metrics.modes.score`.

  kind 'modes': K right outputs per input, arrays {'modes': float32 [n, K, S, S, C]};
  kind 'fill': a continuous family of fills, arrays = `modes.fill_metrics`' keyword arguments
  (masks, background, colours, bins, num_bins). threshold: the task's MAE within which a
  sample counts as reaching a mode. Arrays are in model space ([-1, 1]).
  """

  kind: str
  arrays: dict
  threshold: float

  def first(self, n: int) -> 'ModeTruth':
    """The truth of the first n inputs."""
    key = 'masks' if self.kind == 'fill' else 'modes'
    return dataclasses.replace(self, arrays={**self.arrays, key: self.arrays[key][:n]})


def to_model(images_uint8, channels):
  """uint8 RGB -> float32 in [-1, 1] with 1 (PIL 'L' luma) or 3 channels."""
  x = images_uint8
  if channels == 1:
    x = luma(x)[..., None]
  return pixels.normalize(x)  # bit for bit the official ToTensor + Normalize(0.5, 0.5)


def luma(rgb):
  """PIL's RGB -> 'L' conversion (ITU-R 601-2, integer maths with rounding), uint8."""
  rgb = rgb.astype(np.int64)
  y = rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000
  return (y >> 16).astype(np.uint8)


def image_hash(image):
  return hashlib.sha1(image.tobytes()).hexdigest()


def hashes(images_uint8):
  return {image_hash(x) for x in images_uint8}


def scenes(rng, num, size):
  """Random scenes: lists of (shape, colour index, centre y, centre x, radius)."""
  scale = size / 32
  r_min, r_max = round(RADIUS[0] * scale), round(RADIUS[1] * scale)
  gap = round(2 * scale) + 1  # outlines of different shapes never touch
  wanted = rng.integers(1, MAX_SHAPES + 1, size=num)
  tries = 20 * MAX_SHAPES
  # Candidates drawn in bulk (per-call overhead of the generator dominates otherwise), then
  # accepted in order while their bounding boxes keep apart: rejection sampling.
  u = rng.random((num, tries, 5))
  radius = r_min + (u[..., 0] * (r_max - r_min + 1)).astype(int)
  span = size - 2 * radius - 2
  cy = radius + 1 + (u[..., 1] * span).astype(int)
  cx = radius + 1 + (u[..., 2] * span).astype(int)
  shape = (u[..., 3] * len(SHAPES)).astype(int)
  colour = (u[..., 4] * len(COLOURS)).astype(int)
  scenes = []
  for i in range(num):
    shapes = []
    for t in range(tries):
      if len(shapes) == wanted[i]:
        break
      box = (int(cy[i, t]), int(cx[i, t]), int(radius[i, t]))
      if all(_apart(box, s[2:], gap) for s in shapes):
        shapes.append((SHAPES[shape[i, t]], int(colour[i, t]), *box))
    scenes.append(shapes)
  return scenes


def _apart(a, b, gap):
  """Whether two shapes' bounding boxes are at least `gap` pixels apart."""
  (ya, xa, ra), (yb, xb, rb) = a, b
  return abs(ya - yb) >= ra + rb + gap or abs(xa - xb) >= ra + rb + gap


def mask(shape, cy, cx, r, height, width):
  """Bool [height, width]: the shape of radius r centred at (cy, cx)."""
  # Pixel centres at +0.5, so integer centres give shapes symmetric about them.
  y, x = np.mgrid[:height, :width] + 0.5
  dy, dx = y - cy, x - cx
  if shape == 'circle':
    return dy**2 + dx**2 <= r**2
  if shape == 'square':
    half = 0.85 * r  # about the circle's area
    return (np.abs(dy) <= half) & (np.abs(dx) <= half)
  # Triangle pointing up: apex at cy - r, base at cy + r, base width 2r.
  return (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
