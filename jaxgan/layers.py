"""Building blocks shared by all networks: norms, initialisers and convolutions by name.

Everything here reproduces a PyTorch layer of the official code numerically, so that the
official weights give the official outputs (see `tests/test_parity.py`):

- `BatchNorm2d` / `InstanceNorm2d` follow `torch.nn.BatchNorm2d` (affine, eps 1e-5, momentum
  0.1, unbiased running variance) and `torch.nn.InstanceNorm2d` (no affine, no running stats).
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


class InstanceNorm2d(nn.Module):
  """`torch.nn.InstanceNorm2d(affine=False, track_running_stats=False)` on NHWC inputs.

  Each sample and channel is normalised over (H, W) in float32, in train and eval alike.
  """

  epsilon: float = 1e-5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    x = x.astype(jnp.float32)
    mean = x.mean((1, 2), keepdims=True)
    var = jnp.square(x - mean).mean((1, 2), keepdims=True)
    return ((x - mean) * jax.lax.rsqrt(var + self.epsilon)).astype(self.dtype)


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
) -> Callable[..., nn.Conv]:
  """`torch.nn.Conv2d` (zero padding) as a Flax module factory; call it with `name=`.

  Reflect or replicate padding is a separate `pad_layer` before it, as in the official nets.
  The kernel is (kh, kw, in, out): the official weight transposed by (2, 3, 1, 0).
  """
  return functools.partial(
    nn.Conv,
    features=features,
    kernel_size=(kernel_size, kernel_size),
    strides=(stride, stride),
    padding=((padding, padding), (padding, padding)),
    use_bias=use_bias,
    kernel_init=kernel_init(init_type, init_gain),
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    param_dtype=PARAM_DTYPE,
  )


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
) -> Callable[..., nn.ConvTranspose]:
  """`torch.nn.ConvTranspose2d` as a Flax module factory; call it with `name=`.

  With `transpose_kernel=True` Flax computes the gradient of a convolution, which is what
  torch computes, from a (kh, kw, out, in) kernel: the official (in, out, kh, kw) weight
  transposed by (2, 3, 1, 0), the same permutation as for `conv2d`. Torch's `padding` p and
  `output_padding` become padding of the stride-dilated input: k - 1 - p before, plus
  output_padding after, giving (H - 1) * stride - 2p + k + output_padding.
  """
  low = kernel_size - 1 - padding
  high = low + output_padding
  return functools.partial(
    nn.ConvTranspose,
    features=features,
    kernel_size=(kernel_size, kernel_size),
    strides=(stride, stride),
    padding=((low, high), (low, high)),
    use_bias=use_bias,
    transpose_kernel=True,
    kernel_init=kernel_init(init_type, init_gain),
    bias_init=nn.initializers.zeros,
    dtype=dtype,
    param_dtype=PARAM_DTYPE,
  )


def dropout(rate: float, *, train: bool) -> Callable[..., nn.Dropout]:
  """`torch.nn.Dropout(rate)`: active in train mode only; needs `rngs={'dropout': key}`."""
  return functools.partial(nn.Dropout, rate=rate, deterministic=not train)


def leaky_relu(x: Array) -> Array:
  """`LeakyReLU(0.2)`, the slope of all official discriminators and U-Net encoders."""
  return nn.leaky_relu(x, negative_slope=0.2)


relu = nn.relu
tanh = jnp.tanh


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
  def __call__(self, x: Array) -> Array:
    for i, layer in enumerate(self.layers):
      x = layer(name=str(i))(x) if _is_module_factory(layer) else layer(x)
    return x
