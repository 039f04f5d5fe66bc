"""CUT's networks (Park et al., 2020): its anti-aliased ResNet generator and PatchGAN, PatchSampleF.

Layer for layer the official contrastive-unpaired-translation `models/networks.py`, with the
same layer indices (so `model/4/kernel` is the official `model.4.weight`, see `jaxgan.port`):

- `ResnetGenerator`: CycleGAN's, except that each stride-2 convolution is a stride-1
  convolution followed by `downsample` (Zhang 2019's blur pool: a fixed binomial filter applied
  with stride 2), and each transposed convolution is `upsample` (a fixed filter, transposed with
  stride 2) followed by a 3x3 convolution; `no_antialias` / `no_antialias_up` restore the
  strided ones. It taps the outputs of any layers (`taps`, the official `nce_layers`: 0 is the
  reflect-padded input, 4 and 8 the two downsampling convolutions, 12 and 16 residual blocks).
- `NLayerDiscriminator`: the PatchGAN with the same blur pooling after its first convolutions.
- `PatchSampleF`: picks the same positions of every image's feature maps (`patch_ids`), maps
  each layer's features through its own 2-layer MLP (`mlp_sample`) or not (`sample`), and
  normalises them to unit length.

The fixed filters are the official modules' `filt` buffers; `official_buffers()` gives them
under their official keys, so exported state_dicts load strictly into the official nets.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import layers
from jaxgan.errors import ConfigError
from jaxgan.nets import discriminators
from jaxgan.nets.generators import ResnetBlock

Array = Any

GENERATORS = {'resnet_9blocks': 9, 'resnet_6blocks': 6, 'resnet_4blocks': 4}
NET_F = ('mlp_sample', 'sample')
_GROUPED = ('NHWC', 'HWIO', 'NHWC')


def blur_filter(size: int) -> np.ndarray:
  """The official get_filter(size): the outer product of binomial coefficients, summing to 1."""
  a = np.array([math.comb(size - 1, i) for i in range(size)], np.float32)
  f = a[:, None] * a[None, :]
  return f / f.sum()  # a power of 2: exact in float32


def _depthwise(x: Array, filt: np.ndarray, **conv) -> Array:
  channels = x.shape[-1]
  kernel = jnp.asarray(np.tile(filt[:, :, None, None], (1, 1, 1, channels)), x.dtype)
  return jax.lax.conv_general_dilated(
    x, kernel, dimension_numbers=_GROUPED, feature_group_count=channels, **conv
  )


def downsample(x: Array) -> Array:
  """The official Downsample(channels): reflect pad 1, then the 3x3 blur filter with stride 2."""
  x = layers.pad2d(x, 1, 'reflect')
  return _depthwise(x, blur_filter(3), window_strides=(2, 2), padding=((0, 0), (0, 0)))


def upsample(x: Array) -> Array:
  """The official Upsample(channels): replicate pad 1, then conv_transpose2d with the 4x4 filter
  times 4 (stride 2, padding 2), cropped by one pixel on each side: [N, 2H, 2W, C].

  A transposed convolution is a convolution of the input dilated by the stride with the flipped
  (here symmetric) filter; the padding of 4 - 1 - 2 = 1 it would need on each side is exactly
  the pixel the official crop removes, so none is added.
  """
  x = layers.pad2d(x, 1, 'replicate')
  return _depthwise(
    x, blur_filter(4) * 4, window_strides=(1, 1), padding=((0, 0), (0, 0)), lhs_dilation=(2, 2)
  )


def _filter_buffer(size: int, scale: float, channels: int) -> np.ndarray:
  # The official buffer: filt[None, None].repeat(channels, 1, 1, 1), (C, 1, k, k).
  return np.tile((blur_filter(size) * scale)[None, None], (channels, 1, 1, 1))


class ResnetGenerator(nn.Module):
  """CUT's generator (see the module docstring); NHWC images in [-1, 1] in and out.

  Attributes:
    output_nc: channels of the output image.
    ngf: filters of the first conv layer.
    norm: the official normG: 'instance' | 'batch' | 'none'.
    use_dropout: dropout in the residual blocks (CUT's default: none).
    n_blocks: residual blocks.
    no_antialias: stride-2 convolutions instead of convolution + blur pooling.
    no_antialias_up: transposed convolutions instead of blur upsampling + convolution.
    init_type, init_gain: weight initialisation (CUT's default: xavier, 0.02).
    dtype: compute dtype; parameters are float32.
    remat: recompute each residual block in the backward pass.
  """

  output_nc: int = 3
  ngf: int = 64
  norm: str = 'instance'
  use_dropout: bool = False
  n_blocks: int = 9
  no_antialias: bool = False
  no_antialias_up: bool = False
  init_type: str = 'xavier'
  init_gain: float = 0.02
  dtype: Any = jnp.float32
  remat: bool = False

  @property
  def size_multiple(self) -> int:
    """Image sides it maps to the same size: multiples of 4 (two downsamplings by 2)."""
    return 4

  def layer_kinds(self) -> list[str]:
    """What each layer index holds: 'pad', 'conv', 'norm', 'relu', 'down', 'block', 'up',
    'tanh' (the official indices, for choosing nce_layers)."""
    down = ['conv', 'norm', 'relu'] if self.no_antialias else ['conv', 'norm', 'relu', 'down']
    up = ['convT', 'norm', 'relu'] if self.no_antialias_up else ['up', 'conv', 'norm', 'relu']
    return [
      *['pad', 'conv', 'norm', 'relu'],
      *down * 2,
      *['block'] * self.n_blocks,
      *up * 2,
      *['pad', 'conv', 'tanh'],
    ]

  def official_buffers(self) -> dict[str, np.ndarray]:
    """The fixed filters as the official state_dict holds them ({'model.7.filt': ...})."""
    buffers = {}
    downs, ups = iter([self.ngf * 2, self.ngf * 4]), iter([self.ngf * 4, self.ngf * 2])
    for i, kind in enumerate(self.layer_kinds()):
      if kind == 'down':
        buffers[f'model.{i}.filt'] = _filter_buffer(3, 1.0, next(downs))
      elif kind == 'up':
        buffers[f'model.{i}.filt'] = _filter_buffer(4, 4.0, next(ups))
    return buffers

  @nn.compact
  def __call__(
    self, x: Array, taps: Sequence[int] = (), encode_only: bool = False, train: bool = False
  ):
    """images [N, H, W, C] -> [N, H, W, output_nc]; with taps, (output, [features]), and with
    encode_only just [features] (the layers after the last tap are not run)."""
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
    for i in range(2):
      features = ngf * 2 ** (i + 1)
      if self.no_antialias:
        model += [layers.conv2d(features, 3, 2, 1, use_bias=use_bias, **init), norm, layers.relu]
      else:
        conv = layers.conv2d(features, 3, 1, 1, use_bias=use_bias, **init)
        model += [conv, norm, layers.relu, downsample]
    block = functools.partial(
      nn.remat(ResnetBlock) if self.remat else ResnetBlock,
      features=ngf * 4,
      padding_type='reflect',
      norm_layer=norm,
      use_dropout=self.use_dropout,
      use_bias=use_bias,
      train=train,
      **init,
    )
    model += [block] * self.n_blocks
    for i in range(2):
      features = ngf * 2 ** (2 - i) // 2
      if self.no_antialias_up:
        up = layers.conv_transpose2d(features, 3, 2, 1, 1, use_bias=use_bias, **init)
        model += [up, norm, layers.relu]
      else:
        conv = layers.conv2d(features, 3, 1, 1, use_bias=use_bias, **init)
        model += [upsample, conv, norm, layers.relu]
    model += [
      layers.pad_layer(3, 'reflect'),
      layers.conv2d(self.output_nc, 7, **init),  # biased whatever the norm, as officially
      layers.tanh,
    ]
    sequential = layers.Sequential(tuple(model), name='model')
    as_float32 = lambda y: None if y is None else y.astype(jnp.float32)
    if not taps:
      return as_float32(sequential(x))
    y, features = sequential(x, taps, stop_after_taps=encode_only)
    features = [as_float32(f) for f in features]
    return features if encode_only else (as_float32(y), features)


class NLayerDiscriminator(nn.Module):
  """CUT's PatchGAN: CycleGAN's, with blur pooling after stride-1 convolutions unless
  `no_antialias` (then exactly `discriminators.NLayerDiscriminator`)."""

  ndf: int = 64
  n_layers: int = 3
  norm: str = 'instance'
  no_antialias: bool = False
  init_type: str = 'xavier'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  def official_buffers(self) -> dict[str, np.ndarray]:
    """The fixed filters under their official keys."""
    if self.no_antialias:
      return {}
    buffers = {'model.2.filt': _filter_buffer(3, 1.0, self.ndf)}
    for n in range(1, self.n_layers):
      buffers[f'model.{2 + 4 * n}.filt'] = _filter_buffer(3, 1.0, self.ndf * min(2**n, 8))
    return buffers

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """NHWC images -> float32 real/fake logits [N, h, w, 1]."""
    norm = layers.get_norm_layer(self.norm, train=train, dtype=self.dtype, init_gain=self.init_gain)
    use_bias = layers.uses_bias(self.norm)
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    stride = 2 if self.no_antialias else 1
    pool = [] if self.no_antialias else [downsample]
    sequence = [layers.conv2d(self.ndf, 4, stride, 1, **init), layers.leaky_relu, *pool]
    for n in range(1, self.n_layers):
      conv = layers.conv2d(self.ndf * min(2**n, 8), 4, stride, 1, use_bias=use_bias, **init)
      sequence += [conv, norm, layers.leaky_relu, *pool]
    conv = layers.conv2d(self.ndf * min(2**self.n_layers, 8), 4, 1, 1, use_bias=use_bias, **init)
    sequence += [conv, norm, layers.leaky_relu, layers.conv2d(1, 4, 1, 1, **init)]
    return layers.Sequential(tuple(sequence), name='model')(x).astype(jnp.float32)


class Linear(nn.Module):
  """`torch.nn.Linear` with the official init: kernel (in, out) by init_type, bias 0."""

  features: int
  init_type: str = 'xavier'
  init_gain: float = 0.02

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel = self.param(
      'kernel',
      layers.kernel_init(self.init_type, self.init_gain),
      (x.shape[-1], self.features),
      layers.PARAM_DTYPE,
    )
    bias = self.param('bias', nn.initializers.zeros, (self.features,), layers.PARAM_DTYPE)
    return x @ kernel + bias


def l2_normalize(x: Array) -> Array:
  """The official Normalize(2): x / (||x|| + 1e-7) over the last axis.

  The same values; but where a feature is exactly 0 (an MLP whose ReLUs are all off) the
  norm's gradient is 0 here, where the official sqrt's infinite slope makes it NaN.
  """
  squares = jnp.sum(jnp.square(x), axis=-1, keepdims=True)
  positive = squares > 0
  norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, squares, 1.0)), 0.0)
  return x / (norm + 1e-7)


class PatchSampleF(nn.Module):
  """The official PatchSampleF: features at `patch_ids`, through an MLP per layer, unit length.

  Attributes:
    use_mlp: netF 'mlp_sample' (Linear(C, nc), ReLU, Linear(nc, nc) per tapped layer, named
      mlp_0, mlp_1, ...) or 'sample' (no parameters).
    nc: the MLP's width (netF_nc).
    init_type, init_gain: weight initialisation.
  """

  use_mlp: bool = True
  nc: int = 256
  init_type: str = 'xavier'
  init_gain: float = 0.02

  @nn.compact
  def __call__(self, features: Sequence[Array], patch_ids: Sequence[Array], train: bool = False):
    """features: [N, H_l, W_l, C_l] per layer; patch_ids: [P_l] flat positions per layer.

    Returns [N * P_l, nc or C_l] per layer, image-major (image 0's patches first), in float32.
    """
    del train  # no batch norm or dropout
    out = []
    for i, (feature, ids) in enumerate(zip(features, patch_ids, strict=True)):
      n, height, width, channels = feature.shape
      x = feature.astype(jnp.float32).reshape(n, height * width, channels)
      x = jnp.take(x, ids, axis=1).reshape(n * ids.shape[0], channels)
      if self.use_mlp:
        linear = functools.partial(Linear, self.nc, self.init_type, self.init_gain)
        x = layers.Sequential((linear, layers.relu, linear), name=f'mlp_{i}')(x)
      out.append(l2_normalize(x))
    return out


def draw_patch_ids(rng, feature_shapes, num_patches: int) -> list[Array]:
  """The official per-layer draw: a random permutation of each map's H*W positions, cut to
  num_patches (all of them when the map is smaller); the same ids for every image."""
  keys = jax.random.split(rng, len(feature_shapes))
  ids = []
  for key, shape in zip(keys, feature_shapes, strict=True):
    positions = shape[1] * shape[2]
    ids.append(jax.random.permutation(key, positions)[: min(num_patches, positions)])
  return ids


# ------------------------------------------------------------------------------------------
# Builders from the config (configs/cut_*.py).


def define_G(config, output_nc: int) -> nn.Module:
  """The official define_G for CUT's ResNet generators (config.netG, normG, no_antialias...)."""
  if config.netG not in GENERATORS:
    raise ConfigError(
      f'unknown netG {config.netG!r} for CUT (its PatchNCE taps a ResNet generator); known: '
      + ', '.join(GENERATORS)
    )
  layers.uses_bias(config.normG)
  layers.kernel_init(config.init_type, config.init_gain)
  return ResnetGenerator(
    output_nc=output_nc,
    ngf=config.ngf,
    norm=config.normG,
    use_dropout=not config.no_dropout,
    n_blocks=GENERATORS[config.netG],
    no_antialias=config.no_antialias,
    no_antialias_up=config.no_antialias_up,
    init_type=config.init_type,
    init_gain=config.init_gain,
    dtype=layers.get_dtype(config.compute_dtype),
    remat=config.remat,
  )


def define_D(config) -> nn.Module:
  """The official define_D for CUT: 'basic' / 'n_layers' anti-aliased, 'pixel' as CycleGAN's."""
  layers.uses_bias(config.normD)
  dtype = layers.get_dtype(config.compute_dtype)
  init = dict(init_type=config.init_type, init_gain=config.init_gain, dtype=dtype)
  if config.netD in ('basic', 'n_layers'):
    n_layers = 3 if config.netD == 'basic' else config.n_layers_D
    return NLayerDiscriminator(
      ndf=config.ndf, n_layers=n_layers, norm=config.normD, no_antialias=config.no_antialias, **init
    )
  if config.netD == 'pixel':
    return discriminators.PixelDiscriminator(ndf=config.ndf, norm=config.normD, **init)
  raise ConfigError(f'unknown netD {config.netD!r} for CUT; known: basic, n_layers, pixel')


def define_F(config) -> nn.Module:
  """The official define_F: 'mlp_sample' or 'sample' (config.netF, netF_nc)."""
  if config.netF not in NET_F:
    raise ConfigError(f'unknown netF {config.netF!r}; known: {", ".join(NET_F)}')
  return PatchSampleF(
    use_mlp=config.netF == 'mlp_sample',
    nc=config.netF_nc,
    init_type=config.init_type,
    init_gain=config.init_gain,
  )
