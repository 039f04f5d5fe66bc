"""Paired tasks with many valid outputs per input, for BicycleGAN (and MUNIT's modes).

'shapes_multimodal': K valid outputs per input.

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

'shapes_hues': the same silhouettes, but B's fill is any colour of a continuous 2-D family: hue
0 to 240 degrees (red, yellow, green, cyan, blue) and HSV value 0.5 to 1 (full saturation),
both uniform per image. The photos of the paper's datasets vary continuously (a shoe's colour,
its shade), and so the valid outputs form a set that a smooth generator can cover with nz = 2
codes, where 4 discrete colours leave most of a Gaussian prior between or beyond them
(docs/bicyclegan.md). `fill_truth(config, split)` gives what scores it: every input's mask,
a dense grid of the valid fill colours (`HUE_STEP`, `VALUE_STEP`) and the bins (`HUE_BINS` x
`VALUE_BINS` ranges, equally likely) that mode coverage counts
(`jaxgan.metrics.modes.fill_metrics`).

Images are generated with numpy, deterministically from `config.data.synthetic_seed`.
"""

import functools

import numpy as np

from jaxgan import errors
from jaxgan.data import synthetic_common as common

TASKS = ('shapes_multimodal', 'shapes_hues')
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.uint8)
K = len(COLOURS)
SILHOUETTE = (0, 0, 0)
RADIUS = (8, 12)  # pixels at 32 px, scaled with the size
THRESHOLD = 0.08  # MAE on [-1, 1] within which a sample counts as reaching a mode
# 'shapes_hues': the family of fills, the grid that stands for it when scoring, and the bins.
HUES = (0.0, 240.0)  # degrees
VALUES = (0.5, 1.0)
HUE_STEP, VALUE_STEP = 5.0, 0.05  # a true fill is within 0.013 MAE of the grid
# Tighter than THRESHOLD: with the family continuous, no neighbouring mode has to be told apart.
# Fills of lower saturation (off the family) pass less and less: at saturation 0.9 all of them,
# 0.7 (washed out) 72 %, 0.5 29 % (tests/test_multimodal_tasks.py). Whole-image MAE, as
# THRESHOLD: a colour error counts in proportion to the shape's area.
HUE_THRESHOLD = 0.05
HUE_BINS, VALUE_BINS = 3, 2


def hsv_fill(hue, value):
  """uint8 RGB [..., 3] of fully saturated HSV colours (hue in degrees, value in [0, 1])."""
  hue, value = np.asarray(hue, np.float64), np.asarray(value, np.float64)
  sector = np.minimum(np.floor(hue / 60), 5).astype(int)
  rising = value * (1 - np.abs((hue / 60) % 2 - 1))
  zero = np.zeros_like(value)
  # (r, g, b) per 60-degree sector: the top channel is `value`, one other ramps, one is 0
  table = [
    (value, rising, zero),
    (rising, value, zero),
    (zero, value, rising),
    (zero, rising, value),
    (rising, zero, value),
    (value, zero, rising),
  ]
  rgb = np.choose(sector[..., None], [np.stack(t, -1) for t in table])
  return np.round(rgb * 255).astype(np.uint8)


def hue_bin(hue, value):
  """The coverage bin (0 to HUE_BINS x VALUE_BINS - 1) of fills, equally likely in the data."""

  def index(x, span, count):
    at = (np.asarray(x) - span[0]) / (span[1] - span[0])
    return np.clip((at * count).astype(int), 0, count - 1)

  return index(hue, HUES, HUE_BINS) * VALUE_BINS + index(value, VALUES, VALUE_BINS)


def hue_grid():
  """(hues, values) of the scoring grid, both [G], every HUE_STEP x VALUE_STEP of the family."""
  hues = np.linspace(*HUES, round((HUES[1] - HUES[0]) / HUE_STEP) + 1)
  values = np.linspace(*VALUES, round((VALUES[1] - VALUES[0]) / VALUE_STEP) + 1)
  h, v = np.meshgrid(hues, values, indexing='ij')
  return h.ravel(), v.ravel()


def generate(name, size, num_train, num_test, seed):
  """All splits of task `name`, as `synthetic._generate` returns them (uint8, paired)."""
  if name == 'shapes_hues':
    return _generate_hues(size, num_train, num_test, seed)
  return _generate(size, num_train, num_test, seed)


def modes(config, split):
  """The K valid targets of every input of the split, as the model sees them.

  Args:
    config: the full config (data.synthetic 'shapes_multimodal', direction AtoB).
    split: 'train' or 'test'.

  Returns:
    float32 [n, K, S, S, output_nc] in [-1, 1].
  """
  fills = _truth(config, split, 'shapes_multimodal', 'modes', 'K modes')  # [n, K, S, S, 3] uint8
  n = fills.shape[0]
  flat = common.to_model(fills.reshape(n * K, *fills.shape[2:]), config.data.output_nc)
  return flat.reshape(n, K, *flat.shape[1:])


def fill_truth(config, split):
  """What scores samples of 'shapes_hues' (`jaxgan.metrics.modes.fill_metrics`), model space.

  Args:
    config: the full config (data.synthetic 'shapes_hues', direction AtoB).
    split: 'train' or 'test'.

  Returns:
    dict(masks=bool [n, S, S], background=float32 [C], colours=float32 [G, C] (the grid of valid
    fills), bins=int [G] (each grid colour's coverage bin), num_bins=int), C = output_nc.
  """
  masks = _truth(config, split, 'shapes_hues', 'masks', 'family of fills')
  return family_truth(masks, config.data.output_nc)


def mode_truth(config, split):
  """The right outputs of the split's inputs (A -> B), for `jaxgan.metrics.modes.score`."""
  if config.data.synthetic == 'shapes_hues':
    return common.ModeTruth('fill', fill_truth(config, split), HUE_THRESHOLD)
  return common.ModeTruth('modes', {'modes': modes(config, split)}, THRESHOLD)


def family_truth(masks, channels):
  """`fill_metrics`'s arguments for fills of `masks` [n, S, S] from the family, in model space
  with `channels` channels: the colour grid, its bins, the background."""
  hues, values = hue_grid()
  colours = hsv_fill(hues, values)[:, None, None]  # as [G, 1, 1, 3] images
  background = np.array(common.BACKGROUND, np.uint8)[None, None, None]
  return dict(
    masks=masks,
    background=common.to_model(background, channels).reshape(-1),
    colours=common.to_model(colours, channels).reshape(len(hues), -1),
    bins=hue_bin(hues, values),
    num_bins=HUE_BINS * VALUE_BINS,
  )


def _truth(config, split, task, key, what):
  """generate(task, ...)[key][split] for `config`, which must be of `task`, AtoB."""
  data = config.data
  if data.synthetic != task:
    raise errors.ConfigError(f'data.synthetic {data.synthetic!r} has no {what}; use {task!r}')
  if data.direction != 'AtoB':
    raise errors.ConfigError(f'{data.synthetic}: the modes are those of AtoB (outputs are fills)')
  sets = generate(
    task, data.synthetic_size, data.synthetic_train, data.synthetic_test, data.synthetic_seed
  )
  if split not in sets[key]:
    raise errors.InputError(f'split {split!r} is not in synthetic {data.synthetic!r}')
  return sets[key][split]


def _all_scenes(size):
  """Every scene, as int arrays (shape, centre y, centre x, radius): shapes 1 px clear of the
  border; drawn without replacement, so no image repeats within or across the splits."""
  scale = size / 32
  r_min, r_max = round(RADIUS[0] * scale), round(RADIUS[1] * scale)
  parts = []
  for r in range(r_min, r_max + 1):
    centres = np.arange(r + 1, size - r - 1)
    cy, cx = np.meshgrid(centres, centres, indexing='ij')
    for s in range(len(common.SHAPES)):
      parts.append(np.stack([np.full(cy.size, s), cy.ravel(), cx.ravel(), np.full(cy.size, r)], 1))
  return np.concatenate(parts)


def _scenes(rng, num_train, num_test, size):
  """(train scenes, test scenes): lists of (shape, centre y, centre x, radius) whose images all
  differ (some scenes render alike, e.g. squares of radius 10 and 11: the later one is skipped)."""
  scenes = _all_scenes(size)
  wanted = num_train + num_test
  chosen, seen = [], set()
  for s, y, x, r in scenes[rng.permutation(len(scenes))]:
    scene = (common.SHAPES[s], int(y), int(x), int(r))
    key = common.mask(scene[0], scene[1], scene[2], scene[3], size, size).tobytes()
    if key not in seen:
      seen.add(key)
      chosen.append(scene)
      if len(chosen) == wanted:
        return chosen[:num_train], chosen[num_train:]
  raise errors.ConfigError(
    f'{TASKS[0]} and {TASKS[1]} have {len(seen)} distinct images at {size} px: '
    f'synthetic_train + synthetic_test must not exceed it'
  )


def _masks(scenes, size):
  """bool [n, S, S]: where each scene's shape is."""
  masks = np.empty((len(scenes), size, size), bool)
  for i, (shape, cy, cx, r) in enumerate(scenes):
    masks[i] = common.mask(shape, cy, cx, r, size, size)
  return masks


def _render(masks, colours=COLOURS):
  """(silhouettes [n, S, S, 3], fills [n, len(colours), S, S, 3]), uint8, of the shapes' masks
  [n, S, S]: every shape filled with every colour, or with its own when `colours` is [n, 1, 3]."""
  colours = np.broadcast_to(colours, (len(masks), *colours.shape[-2:]))
  silhouette = np.empty((*masks.shape, 3), np.uint8)
  silhouette[...] = common.BACKGROUND
  silhouette[masks] = SILHOUETTE
  fills = np.empty((len(masks), colours.shape[1], *masks.shape[1:], 3), np.uint8)
  fills[...] = common.BACKGROUND
  for i, mask in enumerate(masks):
    fills[i][:, mask] = colours[i][:, None]
  return silhouette, fills


@functools.lru_cache(maxsize=4)
def _generate(size, num_train, num_test, seed):
  rng = lambda stream: np.random.default_rng([seed, 7, stream])  # noqa: E731
  train_scenes, test_scenes = _scenes(rng(0), num_train, num_test, size)
  a_train, modes_train = _render(_masks(train_scenes, size))
  a_test, modes_test = _render(_masks(test_scenes, size))
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


@functools.lru_cache(maxsize=4)
def _generate_hues(size, num_train, num_test, seed):
  # Its own seed streams: the scenes are not those of 'shapes_multimodal' at the same seed.
  rng = lambda stream: np.random.default_rng([seed, 8, stream])  # noqa: E731
  splits, masks = {}, {}
  scenes = dict(zip(('train', 'test'), _scenes(rng(0), num_train, num_test, size), strict=True))
  for stream, (split, chosen) in enumerate(scenes.items(), start=1):
    draw = rng(stream)
    hue = draw.uniform(*HUES, len(chosen))
    value = draw.uniform(*VALUES, len(chosen))
    masks[split] = _masks(chosen, size)
    a, b = _render(masks[split], hsv_fill(hue, value)[:, None])
    splits[split] = dict(A=a, B=b[:, 0])
    for array in (a, splits[split]['B'], masks[split]):
      array.setflags(write=False)
  return dict(
    train=splits['train'],
    test=splits['test'],
    truth_train=splits['train'],
    truth_test=splits['test'],
    masks=masks,
  )
