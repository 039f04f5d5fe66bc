"""FID and KID from features: the reference tools' math, their edge cases and messages."""

import numpy as np
import pytest

from jaxgan.errors import InputError
from jaxgan.metrics import fid, kid


def _features(seed, n=300, d=8):
  rng = np.random.RandomState(seed)
  return rng.randn(n, d) @ rng.randn(d, d) * 0.5 + rng.randn(d)


def test_frechet_distance_of_diagonal_gaussians_by_hand():
  # With commuting (diagonal) covariances the square root is elementwise:
  # FID = |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2.
  mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
  s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
  expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + 0
  assert fid.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)


def test_frechet_distance_matches_pytorch_fid_value():
  # pytorch-fid's calculate_frechet_distance on these statistics gave 12.060349701014779.
  rng = np.random.RandomState(0)
  rng.randn(50, 16), rng.randn(60, 16)  # Draws used for the KID reference below.
  g1 = rng.randn(200, 8)
  g2 = rng.randn(300, 8) @ rng.randn(8, 8) * 0.5 + 1.0
  value = fid.frechet_distance(*fid.statistics(g1), *fid.statistics(g2))
  assert value == pytest.approx(12.060349701014779, rel=1e-9)


def test_statistics_are_float64_and_unbiased():
  f = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]], np.float32)
  mu, sigma = fid.statistics(f)
  assert mu.dtype == sigma.dtype == np.float64
  np.testing.assert_allclose(sigma, np.cov(f.astype(np.float64), rowvar=False))
  assert sigma[0, 0] == pytest.approx(4.0)  # Divided by N - 1.


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
  f = _features(0)
  assert abs(fid.fid_from_features(f, f)) < 1e-6
  rng = np.random.RandomState(1)
  noise = rng.randn(*f.shape)
  values = [fid.fid_from_features(f, f + s * noise) for s in (0.1, 0.3, 1.0)]
  assert 0 < values[0] < values[1] < values[2]


def test_sqrtm_retry_adds_eps_to_both_diagonals(monkeypatch):
  calls = []
  real_sqrtm = fid._sqrtm

  def flaky(a):
    calls.append(a)
    return np.full_like(a, np.inf) if len(calls) == 1 else real_sqrtm(a)

  monkeypatch.setattr(fid, '_sqrtm', flaky)
  s1, s2 = np.diag([1.0, 0.0]), np.diag([0.0, 1.0])  # A singular product.
  value = fid.frechet_distance(np.zeros(2), s1, np.zeros(2), s2, eps=1e-6)
  assert len(calls) == 2
  np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(2)) @ (s2 + 1e-6 * np.eye(2)))
  assert value == pytest.approx(2.0 - 4.0 * np.sqrt(1e-6 * (1 + 1e-6)), rel=1e-9)


def test_small_imaginary_part_is_dropped_large_one_is_an_error(monkeypatch):
  s = np.eye(2)
  monkeypatch.setattr(fid, '_sqrtm', lambda a: np.eye(2) + 1e-6j * np.eye(2))
  assert fid.frechet_distance(np.zeros(2), s, np.zeros(2), s) == pytest.approx(0.0)
  monkeypatch.setattr(fid, '_sqrtm', lambda a: np.eye(2) + 0.5j * np.eye(2))
  with pytest.raises(fid.FIDError, match=r'imaginary component 0\.5.*KID') as e:
    fid.frechet_distance(np.zeros(2), s, np.zeros(2), s)
  assert '\n' not in str(e.value)


def test_fewer_images_than_features_says_so_and_suggests_kid():
  few, many = _features(0, n=8, d=16), _features(1, n=40, d=16)
  with pytest.raises(InputError, match=r'more images than its 16 features, fake/ has 8.*KID') as e:
    fid.fid_from_features(many, few, names=('real/', 'fake/'))
  assert '\n' not in str(e.value)
  assert np.isfinite(fid.fid_from_features(many, few, allow_few=True))


def test_fid_needs_two_images_and_equal_dims():
  with pytest.raises(InputError, match='at least 2 images'):
    fid.fid_from_features(np.ones((1, 4)), np.ones((5, 4)), allow_few=True)
  with pytest.raises(InputError, match='differ in shape'):
    fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_mmd2_unbiased_by_hand():
  # X = {1, 2}, Y = {0, 1}, D = 1: k(a, b) = (ab + 1)^3. Off-diagonal within X: k(1, 2) = 27;
  # within Y: k(0, 1) = 1; across: 1 + 8 + 1 + 27 = 37. MMD^2 = 27 + 1 - 2 * 37 / 4 = 9.5.
  x, y = np.array([[1.0], [2.0]]), np.array([[0.0], [1.0]])
  k = kid.polynomial_kernel
  assert kid.mmd2_unbiased(k(x, x), k(x, y), k(y, y)) == pytest.approx(9.5)
  # Whole-set subsets: every subset is the set itself: one value, no spread to report.
  result = kid.kid_from_features(x, y, subsets=3, subset_size=2)
  assert result['kid'] == pytest.approx(9.5) and result['kid_std'] is None
  assert result['kid_subsets'] == 1


def test_kid_matches_torch_fidelity():
  # torch-fidelity 0.4.0 kid_features_to_metric(subsets=5, subset_size=20, rng_seed=2020).
  rng = np.random.RandomState(0)
  f1 = rng.randn(50, 16).astype(np.float32)
  f2 = (rng.randn(60, 16) + 0.3).astype(np.float32)
  result = kid.kid_from_features(f1, f2, subsets=5, subset_size=20, seed=2020)
  assert result['kid'] == pytest.approx(0.5118408679962159, rel=1e-5)
  assert result['kid_std'] == pytest.approx(0.17837218890155357, rel=1e-5)


def test_kid_is_about_zero_for_one_distribution_and_grows_with_a_shift():
  rng = np.random.RandomState(0)
  mix = rng.randn(16, 16) / 4
  x, y = rng.randn(200, 16) @ mix, rng.randn(200, 16) @ mix
  same = kid.kid_from_features(x, y, subsets=20, subset_size=100)
  assert abs(same['kid']) < 3 * same['kid_std']
  shifted = kid.kid_from_features(x, y + 0.5, subsets=20, subset_size=100)
  assert shifted['kid'] > 10 * max(abs(same['kid']), same['kid_std'])


def test_kid_subset_size_defaults_to_the_smaller_set_and_errors_name_it():
  a, b = _features(0, n=30, d=4), _features(1, n=20, d=4)
  assert kid.kid_from_features(a, b, subsets=2, subset_size=None)['kid_subset_size'] == 20
  with pytest.raises(InputError, match=r'subset size 25 is larger than fake/ \(20 images\)'):
    kid.kid_from_features(a, b, subset_size=25, names=('real/', 'fake/'))
