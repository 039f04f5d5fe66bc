"""Built-in image-to-image tasks generated from a seed: no download, known ground truth.

Each scene holds 1 to 3 non-overlapping shapes (circle, square, triangle), each in one of six
saturated colours, on a plain mid-grey background. A scene renders two ways:

- outline: the shape's border, 2 px wide at 32 px (scaled with the image size);
- fill: the whole shape in its colour.

Tasks (`config.data.synthetic`):

- 'shapes_paired' (pix2pix): A = outline, B = fill of the same scene.
- 'shapes_multimodal' (BicycleGAN): A = a shape's silhouette, B = the shape in one of K colours
  (see `synthetic_multimodal`).
- 'shapes_hues' (BicycleGAN): the same, B = the shape in any colour of a continuous hue x value
  family (see `synthetic_multimodal`).
- 'shapes_unpaired': domain A = outlines and domain B = fills of *independent* scenes, so
  training never sees a pair; the true mapping is still fill(outline).
- 'shapes_recolour' (CycleGAN's demo): domain A = shapes filled in their kind's colour
  (circles red, squares green, triangles blue), domain B = the same kinds in other colours
  (circles yellow, squares cyan, triangles magenta), of independent scenes. Any of the 6
  one-to-one colour swaps maps A's colours onto B's; only the pairing of kind and colour within
  each domain says which swap is right, so an unpaired model gets it right only by matching the
  domains' joint statistics of shape and colour, which is what CycleGAN's discriminators do.

Both test splits are paired (A[i], B[i] are the same scene), so evaluation measures the error
against the true target in either direction; no test scene occurs in the train split. Filling an
outline needs context of the shape's radius (6 to 10 px at 32 px) and the outline's colour, so the
task is small enough for a U-Net on 2 CPU cores yet far from what the identity or the mean image
give (see `jaxgan.metrics.ground_truth`).

Images are generated with numpy only, deterministically from `config.data.synthetic_seed`, and
cached in memory.
"""

import functools

import numpy as np

from jaxgan import errors
from jaxgan.data import synthetic_common as common
from jaxgan.data import synthetic_multimodal, synthetic_munit

# The tasks' vocabulary, for their users (eval, metrics).
from jaxgan.data.synthetic_common import BACKGROUND, COLOURS, SHAPES, luma, to_model  # noqa: F401

TASKS = (
  'shapes_paired',
  'shapes_unpaired',
  'shapes_multimodal',
  'shapes_hues',
  'shapes_unpaired_multimodal',
  'shapes_unpaired_hues',
  'shapes_recolour',
)
SPLITS = ('train', 'test')
# 'shapes_recolour': each kind's colour (in the order of SHAPES) in domain A and in domain B.
KIND_COLOURS_A = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
KIND_COLOURS_B = np.array([[255, 255, 0], [0, 255, 255], [255, 0, 255]], np.uint8)


def check(data):
  """Raises ConfigError for an unknown task or an unusable size in the data config."""
  if data.synthetic not in TASKS:
    raise errors.ConfigError(
      f'data.synthetic {data.synthetic!r} is unknown; expected one of {", ".join(TASKS)}'
    )
  if not 16 <= data.synthetic_size <= 512:
    raise errors.ConfigError(
      f'data.synthetic_size {data.synthetic_size} is unusable; expected 16 to 512 pixels'
    )
  if data.synthetic_train < 1 or data.synthetic_test < 1:
    raise errors.ConfigError('data.synthetic_train and data.synthetic_test must be >= 1')


def is_paired(name):
  """Whether the train split of task `name` pairs A[i] with B[i]."""
  return name in ('shapes_paired', 'shapes_multimodal', 'shapes_hues')


def images(config, split):
  """The split as the pipeline reads it, before direction and preprocessing.

  Args:
    config: the full config (reads `config.data.synthetic*`).
    split: 'train' or 'test'.

  Returns:
    dict(A=uint8 [n, S, S, 3], B=uint8 [n, S, S, 3]); paired except in the train split of
    'shapes_unpaired'.
  """
  data = config.data
  check(data)
  if split not in SPLITS:
    raise errors.InputError(
      f'split {split!r} is not in synthetic {data.synthetic!r}; expected one of {", ".join(SPLITS)}'
    )
  return _generate(
    data.synthetic,
    data.synthetic_size,
    data.synthetic_train,
    data.synthetic_test,
    data.synthetic_seed,
  )[split]


def ground_truth(config, split):
  """Paired inputs and true targets, as the model sees them.

  The direction and the channel counts are applied as in the batches (`'A'` is the model input
  with `input_nc` channels, `'B'` its true target with `output_nc` channels), without
  preprocessing, in [-1, 1]. For the train split of 'shapes_unpaired' the pairs are those of
  both domains' scenes (2 x synthetic_train of them): what the model should output for every
  image it trained on.

  Args:
    config: the full config.
    split: 'train' or 'test'.

  Returns:
    dict(A=float32 [n, S, S, input_nc], B=float32 [n, S, S, output_nc]).
  """
  data = config.data
  check(data)
  if split not in SPLITS:
    raise errors.InputError(f'split {split!r} is not in synthetic {data.synthetic!r}')
  sets = _generate(
    data.synthetic,
    data.synthetic_size,
    data.synthetic_train,
    data.synthetic_test,
    data.synthetic_seed,
  )
  pairs = sets['truth_' + split]
  a, b = pairs['A'], pairs['B']
  if data.direction == 'BtoA':
    a, b = b, a
  return dict(A=to_model(a, data.input_nc), B=to_model(b, data.output_nc))


def palette(name):
  """The colours a task's shapes are told apart by (`metrics.ground_truth.colour_accuracy`):
  both domains' colours of 'shapes_recolour', so keeping the input's colour counts as wrong;
  None for tasks without one."""
  if name != 'shapes_recolour':
    return None
  return np.concatenate([KIND_COLOURS_A, KIND_COLOURS_B])


def mode_truth(config, split='test', direction=None):
  """The right outputs of a multimodal task's inputs (`synthetic_common.ModeTruth`), for
  `jaxgan.metrics.modes.score`; None where the task has one right output per input (or none
  known: MUNIT's tasks are scored on their test split only).

  Args:
    config: the full config (data.synthetic names the task).
    split: 'train' or 'test'.
    direction: 'AtoB' or 'BtoA' (default config.data.direction).
  """
  name, direction = config.data.synthetic, direction or config.data.direction
  if name in synthetic_multimodal.TASKS and direction == 'AtoB':
    return synthetic_multimodal.mode_truth(config, split)
  if name in synthetic_munit.TASKS and split == 'test':
    return synthetic_munit.mode_truth(config, direction)
  return None


@functools.lru_cache(maxsize=8)
def _generate(name, size, num_train, num_test, seed):
  """All splits of one task; cached because every build() and metric reads them."""
  if name in synthetic_multimodal.TASKS:  # many valid outputs: synthetic_multimodal.py
    return synthetic_multimodal.generate(name, size, num_train, num_test, seed)
  if name in synthetic_munit.TASKS:
    hues = name == synthetic_munit.NAME_HUES
    return synthetic_munit.generate(size, num_train, num_test, seed, hues=hues)
  task = TASKS.index(name)
  rng = lambda stream: np.random.default_rng([seed, task, stream])
  render = _render_by_kind if name == 'shapes_recolour' else _render_all
  if is_paired(name):
    scenes = common.scenes(rng(0), num_train, size)
    outline, fill = render(scenes, size)
    train = dict(A=outline, B=fill)
    truth_train = train
  else:
    outline_a, fill_a = render(common.scenes(rng(1), num_train, size), size)
    outline_b, fill_b = render(common.scenes(rng(2), num_train, size), size)
    train = dict(A=outline_a, B=fill_b)
    truth_train = dict(A=np.concatenate([outline_a, outline_b]), B=np.concatenate([fill_a, fill_b]))
  train_keys = common.hashes(truth_train['A']) | common.hashes(truth_train['B'])
  test = _disjoint_test(rng(3), num_test, size, train_keys, render)
  for array in (*train.values(), *test.values(), *truth_train.values()):
    array.setflags(write=False)
  return dict(train=train, test=test, truth_train=truth_train, truth_test=test)


def _disjoint_test(rng, num, size, train_keys, render):
  """Test scenes, redrawing any whose image also occurs in the train split."""
  outlines, fills, seen = [], [], set(train_keys)
  while len(fills) < num:
    outline, fill = render(common.scenes(rng, num - len(fills), size), size)
    for o, f in zip(outline, fill, strict=True):
      keys = {common.image_hash(o), common.image_hash(f)}
      if not keys & seen:
        seen |= keys
        outlines.append(o)
        fills.append(f)
  return dict(A=np.stack(outlines), B=np.stack(fills))


def _blank(scenes, size):
  images = np.empty((len(scenes), size, size, 3), np.uint8)
  images[...] = BACKGROUND
  return images, images.copy()


def _windows(scenes, size):
  """(i, window, mask, shape, colour) per shape: its scene, the slices of a window around it,
  and its mask there. Drawing in windows keeps 1024 scenes x 3 shapes well under a second."""
  for i, shapes in enumerate(scenes):
    for shape, colour, cy, cx, r in shapes:
      y0, x0 = max(cy - r - 2, 0), max(cx - r - 2, 0)
      y1, x1 = min(cy + r + 3, size), min(cx + r + 3, size)
      mask = common.mask(shape, cy - y0, cx - x0, r, y1 - y0, x1 - x0)
      yield i, (slice(y0, y1), slice(x0, x1)), mask, shape, colour


def _render_all(scenes, size):
  width = max(1, round(2 * size / 32))
  outline, fill = _blank(scenes, size)
  for i, window, mask, _, colour in _windows(scenes, size):
    fill[i][window][mask] = COLOURS[colour]
    outline[i][window][mask & ~_erode(mask, width)] = COLOURS[colour]
  return outline, fill


def _render_by_kind(scenes, size):
  """(A, B): each scene's shapes filled in their kind's colour of domain A and of domain B."""
  a, b = _blank(scenes, size)
  for i, window, mask, shape, _ in _windows(scenes, size):
    kind = SHAPES.index(shape)
    a[i][window][mask] = KIND_COLOURS_A[kind]
    b[i][window][mask] = KIND_COLOURS_B[kind]
  return a, b


def _erode(mask, steps):
  """Binary erosion with the 4-neighbourhood, `steps` times; the mask's border must be empty."""
  for _ in range(steps):
    eroded = np.zeros_like(mask)
    eroded[1:-1, 1:-1] = (
      mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    )
    mask = eroded
  return mask
