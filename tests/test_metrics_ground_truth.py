"""MAE / PSNR against the true target and the trivial baselines, on hand-computed values."""

import math

import numpy as np
import pytest

from configs import common
from jaxgan.data import synthetic
from jaxgan.metrics import ground_truth


def test_mae_and_psnr_by_hand():
  target = np.zeros((2, 2, 2, 1), np.float32)  # mid-grey, 0.5 on the [0, 1] scale
  pred = target.copy()
  pred[0, 0, 0, 0] = 1.0  # one pixel of 4 off by 1 ([-1, 1]) = 0.5 ([0, 1])
  pred[1] = -0.5  # every pixel off by 0.5 = 0.25
  scores = ground_truth.per_image(pred, target)
  np.testing.assert_allclose(scores['mae'], [0.25, 0.5])
  # MSE on [0, 1]: 0.25 / 4 = 1/16 -> 10 log10(16); 0.0625 -> 10 log10(16) too.
  np.testing.assert_allclose(scores['psnr'], [10 * math.log10(16)] * 2)
  summary = ground_truth.evaluate(pred, target)
  assert summary['mae'] == pytest.approx(0.375)
  assert summary['psnr'] == pytest.approx(12.0412, abs=1e-4)


def test_exact_prediction_is_capped_at_100_db():
  x = np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 3))
  assert ground_truth.evaluate(x, x) == {'mae': 0.0, 'psnr': 100.0}


def test_baselines_by_hand():
  inputs = np.array([[[[-1.0]]], [[[1.0]]]])  # two 1x1 gray images
  targets = np.array([[[[0.0]]], [[[1.0]]]])
  train_targets = np.array([[[[0.5]]], [[[-0.5]]], [[[0.3]]]])  # mean 0.1
  scores = ground_truth.baselines(inputs, targets, train_targets)
  assert scores['identity']['mae'] == pytest.approx(0.5)  # |-1 - 0|, |1 - 1|
  assert scores['mean_image']['mae'] == pytest.approx((0.1 + 0.9) / 2)
  # Identity: PSNR of image 0 = 10 log10(1 / 0.25) = 6.0206, image 1 exact = 100.
  assert scores['identity']['psnr'] == pytest.approx((10 * math.log10(4) + 100) / 2)


def test_identity_between_gray_and_rgb():
  gray = np.full((1, 2, 2, 1), 0.2)
  rgb = np.full((1, 2, 2, 3), 0.2)
  assert ground_truth.baselines(gray, rgb, rgb)['identity']['mae'] == pytest.approx(0)
  assert ground_truth.baselines(rgb, gray, gray)['identity']['mae'] == pytest.approx(0, abs=1e-6)


def test_shape_mismatch_is_refused():
  with pytest.raises(ValueError, match='differ in shape'):
    ground_truth.per_image(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 1)))


def test_colour_accuracy_counts_shape_pixels_painted_nearest_the_right_colour():
  config = common.get_config()
  config.data.update(source='synthetic', synthetic='shapes_recolour', synthetic_test=8)
  truth = synthetic.ground_truth(config, 'test')
  palette = synthetic.palette('shapes_recolour')

  def score(outputs):
    return ground_truth.colour_accuracy(outputs, truth['B'], palette, synthetic.BACKGROUND)

  assert score(truth['B']) == 1.0
  assert score(truth['A']) == 0.0  # the identity keeps A's colours: all wrong
  # Off by a small amount everywhere, still nearest the right colour; the background is ignored.
  assert score(np.clip(truth['B'] * 0.8 + 0.1, -1, 1)) == 1.0
  half = truth['B'].copy()
  half[..., 16:, :] = truth['A'][..., 16:, :]
  shapes = np.abs(truth['B']).sum(-1) > 0.05
  assert score(half) == pytest.approx(shapes[..., :16].sum() / shapes.sum())
