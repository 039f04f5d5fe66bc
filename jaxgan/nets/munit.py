"""MUNIT's networks (Huang et al., 2018), numerically as the official NVlabs/MUNIT networks.py.

- `AdaINGen`: one domain's auto-encoder. A content encoder (7x7 conv, `n_downsample` stride-2
  4x4 convs, `n_res` residual blocks, all instance-normed), a style encoder (no norm, always 4
  downsamplings, global average pooling, 1x1 conv to `style_dim`), an MLP from the style code to
  the AdaIN parameters, and a decoder (AdaIN residual blocks, then per upsampling nearest x2 +
  5x5 conv + MUNIT's LayerNorm, then a 7x7 conv and tanh).
- `MsImageDis`: the multi-scale discriminator, `num_scales` PatchGANs on the image downsampled
  by 3x3 average pooling (stride 2, padding excluded from the mean), finest scale first.

Submodules are named as the official attributes (`enc_style.model.0.conv`, `dec.model.2.norm`,
`mlp.model.0.fc`, `cnns.0.4`) so that `jaxgan.port` maps official state_dicts by name. Codes and
images are NHWC: a content code is [N, H/2^n, W/2^n, dim * 2^n], a style code [N, 1, 1, style_dim]
(the official (N, style_dim, 1, 1) transposed).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import layers
from jaxgan.errors import ConfigError
from jaxgan.losses import MUNIT_GAN_TYPES

Array = jax.Array

# Official `init` names -> conv/linear weight initialisers (utils.weights_init): xavier and
# orthogonal with gain sqrt(2) there, unlike pix2pix's init_gain.
INITS = {
  'gaussian': lambda: layers.kernel_init('normal', 0.02),
  'kaiming': lambda: layers.kernel_init('kaiming', 0.0),
  'xavier': lambda: layers.kernel_init('xavier', math.sqrt(2)),
  'orthogonal': lambda: layers.kernel_init('orthogonal', math.sqrt(2)),
}
# MUNIT's norm options -> the layers of jaxgan.layers (ln: its LayerNorm; adain: its adain).
NORMS = {'none': 'none', 'bn': 'batch', 'in': 'instance', 'ln': 'layer', 'adain': 'adain'}
ACTIVATIONS = ('relu', 'lrelu', 'selu', 'tanh', 'none')  # the official activ options


def _check(name, value, known):
  if value not in known:
    raise ConfigError(f'unknown MUNIT {name} {value!r}; known: {", ".join(sorted(known))}')


def weight_init(init: str):
  """The conv/linear weight initialiser of the official `weights_init(init)`; biases are 0."""
  _check('init', init, INITS)
  return INITS[init]()


# ------------------------------------------------------------------------------------------
# Blocks.


def _factory(cls, **defaults):
  """A function of the layer's own arguments returning a module factory for a Sequential."""
  return lambda *args, **kwargs: functools.partial(cls, *args, **{**defaults, **kwargs})


def _num_adain(norm: str, features: int) -> int:
  return 2 * features if norm == 'adain' else 0


class Conv2dBlock(nn.Module):
  """The official Conv2dBlock: pad, conv (always with a bias), norm, activation.

  Attributes:
    features, kernel_size, stride, padding: of the convolution (PyTorch's arguments).
    norm: 'none' | 'bn' | 'in' | 'ln' | 'adain' (adain takes its parameters at call time).
    activation: 'relu' | 'lrelu' | 'selu' | 'tanh' | 'none'.
    pad_type: 'reflect' | 'replicate' | 'zero'.
    init: weight initialiser name (see INITS).
    train: batch norm ('bn') uses the batch's statistics.
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  norm: str = 'none'
  activation: str = 'relu'
  pad_type: str = 'zero'
  init_type: str = 'kaiming'
  train: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, adain_params: Array | None = None) -> Array:
    _check('norm', self.norm, NORMS)
    _check('activation', self.activation, ACTIVATIONS)
    x = layers.pad2d(x, self.padding, self.pad_type) if self.padding else x
    x = layers.Conv2d(
      self.features,
      self.kernel_size,
      self.stride,
      kernel_init=weight_init(self.init_type),
      dtype=self.dtype,
      name='conv',
    )(x)
    if self.norm == 'adain':
      # assign_adain_params: the first C values are the shift ('mean'), the next C the scale.
      c = self.features
      x = layers.adain(x, adain_params[:, c : 2 * c], adain_params[:, :c])
    elif self.norm == 'ln':
      x = layers.LayerNorm(dtype=self.dtype, name='norm')(x)
    else:
      # Official BatchNorm2d keeps torch's default init (weight 1): weights_init skips it.
      norm = layers.get_norm_layer(
        NORMS[self.norm], train=self.train, dtype=self.dtype, init_gain=0
      )
      x = norm(name='norm')(x) if self.norm != 'none' else norm(x)
    return layers.ACTIVATIONS[self.activation](x)


class Chain(nn.Module):
  """`torch.nn.Sequential` (layer i named str(i)) whose layers may take AdaIN parameters.

  Attributes:
    layers: module factories and parameter-free functions, as `layers.Sequential`'s.
    adain_sizes: how many AdaIN parameters each layer consumes (0 for none), in module order:
      the call's `adain_params` columns are dealt out in that order, as the official
      assign_adain_params walks `model.modules()`.
  """

  layers: Sequence[Callable]
  adain_sizes: Sequence[int] = ()

  @nn.compact
  def __call__(self, x: Array, adain_params: Array | None = None) -> Array:
    sizes = tuple(self.adain_sizes) or (0,) * len(self.layers)
    offset = 0
    for i, (layer, size) in enumerate(zip(self.layers, sizes, strict=True)):
      if size:
        x = layer(name=str(i))(x, adain_params[:, offset : offset + size])
        offset += size
      elif layers._is_module_factory(layer):
        x = layer(name=str(i))(x)
      else:
        x = layer(x)
    return x


def _resblock_adain(norm, dim):
  return 2 * _num_adain(norm, dim)


class ResBlock(nn.Module):
  """Two 3x3 Conv2dBlocks (the second without activation) plus the input."""

  dim: int
  norm: str = 'in'
  activation: str = 'relu'
  pad_type: str = 'zero'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, adain_params: Array | None = None) -> Array:
    block = _factory(
      Conv2dBlock,
      norm=self.norm,
      pad_type=self.pad_type,
      init_type=self.init_type,
      dtype=self.dtype,
    )
    size = _num_adain(self.norm, self.dim)
    chain = Chain(
      [
        block(self.dim, 3, 1, 1, activation=self.activation),
        block(self.dim, 3, 1, 1, activation='none'),
      ],
      (size, size),
      name='model',
    )
    return x + chain(x, adain_params)


class ResBlocks(nn.Module):
  """`num_blocks` ResBlocks in a Sequential named 'model' (remat: each `jax.checkpoint`ed)."""

  num_blocks: int
  dim: int
  norm: str = 'in'
  activation: str = 'relu'
  pad_type: str = 'zero'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, x: Array, adain_params: Array | None = None) -> Array:
    block = functools.partial(
      nn.remat(ResBlock) if self.remat else ResBlock,
      self.dim,
      self.norm,
      self.activation,
      self.pad_type,
      self.init_type,
      self.dtype,
    )
    sizes = (_resblock_adain(self.norm, self.dim),) * self.num_blocks
    return Chain([block] * self.num_blocks, sizes, name='model')(x, adain_params)


def global_avg_pool(x: Array) -> Array:
  """`nn.AdaptiveAvgPool2d(1)`: [N, H, W, C] -> [N, 1, 1, C]."""
  return x.mean((1, 2), keepdims=True)


def upsample_nearest(x: Array) -> Array:
  """`nn.Upsample(scale_factor=2)` (nearest)."""
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool_exclude_pad(x: Array) -> Array:
  """`nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)` on NHWC."""
  window, strides = (1, 3, 3, 1), (1, 2, 2, 1)
  pad = ((0, 0), (1, 1), (1, 1), (0, 0))
  total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
  ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
  count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
  return total / count


# ------------------------------------------------------------------------------------------
# Encoders, decoder, MLP.


class StyleEncoder(nn.Module):
  """7x7 conv, 2 channel-doubling then n_downsample - 2 plain stride-2 convs, pool, 1x1 conv."""

  n_downsample: int
  dim: int
  style_dim: int
  norm: str = 'none'
  activ: str = 'relu'
  pad_type: str = 'zero'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    block = _factory(
      Conv2dBlock,
      norm=self.norm,
      activation=self.activ,
      pad_type=self.pad_type,
      init_type=self.init_type,
      dtype=self.dtype,
    )
    dim = self.dim
    model = [block(dim, 7, 1, 3)]
    for _ in range(2):
      model.append(block(2 * dim, 4, 2, 1))
      dim *= 2
    model += [block(dim, 4, 2, 1)] * (self.n_downsample - 2)
    model.append(global_avg_pool)
    # A plain Conv2d, initialised by weights_init like the blocks' convs.
    conv = layers.conv2d(self.style_dim, 1, dtype=self.dtype)
    model.append(functools.partial(conv, kernel_init=weight_init(self.init_type)))
    return layers.Sequential(model, name='model')(x).astype(jnp.float32)


class ContentEncoder(nn.Module):
  """7x7 conv, n_downsample channel-doubling stride-2 convs, n_res residual blocks."""

  n_downsample: int
  n_res: int
  dim: int
  norm: str = 'in'
  activ: str = 'relu'
  pad_type: str = 'zero'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32
  remat: bool = False

  @nn.compact
  def __call__(self, x: Array) -> Array:
    block = _factory(
      Conv2dBlock,
      norm=self.norm,
      activation=self.activ,
      pad_type=self.pad_type,
      init_type=self.init_type,
      dtype=self.dtype,
    )
    dim = self.dim
    model = [block(dim, 7, 1, 3)]
    for _ in range(self.n_downsample):
      model.append(block(2 * dim, 4, 2, 1))
      dim *= 2
    model.append(
      functools.partial(
        ResBlocks,
        self.n_res,
        dim,
        self.norm,
        self.activ,
        self.pad_type,
        self.init_type,
        self.dtype,
        self.remat,
      )
    )
    return layers.Sequential(model, name='model')(x).astype(jnp.float32)


class Decoder(nn.Module):
  """AdaIN residual blocks; per upsampling, nearest x2 + 5x5 conv + LayerNorm; 7x7 conv, tanh."""

  n_upsample: int
  n_res: int
  dim: int
  output_dim: int
  res_norm: str = 'adain'
  activ: str = 'relu'
  pad_type: str = 'zero'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32
  remat: bool = False

  def num_adain_params(self) -> int:
    """The MLP's output size: 2 x channels for each AdaIN layer."""
    return self.n_res * _resblock_adain(self.res_norm, self.dim)

  @nn.compact
  def __call__(self, x: Array, adain_params: Array | None = None) -> Array:
    block = _factory(
      Conv2dBlock,
      activation=self.activ,
      pad_type=self.pad_type,
      init_type=self.init_type,
      dtype=self.dtype,
    )
    dim = self.dim
    model = [
      functools.partial(
        ResBlocks,
        self.n_res,
        dim,
        self.res_norm,
        self.activ,
        self.pad_type,
        self.init_type,
        self.dtype,
        self.remat,
      )
    ]
    sizes = [self.num_adain_params()]
    for _ in range(self.n_upsample):
      model += [upsample_nearest, block(dim // 2, 5, 1, 2, norm='ln')]
      sizes += [0, 0]
      dim //= 2
    model.append(block(self.output_dim, 7, 1, 3, norm='none', activation='tanh'))
    sizes.append(0)
    return Chain(model, sizes, name='model')(x, adain_params).astype(jnp.float32)


def adain_buffers(params) -> dict:
  """The official state_dict entries an AdaINGen's decoder has and jaxgan's has not.

  The official AdaptiveInstanceNorm2d registers `running_mean` (zeros) and `running_var` (ones)
  buffers and never changes them (F.batch_norm gets repeated copies), so official checkpoints
  hold them and the official `load_state_dict` (strict) expects them; jaxgan keeps no state for
  them. Keys follow the decoder's layout: dec.model.0 (ResBlocks) . model.<block> . model.<0|1>.

  Args:
    params: an AdaINGen's params (with 'dec').

  Returns:
    Official key -> float32 array.
  """
  buffers = {}
  for b, block in params['dec']['model']['0']['model'].items():
    for k, layer in block['model'].items():
      features = layer['conv']['kernel'].shape[-1]
      prefix = f'dec.model.0.model.{b}.model.{k}.norm'
      buffers[f'{prefix}.running_mean'] = np.zeros(features, np.float32)
      buffers[f'{prefix}.running_var'] = np.ones(features, np.float32)
  return buffers


class LinearBlock(nn.Module):
  """The official LinearBlock without norm: fc, activation."""

  features: int
  activation: str = 'relu'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    _check('activation', self.activation, ACTIVATIONS)
    x = nn.Dense(
      self.features,
      kernel_init=weight_init(self.init_type),
      bias_init=nn.initializers.zeros,
      dtype=self.dtype,
      param_dtype=layers.PARAM_DTYPE,
      name='fc',
    )(x)
    return layers.ACTIVATIONS[self.activation](x)


class MLP(nn.Module):
  """n_blk LinearBlocks: style code -> AdaIN parameters; the last one without activation."""

  output_dim: int
  dim: int
  n_blk: int = 3
  activ: str = 'relu'
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    block = _factory(LinearBlock, init_type=self.init_type, dtype=self.dtype)
    model = [block(self.dim, self.activ)]
    model += [block(self.dim, self.activ)] * (self.n_blk - 2)
    model.append(block(self.output_dim, 'none'))
    x = x.reshape(x.shape[0], -1)
    return layers.Sequential(model, name='model')(x).astype(jnp.float32)


class AdaINGen(nn.Module):
  """One domain's auto-encoder: `encode` to (content, style), `decode(content, style)`.

  Attributes mirror the official `gen` options; `input_dim` is the domain's channel count.
  Calling the module reconstructs its input (decode of its own codes), which also initialises
  every parameter.
  """

  input_dim: int = 3
  dim: int = 64
  style_dim: int = 8
  n_downsample: int = 2
  n_res: int = 4
  activ: str = 'relu'
  pad_type: str = 'reflect'
  mlp_dim: int = 256
  init_type: str = 'kaiming'
  dtype: Any = jnp.float32
  remat: bool = False

  @property
  def size_multiple(self) -> int:
    """Image sides it maps to the same size: multiples of 2**n_downsample."""
    return 2**self.n_downsample

  def setup(self):
    kw = dict(activ=self.activ, pad_type=self.pad_type, init_type=self.init_type, dtype=self.dtype)
    # The style encoder's 4 downsamplings are fixed in the official AdaINGen.
    self.enc_style = StyleEncoder(4, self.dim, self.style_dim, 'none', **kw)
    res = dict(kw, remat=self.remat)
    self.enc_content = ContentEncoder(self.n_downsample, self.n_res, self.dim, 'in', **res)
    content_dim = self.dim * 2**self.n_downsample
    self.dec = Decoder(self.n_downsample, self.n_res, content_dim, self.input_dim, 'adain', **res)
    num_adain = self.n_res * _resblock_adain('adain', content_dim)
    self.mlp = MLP(
      num_adain, self.mlp_dim, 3, self.activ, init_type=self.init_type, dtype=self.dtype
    )

  def encode(self, images: Array) -> tuple[Array, Array]:
    """(content [N, h, w, C], style [N, 1, 1, style_dim]) of images [N, H, W, input_dim]."""
    return self.enc_content(images), self.enc_style(images)

  def decode(self, content: Array, style: Array) -> Array:
    """Images in [-1, 1] from content codes and style codes ([N, 1, 1, style_dim])."""
    return self.dec(content, self.mlp(style))

  def __call__(self, images: Array, train: bool = True) -> Array:
    del train  # No batch norm, no dropout: the same in both modes.
    content, style = self.encode(images)
    return self.decode(content, style)


# ------------------------------------------------------------------------------------------
# Discriminator.


class _Scales(nn.Module):
  """The official `cnns` ModuleList: one PatchGAN per scale, named '0', '1', ..."""

  num_scales: int
  make_net: Callable[[], list]

  @nn.compact
  def __call__(self, x: Array) -> list[Array]:
    outputs = []
    for i in range(self.num_scales):
      outputs.append(layers.Sequential(self.make_net(), name=str(i))(x).astype(jnp.float32))
      x = avg_pool_exclude_pad(x)
    return outputs


class MsImageDis(nn.Module):
  """The multi-scale discriminator: a list of patch logits, finest scale first.

  Attributes mirror the official `dis` options (gan_type is the loss's: see
  `jaxgan.losses.multiscale_dis_loss`).
  """

  dim: int = 64
  n_layer: int = 4
  norm: str = 'none'
  activ: str = 'lrelu'
  num_scales: int = 3
  pad_type: str = 'reflect'
  init_type: str = 'gaussian'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = True) -> list[Array]:
    def make_net():
      block = _factory(
        Conv2dBlock,
        activation=self.activ,
        pad_type=self.pad_type,
        init_type=self.init_type,
        train=train,
        dtype=self.dtype,
      )
      dim = self.dim
      net = [block(dim, 4, 2, 1, norm='none')]
      for _ in range(self.n_layer - 1):
        net.append(block(dim * 2, 4, 2, 1, norm=self.norm))
        dim *= 2
      net.append(
        functools.partial(
          layers.conv2d(1, 1, dtype=self.dtype), kernel_init=weight_init(self.init_type)
        )
      )
      return net

    return _Scales(self.num_scales, make_net, name='cnns')(x)


# ------------------------------------------------------------------------------------------
# From configs and official constructor arguments.


def define_gen(config, input_dim: int) -> AdaINGen:
  """AdaINGen from config.gen (the official yaml's `gen:` block) and config.init."""
  gen = config.gen
  _check('activation', gen.activ, ACTIVATIONS)
  _check('init', config.init, INITS)
  return AdaINGen(
    input_dim=input_dim,
    dim=gen.dim,
    style_dim=gen.style_dim,
    n_downsample=gen.n_downsample,
    n_res=gen.n_res,
    activ=gen.activ,
    pad_type=gen.pad_type,
    mlp_dim=gen.mlp_dim,
    init_type=config.init,
    dtype=layers.get_dtype(config.compute_dtype),
    remat=config.get('remat', False),
  )


def define_dis(config) -> MsImageDis:
  """MsImageDis from config.dis; N(0, 0.02) weights, as the official trainer re-initialises D."""
  dis = config.dis
  _check('norm', dis.norm, ('none', 'bn', 'in', 'ln'))
  _check('activation', dis.activ, ACTIVATIONS)
  _check('gan_type', dis.gan_type, MUNIT_GAN_TYPES)
  return MsImageDis(
    dim=dis.dim,
    n_layer=dis.n_layer,
    norm=dis.norm,
    activ=dis.activ,
    num_scales=dis.num_scales,
    pad_type=dis.pad_type,
    init_type='gaussian',
    dtype=layers.get_dtype(config.compute_dtype),
  )
