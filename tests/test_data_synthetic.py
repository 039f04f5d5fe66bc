"""The built-in synthetic tasks: deterministic, disjoint splits, known targets, learnable."""

import numpy as np
import pytest

from configs import common
from jaxgan import data as jdata
from jaxgan import errors
from jaxgan.data import pixels, synthetic, synthetic_common
from jaxgan.metrics import ground_truth


def _config(task='shapes_paired', **overrides):
  config = common.get_config()
  config.batch_size = 4
  data = config.data
  data.source = 'synthetic'
  data.synthetic = task
  data.dataset_mode = 'aligned' if synthetic.is_paired(task) else 'unaligned'
  data.synthetic_train = 96
  data.synthetic_test = 16
  data.preprocess = 'none'
  data.num_parallel_calls = 1
  data.update(overrides)
  return config


def _keys(images):
  return {x.tobytes() for x in images}


@pytest.mark.parametrize('task', synthetic.TASKS)
def test_deterministic_from_the_seed_and_splits_disjoint(task):
  config = _config(task)
  train = synthetic.images(config, 'train')
  test = synthetic.images(config, 'test')
  assert train['A'].shape == (96, 32, 32, 3) and test['B'].shape == (16, 32, 32, 3)
  assert train['A'].dtype == np.uint8
  synthetic._generate.cache_clear()
  again = synthetic.images(config, 'train')
  np.testing.assert_array_equal(train['A'], again['A'])
  np.testing.assert_array_equal(train['B'], again['B'])
  other = synthetic.images(_config(task, synthetic_seed=1), 'train')
  assert not np.array_equal(train['B'], other['B'])
  truth = synthetic.ground_truth(config, 'train')
  for domain in 'AB':
    truth_uint8 = np.round(truth[domain] * 127.5 + 127.5).astype(np.uint8)
    assert _keys(train[domain]) <= _keys(truth_uint8)  # the same encoding
    assert not _keys(test[domain]) & _keys(truth_uint8)
    assert not _keys(test[domain]) & _keys(train[domain])
    assert len(_keys(test[domain])) == 16


def _drawn(images):
  return (images != np.array(synthetic.BACKGROUND, np.uint8)).any(-1)


def test_outline_and_fill_are_the_same_scene():
  test = synthetic.images(_config(), 'test')
  outline, fill = test['A'], test['B']
  drawn = _drawn(outline)
  # Every outline pixel is a filled pixel of the same colour; the fill covers more.
  np.testing.assert_array_equal(outline[drawn], fill[drawn])
  assert _drawn(fill).sum() > 1.5 * drawn.sum()
  # Saturated palette on a plain background: every pixel is one of 7 colours.
  colours = {tuple(c) for c in fill.reshape(-1, 3)}
  assert colours <= {synthetic.BACKGROUND} | {tuple(c) for c in synthetic.COLOURS}


def test_unpaired_train_has_no_pairs_but_the_test_split_does():
  config = _config('shapes_unpaired')
  train = synthetic.images(config, 'train')
  test = synthetic.images(config, 'test')
  filled = lambda x: _drawn(x).reshape(len(x), -1)
  # In test every outline lies on its own fill; in train an outline rarely lies on B's fill.
  covers = lambda a, b: np.all(~filled(a) | filled(b), axis=1)
  assert covers(test['A'], test['B']).all()
  assert covers(train['A'], train['B']).mean() < 0.2


def test_recolour_paints_each_kind_in_its_domain_colour():
  config = _config('shapes_recolour')
  test = synthetic.images(config, 'test')
  drawn = _drawn(test['A'])
  np.testing.assert_array_equal(drawn, _drawn(test['B']))  # the same scenes in the test split
  # Each A colour has exactly one B colour at the same pixels: the kind's.
  pairs = {(tuple(a), tuple(b)) for a, b in zip(test['A'][drawn], test['B'][drawn], strict=True)}
  a, b = synthetic.KIND_COLOURS_A, synthetic.KIND_COLOURS_B
  assert pairs == {(tuple(x), tuple(y)) for x, y in zip(a, b, strict=True)}
  # The kind, not the scene's colour index (4 here), decides the colour.
  circle = synthetic_common.mask('circle', 16, 16, 8, 32, 32)
  (a,), (b,) = synthetic._render_by_kind([[('circle', 4, 16, 16, 8)]], 32)
  assert (a[circle] == synthetic.KIND_COLOURS_A[0]).all()
  assert (b[circle] == synthetic.KIND_COLOURS_B[0]).all()
  train = synthetic.images(config, 'train')
  assert (_drawn(train['A']) != _drawn(train['B'])).any(axis=(1, 2)).mean() > 0.9  # unpaired


def test_ground_truth_applies_direction_and_channels():
  config = _config(direction='BtoA', input_nc=1)
  truth = synthetic.ground_truth(config, 'test')
  test = synthetic.images(config, 'test')
  assert truth['A'].shape == (16, 32, 32, 1) and truth['B'].shape == (16, 32, 32, 3)
  # The official ToTensor + Normalize(0.5, 0.5), each step rounded in float32.
  scale = lambda x: (x.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
  np.testing.assert_array_equal(truth['B'], scale(test['A']))
  np.testing.assert_array_equal(truth['A'][..., 0], scale(synthetic.luma(test['B'])))


@pytest.mark.parametrize('task', synthetic.TASKS)
def test_baselines_are_far_from_perfect(task):
  config = _config(task)
  scores = ground_truth.synthetic_baselines(config)
  truth = synthetic.ground_truth(config, 'test')
  perfect = ground_truth.evaluate(truth['B'], truth['B'])
  assert perfect == {'mae': 0.0, 'psnr': 100.0}
  for name in ('identity', 'mean_image'):
    assert scores[name]['mae'] > 0.07
    # 19 dB: the mean image of 'shapes_unpaired_hues' is 18.2 (its many shades average out
    # near the grey background); the others reach 17.5 at most.
    assert scores[name]['psnr'] < 19


def test_pipeline_test_split_is_the_paired_ground_truth():
  config = _config('shapes_unpaired')
  dataset = jdata.build(config, 'test', train=False, process_index=0, process_count=1)
  batches = list(dataset.batches())
  assert dataset.num_examples == 16 and len(batches) == 4
  truth = synthetic.ground_truth(config, 'test')
  np.testing.assert_array_equal(np.concatenate([b['A'] for b in batches]), truth['A'])
  np.testing.assert_array_equal(np.concatenate([b['B'] for b in batches]), truth['B'])
  assert batches[0]['A_paths'][1] == b'shapes_unpaired/testA/00001'


def test_pipeline_train_stream_is_deterministic_and_augmented():
  config = _config(preprocess='resize_and_crop', load_size=36, crop_size=32)
  build = lambda: jdata.build(config, 'train', train=True, process_index=0, process_count=1)
  first, again = (next(build().batches()) for _ in range(2))
  assert first['A'].shape == (4, 32, 32, 3)
  np.testing.assert_array_equal(first['A'], again['A'])
  # Jitter: a resized and cropped image is not any of the raw images.
  raw = pixels.normalize(synthetic.images(config, 'train')['A'])
  assert not any(np.array_equal(first['A'][0], x) for x in raw)


def test_autotuning_is_a_switch_and_off_by_default():
  """The switch reaches tf.data's options (why off: DEVELOPERS.md, Data); the stream is the same
  either way."""
  streams = {}
  for autotune in (False, True):
    config = _config(autotune=autotune)
    dataset = jdata.build(config, 'train', train=True, process_index=0, process_count=1)
    assert dataset.as_tf_dataset().options().autotune.enabled is autotune
    streams[autotune] = next(dataset.batches())['A']
  assert common.get_config().data.autotune is False
  np.testing.assert_array_equal(streams[False], streams[True])


def test_aligned_mode_needs_the_paired_task():
  config = _config('shapes_unpaired', dataset_mode='aligned')
  with pytest.raises(errors.ConfigError, match="'shapes_unpaired' has no pairs to train on"):
    jdata.build(config, 'train', train=True, process_index=0, process_count=1)


def test_unknown_split_and_size():
  with pytest.raises(errors.InputError, match="split 'val' is not in synthetic"):
    synthetic.images(_config(), 'val')
  with pytest.raises(errors.ConfigError, match='data.synthetic_size 8 is unusable'):
    synthetic.images(_config(synthetic_size=8), 'train')


def test_single_mode_gives_the_direction_s_input_domain():
  config = _config(dataset_mode='single', direction='BtoA')
  dataset = jdata.build(config, 'test', train=False, process_index=0, process_count=1)
  batch = next(dataset.batches())
  assert set(batch) == {'A', 'A_paths'}
  np.testing.assert_array_equal(batch['A'], synthetic.ground_truth(config, 'test')['A'][:4])
  assert batch['A_paths'][0] == b'shapes_paired/testB/00000'


# SHA-256 (first 16 hex digits) of every array a built-in task generates with its demo config
# (size 32, 1024 train and 64 test images, seed 0). The generation uses integer arithmetic and
# IEEE-exact float64 operations (+ - * / floor round, no transcendental functions, which libm
# and SIMD builds may round differently), so these hold on every CPU: a figure measured on the
# built-in data anywhere is measured on the same images.
BUILTIN_HASHES = {
  'shapes_paired': 'f833143b29805468',
  'shapes_recolour': '64c3148dd0725e38',
  'shapes_multimodal': '832e1d7939bb77aa',
  'shapes_hues': '874a0c8b3a10cb57',
  'shapes_unpaired_multimodal': '9f3cf9b84171f576',
  'shapes_unpaired_hues': '3f9a9598813e823f',
}


@pytest.mark.parametrize('task', sorted(BUILTIN_HASHES))
def test_builtin_sets_are_bit_identical_on_every_machine(task):
  import hashlib  # noqa: PLC0415

  import jax  # noqa: PLC0415

  sets = synthetic._generate(task, 32, 1024, 64, 0)
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_flatten_with_path(sets)[0]:
    array = np.ascontiguousarray(leaf)
    digest.update(f'{jax.tree_util.keystr(path)} {array.dtype} {array.shape}'.encode())
    digest.update(array.tobytes())
  assert digest.hexdigest()[:16] == BUILTIN_HASHES[task]
