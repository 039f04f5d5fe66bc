"""Layers against PyTorch's definitions, written out in numpy."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import layers
from jaxgan.errors import ConfigError

RNG = np.random.default_rng(0)


def _torch_conv2d(x, weight, bias, stride, padding):
  """torch Conv2d by definition: x NCHW, weight (out, in, kh, kw)."""
  x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
  n, _, h, w = x.shape
  out, _, k, _ = weight.shape
  ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
  y = np.zeros((n, out, ho, wo))
  for i in range(ho):
    for j in range(wo):
      patch = x[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
      y[:, :, i, j] = np.einsum('nchw,ochw->no', patch, weight)
  return y + bias[None, :, None, None]


def _torch_conv_transpose2d(x, weight, bias, stride, padding, output_padding):
  """torch ConvTranspose2d by definition (scatter-add): weight (in, out, kh, kw)."""
  n, _, h, w = x.shape
  _, out, k, _ = weight.shape
  # Every input pixel adds weight * x at stride-spaced offsets; torch then crops `padding`
  # from each side and keeps `output_padding` more rows and columns at the end.
  full = np.zeros(
    (n, out, (h - 1) * stride + k + output_padding, (w - 1) * stride + k + output_padding)
  )
  for i in range(h):
    for j in range(w):
      contrib = np.einsum('nc,cohw->nohw', x[:, :, i, j], weight)
      full[:, :, i * stride : i * stride + k, j * stride : j * stride + k] += contrib
  ho = (h - 1) * stride - 2 * padding + k + output_padding
  wo = (w - 1) * stride - 2 * padding + k + output_padding
  y = full[:, :, padding : padding + ho, padding : padding + wo]
  return y + bias[None, :, None, None]


def _nhwc(x):
  return np.transpose(x, (0, 2, 3, 1))


def _nchw(x):
  return np.transpose(np.asarray(x), (0, 3, 1, 2))


@pytest.mark.parametrize('stride,padding', [(1, 0), (2, 1), (1, 1)])
def test_conv2d_matches_torch_definition(stride, padding):
  x = RNG.standard_normal((2, 3, 9, 9))
  weight = RNG.standard_normal((5, 3, 4, 4))
  bias = RNG.standard_normal(5)
  conv = layers.conv2d(5, 4, stride, padding)()
  params = {'kernel': weight.transpose(2, 3, 1, 0), 'bias': bias}
  got = conv.apply({'params': params}, _nhwc(x))
  want = _torch_conv2d(x, weight, bias, stride, padding)
  np.testing.assert_allclose(_nchw(got), want, atol=1e-4)


@pytest.mark.parametrize('kernel,padding,output_padding', [(3, 1, 1), (4, 1, 0)])
def test_conv_transpose2d_matches_torch_definition(kernel, padding, output_padding):
  # The resnet generator's (k3, s2, p1, op1) and the U-Net's (k4, s2, p1) upsamplings.
  x = RNG.standard_normal((2, 3, 5, 5))
  weight = RNG.standard_normal((3, 4, kernel, kernel))  # (in, out, kh, kw)
  bias = RNG.standard_normal(4)
  conv = layers.conv_transpose2d(4, kernel, 2, padding, output_padding)()
  params = {'kernel': weight.transpose(2, 3, 1, 0), 'bias': bias}
  got = conv.apply({'params': params}, _nhwc(x))
  assert got.shape == (2, 10, 10, 4)
  want = _torch_conv_transpose2d(x, weight, bias, 2, padding, output_padding)
  np.testing.assert_allclose(_nchw(got), want, atol=1e-4)


@pytest.mark.parametrize('kernel,padding,output_padding', [(3, 1, 1), (4, 1, 0), (3, 0, 0)])
def test_conv_transpose2d_gradients_match_autodiff_of_flax(kernel, padding, output_padding):
  # The hand-written VJP against JAX's own derivative of flax's input-dilated form.
  x = jnp.asarray(RNG.standard_normal((2, 5, 3, 6)), jnp.float32)  # not square
  conv = layers.conv_transpose2d(4, kernel, 2, padding, output_padding)()
  params = conv.init(jax.random.key(0), x)['params']
  low = kernel - 1 - padding
  reference = nn.ConvTranspose(
    4,
    (kernel, kernel),
    strides=(2, 2),
    padding=((low, low + output_padding),) * 2,
    transpose_kernel=True,
  )
  y = conv.apply({'params': params}, x)
  cotangent = jnp.asarray(RNG.standard_normal(y.shape), jnp.float32)

  def loss(module):
    return lambda p, x: jnp.sum(module.apply({'params': p}, x) * cotangent)

  got = jax.grad(loss(conv), argnums=(0, 1))(params, x)
  want = jax.grad(loss(reference), argnums=(0, 1))(params, x)
  np.testing.assert_allclose(y, reference.apply({'params': params}, x), atol=1e-5)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-5)


def test_conv_transpose2d_refuses_output_padding_not_below_stride():
  with pytest.raises(ConfigError, match='output_padding'):
    layers.conv_transpose2d(4, 3, 2, 1, 2)


@pytest.mark.parametrize(
  'mode,want',
  [('reflect', [2, 1, 2, 3, 2]), ('replicate', [1, 1, 2, 3, 3]), ('zero', [0, 1, 2, 3, 0])],
)
def test_pad2d(mode, want):
  x = jnp.array([1.0, 2.0, 3.0]).reshape(1, 1, 3, 1)
  y = layers.pad2d(x, 1, mode)
  assert y.shape == (1, 3, 5, 1)
  np.testing.assert_array_equal(y[0, 1, :, 0], want)


def test_batch_norm_train_normalises_and_updates_running_stats_as_torch():
  x = RNG.standard_normal((2, 3, 3, 4)) * 3 + 1
  bn = layers.BatchNorm2d(use_running_average=False)
  variables = bn.init(jax.random.key(0), x)
  params = {'scale': jnp.full(4, 2.0), 'bias': jnp.full(4, 0.5)}
  y, updates = bn.apply(
    {'params': params, 'batch_stats': variables['batch_stats']}, x, mutable=['batch_stats']
  )
  mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
  np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5) * 2 + 0.5, atol=1e-5)
  # momentum 0.1, and the unbiased variance (n = 18 values per channel) in the running one.
  stats = updates['batch_stats']
  np.testing.assert_allclose(stats['mean'], 0.1 * mean, rtol=1e-5)
  np.testing.assert_allclose(stats['var'], 0.9 + 0.1 * var * 18 / 17, rtol=1e-5)


def test_batch_norm_eval_uses_running_stats():
  x = RNG.standard_normal((2, 3, 3, 4))
  bn = layers.BatchNorm2d(use_running_average=True)
  variables = {
    'params': {'scale': jnp.ones(4), 'bias': jnp.zeros(4)},
    'batch_stats': {'mean': jnp.full(4, 1.0), 'var': jnp.full(4, 4.0)},
  }
  y = bn.apply(variables, x)
  np.testing.assert_allclose(y, (x - 1) / np.sqrt(4 + 1e-5), atol=1e-6)


def test_batch_norm_init_scale_is_normal_around_one():
  variables = layers.BatchNorm2d(False, init_gain=0.02).init(
    jax.random.key(0), jnp.ones((2, 1, 1, 4096))
  )
  scale = variables['params']['scale']
  assert abs(float(scale.mean()) - 1) < 0.002
  assert abs(float(scale.std()) - 0.02) < 0.002
  np.testing.assert_array_equal(variables['params']['bias'], 0)


def test_instance_norm_normalises_each_sample_and_channel_without_params():
  x = RNG.standard_normal((2, 4, 5, 3)) * np.array([1, 2, 3]) + np.array([0, 5, -5])
  norm = layers.InstanceNorm2d()
  variables = norm.init(jax.random.key(0), x)
  assert not variables  # No affine parameters, no running statistics.
  y = np.asarray(norm.apply({}, x))
  mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
  np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), atol=1e-5)


def test_norm_and_bias_by_name():
  assert layers.get_norm_layer('none', train=True) is layers.identity
  assert layers.get_norm_layer('batch', train=False).keywords['use_running_average']
  # The official rule: only InstanceNorm gives conv biases ('none' included in "no").
  assert [layers.uses_bias(n) for n in ('batch', 'instance', 'none')] == [False, True, False]
  with pytest.raises(ConfigError, match='known: batch, instance, none'):
    layers.get_norm_layer('group', train=True)


def _kernel(init_type, gain, shape=(4, 4, 64, 128)):
  return np.asarray(layers.kernel_init(init_type, gain)(jax.random.key(0), shape))


def test_init_normal_std_is_gain():
  k = _kernel('normal', 0.02)
  assert abs(k.mean()) < 1e-3 and abs(k.std() - 0.02) < 5e-4


def test_init_xavier_and_kaiming_use_torch_fans():
  fan_in, fan_out = 16 * 64, 16 * 128
  assert abs(_kernel('xavier', 0.5).std() - 0.5 * np.sqrt(2 / (fan_in + fan_out))) < 5e-4
  # kaiming_normal_(a=0, mode='fan_in') ignores the gain.
  assert abs(_kernel('kaiming', 0.02).std() - np.sqrt(2 / fan_in)) < 1e-3


def test_init_orthogonal_filters_are_orthonormal_times_gain():
  k = _kernel('orthogonal', 0.7, (3, 3, 8, 16)).reshape(-1, 16)  # 72 x 16: 16 filters
  np.testing.assert_allclose(k.T @ k, 0.49 * np.eye(16), atol=1e-5)


def test_unknown_names_raise_config_error():
  with pytest.raises(ConfigError, match='known: kaiming, normal, orthogonal, xavier'):
    layers.kernel_init('uniform', 0.02)
  with pytest.raises(ConfigError, match='known: bfloat16, float32'):
    layers.get_dtype('float16')


def test_sequential_names_layers_by_index_including_parameter_free_ones():
  seq = layers.Sequential(
    (layers.pad_layer(1), layers.conv2d(2, 3), layers.relu, functools.partial(nn.Dense, 3))
  )
  variables = seq.init(jax.random.key(0), jnp.ones((1, 4, 4, 1)))
  assert set(variables['params']) == {'1', '3'}
  assert variables['params']['1']['kernel'].shape == (3, 3, 1, 2)


def test_bfloat16_compute_keeps_float32_params():
  conv = layers.conv2d(4, 3, padding=1, dtype=jnp.bfloat16)()
  x = jnp.ones((1, 5, 5, 2))
  variables = conv.init(jax.random.key(0), x)
  assert variables['params']['kernel'].dtype == jnp.float32
  assert conv.apply(variables, x).dtype == jnp.bfloat16
  bn = layers.BatchNorm2d(False, dtype=jnp.bfloat16)
  y, _ = bn.init_with_output(jax.random.key(0), x.astype(jnp.bfloat16))
  assert y.dtype == jnp.bfloat16


@pytest.mark.parametrize(
  'c_in,c_out,kernel,stride,padding',
  [(3, 64, 7, 1, 0), (6, 32, 4, 2, 1), (64, 3, 7, 1, 0), (32, 1, 4, 1, 1), (16, 16, 3, 2, 1)],
)
def test_conv_matches_lax_convolution_with_its_gradients(c_in, c_out, kernel, stride, padding):
  # Few input channels (patches @ W), few output channels (per-tap matmul + overlap-add) and
  # the plain cuDNN path must all be torch's conv2d, gradients included.
  x = jnp.asarray(RNG.standard_normal((2, 11, 9, c_in)), jnp.float32)
  w = jnp.asarray(RNG.standard_normal((kernel, kernel, c_in, c_out)) / kernel, jnp.float32)

  def reference(x, w):
    p = ((padding, padding), (padding, padding))
    return jax.lax.conv_general_dilated(
      x, w, (stride, stride), p, dimension_numbers=('NHWC', 'HWIO', 'NHWC'), precision='highest'
    )

  got = layers.conv(x, w, stride, padding)
  want = reference(x, w)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
  cotangent = jnp.asarray(RNG.standard_normal(want.shape), jnp.float32)
  grads = [
    jax.grad(lambda x, w, f=f: jnp.sum(f(x, w) * cotangent), argnums=(0, 1))(x, w)
    for f in (lambda x, w: layers.conv(x, w, stride, padding), reference)
  ]
  for g, r in zip(*grads, strict=True):
    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_conv_takes_few_channel_convolutions_off_the_convolution_primitive():
  def primitives(c_in, c_out):
    x, w = jnp.zeros((1, 16, 16, c_in)), jnp.zeros((7, 7, c_in, c_out))
    return {e.primitive.name for e in jax.make_jaxpr(layers.conv)(x, w).jaxpr.eqns}

  assert 'conv_general_dilated' not in primitives(3, 64)
  assert 'conv_general_dilated' not in primitives(64, 3)
  assert 'conv_general_dilated' in primitives(64, 64)
  assert 'conv_general_dilated' in primitives(3, 8)  # tiny test nets keep the primitive
