"""The pix2pix/CycleGAN discriminators: PatchGAN (NLayerDiscriminator) and PixelGAN, by name.

Layer for layer the official `networks.py` definitions, with the same layer indices (see
`jaxgan.nets.generators`). Inputs are NHWC images in [-1, 1] (pix2pix feeds the input and
output images concatenated on channels); outputs are float32 logit maps [N, h, w, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxgan import layers
from jaxgan.errors import ConfigError

Array = Any


class NLayerDiscriminator(nn.Module):
  """The PatchGAN: `n_layers` stride-2 4x4 convolutions, one stride-1, then a 1-channel conv.

  With n_layers=3 ('basic') each output sees a 70x70 patch. Kernel 4 and padding 1 as
  officially; channels ndf * min(2**n, 8).

  Attributes:
    ndf: filters of the first conv layer.
    n_layers: number of stride-2 convolutions.
    norm: 'batch' | 'instance' | 'none'.
    init_type, init_gain: weight initialisation (`layers.kernel_init`).
    dtype: compute dtype; parameters are float32.
  """

  ndf: int = 64
  n_layers: int = 3
  norm: str = 'batch'
  init_type: str = 'normal'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """Maps NHWC images to a float32 map of real/fake logits [N, h, w, 1]."""
    norm = layers.get_norm_layer(self.norm, train=train, dtype=self.dtype, init_gain=self.init_gain)
    use_bias = layers.uses_bias(self.norm)
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    kw, padw = 4, 1
    # The first conv has a bias whatever the norm: no norm follows it.
    sequence = [layers.conv2d(self.ndf, kw, 2, padw, **init), layers.leaky_relu]
    for n in range(1, self.n_layers):
      nf_mult = min(2**n, 8)
      conv = layers.conv2d(self.ndf * nf_mult, kw, 2, padw, use_bias=use_bias, **init)
      sequence += [conv, norm, layers.leaky_relu]
    nf_mult = min(2**self.n_layers, 8)
    conv = layers.conv2d(self.ndf * nf_mult, kw, 1, padw, use_bias=use_bias, **init)
    sequence += [conv, norm, layers.leaky_relu]
    sequence += [layers.conv2d(1, kw, 1, padw, **init)]
    y = layers.Sequential(tuple(sequence), name='model')(x)
    return y.astype(jnp.float32)


class PixelDiscriminator(nn.Module):
  """The 1x1 PatchGAN (PixelGAN): classifies each pixel with 1x1 convolutions.

  Attributes:
    ndf: filters of the first conv layer.
    norm: 'batch' | 'instance' | 'none'.
    init_type, init_gain: weight initialisation (`layers.kernel_init`).
    dtype: compute dtype; parameters are float32.
  """

  ndf: int = 64
  norm: str = 'batch'
  init_type: str = 'normal'
  init_gain: float = 0.02
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array, train: bool = False) -> Array:
    """Maps NHWC images to a float32 map of real/fake logits [N, H, W, 1]."""
    norm = layers.get_norm_layer(self.norm, train=train, dtype=self.dtype, init_gain=self.init_gain)
    use_bias = layers.uses_bias(self.norm)
    init = dict(init_type=self.init_type, init_gain=self.init_gain, dtype=self.dtype)
    net = [
      layers.conv2d(self.ndf, 1, **init),
      layers.leaky_relu,
      layers.conv2d(self.ndf * 2, 1, use_bias=use_bias, **init),
      norm,
      layers.leaky_relu,
      # Officially bias-free with batch norm too, although no norm follows it.
      layers.conv2d(1, 1, use_bias=use_bias, **init),
    ]
    y = layers.Sequential(tuple(net), name='net')(x)
    return y.astype(jnp.float32)


# ------------------------------------------------------------------------------------------
# Registry.


def _basic(config, **kwargs):
  del config
  return NLayerDiscriminator(n_layers=3, **kwargs)


def _n_layers(config, **kwargs):
  return NLayerDiscriminator(n_layers=config.n_layers_D, **kwargs)


def _pixel(config, **kwargs):
  del config
  return PixelDiscriminator(**kwargs)


# Builders called as build(config, ndf=, norm=, init_type=, init_gain=, dtype=); a new
# discriminator is one more entry.
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
  'basic': _basic,
  'n_layers': _n_layers,
  'pixel': _pixel,
}


def define_D(config, input_nc: int) -> nn.Module:
  """Builds the discriminator `config.netD`, as the official `networks.define_D`.

  Args:
    config: a ConfigDict with netD, ndf, n_layers_D, norm, init_type, init_gain,
      compute_dtype (see configs/common.py).
    input_nc: channels of the input (pix2pix: input_nc + output_nc); Flax infers it from
      the input, so it is kept for the official signature only.

  Returns:
    A Flax module called as `module.apply(variables, x, train=..., mutable=['batch_stats'])`
    on NHWC images; it returns float32 logits [N, h, w, 1].

  Raises:
    ConfigError: unknown netD, norm, init_type or compute_dtype.
  """
  del input_nc
  if config.netD not in DISCRIMINATORS:
    raise ConfigError(f'unknown netD {config.netD!r}; known: {", ".join(sorted(DISCRIMINATORS))}')
  layers.uses_bias(config.norm)  # Validates the norm name now rather than at init.
  layers.kernel_init(config.init_type, config.init_gain)
  return DISCRIMINATORS[config.netD](
    config,
    ndf=config.ndf,
    norm=config.norm,
    init_type=config.init_type,
    init_gain=config.init_gain,
    dtype=layers.get_dtype(config.compute_dtype),
  )
