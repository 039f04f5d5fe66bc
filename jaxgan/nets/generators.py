"""The pix2pix/CycleGAN generators: ResnetGenerator and UnetGenerator, picked by name.

Layer for layer the official `networks.py` definitions, with the same layer indices, so that
the Flax parameter path `model/1/kernel` is the official key `model.1.weight` (see
`jaxgan.port`). Inputs and outputs are NHWC images in [-1, 1]; outputs are float32 whatever
the compute dtype.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxgan import layers
from jaxgan.errors import ConfigError

Array = Any


class ResnetBlock(nn.Module):
  """Residual block `x + conv_block(x)`; `conv_block` is pad-conv-norm-relu-(dropout)-pad-conv-norm.

  Attributes:
    features: channels in and out.
    padding_type: 'reflect' | 'replicate' | 'zero' (the last pads inside the convolutions,
      so the block then has no padding layers and its layer indices shift, as officially).
    norm_layer: from `layers.get_norm_layer`.
    use_dropout: Dropout(0.5) after the first ReLU.
    use_bias: conv biases (`layers.uses_bias`).
    train: dropout active.
    init_type, init_gain, dtype: as `layers.conv2d`.
  """

  features: int
  padding_type: str
  norm_layer: Callable
  use_dropout: bool
  use_bias: bool
  train: bool = False
  init_type: str = 'normal'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    conv_padding = 1 if self.padding_type == 'zero' else 0
    conv = layers.conv2d(
      self.features,
      3,
      padding=conv_padding,
      use_bias=self.use_bias,
      init_type=self.init_type,
      init_gain=self.init_gain,
      dtype=self.dtype,
    )
    pad = [] if conv_padding else [layers.pad_layer(1, self.padding_type)]
    block = [*pad, conv, self.norm_layer, layers.relu]
    if self.use_dropout:
      block.append(layers.dropout(0.5, train=self.train))
    block += [*pad, conv, self.norm_layer]
    return x + layers.Sequential(tuple(block), name='conv_block')(x)


class ResnetGenerator(nn.Module):
  """Johnson et al.'s generator: 2 stride-2 downsamplings, `n_blocks` ResnetBlocks, 2 upsamplings.

  Attributes:
    output_nc: channels of the output image.
    ngf: filters of the first conv layer.
    norm: 'batch' | 'instance' | 'none'.
    use_dropout: dropout in the residual blocks.
    n_blocks: residual blocks (9 for 'resnet_9blocks', 6 for 'resnet_6blocks').
    padding_type: padding of the residual blocks.
    init_type, init_gain: weight initialisation (`layers.kernel_init`).
    dtype: compute dtype; parameters are float32.
    remat: recompute each residual block's activations in the backward pass instead of
      keeping them (`jax.checkpoint`): less memory, about a third more compute.
  """

  output_nc: int = 3
  ngf: int = 64
  norm: str = 'batch'
  use_dropout: bool = False
  n_blocks: int = 6
  padding_type: str = 'reflect'
  init_type: str = 'normal'
  init_gain: float = 0.02
  dtype: Any = jnp.float32
  remat: bool = False

  @property
  def size_multiple(self) -> int:
    """Image sides it maps to the same size: multiples of 4 (two stride-2 convolutions)."""
    return 4

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """Maps NHWC images [N, H, W, input_nc] to [N, H, W, output_nc] in [-1, 1]."""
    norm = layers.get_norm_layer(self.norm, train=train, dtype=self.dtype, init_gain=self.init_gain)
    use_bias = layers.uses_bias(self.norm)
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    ngf = self.ngf
    model = [
      layers.pad_layer(3, 'reflect'),
      layers.conv2d(ngf, 7, use_bias=use_bias, **init),
      norm,
      layers.relu,
    ]
    n_downsampling = 2
    for i in range(n_downsampling):
      mult = 2**i
      model += [
        layers.conv2d(ngf * mult * 2, 3, stride=2, padding=1, use_bias=use_bias, **init),
        norm,
        layers.relu,
      ]
    mult = 2**n_downsampling
    block = functools.partial(
      nn.remat(ResnetBlock) if self.remat else ResnetBlock,
      features=ngf * mult,
      padding_type=self.padding_type,
      norm_layer=norm,
      use_dropout=self.use_dropout,
      use_bias=use_bias,
      train=train,
      **init,
    )
    model += [block] * self.n_blocks
    for i in range(n_downsampling):
      mult = 2 ** (n_downsampling - i)
      model += [
        layers.conv_transpose2d(
          ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, use_bias=use_bias, **init
        ),
        norm,
        layers.relu,
      ]
    model += [
      layers.pad_layer(3, 'reflect'),
      layers.conv2d(self.output_nc, 7, **init),  # Biased whatever the norm, as officially.
      layers.tanh,
    ]
    y = layers.Sequential(tuple(model), name='model')(x)
    return y.astype(jnp.float32)


class UnetSkipConnectionBlock(nn.Module):
  """One level of the U-Net: `[x, up(submodule(down(x)))]` concatenated on channels.

  Down is LeakyReLU(0.2)-conv(4, stride 2)-norm, up is ReLU-transposed conv(4, stride 2)-norm,
  except that the outermost level has no LeakyReLU/norm on the way down, a biased up
  convolution, tanh and no skip, and the innermost has no down norm and no submodule.

  Attributes:
    outer_nc: channels of this level's output (before the skip concatenation).
    inner_nc: channels of the down convolution.
    submodule: factory of the next level in (None for the innermost).
    outermost, innermost: which kind of level.
    norm_layer: from `layers.get_norm_layer`.
    use_bias: conv biases (`layers.uses_bias`).
    use_dropout: Dropout(0.5) after the up norm.
    train: dropout active.
    init_type, init_gain, dtype: as `layers.conv2d`.
  """

  outer_nc: int
  inner_nc: int
  submodule: Callable | None = None
  outermost: bool = False
  innermost: bool = False
  norm_layer: Callable = layers.identity
  use_bias: bool = False
  use_dropout: bool = False
  train: bool = False
  init_type: str = 'normal'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    downconv = layers.conv2d(self.inner_nc, 4, 2, 1, use_bias=self.use_bias, **init)
    if self.outermost:
      upconv = layers.conv_transpose2d(self.outer_nc, 4, 2, 1, **init)
      model = [downconv, self.submodule, layers.relu, upconv, layers.tanh]
    elif self.innermost:
      upconv = layers.conv_transpose2d(self.outer_nc, 4, 2, 1, use_bias=self.use_bias, **init)
      model = [layers.leaky_relu, downconv, layers.relu, upconv, self.norm_layer]
    else:
      upconv = layers.conv_transpose2d(self.outer_nc, 4, 2, 1, use_bias=self.use_bias, **init)
      model = [layers.leaky_relu, downconv, self.norm_layer, self.submodule]
      model += [layers.relu, upconv, self.norm_layer]
      if self.use_dropout:
        model.append(layers.dropout(0.5, train=self.train))
    y = layers.Sequential(tuple(model), name='model')(x)
    if self.outermost:
      return y
    # The skip connection: input first, then the upsampled features (the official order).
    return jnp.concatenate([x.astype(y.dtype), y], axis=-1)


class UnetGenerator(nn.Module):
  """The U-Net of pix2pix: `num_downs` stride-2 levels, 2**num_downs px down to 1x1.

  Level i (0 = outermost) downsamples to ngf * min(2**i, 8) channels; the official code
  builds num_downs >= 5 levels this way, with dropout (if any) on the levels 4 .. num_downs-2
  (the ngf*8 levels except the innermost). The same rule gives smaller U-Nets (num_downs 3 or
  4) for small images.

  Attributes:
    output_nc: channels of the output image.
    num_downs: number of downsamplings (8 for 'unet_256', 7 for 'unet_128').
    ngf: filters of the outermost conv layer.
    norm: 'batch' | 'instance' | 'none'.
    use_dropout: dropout in the inner ngf*8 levels.
    init_type, init_gain: weight initialisation (`layers.kernel_init`).
    dtype: compute dtype; parameters are float32.
    remat: recompute each level's activations in the backward pass (`jax.checkpoint`).
  """

  output_nc: int = 3
  num_downs: int = 8
  ngf: int = 64
  norm: str = 'batch'
  use_dropout: bool = False
  init_type: str = 'normal'
  init_gain: float = 0.02
  dtype: Any = jnp.float32
  remat: bool = False

  @property
  def size_multiple(self) -> int:
    """Image sides it takes: multiples of 2**num_downs."""
    return 2**self.num_downs

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """Maps NHWC images [N, H, W, input_nc] to [N, H, W, output_nc] in [-1, 1].

    H and W must be multiples of 2**num_downs.
    """
    size = 2**self.num_downs
    if x.shape[1] % size or x.shape[2] % size:
      raise ConfigError(
        f'unet_{size} needs image sides that are multiples of {size}, got '
        f'{x.shape[1]}x{x.shape[2]} (check --config.netG and --config.data.crop_size)'
      )
    norm = layers.get_norm_layer(self.norm, train=train, dtype=self.dtype, init_gain=self.init_gain)
    level = functools.partial(
      nn.remat(UnetSkipConnectionBlock) if self.remat else UnetSkipConnectionBlock,
      norm_layer=norm,
      use_bias=layers.uses_bias(self.norm),
      train=train,
      init_type=self.init_type,
      init_gain=self.init_gain,
      dtype=self.dtype,
    )

    outermost = unet_levels(level, self.output_nc, self.ngf, self.num_downs, self.use_dropout)
    return outermost(x).astype(jnp.float32)


def unet_levels(level, output_nc, ngf, num_downs, use_dropout):
  """The outermost of `num_downs` nested U-Net levels, named 'model', as the official U-Nets.

  Built from the innermost level out, as factories: each level names its own submodule.
  Channels double per level up to 8 * ngf; dropout (if asked) in the levels 4 and deeper but
  the innermost, as the official `--use_dropout`.

  Args:
    level: a factory level(outer_nc, inner_nc, submodule=, outermost=, innermost=,
      use_dropout=, name=) of one level's module.
    output_nc, ngf, num_downs, use_dropout: as the generators' attributes.
  """

  def channels(i):
    return ngf * min(2**i, 8)

  inner = num_downs - 1
  block = functools.partial(level, channels(inner - 1), channels(inner), innermost=True)
  for i in reversed(range(1, inner)):
    block = functools.partial(
      level, channels(i - 1), channels(i), submodule=block, use_dropout=use_dropout and i >= 4
    )
  return level(output_nc, channels(0), submodule=block, outermost=True, name='model')


# ------------------------------------------------------------------------------------------
# Registry.


def _resnet(n_blocks):
  def build(config, output_nc, **kwargs):
    del config
    return ResnetGenerator(output_nc, n_blocks=n_blocks, **kwargs)

  return build


def _unet(num_downs):
  def build(config, output_nc, **kwargs):
    del config
    return UnetGenerator(output_nc, num_downs=num_downs, **kwargs)

  return build


# Builders called as build(config, output_nc, ngf=, norm=, use_dropout=, init_type=,
# init_gain=, dtype=); a new generator is one more entry.
GENERATORS: dict[str, Callable[..., nn.Module]] = {
  'resnet_9blocks': _resnet(9),
  'resnet_6blocks': _resnet(6),
  'unet_128': _unet(7),
  'unet_256': _unet(8),
}

# Families of names: a regular expression and a builder of its match.
_UNET_N = re.compile(r'unet_(\d+)')


def _unet_n(match):
  n = int(match.group(1))
  if n < 8 or n & (n - 1):
    return None
  return _unet(int(math.log2(n)))


GENERATOR_PATTERNS: dict[str, tuple[re.Pattern, Callable]] = {
  'unet_<N> (N a power of two >= 8)': (_UNET_N, _unet_n),
}


def _lookup(name: str):
  if name in GENERATORS:
    return GENERATORS[name]
  for pattern, make in GENERATOR_PATTERNS.values():
    match = pattern.fullmatch(name)
    if match and (build := make(match)):
      return build
  known = ', '.join([*sorted(GENERATORS), *GENERATOR_PATTERNS])
  raise ConfigError(f'unknown netG {name!r}; known: {known}')


def define_G(config, input_nc: int, output_nc: int) -> nn.Module:
  """Builds the generator `config.netG`, as the official `networks.define_G`.

  Weights are initialised by `module.init` as the official `init_weights` does
  (`config.init_type`, `config.init_gain`); Flax infers `input_nc` from the input.

  Args:
    config: a ConfigDict with netG, ngf, norm, no_dropout, init_type, init_gain,
      compute_dtype (see configs/common.py).
    input_nc: channels of the input images (checked by `init`; kept for the official
      signature and for callers that build a dummy input).
    output_nc: channels of the output images.

  Returns:
    A Flax module called as `module.apply(variables, x, train=..., mutable=['batch_stats'],
    rngs={'dropout': key})` on NHWC images in [-1, 1]; it returns float32 NHWC images.

  Raises:
    ConfigError: unknown netG, norm, init_type or compute_dtype.
  """
  del input_nc
  build = _lookup(config.netG)
  layers.uses_bias(config.norm)  # Validates the norm name now rather than at init.
  layers.kernel_init(config.init_type, config.init_gain)
  return build(
    config,
    output_nc,
    ngf=config.ngf,
    norm=config.norm,
    use_dropout=not config.no_dropout,
    init_type=config.init_type,
    init_gain=config.init_gain,
    dtype=layers.get_dtype(config.compute_dtype),
    remat=config.get('remat', False),
  )
