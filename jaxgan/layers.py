"""Building blocks shared by all networks: norms, initialisers and convolutions by name.

Everything here reproduces a PyTorch layer of the official code numerically, so that the
official weights give the official outputs (see `tests/test_parity.py`):

- `BatchNorm2d` / `InstanceNorm2d` follow `torch.nn.BatchNorm2d` (affine, eps 1e-5, momentum
  0.1, unbiased running variance) and `torch.nn.InstanceNorm2d` (no affine, no running stats);
  `LayerNorm` and `adain` are MUNIT's official LayerNorm and AdaptiveInstanceNorm2d.
- `ACTIVATIONS` / `activation` name the non-linearities as the official options do.
- `conv2d` / `conv_transpose2d` take PyTorch's `padding` / `output_padding` arguments.
- `Sequential` names its i-th layer `str(i)`, like `torch.nn.Sequential`, so that a parameter
  path such as `model/10/conv_block/1/kernel` is the official key `model.10.conv_block.1.weight`.

Parameters are always float32; `dtype` is the compute dtype ('float32' or 'bfloat16').
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.errors import ConfigError

Array = jax.Array
Initializer = Callable[..., Array]

PARAM_DTYPE = jnp.float32
COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def _known(names) -> str:
  return ', '.join(sorted(names))


def get_dtype(name: str) -> Any:
  """Returns the compute dtype named by `config.compute_dtype`."""
  if name not in COMPUTE_DTYPES:
    raise ConfigError(f'unknown compute_dtype {name!r}; known: {_known(COMPUTE_DTYPES)}')
  return COMPUTE_DTYPES[name]


# ------------------------------------------------------------------------------------------
# Initialisers (the official init_weights): conv and linear weights by `init_type`, biases 0.
# The official code applies them to every Conv*/Linear weight and gives BatchNorm weights
# N(1, init_gain) whatever the init_type.


def _standard_normal(key, shape, dtype=PARAM_DTYPE) -> Array:
  # Sampled flat and reshaped: XLA on CPU compiles random bits for 4-D shapes many times
  # slower than for 1-D ones (seconds per kernel shape), which dominated `module.init`.
  return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)


def _fans(shape) -> tuple[int, int]:
  # Flax kernels are (..., in, out) with the receptive field first; torch's fans likewise.
  receptive_field = math.prod(shape[:-2])
  return shape[-2] * receptive_field, shape[-1] * receptive_field


def _scaled_normal(std_of_shape: Callable[[tuple[int, ...]], float]) -> Initializer:
  def init(key, shape, dtype=PARAM_DTYPE):
    return std_of_shape(tuple(shape)) * _standard_normal(key, shape, dtype)

  return init


def _normal(gain: float) -> Initializer:
  return _scaled_normal(lambda shape: gain)


def _xavier(gain: float) -> Initializer:
  # xavier_normal_: std = gain * sqrt(2 / (fan_in + fan_out)), untruncated.
  return _scaled_normal(lambda shape: gain * math.sqrt(2.0 / sum(_fans(shape))))


def _kaiming(gain: float) -> Initializer:
  del gain  # The official kaiming_normal_(a=0, mode='fan_in') ignores init_gain.
  return _scaled_normal(lambda shape: math.sqrt(2.0 / _fans(shape)[0]))


def _orthogonal(gain: float) -> Initializer:
  # Torch orthogonalises weight.view(out, -1); Flax kernels keep `out` last, so the same
  # matrix (transposed) is orthogonalised along the last axis.
  def init(key, shape, dtype=PARAM_DTYPE):
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = _standard_normal(key, (max(rows, cols) * min(rows, cols),), jnp.float32)
    q, r = jnp.linalg.qr(a.reshape(max(rows, cols), min(rows, cols)))
    q = q * jnp.sign(jnp.diagonal(r))  # Unique (uniformly distributed) factorisation.
    q = q if rows >= cols else q.T
    return (gain * q).reshape(shape).astype(dtype)

  return init


INITIALIZERS: dict[str, Callable[[float], Initializer]] = {
  'normal': _normal,
  'xavier': _xavier,
  'kaiming': _kaiming,
  'orthogonal': _orthogonal,
}


def kernel_init(init_type: str, init_gain: float) -> Initializer:
  """Returns the initialiser of conv/linear weights named by `config.init_type`.

  Fans are taken as PyTorch takes them: Flax kernels are (kh, kw, in, out), and transposed
  convolutions here store (kh, kw, out, in), which is exactly where torch reads fan_in from
  a ConvTranspose2d weight (its dim 1, the output channels).

  Args:
    init_type: 'normal' | 'xavier' | 'kaiming' | 'orthogonal'.
    init_gain: std of 'normal', gain of 'xavier' and 'orthogonal'; unused by 'kaiming'.

  Returns:
    A `jax.nn.initializers` function.
  """
  if init_type not in INITIALIZERS:
    raise ConfigError(f'unknown init_type {init_type!r}; known: {_known(INITIALIZERS)}')
  return INITIALIZERS[init_type](init_gain)


def _normal_around_one(gain: float) -> Initializer:
  def init(key, shape, dtype=PARAM_DTYPE):
    return 1.0 + gain * _standard_normal(key, shape, dtype)

  return init


# ------------------------------------------------------------------------------------------
# Normalisation layers.


class BatchNorm2d(nn.Module):
  """`torch.nn.BatchNorm2d(affine=True)` on NHWC inputs.

  Statistics are taken over (N, H, W) in float32, the variance in two passes and biased for
  normalising; the running variance is updated with the unbiased estimate, as torch does.
  Under `jax.jit` with a batch sharded over devices the statistics are those of the global
  batch. Parameters are `scale`/`bias`, statistics `batch_stats/mean`/`var`.

  Attributes:
    use_running_average: normalise with the running statistics (torch's eval mode).
    momentum: weight of the new batch in the running averages (torch's convention: 0.1).
    epsilon: added to the variance.
    init_gain: std of the N(1, init_gain) initialisation of `scale`.
    dtype: compute dtype of the output.
  """

  use_running_average: bool
  momentum: float = 0.1
  epsilon: float = 1e-5
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    features = x.shape[-1]
    scale = self.param('scale', _normal_around_one(self.init_gain), (features,), PARAM_DTYPE)
    bias = self.param('bias', nn.initializers.zeros, (features,), PARAM_DTYPE)
    ra_mean = self.variable('batch_stats', 'mean', jnp.zeros, (features,), PARAM_DTYPE)
    ra_var = self.variable('batch_stats', 'var', jnp.ones, (features,), PARAM_DTYPE)
    x = x.astype(jnp.float32)
    if self.use_running_average:
      mean, var = ra_mean.value, ra_var.value
    else:
      axes = tuple(range(x.ndim - 1))
      mean = x.mean(axes)
      var = jnp.square(x - mean).mean(axes)
      if not self.is_initializing():
        n = x.size // features
        unbiased = var * (n / max(n - 1, 1))
        ra_mean.value = (1 - self.momentum) * ra_mean.value + self.momentum * mean
        ra_var.value = (1 - self.momentum) * ra_var.value + self.momentum * unbiased
    y = (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias
    return y.astype(self.dtype)


def instance_moments(x: Array) -> tuple[Array, Array]:
  """Per sample and channel mean and biased variance over (H, W) of NHWC x, in one pass.

  Both moments are sums over the same pass (one read of x instead of two: on an H200 a
  bfloat16 instance norm + ReLU took 0.26 ms instead of 0.41 at CycleGAN's 16x64x64x256),
  taken about each plane's first pixel so that a large mean cannot cancel the variance away.
  The shift cancels exactly, so values and gradients are those of the two-pass formulas.
  """
  x = x.astype(jnp.float32)
  shift = jax.lax.stop_gradient(x[:, :1, :1, :])
  d = x - shift
  mean_d = d.mean((1, 2), keepdims=True)
  var = jnp.maximum(jnp.square(d).mean((1, 2), keepdims=True) - jnp.square(mean_d), 0.0)
  return mean_d + shift, var


def instance_norm(x: Array, epsilon: float = 1e-5) -> Array:
  """nn.InstanceNorm2d(affine=False) as a function: each sample's channels over (H, W), in
  float32 with the biased variance."""
  x = x.astype(jnp.float32)
  mean, var = instance_moments(x)
  return (x - mean) * jax.lax.rsqrt(var + epsilon)


class InstanceNorm2d(nn.Module):
  """`torch.nn.InstanceNorm2d(affine=False, track_running_stats=False)` on NHWC inputs.

  Each sample and channel is normalised over (H, W) in float32, in train and eval alike.
  """

  epsilon: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    return instance_norm(x, self.epsilon).astype(self.dtype)


def adain(x: Array, weight: Array, bias: Array, eps: float = 1e-5) -> Array:
  """Adaptive instance norm: instance-normalise x, then scale and shift per sample.

  The official AdaptiveInstanceNorm2d runs batch norm in training mode over a (1, N*C, H, W)
  view: each sample's channel normalised over (H, W) with the biased variance.

  Args:
    x: [N, H, W, C].
    weight: [N, C], the style's scale (the MLP's 'std' half).
    bias: [N, C], its shift (the 'mean' half).
    eps: added to the variance.
  """
  dtype = x.dtype
  x = x.astype(jnp.float32)
  mean, var = instance_moments(x)
  y = (x - mean) * jax.lax.rsqrt(var + eps)
  return (y * weight[:, None, None, :] + bias[:, None, None, :]).astype(dtype)


class LayerNorm(nn.Module):
  """MUNIT's LayerNorm: per sample over (C, H, W), unbiased std, eps added to the std.

  y = (x - mean) / (std + eps) * gamma + beta, with gamma ~ U[0, 1) and beta = 0 at init, as
  the official layer (which differs from torch.nn.LayerNorm in all three respects).
  """

  epsilon: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    features = x.shape[-1]
    gamma = self.param('gamma', nn.initializers.uniform(1.0), (features,), PARAM_DTYPE)
    beta = self.param('beta', nn.initializers.zeros, (features,), PARAM_DTYPE)
    x = x.astype(jnp.float32)
    axes = tuple(range(1, x.ndim))
    n = math.prod(x.shape[1:])
    mean = x.mean(axes, keepdims=True)
    std = jnp.sqrt(jnp.square(x - mean).sum(axes, keepdims=True) / max(n - 1, 1))
    y = (x - mean) / (std + self.epsilon)
    return (y * gamma + beta).astype(self.dtype)


def identity(x: Array) -> Array:
  """The official `Identity` layer that norm 'none' puts where a norm would be."""
  return x


def _batch(train, dtype, init_gain):
  return functools.partial(
    BatchNorm2d, use_running_average=not train, init_gain=init_gain, dtype=dtype
  )


def _instance(train, dtype, init_gain):
  del train, init_gain  # No running statistics, no parameters.
  return functools.partial(InstanceNorm2d, dtype=dtype)


def _none(train, dtype, init_gain):
  del train, dtype, init_gain
  return identity


NORMS: dict[str, Callable[..., Callable]] = {
  'batch': _batch,
  'instance': _instance,
  'none': _none,
}


def get_norm_layer(norm: str, *, train: bool, dtype: Any = jnp.float32, init_gain: float = 0.02):
  """Returns the official `norm_layer` for `config.norm`, as an entry of a `Sequential`.

  Args:
    norm: 'batch' | 'instance' | 'none'.
    train: batch norm normalises with the batch's statistics (and updates the running ones,
      which needs `mutable=['batch_stats']`); otherwise with the running statistics.
    dtype: compute dtype.
    init_gain: std of batch norm's N(1, init_gain) scale initialisation.

  Returns:
    A module factory (call it with `name=`) or, for 'none', the identity function.
  """
  if norm not in NORMS:
    raise ConfigError(f'unknown norm {norm!r}; known: {_known(NORMS)}')
  return NORMS[norm](train, dtype, init_gain)


def uses_bias(norm: str) -> bool:
  """The official rule for the convolutions followed by a norm: a bias only with 'instance'.

  The official code tests `norm_layer == InstanceNorm2d`, so batch norm (which has its own
  shift) and also 'none' get bias-free convolutions. Reproduced as is, for the weights to fit.
  """
  if norm not in NORMS:
    raise ConfigError(f'unknown norm {norm!r}; known: {_known(NORMS)}')
  return norm == 'instance'


# ------------------------------------------------------------------------------------------
# Padding, convolutions, activations.

PAD_MODES = {'reflect': 'reflect', 'replicate': 'edge', 'zero': 'constant'}


def pad2d(x: Array, padding: int, mode: str = 'reflect') -> Array:
  """`ReflectionPad2d` / `ReplicationPad2d` / `ZeroPad2d` on the H and W axes of NHWC."""
  if mode not in PAD_MODES:
    raise ConfigError(f'unknown padding type {mode!r}; known: {_known(PAD_MODES)}')
  p = (padding, padding)
  return jnp.pad(x, ((0, 0), p, p, (0, 0)), mode=PAD_MODES[mode])


def pad_layer(padding: int, mode: str = 'reflect') -> Callable[[Array], Array]:
  """The padding layer a `Sequential` holds (it takes an index, as in the official lists)."""
  return functools.partial(pad2d, padding=padding, mode=mode)


_DIMENSIONS = ('NHWC', 'HWIO', 'NHWC')
# Convolutions with fewer channels than this on one side (images: 1, 3 or 6 channels; a
# PatchGAN's 1-channel output) and at least 4 times as many on the other run as one matmul
# over shifted copies, not through cuDNN, whose kernels for them reached 8-24 TFLOP/s on an
# H200 (fwd + bwd of CycleGAN's 7x7 64->3 convolution: 7.3 ms in float32, 3.5 ms in bfloat16
# at batch 16 and 256 px; a 3x3 256->256 one of 8x the FLOPs took 1.0 ms).
SMALL_CHANNELS = 8


def _patches(x: Array, k: int, stride: int) -> Array:
  """[N, h, w, k*k*C]: each output position's k x k window of x, ordered (row, column, C)."""
  _, height, width, _ = x.shape
  out_h, out_w = (height - k) // stride + 1, (width - k) // stride + 1
  rows = (stride * (out_h - 1) + 1, stride * (out_w - 1) + 1)
  windows = [
    x[:, a : a + rows[0] : stride, b : b + rows[1] : stride, :] for a in range(k) for b in range(k)
  ]
  return jnp.concatenate(windows, axis=-1)


def _conv_few_inputs(x: Array, kernel: Array, stride: int) -> Array:
  # y = patches(x) @ W: a matmul with k*k*C_in on the contracted axis.
  k, _, c_in, c_out = kernel.shape
  return _patches(x, k, stride) @ kernel.reshape(k * k * c_in, c_out)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _overlap_add(z: Array, k: int) -> Array:
  """y[i, j] = sum over taps (a, b) of z[i + a, j + b, a, b]: [N, H, W, k, k, C] -> [N, h, w, C]."""
  out_h, out_w = z.shape[1] - k + 1, z.shape[2] - k + 1
  return sum(z[:, a : a + out_h, b : b + out_w, a, b, :] for a in range(k) for b in range(k))


def _overlap_add_fwd(z, k):
  return _overlap_add(z, k), None


def _overlap_add_bwd(k, residuals, dy):
  # The transpose, written as one gather (dz[i, j, a, b] = dy[i - a, j - b], 0 outside): JAX's
  # own is a sum of k*k zero-padded copies of z's size (10x the forward's time on a CPU).
  del residuals
  height, width = dy.shape[1] + k - 1, dy.shape[2] + k - 1
  p = k - 1
  dyp = jnp.pad(dy, ((0, 0), (p, p), (p, p), (0, 0)))
  rows = [
    jnp.stack([dyp[:, p - a : p - a + height, p - b : p - b + width, :] for b in range(k)], -2)
    for a in range(k)
  ]
  return (jnp.stack(rows, -3),)


_overlap_add.defvjp(_overlap_add_fwd, _overlap_add_bwd)


def _conv_few_outputs(x: Array, kernel: Array) -> Array:
  # Each tap's contribution at every input pixel (one matmul), then summed at the output
  # pixels they land on (stride 1 only), in float32 as cuDNN accumulates: in bfloat16 each of
  # the k*k - 1 additions would round to 8 bits.
  k, _, c_in, c_out = kernel.shape
  n, height, width, _ = x.shape
  w = kernel.transpose(2, 0, 1, 3).reshape(c_in, k * k * c_out)
  z = jnp.matmul(x, w, preferred_element_type=jnp.float32)
  return _overlap_add(z.reshape(n, height, width, k, k, c_out), k).astype(x.dtype)


def _conv(x: Array, kernel: Array, stride: int, padding: int) -> Array:
  """torch's `conv2d` through XLA's convolution (cuDNN on GPUs)."""
  p = ((padding, padding), (padding, padding))
  return jax.lax.conv_general_dilated(x, kernel, (stride, stride), p, dimension_numbers=_DIMENSIONS)


def conv(x: Array, kernel: Array, stride: int = 1, padding: int = 0) -> Array:
  """torch's `conv2d` (zero padding) on NHWC x and an HWIO kernel, in x's dtype."""
  k, _, c_in, c_out = kernel.shape
  few, many = min(c_in, c_out), max(c_in, c_out)
  if k > 1 and few < SMALL_CHANNELS <= many // 4 and (c_in < c_out or stride == 1):
    if padding:
      x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    if c_in < c_out:
      return _conv_few_inputs(x, kernel, stride)
    return _conv_few_outputs(x, kernel)
  return _conv(x, kernel, stride, padding)


def _add_bias(module: nn.Module, y: Array) -> Array:
  """y plus the module's zero-initialised `bias` parameter when it has one (`use_bias`)."""
  if not module.use_bias:
    return y
  bias = module.param('bias', nn.initializers.zeros, (module.features,), PARAM_DTYPE)
  return y + bias.astype(module.dtype)


class Conv2d(nn.Module):
  """`torch.nn.Conv2d` on NHWC, with `nn.Conv`'s parameters: `kernel` (kh, kw, in, out), `bias`.

  Computed by `conv`, which takes convolutions with few channels off cuDNN.
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  use_bias: bool = True
  kernel_init: Initializer = nn.initializers.lecun_normal()
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k = self.kernel_size
    kernel = self.param('kernel', self.kernel_init, (k, k, x.shape[-1], self.features), PARAM_DTYPE)
    y = conv(x.astype(self.dtype), kernel.astype(self.dtype), self.stride, self.padding)
    return _add_bias(self, y)


def conv2d(
  features: int,
  kernel_size: int,
  stride: int = 1,
  padding: int = 0,
  *,
  use_bias: bool = True,
  init_type: str = 'normal',
  init_gain: float = 0.02,
  dtype: Any = jnp.float32,
) -> Callable[..., Conv2d]:
  """`torch.nn.Conv2d` (zero padding) as a module factory (`Conv2d`); call it with `name=`.

  Reflect or replicate padding is a separate `pad_layer` before it, as in the official nets.
  The kernel is (kh, kw, in, out): the official weight transposed by (2, 3, 1, 0).
  """
  return functools.partial(
    Conv2d,
    features=features,
    kernel_size=kernel_size,
    stride=stride,
    padding=padding,
    use_bias=use_bias,
    kernel_init=kernel_init(init_type, init_gain),
    dtype=dtype,
  )


def _transposed_conv(x, kernel, stride, padding, out_hw):
  # y = C^T x for the linear map C(z) = _conv(z, kernel): torch's ConvTranspose2d definition.
  n, _, _, _ = x.shape
  z = jax.ShapeDtypeStruct((n, *out_hw, kernel.shape[2]), x.dtype)
  (y,) = jax.linear_transpose(lambda z: _conv(z, kernel, stride, padding), z)(x)
  return y


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_transpose(x: Array, kernel: Array, stride: int, padding: int, out_hw) -> Array:
  """torch's `conv_transpose2d` on NHWC: the input gradient of a strided convolution.

  Args:
    x: [N, H, W, in] inputs.
    kernel: [kh, kw, out, in], torch's weight [in, out, kh, kw] transposed by (2, 3, 1, 0):
      the HWIO kernel of the convolution `C` this transposes (C maps `out` to `in` channels).
    stride, padding: torch's.
    out_hw: (height, width) of the output, (H - 1) * stride - 2 * padding + k + output_padding.

  Both gradients are again plain convolutions with `C`'s geometry: dx = C(dy) and dW is C's
  weight gradient for input dy and output gradient x. Spelled out here because JAX's own
  derivative of the input-dilated form gives a weight gradient XLA cannot map to cuDNN's (on an
  H200 it ran as a 255x255-window forward convolution: half of CycleGAN's step time).
  """
  return _transposed_conv(x, kernel, stride, padding, out_hw)


def _conv_transpose_fwd(x, kernel, stride, padding, out_hw):
  return _transposed_conv(x, kernel, stride, padding, out_hw), (x, kernel)


def _conv_transpose_bwd(stride, padding, out_hw, residuals, dy):
  del out_hw
  x, kernel = residuals
  dx = _conv(dy, kernel, stride, padding)
  w = jax.ShapeDtypeStruct(kernel.shape, kernel.dtype)
  (dkernel,) = jax.linear_transpose(lambda w: _conv(dy, w, stride, padding), w)(x)
  return dx, dkernel


conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


class ConvTranspose2d(nn.Module):
  """`torch.nn.ConvTranspose2d` on NHWC, parameters as `nn.ConvTranspose(transpose_kernel=True)`.

  `kernel` is (kh, kw, out, in) (the official weight transposed by (2, 3, 1, 0), as for
  `conv2d`), `bias` (out,). The output is (H - 1) * stride - 2 * padding + k +
  output_padding high (likewise wide). See `conv_transpose` for how it is computed.
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  output_padding: int = 0
  use_bias: bool = True
  kernel_init: Initializer = nn.initializers.lecun_normal()
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    k, s, p = self.kernel_size, self.stride, self.padding
    kernel = self.param('kernel', self.kernel_init, (k, k, self.features, x.shape[-1]), PARAM_DTYPE)
    out_hw = tuple((size - 1) * s - 2 * p + k + self.output_padding for size in x.shape[1:3])
    y = conv_transpose(x.astype(self.dtype), kernel.astype(self.dtype), s, p, out_hw)
    return _add_bias(self, y)


def conv_transpose2d(
  features: int,
  kernel_size: int,
  stride: int = 1,
  padding: int = 0,
  output_padding: int = 0,
  *,
  use_bias: bool = True,
  init_type: str = 'normal',
  init_gain: float = 0.02,
  dtype: Any = jnp.float32,
) -> Callable[..., ConvTranspose2d]:
  """`torch.nn.ConvTranspose2d` as a module factory (`ConvTranspose2d`); call it with `name=`.

  Torch's `padding` p and `output_padding` op give an output of (H - 1) * stride - 2p + k + op.
  Its kernel (kh, kw, out, in) is what `nn.ConvTranspose(transpose_kernel=True)` holds, so
  checkpoints and ported weights are the same either way.
  """
  if not 0 <= output_padding < stride:
    raise ConfigError(f'output_padding must be smaller than the stride, got {output_padding}')
  return functools.partial(
    ConvTranspose2d,
    features=features,
    kernel_size=kernel_size,
    stride=stride,
    padding=padding,
    output_padding=output_padding,
    use_bias=use_bias,
    kernel_init=kernel_init(init_type, init_gain),
    dtype=dtype,
  )


def dropout(rate: float, *, train: bool) -> Callable[..., nn.Dropout]:
  """`torch.nn.Dropout(rate)`: active in train mode only; needs `rngs={'dropout': key}`."""
  return functools.partial(nn.Dropout, rate=rate, deterministic=not train)


def leaky_relu(x: Array) -> Array:
  """`LeakyReLU(0.2)`, the slope of all official discriminators and U-Net encoders."""
  return nn.leaky_relu(x, negative_slope=0.2)


relu = nn.relu
tanh = jnp.tanh

# Activations by the official option names (pix2pix's `nl`, MUNIT's `activ`).
ACTIVATIONS = {
  'relu': relu,
  'lrelu': leaky_relu,
  'elu': nn.elu,
  'selu': nn.selu,
  'tanh': tanh,
  'none': identity,
}


def activation(name: str, known=tuple(ACTIVATIONS), option: str = 'activation') -> Callable:
  """The activation called `name`, one of `known` (the options a network offers)."""
  if name not in known:
    raise ConfigError(f'unknown {option} {name!r}; known: {_known(known)}')
  return ACTIVATIONS[name]


# ------------------------------------------------------------------------------------------
# Containers.


def _is_module_factory(layer) -> bool:
  func = layer.func if isinstance(layer, functools.partial) else layer
  return isinstance(func, type) and issubclass(func, nn.Module)


class Sequential(nn.Module):
  """`torch.nn.Sequential` whose i-th layer is named `str(i)`, as in official state_dicts.

  Attributes:
    layers: module factories (classes or `functools.partial`s of them; built here with
      `name=str(i)` and called on x) and parameter-free functions of x, in order. Each entry
      takes one index, whether or not it has parameters, exactly as the official lists do.
  """

  layers: Sequence[Callable]

  @nn.compact
  def __call__(self, x: Array, taps: Sequence[int] = (), stop_after_taps: bool = False):
    """x through the layers; with `taps`, (output, [output of layer i for i in taps]).

    Taps are layer indices, as the official `ResnetGenerator.forward(input, layers)` takes them
    (CUT's nce_layers: 0 is the first layer's output), given in increasing order. With
    `stop_after_taps` the layers after the last tap are not run and the output is None
    (the official `encode_only`).
    """
    taps = tuple(taps)
    if list(taps) != sorted(set(taps)) or any(not 0 <= t < len(self.layers) for t in taps):
      raise ConfigError(f'layer taps {taps} must be increasing indices below {len(self.layers)}')
    features = []
    for i, layer in enumerate(self.layers):
      x = layer(name=str(i))(x) if _is_module_factory(layer) else layer(x)
      if i in taps:
        features.append(x)
        if stop_after_taps and i == taps[-1]:
          return None, features
    return (x, features) if taps else x
