"""LPIPS: the diversity protocol, the distance's basic properties, and its one-line errors.

Numerical agreement with lpips is in test_parity.py (fixtures) and test_metrics_real_weights.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.errors import ConfigError, InputError, WeightsError
from jaxgan.metrics import lpips


class _PixelDistance:
  """Stands in for an LPIPSModel: mean |x0 - x1| per image, recording the pairs it sees."""

  def __init__(self):
    self.pairs = []

  def distance(self, x0, x1):
    self.pairs.append((x0.copy(), x1.copy()))
    return np.abs(x0 - x1).mean(axis=(1, 2, 3))


def test_diversity_averages_consecutive_samples_of_each_input():
  # Input i's sample j is the constant image i + j^2: consecutive distances are 1, 3, 5.
  n, m = 2, 4
  samples = np.zeros((n, m, 4, 4, 3), np.float32)
  for i in range(n):
    for j in range(m):
      samples[i, j] = i + j * j
  model = _PixelDistance()
  result = lpips.diversity(model, samples)
  assert result == {'lpips_diversity': 3.0, 'lpips_diversity_std': 0.0, 'pairs': n * (m - 1)}
  ((x0, x1),) = model.pairs
  np.testing.assert_array_equal(x0[:, 0, 0, 0], [0, 1, 4, 1, 2, 5])  # Never across inputs.
  np.testing.assert_array_equal(x1[:, 0, 0, 0], [1, 4, 9, 2, 5, 10])


def test_diversity_std_is_over_inputs():
  samples = np.zeros((2, 2, 4, 4, 3), np.float32)
  samples[0, 1], samples[1, 1] = 1.0, 3.0
  result = lpips.diversity(_PixelDistance(), samples)
  assert result['lpips_diversity'] == 2.0 and result['lpips_diversity_std'] == 1.0


def test_diversity_needs_two_samples_per_input():
  with pytest.raises(InputError, match=r'M >= 2 samples.*\(3, 1, 8, 8, 3\)'):
    lpips.diversity(_PixelDistance(), np.zeros((3, 1, 8, 8, 3)))


@pytest.fixture(scope='module')
def tiny_alex():
  module = lpips.LPIPS('alex', '0.1')
  x = jnp.zeros((1, 32, 32, 3))
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), x, x))
  rng = np.random.RandomState(0)
  # Random weights drawn on the host (module.init's 4-D random bits compile slowly on CPU);
  # positive heads, as trained ones are (lpips clamps them >= 0), so distances are >= 0.
  variables = jax.tree_util.tree_map_with_path(
    lambda p, s: (
      np.abs(rng.randn(*s.shape)).astype(np.float32) * 0.05
      if 'lin' in jax.tree_util.keystr(p)
      else rng.randn(*s.shape).astype(np.float32) * 0.05
    ),
    shapes,
  )
  return lpips.LPIPSModel(variables, 'alex', '0.1', batch_size=8)


def test_distance_is_zero_for_equal_images_and_every_image_counts(tiny_alex):
  rng = np.random.RandomState(0)
  x0 = rng.uniform(-1, 1, (11, 32, 32, 3)).astype(np.float32)  # 11: one padded batch of 8.
  x1 = np.clip(x0 + 0.5 * rng.randn(*x0.shape), -1, 1).astype(np.float32)
  np.testing.assert_allclose(tiny_alex.distance(x0, x0), 0.0, atol=1e-6)
  d = tiny_alex.distance(x0, x1)
  assert d.shape == (11,) and np.all(d > 0)
  np.testing.assert_allclose(d[8:], tiny_alex.distance(x0[8:], x1[8:]), rtol=1e-5)
  # uint8 images are mapped to [-1, 1] first.
  u0 = np.round((x0 + 1) * 127.5).astype(np.uint8)
  np.testing.assert_allclose(tiny_alex.distance(u0, u0), 0.0, atol=1e-6)


def test_bad_inputs_are_one_line(tiny_alex):
  x = np.zeros((2, 32, 32, 3), np.float32)
  with pytest.raises(InputError, match='grayscale'):
    tiny_alex.distance(np.zeros((2, 32, 32, 1)), np.zeros((2, 32, 32, 1)))
  with pytest.raises(InputError, match='one shape'):
    tiny_alex.distance(x, np.zeros((2, 64, 64, 3), np.float32))
  with pytest.raises(ConfigError, match="unknown LPIPS net 'squeeze'"):
    lpips.LPIPSModel({}, 'squeeze')
  with pytest.raises(ConfigError, match="unknown LPIPS version '0.2'"):
    lpips.lpips_variables({}, 'alex', '0.2')


def test_weights_that_do_not_fit(tiny_alex):
  from jaxgan import port

  sd = port.from_flax(jax.device_get(tiny_alex.variables))
  assert lpips.lpips_variables(sd, 'alex', '0.1')  # The round trip fits.
  bad_scale = {**sd, 'scaling_layer.scale': np.ones((1, 3, 1, 1), np.float32)}
  with pytest.raises(WeightsError, match="scaling_layer.scale is not lpips' constant"):
    lpips.lpips_variables(bad_scale, 'alex', '0.1')
  with pytest.raises(WeightsError, match='weights do not fit LPIPS vgg: '):
    lpips.lpips_variables(sd, 'vgg', '0.1')
  with pytest.raises(WeightsError, match='unexpected key extra.weight'):
    lpips.lpips_variables({**sd, 'extra.weight': np.zeros(1)}, 'alex', '0.1')


def test_a_short_call_is_padded_to_a_power_of_two_not_the_batch(tiny_alex):
  model = lpips.LPIPSModel(tiny_alex.variables, 'alex', '0.1', batch_size=64)
  devices = model.mesh.devices.size
  assert model.padded_size(20) == max(32, devices) and model.padded_size(64) == 64
  assert model.padded_size(1) == devices and model.padded_size(33) == 64
  seen, run = [], model._distance
  model._distance = lambda v, a, b: seen.append(len(a)) or run(v, a, b)
  x = np.zeros((20, 32, 32, 3), np.float32)
  assert model.distance(x, x).shape == (20,)
  assert seen == [max(32, devices)]  # 20 pairs run as 32, not as the batch of 64
