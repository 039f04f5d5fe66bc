"""uint8 pixels to the model's [-1, 1] exactly as the official code maps them.

The official loaders apply ToTensor then Normalize(0.5, 0.5): (x / 255 - 0.5) / 0.5 in float32.
Compilers rewrite a division by a constant as a multiplication by its reciprocal (tf.function
and jax.jit do), which rounds half of the 256 values one unit differently. The numpy paths here
look the 256 results up; the tf.data pipeline divides in float64 instead
(`transforms.normalize`, cheaper there than a gather). Either way the inputs are the official
ones bit for bit.
"""

import numpy as np

OFFICIAL_NORMALIZED = (np.arange(256, dtype=np.float32) / np.float32(255) - np.float32(0.5)) / (
  np.float32(0.5)
)


def normalize(images_uint8):
  """uint8 array -> float32 in [-1, 1], as the official ToTensor then Normalize(0.5, 0.5)."""
  return OFFICIAL_NORMALIZED[np.asarray(images_uint8, np.uint8)]
