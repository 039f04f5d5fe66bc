"""BicycleGAN's networks (Zhu et al., 2017): U-Net G with z injection, encoders E, multi-scale D.

Layer for layer the official BicycleGAN `networks.py` definitions (not pix2pix's), with the same
module names and layer indices, so that `jaxgan.port` maps the official `*_net_G.pth`,
`*_net_E.pth`, `*_net_D.pth` by name. Differences from the pix2pix nets that the weights depend on:

- The U-Net's skip concatenation is `[up(submodule(down(x))), x]` (pix2pix: `[x, up(...)]`), its
  convolutions are always biased, and with `norm='none'` the norm layers are left out of the
  lists (so the layer indices shift, as officially).
- In `G_Unet_add_input` the skip is `leaky_relu(x)`: the official in-place LeakyReLU rewrites the
  level's input before it is concatenated (it matters when `nl` is not relu).
- `where_add='input'` tiles z over the image and concatenates it to the input once
  (`G_Unet_add_input`); `'all'` concatenates it to the input of every down convolution
  (`G_Unet_add_all`), whose blocks hold `down`, `submodule` and `up` sequences.
- The encoders end in an 8x8 average pool and linear layers `fc` (mu) and `fcVar` (log variance).
- The multi-scale discriminators run `num_Ds` PatchGANs, each on the input average-pooled
  (3x3, stride 2, padding excluded from the mean) once more than the previous one.

Images are NHWC in [-1, 1]; z is [N, nz]. Outputs are float32.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import layers
from jaxgan.errors import ConfigError
from jaxgan.nets.discriminators import NLayerDiscriminator
from jaxgan.nets.generators import unet_levels

Array = Any

WHERE_ADD = ('input', 'all')
UPSAMPLE = ('basic', 'bilinear')


def _nonlinearity(nl: str) -> Callable:
  """The official get_non_linearity: 'relu' | 'lrelu' (slope 0.2) | 'elu'."""
  return layers.activation(nl, ('relu', 'lrelu', 'elu'), 'nl')


def _norms(norm: str, train: bool, dtype) -> list:
  """The norm entry of a layer list: none at all for 'none' (the official `if norm_layer`)."""
  if norm == 'none':
    layers.get_norm_layer(norm, train=train)
    return []
  return [layers.get_norm_layer(norm, train=train, dtype=dtype)]


def tile_z(x: Array, z: Array) -> Array:
  """[x, z tiled over x's H and W] on channels: how z enters the U-Net."""
  z_img = jnp.broadcast_to(z[:, None, None, :], (*x.shape[:3], z.shape[-1])).astype(x.dtype)
  return jnp.concatenate([x, z_img], axis=-1)


def upsample_layers(features: int, upsample: str, init: dict) -> list:
  """The official upsampleLayer: a 4x4 stride-2 transposed conv, or bilinear x2 + reflect + 3x3."""
  if upsample == 'basic':
    return [layers.conv_transpose2d(features, 4, 2, 1, **init)]
  if upsample == 'bilinear':

    def up2(x):
      # nn.Upsample(scale_factor=2, mode='bilinear'), align_corners=False: half-pixel centres.
      n, h, w, c = x.shape
      return jax.image.resize(x, (n, 2 * h, 2 * w, c), 'bilinear', antialias=False)

    return [up2, layers.pad_layer(1, 'reflect'), layers.conv2d(features, 3, **init)]
  raise ConfigError(f'unknown upsample {upsample!r}; known: {", ".join(UPSAMPLE)}')


class UnetBlock(nn.Module):
  """One level of `G_Unet_add_input` (the official UnetBlock): `[up(sub(down(x))), x]`.

  Attributes:
    outer_nc: channels of this level's output, before the skip concatenation.
    inner_nc: channels of the down convolution.
    submodule: factory of the next level in (None for the innermost).
    outermost, innermost: which kind of level.
    norm, nl, upsample, use_dropout, train: as `UnetGeneratorZ`.
    init: conv options (init_type, init_gain, dtype).
  """

  outer_nc: int
  inner_nc: int
  submodule: Callable | None = None
  outermost: bool = False
  innermost: bool = False
  norm: str = 'instance'
  nl: str = 'relu'
  upsample: str = 'basic'
  use_dropout: bool = False
  train: bool = False
  init: Any = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    init = dict(self.init)
    norm = _norms(self.norm, self.train, init['dtype'])
    downconv = layers.conv2d(self.inner_nc, 4, 2, 1, **init)
    uprelu = _nonlinearity(self.nl)
    if self.outermost:
      up = [uprelu, *upsample_layers(self.outer_nc, self.upsample, init), layers.tanh]
      model = [downconv, self.submodule, *up]
    elif self.innermost:
      up = [uprelu, *upsample_layers(self.outer_nc, self.upsample, init), *norm]
      model = [layers.leaky_relu, downconv, *up]
    else:
      down = [layers.leaky_relu, downconv, *norm]
      up = [uprelu, *upsample_layers(self.outer_nc, self.upsample, init), *norm]
      model = [*down, self.submodule, *up]
      if self.use_dropout:
        model.append(layers.dropout(0.5, train=self.train))
    y = layers.Sequential(tuple(model), name='model')(x)
    if self.outermost:
      return y
    # The official downrelu is LeakyReLU(0.2, inplace=True): it rewrites x itself, so the skip
    # carries leaky_relu(x), not x (seen after the next level's nl when that is not relu).
    skip = layers.leaky_relu(x)
    # BicycleGAN's order: the upsampled features first, then the skip (pix2pix has it reversed).
    return jnp.concatenate([y, skip.astype(y.dtype)], axis=-1)


class UnetBlockWithZ(nn.Module):
  """One level of `G_Unet_add_all` (the official UnetBlock_with_z): z enters every down conv.

  Attributes: as `UnetBlock`; `submodule` is called as submodule(x, z).
  """

  outer_nc: int
  inner_nc: int
  submodule: Callable | None = None
  outermost: bool = False
  innermost: bool = False
  norm: str = 'instance'
  nl: str = 'relu'
  upsample: str = 'basic'
  use_dropout: bool = False
  train: bool = False
  init: Any = None

  @nn.compact
  def __call__(self, x: Array, z: Array) -> Array:
    init = dict(self.init)
    norm = _norms(self.norm, self.train, init['dtype'])
    x_and_z = tile_z(x, z) if z.shape[-1] > 0 else x
    downconv = layers.conv2d(self.inner_nc, 4, 2, 1, **init)
    upconv = upsample_layers(self.outer_nc, self.upsample, init)
    uprelu = _nonlinearity(self.nl)
    if self.outermost:
      down, up = [downconv], [uprelu, *upconv, layers.tanh]
    elif self.innermost:
      down, up = [layers.leaky_relu, downconv], [uprelu, *upconv, *norm]
    else:
      down, up = [layers.leaky_relu, downconv, *norm], [uprelu, *upconv, *norm]
      if self.use_dropout:
        up.append(layers.dropout(0.5, train=self.train))
    h = layers.Sequential(tuple(down), name='down')(x_and_z)
    if not self.innermost:
      h = self.submodule(name='submodule')(h, z)
    y = layers.Sequential(tuple(up), name='up')(h)
    if self.outermost:
      return y
    return jnp.concatenate([y, x.astype(y.dtype)], axis=-1)


class UnetGeneratorZ(nn.Module):
  """G(A, z): the official G_Unet_add_input / G_Unet_add_all.

  Level i (0 = outermost) downsamples to ngf * min(2**i, 8) channels, the innermost of the
  num_downs levels reaching 1x1 at 2**num_downs px; dropout (if any) on levels 4 .. num_downs-2,
  as both official classes build them (which also gives U-Nets for small images, e.g. unet_32;
  officially G_Unet_add_all always has at least 6 levels, so its unet_32 is jaxgan's own).

  Attributes:
    output_nc: channels of the output image.
    nz: length of z (0: no z, where_add is then 'input' as officially).
    num_downs: 8 for 'unet_256', 7 for 'unet_128'.
    ngf: filters of the outermost conv.
    norm: 'instance' | 'batch' | 'none'.
    nl: non-linearity of the up path: 'relu' | 'lrelu' | 'elu'.
    use_dropout: Dropout(0.5) in the inner ngf*8 levels (the official --use_dropout).
    where_add: 'input' | 'all'.
    upsample: 'basic' (transposed conv) | 'bilinear'.
    init_type, init_gain: weight initialisation (`layers.kernel_init`).
    dtype: compute dtype; parameters are float32.
    remat: recompute each level's activations in the backward pass (`jax.checkpoint`).
  """

  output_nc: int = 3
  nz: int = 8
  num_downs: int = 8
  ngf: int = 64
  norm: str = 'instance'
  nl: str = 'relu'
  use_dropout: bool = False
  where_add: str = 'all'
  upsample: str = 'basic'
  init_type: str = 'xavier'
  init_gain: float = 0.02
  dtype: Any = jnp.float32
  remat: bool = False

  @property
  def size_multiple(self) -> int:
    """Image sides it takes: multiples of 2**num_downs."""
    return 2**self.num_downs

  @nn.compact
  def __call__(self, x: Array, z: Array | None = None, train: bool = False) -> Array:
    """Maps [N, H, W, input_nc] images and z [N, nz] to [N, H, W, output_nc] in [-1, 1]."""
    size = 2**self.num_downs
    if x.shape[1] % size or x.shape[2] % size:
      raise ConfigError(
        f'unet_{size} needs image sides that are multiples of {size}, got '
        f'{x.shape[1]}x{x.shape[2]} (check --config.netG and --config.data.crop_size)'
      )
    if z is None:
      z = jnp.zeros((x.shape[0], self.nz), jnp.float32)
    if z.shape[-1] != self.nz:
      raise ConfigError(f'z has {z.shape[-1]} entries, the generator takes nz={self.nz}')
    where_add = 'input' if self.nz == 0 else self.where_add
    if where_add not in WHERE_ADD:
      raise ConfigError(f'unknown where_add {where_add!r}; known: {", ".join(WHERE_ADD)}')
    block_cls = UnetBlock if where_add == 'input' else UnetBlockWithZ
    block_cls = nn.remat(block_cls) if self.remat else block_cls
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    level = functools.partial(
      block_cls,
      norm=self.norm,
      nl=self.nl,
      upsample=self.upsample,
      train=train,
      init=tuple(init.items()),
    )

    outermost = unet_levels(level, self.output_nc, self.ngf, self.num_downs, self.use_dropout)
    if where_add == 'input':
      y = outermost(tile_z(x, z) if self.nz > 0 else x)
    else:
      y = outermost(x, z)
    return y.astype(jnp.float32)


# ------------------------------------------------------------------------------------------
# Encoders.


def avg_pool(x: Array, kernel: int, stride: int, padding: int = 0) -> Array:
  """`nn.AvgPool2d(kernel, stride, padding, count_include_pad=False)` on NHWC."""
  window, strides = (1, kernel, kernel, 1), (1, stride, stride, 1)
  pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
  if not padding:
    return total / (kernel * kernel)
  ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
  return total / count


class BasicBlock(nn.Module):
  """E_ResNet's residual block: norm-lrelu-conv3-norm-lrelu-(conv3, pool2) + (pool2, conv1)."""

  features: int
  norm: str = 'instance'
  train: bool = False
  init: Any = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    init = dict(self.init)
    norm = _norms(self.norm, self.train, init['dtype'])
    pool = functools.partial(avg_pool, kernel=2, stride=2)
    conv_mean_pool = functools.partial(
      layers.Sequential, layers=(layers.conv2d(self.features, 3, 1, 1, **init), pool)
    )
    conv = [*norm, layers.leaky_relu, layers.conv2d(x.shape[-1], 3, 1, 1, **init)]
    conv += [*norm, layers.leaky_relu, conv_mean_pool]
    shortcut = [pool, layers.conv2d(self.features, 1, **init)]
    return layers.Sequential(tuple(conv), name='conv')(x) + layers.Sequential(
      tuple(shortcut), name='shortcut'
    )(x)


def _vae_head(h: Array, nz: int, init: dict) -> tuple[Array, Array]:
  """Inside an encoder: the linear layers fc (mu) and fcVar (logvar) on the pooled features."""
  # Torch's view(N, -1) flattens NCHW: the same order whatever the spatial size left.
  flat = jnp.transpose(h, (0, 3, 1, 2)).reshape(h.shape[0], -1).astype(jnp.float32)
  dense = functools.partial(
    nn.Dense,
    nz,
    kernel_init=layers.kernel_init(init['init_type'], init['init_gain']),
    bias_init=nn.initializers.zeros,
    param_dtype=layers.PARAM_DTYPE,
  )
  mu = layers.Sequential((dense,), name='fc')(flat)
  logvar = layers.Sequential((dense,), name='fcVar')(flat)
  return mu.astype(jnp.float32), logvar.astype(jnp.float32)


def _check_pool(h):
  if h.shape[1] < 8 or h.shape[2] < 8:
    raise ConfigError(
      f'the encoder reaches {h.shape[1]}x{h.shape[2]} before its 8x8 pooling: the image is '
      'too small for --config.netE (resnet_N / conv_N takes N x N images)'
    )


class EncoderResNet(nn.Module):
  """E_ResNet: conv 4x4/2, n_blocks-1 BasicBlocks (ndf * min(4, n) channels), lrelu, pool 8.

  Attributes:
    nz: length of mu and logvar.
    ndf: filters of the first conv (the official --nef).
    n_blocks: 5 for 'resnet_256', 4 for 'resnet_128'.
    norm: 'instance' | 'batch' | 'none'.
    init_type, init_gain, dtype: as `UnetGeneratorZ`.
  """

  nz: int = 8
  ndf: int = 64
  n_blocks: int = 5
  norm: str = 'instance'
  init_type: str = 'xavier'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> tuple[Array, Array]:
    """Maps images [N, H, W, C] to (mu, logvar), each [N, nz] float32."""
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    frozen = tuple(init.items())
    conv = [layers.conv2d(self.ndf, 4, 2, 1, **init)]
    for n in range(1, self.n_blocks):
      out = self.ndf * min(4, n + 1)
      conv.append(functools.partial(BasicBlock, out, norm=self.norm, train=train, init=frozen))
    conv.append(layers.leaky_relu)
    h = layers.Sequential(tuple(conv), name='conv')(x)
    _check_pool(h)
    h = avg_pool(h, 8, 8)
    return _vae_head(h, self.nz, init)


class EncoderConv(nn.Module):
  """E_NLayers: n_layers 4x4 stride-2 convs (ndf * min(2**n, 4) channels), lrelu, pool 8.

  Attributes: as `EncoderResNet`, with n_layers (5 for 'conv_256', 4 for 'conv_128').
  """

  nz: int = 8
  ndf: int = 64
  n_layers: int = 5
  norm: str = 'instance'
  init_type: str = 'xavier'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> tuple[Array, Array]:
    """Maps images [N, H, W, C] to (mu, logvar), each [N, nz] float32."""
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    norm = _norms(self.norm, train, self.dtype)
    seq = [layers.conv2d(self.ndf, 4, 2, 1, **init), layers.leaky_relu]
    for n in range(1, self.n_layers):
      seq += [layers.conv2d(self.ndf * min(2**n, 4), 4, 2, 1, **init), *norm, layers.leaky_relu]
    h = layers.Sequential(tuple(seq), name='conv')(x)
    _check_pool(h)
    h = avg_pool(h, 8, 8)
    return _vae_head(h, self.nz, init)


# ------------------------------------------------------------------------------------------
# Discriminators.


class MultiscaleDiscriminator(nn.Module):
  """D_NLayersMulti: num_D PatchGANs, the i-th with round(ndf / 2**i) filters on a 2**i x pooled
  input; returns their logit maps, finest first. All convs are biased, as officially.

  Attributes:
    ndf: filters of the first scale's first conv.
    n_layers: stride-2 convs of each PatchGAN (3 for 'basic_256_multi', 2 for '_128_').
    num_D: number of scales (the official --num_Ds).
    norm: 'instance' | 'batch' ('none' keeps an identity in the norm's place).
    init_type, init_gain, dtype: as `UnetGeneratorZ`.
  """

  ndf: int = 64
  n_layers: int = 3
  num_D: int = 2
  norm: str = 'instance'
  init_type: str = 'xavier'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  def _layers(self, ndf, norm, init):
    seq = [layers.conv2d(ndf, 4, 2, 1, **init), layers.leaky_relu]
    for n in range(1, self.n_layers):
      seq += [layers.conv2d(ndf * min(2**n, 8), 4, 2, 1, **init), norm, layers.leaky_relu]
    seq += [layers.conv2d(ndf * min(2**self.n_layers, 8), 4, 1, 1, **init), norm]
    seq += [layers.leaky_relu, layers.conv2d(1, 4, 1, 1, **init)]
    return tuple(seq)

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> tuple[Array, ...]:
    """Maps NHWC images to num_D float32 logit maps [N, h_i, w_i, 1]."""
    norm = layers.get_norm_layer(self.norm, train=train, dtype=self.dtype, init_gain=self.init_gain)
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    if self.num_D == 1:
      return (layers.Sequential(self._layers(self.ndf, norm, init), name='model')(x),)
    outputs, down = [], x
    for i in range(self.num_D):
      ndf_i = int(round(self.ndf / 2**i))
      y = layers.Sequential(self._layers(ndf_i, norm, init), name=f'model_{i}')(down)
      outputs.append(y.astype(jnp.float32))
      if i != self.num_D - 1:
        down = avg_pool(down, 3, 2, 1)
    return tuple(outputs)


class SingleDiscriminator(NLayerDiscriminator):
  """D_NLayers ('basic_128' / 'basic_256'): pix2pix's PatchGAN, its output as a 1-tuple."""

  def __call__(self, x: Array, train: bool = False) -> tuple[Array]:
    return (super().__call__(x, train=train),)


# ------------------------------------------------------------------------------------------
# Registries (by the official names, plus <name>_<N> for other image sizes).

_SIZED = re.compile(r'(unet|resnet|conv)_(\d+)')


def _log2_size(name: str, kind: str) -> int:
  match = _SIZED.fullmatch(name)
  if match and match.group(1) == kind:
    n = int(match.group(2))
    if n >= 16 and not n & (n - 1):
      return int(math.log2(n))
  return 0


def _common(config) -> dict:
  layers.kernel_init(config.init_type, config.init_gain)  # Unknown names fail here.
  layers.get_norm_layer(config.norm, train=False)
  return dict(
    norm=config.norm,
    init_type=config.init_type,
    init_gain=config.init_gain,
    dtype=layers.get_dtype(config.compute_dtype),
  )


def official_class_note(config) -> str | None:
  """Why G of `config` fits no official class (None where it does).

  The official G_Unet_add_all fixes its two innermost ngf*8 levels and adds num_downs - 6, so it
  has at least 6 levels: a where_add='all' U-Net for images under 64 px is jaxgan's own.
  """
  num_downs = _log2_size(config.netG, 'unet')
  if config.where_add == 'all' and config.nz > 0 and 0 < num_downs < 6:
    return (
      f"netG {config.netG} with where_add='all' has no official class (the official "
      'G_Unet_add_all has 6 levels or more, unet_64 up): the weights load into jaxgan only'
    )
  return None


def define_G(config, output_nc: int) -> nn.Module:
  """G(A, z) from config.netG ('unet_256', 'unet_128', unet_N), nz, ngf, where_add, upsample,
  nl, norm, no_dropout, init_type, init_gain, compute_dtype."""
  num_downs = _log2_size(config.netG, 'unet')
  if not num_downs:
    raise ConfigError(
      f'unknown netG {config.netG!r} for BicycleGAN; known: unet_256, unet_128, unet_<N>'
    )
  if config.where_add not in WHERE_ADD:
    raise ConfigError(f'unknown where_add {config.where_add!r}; known: {", ".join(WHERE_ADD)}')
  if config.upsample not in UPSAMPLE:
    raise ConfigError(f'unknown upsample {config.upsample!r}; known: {", ".join(UPSAMPLE)}')
  _nonlinearity(config.nl)
  return UnetGeneratorZ(
    output_nc,
    nz=config.nz,
    num_downs=num_downs,
    ngf=config.ngf,
    nl=config.nl,
    use_dropout=not config.no_dropout,
    where_add=config.where_add,
    upsample=config.upsample,
    remat=config.get('remat', False),
    **_common(config),
  )


def define_E(config) -> nn.Module:
  """E(B) -> (mu, logvar) from config.netE ('resnet_256', 'resnet_128', 'conv_256', 'conv_128',
  resnet_N / conv_N for N x N images), nz, nef, norm, init_type, init_gain, compute_dtype."""
  for kind, cls, field in (
    ('resnet', EncoderResNet, 'n_blocks'),
    ('conv', EncoderConv, 'n_layers'),
  ):
    log2 = _log2_size(config.netE, kind)
    if log2:
      # 256 px: 5 stages down to the 8x8 pool; 128 px: 4; N px: log2(N) - 3.
      return cls(nz=config.nz, ndf=config.nef, **{field: log2 - 3}, **_common(config))
  raise ConfigError(
    f'unknown netE {config.netE!r}; known: resnet_256, resnet_128, conv_256, conv_128, '
    'resnet_<N>, conv_<N>'
  )


_D_NAMES = {'basic_128': 2, 'basic_256': 3, 'basic_128_multi': 2, 'basic_256_multi': 3}


def define_D(config, net: str) -> nn.Module:
  """A discriminator returning a tuple of logit maps: 'basic_128' | 'basic_256' (one PatchGAN),
  'basic_128_multi' | 'basic_256_multi' (config.num_Ds scales); ndf, norm, init from config."""
  if net not in _D_NAMES:
    raise ConfigError(f'unknown netD {net!r} for BicycleGAN; known: {", ".join(_D_NAMES)}')
  if net.endswith('_multi'):
    return MultiscaleDiscriminator(
      ndf=config.ndf, n_layers=_D_NAMES[net], num_D=config.num_Ds, **_common(config)
    )
  return SingleDiscriminator(ndf=config.ndf, n_layers=_D_NAMES[net], **_common(config))


def num_outputs(module: nn.Module) -> int:
  """How many logit maps a discriminator of this module returns."""
  return getattr(module, 'num_D', 1)
