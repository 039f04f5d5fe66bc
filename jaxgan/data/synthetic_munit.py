"""'shapes_unpaired_multimodal': a built-in unpaired task with several right answers (MUNIT).

Scenes are those of `jaxgan.data.synthetic` (1 to 3 circles, squares, triangles on mid grey),
rendered filled:

- domain A: every shape light grey (one mode);
- domain B: every shape of a scene in the same one of K = 4 colours (red, green, blue,
  yellow): the colour is the image's style, the shapes its content.

The train split draws independent scenes for A and B (never a pair); its B colours are uniform
over the K. The test split pairs them (B[i] is A[i]'s scene, coloured at random) and knows
every right answer: the K colourings of an A image (`modes`, A -> B) and the one grey rendering
of a B image (B -> A). Mode coverage and precision (`jaxgan.metrics.modes`) and content
preservation (`jaxgan.metrics.munit`) are measured against them.

'shapes_unpaired_hues' is the same with domain B's colour drawn from the continuous family of
`synthetic_multimodal.hsv_fill` (hue 0 to 240 degrees, value 0.5 to 1) instead of the K: A -> B
is scored by `jaxgan.metrics.modes.fill_metrics` (coverage of its 6 bins) against `fill_truth`.
"""

import functools

import numpy as np

from jaxgan import errors
from jaxgan.data import synthetic_common as common
from jaxgan.data import synthetic_multimodal as sm

NAME = 'shapes_unpaired_multimodal'
NAME_HUES = 'shapes_unpaired_hues'
TASKS = (NAME, NAME_HUES)
# The MAE on [-1, 1] within which a sample counts as reaching a mode (eval.mode_threshold).
THRESHOLD = 0.02
GREY = (224, 224, 224)
STYLE_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], np.uint8)
K = len(STYLE_COLOURS)


def render(scenes, size, colours):
  """Each scene's shapes filled with its colour: uint8 [n, size, size, 3].

  Args:
    scenes: lists of (shape, _, cy, cx, r), as `synthetic_common.scenes` draws them.
    size: image side.
    colours: [n, 3] uint8, one colour per scene.
  """
  out = np.empty((len(scenes), size, size, 3), np.uint8)
  out[...] = common.BACKGROUND
  for i, shapes in enumerate(scenes):
    for shape, _, cy, cx, r in shapes:
      y0, x0 = max(cy - r - 2, 0), max(cx - r - 2, 0)
      y1, x1 = min(cy + r + 3, size), min(cx + r + 3, size)
      mask = common.mask(shape, cy - y0, cx - x0, r, y1 - y0, x1 - x0)
      out[i, y0:y1, x0:x1][mask] = colours[i]
  return out


def _grey(n):
  return np.tile(np.array(GREY, np.uint8), (n, 1))


def _all_modes(scenes, size):
  """[n, K, size, size, 3]: every scene in each of the K colours."""
  n = len(scenes)
  return np.stack([render(scenes, size, np.tile(c, (n, 1))) for c in STYLE_COLOURS], axis=1)


def _unique_scenes(rng, num, size, seen):
  """num scenes whose shapes (their grey rendering) are not in `seen`, which they join.

  Scenes differing only in their colours look the same in grey: redrawn, so that every image
  of a split is distinct and no test scene occurs in the train split.
  """
  scenes = []
  while len(scenes) < num:
    for scene in common.scenes(rng, num - len(scenes), size):
      key = common.image_hash(render([scene], size, _grey(1))[0])
      if key not in seen:
        seen.add(key)
        scenes.append(scene)
  return scenes


def _colours(rng, num, hues):
  """[num, 3] uint8 style colours: one of the K, or of the continuous family (`hues`)."""
  if not hues:
    return STYLE_COLOURS[rng.integers(0, K, num)]
  return sm.hsv_fill(rng.uniform(*sm.HUES, num), rng.uniform(*sm.VALUES, num))


@functools.lru_cache(maxsize=4)
def generate(size, num_train, num_test, seed, hues=False):
  """All splits, in the layout of `synthetic._generate` plus the test modes.

  Returns:
    dict(train=dict(A, B) unpaired, test=dict(A, B) paired, truth_train=dict(A, B),
    truth_test=test, modes_test=uint8 [num_test, K, S, S, 3] (None for `hues`: its right
    colours are a continuum, `fill_truth`), style_test=uint8 [num_test, 3] (each B's colour)).
  """
  rng = lambda stream: np.random.default_rng([seed, 102 if hues else 101, stream])
  seen = set()
  scenes_a = _unique_scenes(rng(1), num_train, size, seen)
  scenes_b = _unique_scenes(rng(2), num_train, size, seen)
  train = dict(
    A=render(scenes_a, size, _grey(num_train)),
    B=render(scenes_b, size, _colours(rng(3), num_train, hues)),
  )
  # What each train image should translate to: B's scenes in grey; A's in a colour at random.
  truth_train = dict(
    A=np.concatenate([train['A'], render(scenes_b, size, _grey(num_train))]),
    B=np.concatenate([render(scenes_a, size, _colours(rng(4), num_train, hues)), train['B']]),
  )
  scenes_test = _unique_scenes(rng(5), num_test, size, seen)  # none of the train split's
  style_test = _colours(rng(6), num_test, hues)
  test = dict(
    A=render(scenes_test, size, _grey(num_test)),
    B=render(scenes_test, size, style_test),
  )
  modes = None if hues else _all_modes(scenes_test, size)
  for array in (*train.values(), *test.values(), *truth_train.values(), modes):
    if array is not None:
      array.setflags(write=False)
  return dict(
    train=train,
    test=test,
    truth_train=truth_train,
    truth_test=test,
    modes_test=modes,
    style_test=style_test,
  )


def modes(config, direction='AtoB'):
  """Every right answer for each test input, in [-1, 1] as the model sees it.

  Args:
    config: a config of this task (reads config.data.synthetic_*).
    direction: 'AtoB' (the K colourings of each grey test image) or 'BtoA' (the single grey
      rendering of each coloured one).

  Returns:
    float32 [num_test, K or 1, S, S, 3].
  """
  data = config.data
  sets = _sets(config)
  if direction == 'AtoB':
    if data.synthetic == NAME_HUES:
      raise errors.ConfigError(f'{NAME_HUES} has no K modes for AtoB: score it with fill_truth')
    return common.to_model(sets['modes_test'], 3)
  return common.to_model(sets['test']['A'], 3)[:, None]


def mode_truth(config, direction='AtoB'):
  """The right outputs of the test inputs in `direction`, for `jaxgan.metrics.modes.score`:
  A -> B the K colourings (the hues' family of fills), B -> A the one grey rendering."""
  if direction == 'AtoB' and config.data.synthetic == NAME_HUES:
    return common.ModeTruth('fill', fill_truth(config), THRESHOLD)
  return common.ModeTruth('modes', {'modes': modes(config, direction)}, THRESHOLD)


def _sets(config):
  data = config.data
  hues = data.synthetic == NAME_HUES
  return generate(
    data.synthetic_size, data.synthetic_train, data.synthetic_test, data.synthetic_seed, hues=hues
  )


def fill_truth(config):
  """What scores A -> B samples of 'shapes_unpaired_hues' (`modes.fill_metrics`), as
  `synthetic_multimodal.fill_truth`: the test scenes' shape masks, the family's colour grid."""
  grey = _sets(config)['test']['A']
  return sm.family_truth((grey != np.array(common.BACKGROUND, np.uint8)).any(-1), 3)
