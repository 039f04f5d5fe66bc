"""'shapes_multimodal': a paired task with K valid outputs per input, for BicycleGAN and MUNIT.

Each scene is one shape (circle, square or triangle; radius 8 to 12 px at 32 px) on the mid-grey
background of `synthetic`. A renders it as a black silhouette; B renders it filled in one of
K = 4 colours (red, green, blue, white), drawn at random per image. So the input says where the
shape is, never which colour: the K fills of an input are all valid outputs (its modes), and a
model that ignores its latent code can only pick one of them (or a blend that is none).

Any two modes of an input differ by 4/3 per pixel of the shape (each pair of colours differs
fully in two of the three channels), i.e. a mean absolute error of 4/3 x the shape's area
fraction: at least 0.16 on [-1, 1]. `THRESHOLD` (0.08) is below half of that, so a sample lies
within it of at most one mode; `jaxgan.metrics.modes.mode_metrics` counts with it.

The test split's B is one random mode, as in training; `modes(config, split)` gives all K.
Images are generated with numpy, deterministically from `config.data.synthetic_seed`.
"""

import functools

import numpy as np

from jaxgan import errors
from jaxgan.data import synthetic

TASKS = ('shapes_multimodal',)
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.uint8)
K = len(COLOURS)
SILHOUETTE = (0, 0, 0)
RADIUS = (8, 12)  # pixels at 32 px, scaled with the size
THRESHOLD = 0.08  # MAE on [-1, 1] within which a sample counts as reaching a mode


def generate(size, num_train, num_test, seed):
  """All splits, as `synthetic._generate` returns them (uint8, paired)."""
  return _generate(size, num_train, num_test, seed)


def modes(config, split):
  """The K valid targets of every input of the split, as the model sees them.

  Args:
    config: the full config (data.synthetic 'shapes_multimodal', direction AtoB).
    split: 'train' or 'test'.

  Returns:
    float32 [n, K, S, S, output_nc] in [-1, 1].
  """
  data = config.data
  if data.synthetic not in TASKS:
    raise errors.ConfigError(f'data.synthetic {data.synthetic!r} has no modes; use {TASKS[0]!r}')
  if data.direction != 'AtoB':
    raise errors.ConfigError(f'{data.synthetic}: the modes are those of AtoB (outputs are fills)')
  sets = _generate(
    data.synthetic_size, data.synthetic_train, data.synthetic_test, data.synthetic_seed
  )
  if split not in sets['modes']:
    raise errors.InputError(f'split {split!r} is not in synthetic {data.synthetic!r}')
  fills = sets['modes'][split]  # [n, K, S, S, 3] uint8
  n = fills.shape[0]
  flat = synthetic.to_model(fills.reshape(n * K, *fills.shape[2:]), data.output_nc)
  return flat.reshape(n, K, *flat.shape[1:])


def _all_scenes(size):
  """Every scene, as int arrays (shape, centre y, centre x, radius): shapes 1 px clear of the
  border; drawn without replacement, so no image repeats within or across the splits."""
  scale = size / 32
  r_min, r_max = round(RADIUS[0] * scale), round(RADIUS[1] * scale)
  parts = []
  for r in range(r_min, r_max + 1):
    centres = np.arange(r + 1, size - r - 1)
    cy, cx = np.meshgrid(centres, centres, indexing='ij')
    for s in range(len(synthetic.SHAPES)):
      parts.append(np.stack([np.full(cy.size, s), cy.ravel(), cx.ravel(), np.full(cy.size, r)], 1))
  return np.concatenate(parts)


def _scenes(rng, num_train, num_test, size):
  """(train scenes, test scenes): lists of (shape, centre y, centre x, radius) whose images all
  differ (some scenes render alike, e.g. squares of radius 10 and 11: the later one is skipped)."""
  scenes = _all_scenes(size)
  wanted = num_train + num_test
  chosen, seen = [], set()
  for s, y, x, r in scenes[rng.permutation(len(scenes))]:
    scene = (synthetic.SHAPES[s], int(y), int(x), int(r))
    key = synthetic._mask(scene[0], scene[1], scene[2], scene[3], size, size).tobytes()  # noqa: SLF001
    if key not in seen:
      seen.add(key)
      chosen.append(scene)
      if len(chosen) == wanted:
        return chosen[:num_train], chosen[num_train:]
  raise errors.ConfigError(
    f'shapes_multimodal has {len(seen)} distinct images at {size} px: '
    f'synthetic_train + synthetic_test must not exceed it'
  )


def _render(scenes, size):
  """(silhouettes [n, S, S, 3], fills [n, K, S, S, 3]), uint8."""
  n = len(scenes)
  silhouette = np.empty((n, size, size, 3), np.uint8)
  silhouette[...] = synthetic.BACKGROUND
  fills = np.empty((n, K, size, size, 3), np.uint8)
  fills[...] = synthetic.BACKGROUND
  for i, (shape, cy, cx, r) in enumerate(scenes):
    mask = synthetic._mask(shape, cy, cx, r, size, size)  # noqa: SLF001 - the shared renderer
    silhouette[i][mask] = SILHOUETTE
    for k in range(K):
      fills[i, k][mask] = COLOURS[k]
  return silhouette, fills


@functools.lru_cache(maxsize=4)
def _generate(size, num_train, num_test, seed):
  rng = lambda stream: np.random.default_rng([seed, 7, stream])  # noqa: E731
  train_scenes, test_scenes = _scenes(rng(0), num_train, num_test, size)
  a_train, modes_train = _render(train_scenes, size)
  a_test, modes_test = _render(test_scenes, size)
  b_train = modes_train[np.arange(num_train), rng(1).integers(0, K, num_train)]
  b_test = modes_test[np.arange(num_test), rng(3).integers(0, K, num_test)]
  train = dict(A=a_train, B=b_train)
  test = dict(A=a_test, B=b_test)
  for array in (a_train, b_train, a_test, b_test, modes_train, modes_test):
    array.setflags(write=False)
  return dict(
    train=train,
    test=test,
    truth_train=train,
    truth_test=test,
    modes=dict(train=modes_train, test=modes_test),
  )
