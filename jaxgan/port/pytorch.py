"""Official PyTorch state_dicts <-> Flax variables, mapped by name.

jaxgan's networks name their submodules as the official ones are named (`layers.Sequential`
names its layers '0', '1', ...), so the official key `model.10.conv_block.1.weight` is the
Flax path `params/model/10/conv_block/1/kernel`: the key's module path split at dots, and the
leaf renamed:

  weight (conv, linear)  -> params/.../kernel   conv (out, in, kh, kw) -> (kh, kw, in, out);
                                                transposed conv (in, out, kh, kw) ->
                                                (kh, kw, out, in) (same permutation);
                                                linear (out, in) -> (in, out)
  weight (batch norm)    -> params/.../scale
  bias                   -> params/.../bias
  running_mean / _var    -> batch_stats/.../mean / var

`num_batches_tracked` has no counterpart (the momentum is fixed) and is dropped, as are the
running statistics that old official checkpoints store for InstanceNorm layers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import ml_collections
import numpy as np
from flax import traverse_util

from jaxgan import npz_file, torch_file
from jaxgan.errors import WeightsError

StateDict = dict[str, np.ndarray]

# Official leaf name -> (collection, Flax leaf), by the kind of Flax module found there.
_KERNEL_LEAVES = {'weight': 'kernel', 'bias': 'bias'}
_NORM_LEAVES = {'weight': 'scale', 'bias': 'bias'}
_STATS_LEAVES = {'running_mean': 'mean', 'running_var': 'var'}
# Parameters kept under their own name (MUNIT's LayerNorm: gamma, beta).
_PLAIN_LEAVES = {'gamma': 'gamma', 'beta': 'beta'}


# ------------------------------------------------------------------------------------------
# Reading weight files.


def _numpy(value) -> np.ndarray:
  array = np.asarray(value)
  # Fixtures and some released weights are float16; Flax parameters are float32.
  if np.issubdtype(array.dtype, np.floating) and array.dtype != np.float32:
    array = array.astype(np.float32)
  return array


def _load_pth(path: str) -> StateDict:
  state_dict = torch_file.read(path)  # no PyTorch needed
  if state_dict and all(k.startswith('state_dict.') for k in state_dict):
    state_dict = {k[len('state_dict.') :]: v for k, v in state_dict.items()}  # {'state_dict': sd}
  return state_dict


def _load_npz(path: str) -> StateDict:
  data = npz_file.read(path)
  if any(k.startswith('sd/') for k in data):
    # A parity fixture (or any file keeping other arrays beside the weights).
    return {k[len('sd/') :]: _numpy(v) for k, v in data.items() if k.startswith('sd/')}
  return {k: _numpy(v) for k, v in data.items() if k != 'meta'}


_READERS = {'.pth': _load_pth, '.pt': _load_pth, '.npz': _load_npz}


def clean_state_dict(state_dict: Mapping[str, Any]) -> StateDict:
  """Removes what the official code itself ignores when loading weights.

  A leading 'module.' (weights saved from `DataParallel`), `num_batches_tracked`, and the
  running statistics of InstanceNorm layers that checkpoints of older PyTorch versions hold
  (recognised as running statistics without a `weight` beside them: the official batch
  norms are always affine).

  Args:
    state_dict: official key -> array.

  Returns:
    A new dict of numpy arrays, floats as float32.
  """
  sd = {}
  for key, value in state_dict.items():
    key = key.removeprefix('module.')
    if key.endswith('.num_batches_tracked'):
      continue
    sd[key] = _numpy(value)
  for key in list(sd):
    module, _, leaf = key.rpartition('.')
    if leaf in _STATS_LEAVES and f'{module}.weight' not in sd:
      del sd[key]
  return sd


def load_state_dict(path: str | os.PathLike) -> StateDict:
  """Reads an official PyTorch state_dict from a .pth file or an .npz file.

  .pth/.pt files are read without PyTorch (`jaxgan.torch_file`). An .npz holds the
  state_dict's keys either as they are or prefixed with 'sd/' (the parity fixtures' layout).

  Args:
    path: a .pth/.pt or .npz file.

  Returns:
    Official key -> numpy array (floats as float32), cleaned by `clean_state_dict`.

  Raises:
    WeightsError: the file is missing or unreadable.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise WeightsError(f'no weight file {path}')
  ext = os.path.splitext(path)[1].lower()
  if ext not in _READERS:
    raise WeightsError(f'cannot read {path}: expected one of {", ".join(sorted(_READERS))}')
  return clean_state_dict(_READERS[ext](path))


def save_npz(path: str | os.PathLike, state_dict: Mapping[str, np.ndarray]) -> None:
  """Writes a state_dict (e.g. from `from_flax`) as an .npz that `load_state_dict` reads."""
  np.savez(path, **{k: np.asarray(v) for k, v in state_dict.items()})


# ------------------------------------------------------------------------------------------
# Layouts.


def _to_flax_kernel(weight: np.ndarray) -> np.ndarray:
  if weight.ndim == 4:  # (out, in, kh, kw), or (in, out, kh, kw) for a transposed conv.
    return weight.transpose(2, 3, 1, 0)
  if weight.ndim == 2:  # Linear: (out, in).
    return weight.T
  return weight


def _from_flax_kernel(kernel: np.ndarray) -> np.ndarray:
  if kernel.ndim == 4:
    return kernel.transpose(3, 2, 0, 1)
  if kernel.ndim == 2:
    return kernel.T
  return kernel


def _torch_shape(flax_leaf: str, shape: tuple[int, ...]) -> tuple[int, ...]:
  if flax_leaf == 'kernel':
    return _from_flax_kernel(np.empty(shape, np.bool_)).shape
  return tuple(shape)


def _flax_target(key: str, params: Mapping, stats: Mapping):
  """Returns (collection, Flax path) for an official key, or None if the network has none."""
  module, _, leaf = key.rpartition('.')
  path = tuple(module.split('.'))
  if leaf in _STATS_LEAVES:
    target = ('batch_stats', (*path, _STATS_LEAVES[leaf]))
    return target if target[1] in stats else None
  for names in (_KERNEL_LEAVES, _NORM_LEAVES, _PLAIN_LEAVES):
    if leaf in names and (*path, names[leaf]) in params:
      return 'params', (*path, names[leaf])
  return None


def _official_keys(params: Mapping, stats: Mapping) -> dict[str, tuple[str, tuple[str, ...]]]:
  """Official key -> (collection, Flax path) for every leaf of a Flax variables tree."""
  keys = {}
  for path in params:
    *module, leaf = path
    kernel_like = (*module, 'kernel') in params
    names = _KERNEL_LEAVES if kernel_like else _NORM_LEAVES
    names = _PLAIN_LEAVES if leaf in _PLAIN_LEAVES else names
    official = {v: k for k, v in names.items()}[leaf]
    keys['.'.join([*module, official])] = ('params', path)
  for path in stats:
    *module, leaf = path
    official = {v: k for k, v in _STATS_LEAVES.items()}[leaf]
    keys['.'.join([*module, official])] = ('batch_stats', path)
  return keys


def _hint(key: str) -> str:
  if key.rpartition('.')[2] in ('bias', 'running_mean', 'running_var'):
    return 'check --config.norm: only instance norm gives conv biases, batch norm has stats'
  return 'check --config.netG/netD, norm and no_dropout (dropout shifts the layer indices)'


def to_flax(
  state_dict: Mapping[str, Any],
  variables: Mapping,
  name: str = 'the network',
  buffers: Mapping[str, np.ndarray] | None = None,
) -> dict:
  """Converts an official state_dict to Flax variables shaped as `variables`.

  Args:
    state_dict: official key -> array (from `load_state_dict`, or a torch state_dict's
      values as numpy arrays); cleaned by `clean_state_dict` first.
    variables: a template from `module.init` (or `jax.eval_shape` of it, only the tree and
      shapes are used): {'params': ..., 'batch_stats': ...}.
    name: the network, for error messages (e.g. 'resnet_9blocks').
    buffers: the constant buffers the official network keeps in its state_dict and jaxgan
      computes instead (CUT's blur filters: the net's `official_buffers()`): each must be in
      `state_dict` with exactly that value (another value would be a different network).

  Returns:
    {'params': ..., 'batch_stats': ...} (the collections `variables` has) of float32 numpy
    arrays, with exactly the tree of `variables`.

  Raises:
    WeightsError: a key missing, unexpected, or of the wrong shape; one line naming it.
  """
  sd = clean_state_dict(state_dict)
  params = traverse_util.flatten_dict(dict(variables.get('params', {})))
  stats = traverse_util.flatten_dict(dict(variables.get('batch_stats', {})))
  template = {'params': params, 'batch_stats': stats}
  prefix = f'weights do not fit {name}'
  out = {'params': {}, 'batch_stats': {}}
  for key, expected in (buffers or {}).items():
    if key not in sd:
      raise WeightsError(f'{prefix}: {key} {expected.shape} is missing ({_hint(key)})')
    value = sd.pop(key)
    if value.shape != expected.shape or not np.array_equal(value, expected):
      raise WeightsError(
        f'{prefix}: {key} is not the fixed filter this network uses '
        f'(shape {tuple(value.shape)}, expected {expected.shape} of the official values)'
      )
  for key, value in sd.items():
    target = _flax_target(key, params, stats)
    if target is None:
      raise WeightsError(f'{prefix}: unexpected key {key} {tuple(value.shape)} ({_hint(key)})')
    collection, path = target
    expected = tuple(template[collection][path].shape)
    leaf = path[-1]
    converted = _to_flax_kernel(value) if leaf == 'kernel' else value
    if converted.shape != expected:
      raise WeightsError(
        f'{prefix}: {key} has shape {tuple(value.shape)}, expected '
        f'{_torch_shape(leaf, expected)} (check --config.ngf/ndf/input_nc/output_nc/nz)'
      )
    out[collection][path] = converted.astype(np.float32)
  expected_keys = _official_keys(params, stats)
  for key, (collection, path) in expected_keys.items():
    if path not in out[collection]:
      shape = _torch_shape(path[-1], tuple(template[collection][path].shape))
      raise WeightsError(f'{prefix}: {key} {shape} is missing ({_hint(key)})')
  result = {}
  for collection in variables:
    if collection in out:
      result[collection] = traverse_util.unflatten_dict(out[collection])
  return result


def from_flax(variables: Mapping) -> StateDict:
  """Converts Flax variables back to an official state_dict (numpy, PyTorch layouts).

  Batch norms get `num_batches_tracked` = 0, which PyTorch only uses when momentum is None.

  Args:
    variables: {'params': ..., 'batch_stats': ...} of a jaxgan network.

  Returns:
    Official key -> numpy array, loadable with `net.load_state_dict({k: torch.from_numpy(v)})`.
  """
  params = traverse_util.flatten_dict(dict(variables.get('params', {})))
  stats = traverse_util.flatten_dict(dict(variables.get('batch_stats', {})))
  sd = {}
  for key, (collection, path) in _official_keys(params, stats).items():
    value = np.asarray((params if collection == 'params' else stats)[path], np.float32)
    sd[key] = _from_flax_kernel(value) if path[-1] == 'kernel' else value
    if path[-1] == 'mean':
      sd[key.rpartition('.')[0] + '.num_batches_tracked'] = np.array(0, np.int64)
  return sd


# ------------------------------------------------------------------------------------------
# Networks from official constructor arguments.


def _pix2pix_cyclegan(meta):
  from jaxgan import nets

  config = ml_collections.ConfigDict(
    {
      'netG': meta.get('net', 'unet_256'),
      'netD': meta.get('net', 'basic'),
      'ngf': meta.get('ngf', 64),
      'ndf': meta.get('ndf', 64),
      'n_layers_D': meta.get('n_layers', 3),
      'norm': meta.get('norm', 'batch'),
      'no_dropout': not meta.get('use_dropout', False),
      'init_type': meta.get('init_type', 'normal'),
      'init_gain': meta.get('init_gain', 0.02),
      'compute_dtype': meta.get('compute_dtype', 'float32'),
    }
  )
  if meta.get('kind') == 'discriminator':
    return nets.define_D(config, meta.get('input_nc', 3))
  return nets.define_G(config, meta.get('input_nc', 3), meta.get('output_nc', 3))


def _bicyclegan(meta):
  from jaxgan.nets import bicycle

  kind = meta.get('kind', 'generator')
  net = meta.get(
    'net', {'generator': 'unet_256', 'encoder': 'resnet_256'}.get(kind, 'basic_256_multi')
  )
  config = ml_collections.ConfigDict(
    {
      'netG': net,
      'netE': net,
      'nz': meta.get('nz', 8),
      'ngf': meta.get('ngf', 64),
      'nef': meta.get('nef', 64),
      'ndf': meta.get('ndf', 64),
      'num_Ds': meta.get('num_D', meta.get('num_Ds', 1)),
      'norm': meta.get('norm', 'instance'),
      'nl': meta.get('nl', 'relu'),
      'where_add': meta.get('where_add', 'all'),
      'upsample': meta.get('upsample', 'basic'),
      'no_dropout': not meta.get('use_dropout', False),
      'init_type': meta.get('init_type', 'xavier'),
      'init_gain': meta.get('init_gain', 0.02),
      'compute_dtype': meta.get('compute_dtype', 'float32'),
    }
  )
  if kind == 'encoder':
    return bicycle.define_E(config)
  if kind == 'discriminator':
    return bicycle.define_D(config, net)
  return bicycle.define_G(config, meta.get('output_nc', 3))


def _munit(meta):
  from jaxgan.nets import munit

  if meta.get('kind') == 'discriminator':
    return munit.MsImageDis(
      dim=meta.get('dim', 64),
      n_layer=meta.get('n_layer', 4),
      norm=meta.get('norm', 'none'),
      activ=meta.get('activ', 'lrelu'),
      num_scales=meta.get('num_scales', 3),
      pad_type=meta.get('pad_type', 'reflect'),
    )
  return munit.AdaINGen(
    input_dim=meta.get('input_dim', 3),
    dim=meta.get('dim', 64),
    style_dim=meta.get('style_dim', 8),
    n_downsample=meta.get('n_downsample', 2),
    n_res=meta.get('n_res', 4),
    activ=meta.get('activ', 'relu'),
    pad_type=meta.get('pad_type', 'reflect'),
    mlp_dim=meta.get('mlp_dim', 256),
  )


def _cut(meta):
  from jaxgan.nets import cut

  kind = meta.get('kind', 'generator')
  init = dict(init_type=meta.get('init_type', 'xavier'), init_gain=meta.get('init_gain', 0.02))
  if kind == 'patch_sample':
    return cut.PatchSampleF(
      use_mlp=meta.get('net', 'mlp_sample') == 'mlp_sample', nc=meta.get('nc', 256), **init
    )
  norm = meta.get('norm', 'instance')
  if kind == 'discriminator':
    net = meta.get('net', 'basic')
    return cut.NLayerDiscriminator(
      ndf=meta.get('ndf', 64),
      n_layers=3 if net == 'basic' else meta.get('n_layers', 3),
      norm=norm,
      no_antialias=meta.get('no_antialias', False),
      **init,
    )
  net = meta.get('net', 'resnet_9blocks')
  if net not in cut.GENERATORS:
    raise WeightsError(f'no CUT generator {net!r}; known: {", ".join(cut.GENERATORS)}')
  return cut.ResnetGenerator(
    output_nc=meta.get('output_nc', 3),
    ngf=meta.get('ngf', 64),
    norm=norm,
    use_dropout=meta.get('use_dropout', False),
    n_blocks=cut.GENERATORS[net],
    no_antialias=meta.get('no_antialias', False),
    no_antialias_up=meta.get('no_antialias_up', False),
    **init,
  )


# Family -> builder(meta).
META_BUILDERS = {
  'pix2pix_cyclegan': _pix2pix_cyclegan,
  'bicyclegan': _bicyclegan,
  'munit': _munit,
  'cut': _cut,
}


def build_from_meta(meta: Mapping[str, Any] | str):
  """Builds the jaxgan network that official constructor arguments describe.

  For users holding official weights and the options they were trained with, and for the
  parity fixtures (their `meta`).

  Args:
    meta: dict or JSON string: `family` ('pix2pix_cyclegan'), `kind` ('generator' |
      'discriminator'), `net` (an official netG/netD name), ngf/ndf, norm, input_nc,
      output_nc, use_dropout, n_layers; missing fields take the official defaults.

  Returns:
    The Flax module (see `jaxgan.nets.define_G` / `define_D`).

  Raises:
    WeightsError: a family jaxgan does not build (yet).
  """
  if isinstance(meta, str):
    meta = json.loads(meta)
  family = meta.get('family', 'pix2pix_cyclegan')
  if family not in META_BUILDERS:
    raise WeightsError(
      f'no jaxgan networks for family {family!r} yet; known: {", ".join(sorted(META_BUILDERS))}'
    )
  return META_BUILDERS[family](meta)
