"""The built-in multimodal tasks' truth: the hue tasks' data (BicycleGAN's 'shapes_hues',
MUNIT's 'shapes_unpaired_hues'), `fill_metrics`, and MUNIT's colour scored inside the shapes."""

import colorsys

import numpy as np
import pytest

from configs import bicyclegan_hues, bicyclegan_shapes
from jaxgan import errors
from jaxgan.data import synthetic, synthetic_munit
from jaxgan.data import synthetic_multimodal as sm
from jaxgan.metrics.modes import fill_metrics, mode_metrics


def _hues_config(**data):
  config = bicyclegan_hues.get_config()
  config.data.update(data)
  return config


def _paint(masks, colours, background):
  """Images [N, M, S, S, C]: each input's mask in each of its M colours [N, M, C]."""
  return np.where(masks[:, None, :, :, None], colours[:, :, None, None, :], background)


def test_hsv_fill_against_colorsys():
  hues = np.array([0, 30, 60, 120, 180, 200, 240, 239.9])
  values = np.array([1, 1, 0.5, 1, 0.75, 1, 1, 0.6])
  want = [colorsys.hsv_to_rgb(h / 360, 1, v) for h, v in zip(hues, values, strict=True)]
  np.testing.assert_array_equal(sm.hsv_fill(hues, values), np.round(np.array(want) * 255))


def test_bins_split_the_family_into_equally_likely_parts():
  assert sm.hue_bin(0, 0.5) == 0 and sm.hue_bin(240, 1.0) == 5
  assert sm.hue_bin(79.9, 0.74) == 0 and sm.hue_bin(80, 0.75) == 3
  rng = np.random.default_rng(0)
  drawn = sm.hue_bin(rng.uniform(*sm.HUES, 60000), rng.uniform(*sm.VALUES, 60000))
  np.testing.assert_allclose(np.bincount(drawn) / 60000, 1 / 6, atol=0.01)


def test_hue_fills_fill_the_silhouette_with_one_colour_of_the_family():
  config = _hues_config()
  images = synthetic.images(config, 'train')
  masks = sm._generate_hues(32, 1024, 64, 0)['masks']['train']
  np.testing.assert_array_equal((images['A'] == 0).all(-1), masks)
  np.testing.assert_array_equal((images['B'] != 128).any(-1) | masks, masks)
  fills = np.array(
    [b[m].reshape(-1, 3) for b, m in zip(images['B'][:50], masks[:50], strict=True)], object
  )
  for pixels in fills:
    assert (pixels == pixels[0]).all()  # one flat colour
  # Every fill is one of the family: within the scoring grid's own error of a grid colour.
  truth = sm.fill_truth(config, 'train')
  b = synthetic.ground_truth(config, 'train')['B'][:256, None]
  scores = fill_metrics(b, **{**truth, 'masks': truth['masks'][:256]}, threshold=0.013)
  assert scores['precision'] == 1.0
  # One colour per image, so one bin of 6 per input.
  assert scores['coverage'] == pytest.approx(1 / 6)


def test_fill_metrics_equals_mode_metrics_on_the_discrete_task():
  config = bicyclegan_shapes.get_config()
  modes = sm.modes(config, 'test')[:16]
  masks = (synthetic.ground_truth(config, 'test')['A'][:16] == -1).all(-1)
  rng = np.random.default_rng(0)
  picks = rng.integers(0, sm.K, (16, 6))
  samples = modes[np.arange(16)[:, None], picks]
  samples = samples + rng.normal(0, 0.3, samples.shape).astype(np.float32) * (
    rng.uniform(size=(16, 6, 1, 1, 1)) < 0.4
  )
  colours = synthetic.to_model(sm.COLOURS[:, None, None], 3).reshape(sm.K, 3)
  background = synthetic.to_model(np.array(synthetic.BACKGROUND, np.uint8), 3)
  want = mode_metrics(samples, modes, sm.THRESHOLD)
  got = fill_metrics(samples, masks, background, colours, np.arange(sm.K), sm.K, sm.THRESHOLD)
  assert 0 < want['precision'] < 1
  for key in want:
    assert got[key] == pytest.approx(want[key], rel=1e-5)


def test_fill_metrics_by_hand():
  masks = np.zeros((1, 2, 2), bool)
  masks[0, 0] = True  # the top row is the shape
  colours = np.array([[1.0], [0.5], [-0.5]])
  samples = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)[None, None, :, :, None]
  samples = np.concatenate([samples, samples - 0.2, samples * 0 + 0.5], axis=1)
  got = fill_metrics(samples, masks, np.zeros(1), colours, np.array([0, 1, 1]), 2, threshold=0.1)
  # Nearest MAEs: 0 (colour 1.0); 0.2 (0.2 on every pixel, to colour 1.0; 0.25 to 0.5); the flat
  # 0.5 image, 0.25 (0.5 off on the 2 background pixels, to colour 0.5). Only the first hits.
  assert got['mae_nearest'] == pytest.approx((0 + 0.2 + 0.25) / 3)
  assert got['precision'] == pytest.approx(1 / 3)
  assert got['coverage'] == pytest.approx(1 / 2) and got['num_bins'] == 2
  # Per pixel under the mask alone: the flat 0.5 image is colour 0.5 there, the background
  # does not count.
  got = fill_metrics(
    samples, masks, np.zeros(1), colours, np.array([0, 1, 1]), 2, threshold=0.1, per_pixel=True
  )
  assert got['mae_nearest'] == pytest.approx((0 + 0.2 + 0) / 3)
  assert got['precision'] == pytest.approx(2 / 3) and got['coverage'] == 1.0


def test_fill_metrics_tell_valid_fills_from_washed_out_ones_and_textures():
  config = _hues_config()
  truth = sm.fill_truth(config, 'test')
  truth['masks'] = truth['masks'][:32]
  masks, background = truth['masks'], truth['background']
  rng = np.random.default_rng(0)
  hue, value = rng.uniform(*sm.HUES, (32, 8)), rng.uniform(*sm.VALUES, (32, 8))
  valid = synthetic.to_model(sm.hsv_fill(hue, value), 3)
  scores = fill_metrics(_paint(masks, valid, background), **truth, threshold=sm.HUE_THRESHOLD)
  # 8 draws from the data cover 1 - (5/6)^8 = 0.77 of the 6 bins on average.
  assert scores['precision'] == 1.0 and scores['coverage'] == pytest.approx(0.77, abs=0.05)
  for saturation, (low, high) in {0.9: (1.0, 1.0), 0.7: (0.6, 0.85), 0.5: (0.15, 0.45)}.items():
    washed = [
      colorsys.hsv_to_rgb(h / 360, saturation, v)
      for h, v in zip(hue.ravel(), value.ravel(), strict=True)
    ]
    washed = np.reshape(washed, (32, 8, 3)) * 2 - 1
    scores = fill_metrics(_paint(masks, washed, background), **truth, threshold=sm.HUE_THRESHOLD)
    assert low <= scores['precision'] <= high, saturation
  textured = _paint(masks, valid, background) + rng.normal(0, 0.2, (32, 8, 32, 32, 3))
  scores = fill_metrics(textured, **truth, threshold=sm.HUE_THRESHOLD)
  assert scores['precision'] == 0.0 and scores['coverage'] == 0.0


def test_truth_needs_its_task_and_the_fill_direction():
  with pytest.raises(errors.ConfigError, match='shapes_hues'):
    sm.fill_truth(bicyclegan_shapes.get_config(), 'test')
  with pytest.raises(errors.ConfigError, match='no K modes'):
    sm.modes(_hues_config(), 'test')
  with pytest.raises(errors.ConfigError, match='AtoB'):
    sm.fill_truth(_hues_config(direction='BtoA'), 'test')
  with pytest.raises(errors.InputError, match="split 'val'"):
    sm.fill_truth(_hues_config(), 'val')


def test_mode_truth_is_the_tasks_own_scoring():
  # eval asks the data layer, not the task's name, how samples of a task are scored.
  from configs import cyclegan_shapes, munit_hues, munit_shapes

  truth = synthetic.mode_truth(bicyclegan_shapes.get_config('tiny'), 'test')
  assert truth.kind == 'modes' and truth.threshold == sm.THRESHOLD
  assert truth.arrays['modes'].shape == (4, sm.K, 32, 32, 3)
  assert truth.first(2).arrays['modes'].shape[0] == 2
  truth = synthetic.mode_truth(_hues_config(), 'test')
  assert truth.kind == 'fill' and truth.threshold == sm.HUE_THRESHOLD
  assert synthetic.mode_truth(_hues_config(), 'test', 'BtoA') is None
  munit = munit_shapes.get_config('tiny')
  assert synthetic.mode_truth(munit, 'test', 'AtoB').arrays['modes'].shape[1] == synthetic_munit.K
  assert synthetic.mode_truth(munit, 'test', 'BtoA').arrays['modes'].shape[1] == 1  # grey only
  assert synthetic.mode_truth(munit, 'train') is None
  assert synthetic.mode_truth(munit_hues.get_config(), 'test', 'AtoB').kind == 'fill'
  assert synthetic.mode_truth(cyclegan_shapes.get_config(), 'test') is None  # one right output


def test_munit_hue_task_is_unpaired_in_training_and_scored_on_bins():
  from configs import munit_hues
  from jaxgan.eval import styles as munit_eval

  config = munit_hues.get_config()
  config.data.synthetic_train = 64
  train, test = synthetic.images(config, 'train'), synthetic.images(config, 'test')
  grey = np.array(synthetic_munit.GREY, np.uint8)
  assert ((train['A'] == grey).all(-1) | (train['A'] == 128).all(-1)).all()  # A: grey shapes
  a_masks = (test['A'] != 128).any(-1)
  np.testing.assert_array_equal((test['B'] != 128).any(-1), a_masks)  # the test split pairs
  assert not np.array_equal((train['B'] != 128).any(-1), (train['A'] != 128).any(-1))
  # A -> B scored against the family: the true B of each input is precise, in 1 bin of 6.
  inputs = synthetic.to_model(test['A'][:8], 3)
  outputs = synthetic.to_model(test['B'][:8], 3)[:, None]
  scores = munit_eval._scores(config, 'AtoB', inputs, outputs, outputs[:, 0])['modes']
  assert scores['precision'] == 1.0 and scores['coverage'] == pytest.approx(1 / 6)
  assert scores['num_bins'] == 6 and scores['threshold'] == 0.03
  assert scores['precision_interior'] == 1.0 and scores['coverage_interior'] == pytest.approx(1 / 6)
  assert scores['content_iou'] == 1.0
  back = munit_eval._scores(config, 'BtoA', outputs[:, 0], inputs[:, None], inputs)['modes']
  assert back['precision'] == 1.0 and back['coverage'] == 1.0  # the one grey rendering
  with pytest.raises(errors.ConfigError, match='fill_truth'):
    synthetic_munit.modes(config, 'AtoB')


def test_interior_drops_the_outline_and_keeps_shapes_too_thin_for_one():
  from jaxgan.metrics import munit as munit_metrics

  grey = np.full((2, 7, 7, 3), 128, np.uint8)
  grey[0, 1:6, 1:6] = synthetic_munit.GREY  # a 5 x 5 square: its 3 x 3 middle is interior
  grey[1, 3, 1:6] = synthetic_munit.GREY  # a line 1 pixel thick has no interior: kept whole
  inner = munit_metrics.interior(synthetic.to_model(grey, 3))
  want = np.zeros((2, 7, 7), bool)
  want[0, 2:5, 2:5] = True
  want[1, 3, 1:6] = True
  np.testing.assert_array_equal(inner, want)


def test_mode_metrics_with_a_mask_average_over_its_pixels():
  modes = np.zeros((1, 2, 2, 2, 1), np.float32)
  modes[0, 1] = 1.0
  samples = np.zeros((1, 1, 2, 2, 1), np.float32)
  samples[0, 0, 0, 0] = 0.9  # mode 1 inside the mask, 0 outside
  samples[0, 0, 0, 1] = 1.0
  mask = np.array([[[True, True], [False, False]]])
  got = mode_metrics(samples, modes, 0.1, mask=mask)
  # per masked pixel: |0.9 - 1| and |1 - 1| -> 0.05 to mode 1 (0.95 to mode 0)
  assert got['mae_nearest'] == pytest.approx(0.05)
  assert got['precision'] == 1.0 and got['coverage'] == 0.5
  with pytest.raises(ValueError, match='mask'):
    mode_metrics(samples, modes, 0.1, mask=mask[:, :1])


def test_munit_colour_is_scored_inside_the_shapes_and_the_outline_by_content():
  from configs import munit_shapes
  from jaxgan.eval import styles as munit_eval
  from jaxgan.metrics import munit as munit_metrics

  config = munit_shapes.get_config()
  inputs = synthetic.to_model(synthetic.images(config, 'test')['A'][:8], 3)
  truth = synthetic_munit.modes(config, 'AtoB')[:8]  # [8, 4 colourings, S, S, 3]
  background = synthetic.to_model(np.array(synthetic.BACKGROUND, np.uint8), 3)
  # The 4 right colourings of each input with the outline in the background colour: the
  # shapes a pixel smaller all round, each in a right colour.
  smaller = np.where(munit_metrics.interior(inputs)[:, None, ..., None], truth, background)
  scores = munit_eval._scores(config, 'AtoB', inputs, smaller, truth[:, 0])['modes']
  assert scores['coverage_interior'] == 1.0 and scores['precision_interior'] == 1.0
  assert scores['interior_threshold'] == 0.1
  assert scores['precision'] < 0.5 and scores['content_iou'] < 0.8  # the outline counts there
  # Orange between red and yellow, on the exact shapes: no mode either way.
  orange = synthetic.to_model(np.array([255, 128, 0], np.uint8), 3)
  mask = munit_metrics.foreground(inputs)[:, None, ..., None]
  blend = np.where(mask, orange, background)
  scores = munit_eval._scores(config, 'AtoB', inputs, blend, truth[:, 0])['modes']
  assert scores['precision_interior'] == 0.0 and scores['precision'] == 0.0
  assert scores['content_iou'] == 1.0
