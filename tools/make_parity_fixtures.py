"""Makes parity fixtures from the official PyTorch code: the networks as numbers.

  pip install -e '.[torch]'
  python tools/make_parity_fixtures.py --set=small --out=tests/data/parity \
    --pix2pix_cyclegan=~/src/pytorch-CycleGAN-and-pix2pix \
    --bicyclegan=~/src/BicycleGAN --munit=~/src/MUNIT \
    --cut=~/src/contrastive-unpaired-translation

Each path is a clone of the official repository (junyanz/pytorch-CycleGAN-and-pix2pix,
junyanz/BicycleGAN, NVlabs/MUNIT, taesungp/contrastive-unpaired-translation); a family whose
path is not given is left out. The networks are built with the classes of that clone's
networks.py, imported from the clone, so nothing of the official code lives in jaxgan. CUT's
fixtures also hold its PatchSampleF (with the patch ids as inputs) and its PatchNCELoss (loss
per patch and its gradient).

Train-step fixtures (`*_step.npz`, kind 'train_step'): two official training iterations from
random weights on one batch, with every random draw of the iteration recorded (CUT's flips and
patch ids, BicycleGAN's z and eps, MUNIT's styles), each iteration's losses, the gradients each
optimizer stepped with in the first, and the weights after both; tests/test_official_steps.py
and tests/test_cut.py replay them. CUT's from CUTModel, CycleGAN's from the CycleGANModel that
CUT's repository ships (--cut), BicycleGAN's from BiCycleGANModel (--bicyclegan), MUNIT's from
MUNIT_Trainer's dis_update and gen_update (--munit). pix2pix's step has no fixture: it needs
the pix2pix/CycleGAN repository's Pix2PixModel (that clone exceeded what this environment could
fetch); its nets are those of the CycleGAN fixtures and its objective is checked in tests/.

A fixture is one network: random weights drawn from a seeded generator (scaled so the activations
stay near unit size, then rounded to float16 so the stored float16 weights are exact), one seeded
input, one forward pass in training mode without dropout. The file format is that of
../shared/parity/README.md. `--set=small` is the committed set under tests/data/parity (narrow
widths, small images: every net family the port builds, well under 2 MB together); `--set=full`
remakes the networks of ../shared/parity at its widths and sizes (not its metric networks,
which come from pytorch-fid's and lpips' pretrained weights). tests/test_parity.py checks jaxgan
against both folders.
"""

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import math
import pathlib
import subprocess
import sys
import tempfile
import types
import zlib

import numpy as np

try:
  import torch
except ImportError:  # the tests read SETS without PyTorch; main() says what is missing
  torch = None

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The official repository of each family and its networks.py inside a clone.
REPOS = {
  'pix2pix_cyclegan': ('junyanz/pytorch-CycleGAN-and-pix2pix', 'models/networks.py'),
  'bicyclegan': ('junyanz/BicycleGAN', 'models/networks.py'),
  'munit': ('NVlabs/MUNIT', 'networks.py'),
  'cut': ('taesungp/contrastive-unpaired-translation', 'models/networks.py'),
}


@dataclasses.dataclass(frozen=True)
class Spec:
  """One fixture: its file stem, the official constructor options (`meta`), its input shapes."""

  name: str
  meta: dict
  inputs: dict


def _cg(kind, net, size, batch, **options):
  meta = {'family': 'pix2pix_cyclegan', 'kind': kind, 'net': net, **options, 'mode': 'train'}
  if kind == 'generator':
    meta = {'input_nc': 3, 'output_nc': 3, 'use_dropout': False, **meta}
  return meta, {'x': (batch, meta.get('input_nc', 3), size, size)}


def _bicycle(kind, net, size, batch=1, **options):
  meta = {'family': 'bicyclegan', 'kind': kind, 'net': net, **options, 'mode': 'train'}
  inputs = {'x': (batch, 3, size, size)}
  if kind == 'generator':
    inputs['z'] = (batch, meta['nz'])
  return meta, inputs


def _munit(kind, size, **options):
  meta = {'family': 'munit', 'kind': kind, 'input_dim': 3, **options, 'mode': 'train'}
  inputs = {'x': (1, 3, size, size)}
  if kind == 'generator':
    inputs['s'] = (1, meta['style_dim'], 1, 1)
  return meta, inputs


def _cut(kind, size, batch=1, **options):
  meta = {'family': 'cut', 'kind': kind, **options, 'mode': 'train'}
  if kind in ('generator', 'discriminator'):
    return meta, {'x': (batch, 3, size, size)}
  if kind == 'patch_sample':  # features of G's taps, [N, C, H, W] each
    return meta, {f'feat_{i}': (batch, c, s, s) for i, (c, s) in enumerate(meta['feature_shapes'])}
  if kind == 'train_step':  # two official iterations on one unpaired batch
    return meta, {'A': (batch, 3, size, size), 'B': (batch, 3, size, size)}
  meta.update(batch_size=batch, num_patches=size)  # PatchNCELoss: size patches per image
  return meta, {'feat_q': (batch * size, meta['dim']), 'feat_k': (batch * size, meta['dim'])}


# The official CUT options of the train-step fixtures, narrowed; the mode sets the rest.
CUT_STEP = dict(
  netG='resnet_6blocks',
  netD='basic',
  ngf=2,
  ndf=2,
  netF='mlp_sample',
  netF_nc=8,
  num_patches=16,
  nce_layers='0,4,8,12,16',
  lr=0.002,
)


def _step(family, model, size=32, batch=2, **options):
  """Two official training iterations of `model` on one batch (A, B [batch, 3, size, size])."""
  meta = {'family': family, 'kind': 'train_step', 'model': model, **options, 'mode': 'train'}
  return meta, {'A': (batch, 3, size, size), 'B': (batch, 3, size, size)}


# The other models' train-step fixtures: their official defaults, nets narrowed, the lr raised
# so that two steps move the weights well above rounding. CycleGAN is the CycleGANModel that
# CUT's repository ships (the pix2pix/CycleGAN repository's, with its nets behind CUT's
# no_antialias switches; the strided CUT fixture checks those nets are CycleGAN's).
CYCLEGAN_STEP = dict(
  netG='resnet_6blocks', netD='basic', ngf=2, ndf=2, norm='instance', gan_mode='lsgan',
  lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5, pool_size=50, lr=0.002,
)  # fmt: skip
BICYCLE_STEP = dict(
  netG='unet_128', netD='basic_128_multi', netD2='basic_128_multi', netE='resnet_128', num_Ds=2,
  ngf=1, ndf=2, nef=2, nz=8, norm='instance', nl='relu', where_add='all', upsample='basic',
  gan_mode='lsgan', lambda_L1=10.0, lambda_GAN=1.0, lambda_GAN2=1.0, lambda_z=0.5,
  lambda_kl=0.01, conditional_D=False, use_same_D=False, lr=0.002,
)  # fmt: skip
MUNIT_STEP = dict(
  gen=dict(dim=2, mlp_dim=8, style_dim=8, activ='relu', n_downsample=2, n_res=2,
           pad_type='reflect'),
  dis=dict(dim=2, norm='none', activ='lrelu', n_layer=2, gan_type='lsgan', num_scales=2,
           pad_type='reflect'),
  gan_w=1.0, recon_x_w=10.0, recon_s_w=1.0, recon_c_w=1.0, recon_x_cyc_w=10.0,
  recon_kl_w=0.0, recon_kl_cyc_w=0.0, vgg_w=0.0, weight_decay=1e-4, beta1=0.5, beta2=0.999,
  lr=0.002, init='kaiming',
)  # fmt: skip


def _specs(table):
  return [Spec(name, *made) for name, made in table]


SETS = {
  # Narrow nets on small images: every generator, encoder and discriminator family, both norms,
  # both BicycleGAN injections and upsamplings, MUNIT's norms and paddings.
  'small': _specs(
    [
      ('G_resnet_6blocks_batch', _cg('generator', 'resnet_6blocks', 32, 2, ngf=2, norm='batch')),
      (
        'G_resnet_9blocks_instance',
        _cg('generator', 'resnet_9blocks', 32, 1, ngf=2, norm='instance'),
      ),
      ('G_unet_32_batch', _cg('generator', 'unet_32', 32, 2, ngf=2, norm='batch')),
      ('G_unet_32_instance', _cg('generator', 'unet_32', 32, 1, ngf=2, norm='instance')),
      (
        'D_basic_batch_in6',
        _cg('discriminator', 'n_layers', 32, 2, n_layers=3, ndf=4, norm='batch', input_nc=6),
      ),
      (
        'D_n_layers4_instance_in3',
        _cg('discriminator', 'n_layers', 64, 1, n_layers=4, ndf=4, norm='instance', input_nc=3),
      ),
      (
        'D_pixel_batch_in6',
        _cg('discriminator', 'pixel', 16, 2, ndf=4, norm='batch', input_nc=6),
      ),
      (
        'bicycle_G_unet_64_add_all',
        _bicycle(
          'generator',
          'unet_64',
          64,
          where_add='all',
          nz=4,
          ngf=2,
          norm='instance',
          upsample='basic',
          nl='relu',
        ),
      ),
      (
        'bicycle_G_unet_32_add_input_bilinear_batch',
        _bicycle(
          'generator',
          'unet_32',
          32,
          2,
          where_add='input',
          nz=4,
          ngf=2,
          norm='batch',
          upsample='bilinear',
          nl='lrelu',
        ),
      ),
      (
        'bicycle_E_resnet_64',
        _bicycle(
          'encoder', 'resnet_64', 64, nz=4, nef=4, norm='instance', nl='lrelu', vae_like=True
        ),
      ),
      (
        'bicycle_E_conv_64',
        _bicycle('encoder', 'conv_64', 64, nz=4, nef=4, norm='instance', nl='lrelu', vae_like=True),
      ),
      (
        'bicycle_D_basic_256_multi',
        _bicycle(
          'discriminator', 'basic_256_multi', 64, num_D=2, ndf=4, norm='instance', input_nc=3
        ),
      ),
      (
        'munit_G_adain',
        _munit(
          'generator',
          32,
          dim=4,
          style_dim=4,
          n_downsample=2,
          n_res=2,
          activ='relu',
          pad_type='reflect',
          mlp_dim=16,
        ),
      ),
      (
        'cut_G_resnet_9blocks_antialias',
        _cut(
          'generator',
          32,
          net='resnet_9blocks',
          ngf=2,
          norm='instance',
          no_antialias=False,
          no_antialias_up=False,
          nce_layers=[0, 4, 8, 12, 16],
        ),
      ),
      (
        'cut_G_resnet_6blocks_strided_batch',
        _cut(
          'generator',
          32,
          2,
          net='resnet_6blocks',
          ngf=2,
          norm='batch',
          no_antialias=True,
          no_antialias_up=True,
          nce_layers=[0, 3, 7, 10, 14],
        ),
      ),
      (
        'cut_G_resnet_4blocks_antialias_down_only',
        _cut(
          'generator',
          16,
          net='resnet_4blocks',
          ngf=2,
          norm='instance',
          no_antialias=False,
          no_antialias_up=True,
          nce_layers=[1, 7, 12],
        ),
      ),
      ('cut_D_basic_instance', _cut('discriminator', 32, net='basic', ndf=4, norm='instance')),
      (
        'cut_D_n_layers2_batch',
        _cut('discriminator', 32, 2, net='n_layers', n_layers=2, ndf=4, norm='batch'),
      ),
      (
        'cut_F_mlp_sample',
        _cut(
          'patch_sample',
          8,
          2,
          net='mlp_sample',
          nc=8,
          num_patches=24,
          feature_shapes=[[3, 8], [4, 8], [8, 4]],
        ),
      ),
      (
        'cut_F_sample',
        _cut('patch_sample', 8, 2, net='sample', num_patches=64, feature_shapes=[[3, 8], [4, 4]]),
      ),
      ('cut_patchnce', _cut('patchnce', 12, 2, dim=8, nce_T=0.07)),
      # CUT with FastCUT's flip-equivariance too: nce_idt and the flips in one step (one
      # flipped iteration, one not).
      ('cut_step', _cut('train_step', 32, 2, CUT_mode='CUT', flip_equivariance=True, **CUT_STEP)),
      # The official iterations of the other models (BicycleGAN's nets are named for 128 px).
      ('cyclegan_step', _step('cut', 'cycle_gan', **CYCLEGAN_STEP)),
      ('bicyclegan_step', _step('bicyclegan', 'bicycle_gan', 128, **BICYCLE_STEP)),
      ('munit_step', _step('munit', 'munit', **MUNIT_STEP)),
      (
        'munit_D_ms',
        _munit(
          'discriminator',
          32,
          n_layer=3,
          gan_type='lsgan',
          dim=4,
          norm='none',
          activ='lrelu',
          num_scales=3,
          pad_type='reflect',
        ),
      ),
    ]
  ),
  # The networks of ../shared/parity, at its widths and sizes.
  'full': _specs(
    [
      (
        'cut_G_resnet_9blocks_antialias',
        _cut(
          'generator',
          64,
          net='resnet_9blocks',
          ngf=8,
          norm='instance',
          no_antialias=False,
          no_antialias_up=False,
          nce_layers=[0, 4, 8, 12, 16],
        ),
      ),
      ('cut_D_basic_instance', _cut('discriminator', 64, net='basic', ndf=8, norm='instance')),
      (
        'cut_F_mlp_sample',
        _cut(
          'patch_sample',
          16,
          2,
          net='mlp_sample',
          nc=256,
          num_patches=256,
          feature_shapes=[[3, 70], [16, 64], [32, 32], [32, 16], [32, 16]],
        ),
      ),
      (
        'D_basic_batch_in6',
        _cg('discriminator', 'n_layers', 64, 2, n_layers=3, ndf=8, norm='batch', input_nc=6),
      ),
      (
        'D_basic_instance_in3',
        _cg('discriminator', 'n_layers', 64, 1, n_layers=3, ndf=8, norm='instance', input_nc=3),
      ),
      (
        'D_n_layers5_instance_in3',
        _cg('discriminator', 'n_layers', 128, 1, n_layers=5, ndf=8, norm='instance', input_nc=3),
      ),
      ('D_pixel_batch_in6', _cg('discriminator', 'pixel', 32, 2, ndf=8, norm='batch', input_nc=6)),
      ('G_resnet_6blocks_batch', _cg('generator', 'resnet_6blocks', 64, 2, ngf=8, norm='batch')),
      (
        'G_resnet_9blocks_instance',
        _cg('generator', 'resnet_9blocks', 64, 1, ngf=8, norm='instance'),
      ),
      ('G_unet_128_instance', _cg('generator', 'unet_128', 128, 1, ngf=8, norm='instance')),
      ('G_unet_256_batch', _cg('generator', 'unet_256', 256, 2, ngf=8, norm='batch')),
      (
        'bicycle_D_basic_256_multi',
        _bicycle(
          'discriminator', 'basic_256_multi', 256, num_D=2, ndf=8, norm='instance', input_nc=3
        ),
      ),
      (
        'bicycle_E_conv_256',
        _bicycle(
          'encoder', 'conv_256', 256, nz=8, nef=8, norm='instance', nl='lrelu', vae_like=True
        ),
      ),
      (
        'bicycle_E_resnet_256',
        _bicycle(
          'encoder', 'resnet_256', 256, nz=8, nef=8, norm='instance', nl='lrelu', vae_like=True
        ),
      ),
      (
        'bicycle_G_unet_256_add_all',
        _bicycle(
          'generator',
          'unet_256',
          256,
          where_add='all',
          nz=8,
          ngf=8,
          norm='instance',
          upsample='basic',
          nl='relu',
        ),
      ),
      (
        'bicycle_G_unet_256_add_input',
        _bicycle(
          'generator',
          'unet_256',
          256,
          where_add='input',
          nz=8,
          ngf=8,
          norm='instance',
          upsample='basic',
          nl='relu',
        ),
      ),
      (
        'munit_D_ms',
        _munit(
          'discriminator',
          64,
          n_layer=4,
          gan_type='lsgan',
          dim=8,
          norm='none',
          activ='lrelu',
          num_scales=3,
          pad_type='reflect',
        ),
      ),
      (
        'munit_G_adain',
        _munit(
          'generator',
          64,
          dim=8,
          style_dim=8,
          n_downsample=2,
          n_res=4,
          activ='relu',
          pad_type='reflect',
          mlp_dim=32,
        ),
      ),
    ]
  ),
}


def load_networks(family: str, clone: pathlib.Path):
  """Imports networks.py from the user's clone of the family's official repository.

  CUT's networks.py imports its siblings relatively (`.stylegan_networks`), so its folder is
  made a package of its own first, without running the package's __init__ (which would import
  the whole training code); `networks.patchnce` is then its PatchNCELoss module.
  """
  repo, relative = REPOS[family]
  path = clone.expanduser() / relative
  if not path.is_file():
    sys.exit(f'make_parity_fixtures: no {relative} in {clone} (expected a clone of {repo})')
  package = f'official_{family}'
  if family == 'cut':
    holder = types.ModuleType(package)
    holder.__path__ = [str(path.parent)]
    sys.modules[package] = holder
  name = f'{package}.networks' if family == 'cut' else f'official_{family}_networks'
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  if family == 'cut':
    module.patchnce = importlib.import_module(f'{package}.patchnce')
  return module


def _log2(net: str) -> int:
  """'unet_256' -> 8, 'resnet_64' -> 6."""
  return int(math.log2(int(net.rsplit('_', 1)[1])))


def build_pix2pix_cyclegan(networks, meta):
  norm = networks.get_norm_layer(meta['norm'])
  net = meta['net']
  if meta['kind'] == 'generator':
    args = (meta['input_nc'], meta['output_nc'])
    if net.startswith('resnet_'):
      n_blocks = int(net[len('resnet_') : -len('blocks')])
      return networks.ResnetGenerator(*args, meta['ngf'], norm_layer=norm, n_blocks=n_blocks)
    # define_G names only unet_128 and unet_256; the class takes any depth (unet_N: N px).
    return networks.UnetGenerator(*args, _log2(net), meta['ngf'], norm_layer=norm)
  if net == 'pixel':
    return networks.PixelDiscriminator(meta['input_nc'], meta['ndf'], norm_layer=norm)
  return networks.NLayerDiscriminator(
    meta['input_nc'], meta['ndf'], n_layers=meta['n_layers'], norm_layer=norm
  )


def build_bicyclegan(networks, meta):
  norm = networks.get_norm_layer(meta['norm'])
  net = meta['net']
  if meta['kind'] == 'generator':
    cls = networks.G_Unet_add_all if meta['where_add'] == 'all' else networks.G_Unet_add_input
    return cls(
      3,
      3,
      meta['nz'],
      _log2(net),
      meta['ngf'],
      norm_layer=norm,
      nl_layer=networks.get_non_linearity(meta['nl']),
      upsample=meta['upsample'],
    )
  # define_D and define_E always use leaky ReLU; the encoders' depth follows the image size as
  # in define_E (resnet_128: 4 blocks, conv_256: 5 layers; the last AvgPool2d(8) sees 8x8).
  lrelu = networks.get_non_linearity('lrelu')
  if meta['kind'] == 'encoder':
    depth = _log2(net) - 3
    common = dict(norm_layer=norm, nl_layer=lrelu, vaeLike=meta['vae_like'])
    if net.startswith('resnet_'):
      return networks.E_ResNet(3, meta['nz'], meta['nef'], n_blocks=depth, **common)
    return networks.E_NLayers(3, meta['nz'], meta['nef'], n_layers=depth, **common)
  n_layers = {'basic_128_multi': 2, 'basic_256_multi': 3}[net]
  return networks.D_NLayersMulti(
    meta['input_nc'], meta['ndf'], n_layers=n_layers, norm_layer=norm, num_D=meta['num_D']
  )


def build_munit(networks, meta):
  params = {k: v for k, v in meta.items() if k not in ('family', 'kind', 'input_dim', 'mode')}
  if meta['kind'] == 'generator':
    return networks.AdaINGen(meta['input_dim'], params)
  return networks.MsImageDis(meta['input_dim'], params)


def build_cut(networks, meta):
  if meta['kind'] == 'patchnce':
    return None  # a loss without parameters: see forward()
  if meta['kind'] == 'patch_sample':
    return networks.PatchSampleF(use_mlp=meta['net'] == 'mlp_sample', nc=meta.get('nc', 256))
  norm = networks.get_norm_layer(meta['norm'])
  net = meta['net']
  if meta['kind'] == 'generator':
    n_blocks = int(net[len('resnet_') : -len('blocks')])
    return networks.ResnetGenerator(
      3,
      3,
      meta['ngf'],
      norm_layer=norm,
      n_blocks=n_blocks,
      no_antialias=meta['no_antialias'],
      no_antialias_up=meta['no_antialias_up'],
    )
  n_layers = 3 if net == 'basic' else meta['n_layers']
  return networks.NLayerDiscriminator(3, meta['ndf'], n_layers, norm_layer=norm)


BUILDERS = {
  'pix2pix_cyclegan': build_pix2pix_cyclegan,
  'bicyclegan': build_bicyclegan,
  'munit': build_munit,
  'cut': build_cut,
}


def _cut_forward(net, meta, inputs, networks) -> dict:
  kind = meta['kind']
  if kind == 'generator':
    feats = net(inputs['x'], list(meta['nce_layers']), encode_only=True)
    return {'y': net(inputs['x']), **{f'feat_{i}': f for i, f in enumerate(feats)}}
  if kind == 'discriminator':
    return {'y': net(inputs['x'])}
  if kind == 'patch_sample':
    feats = [inputs[f'feat_{i}'] for i in range(len(meta['feature_shapes']))]
    ids = [inputs[f'ids_{i}'].numpy() for i in range(len(feats))]
    out, _ = net(feats, meta['num_patches'], ids)
    return {str(i): y for i, y in enumerate(out)}
  # PatchNCELoss per patch, with per-image negatives and with all the batch's, and the
  # gradient of the summed loss with respect to the queries (the keys are detached).
  outputs = {}
  for suffix, everything in (('', False), ('_all_negatives', True)):
    opt = types.SimpleNamespace(
      batch_size=meta['batch_size'],
      nce_T=meta['nce_T'],
      nce_includes_all_negatives_from_minibatch=everything,
    )
    q = inputs['feat_q'].clone().requires_grad_(True)
    with torch.enable_grad():
      loss = networks.patchnce.PatchNCELoss(opt)(q, inputs['feat_k'])
      loss.sum().backward()
    outputs[f'loss{suffix}'] = loss.detach()
    outputs[f'grad_q{suffix}'] = q.grad
  return outputs


def forward(net, meta, inputs, networks=None) -> dict:
  """The fixture's outputs, named as ../shared/parity/README.md says."""
  if meta['family'] == 'cut':
    return _cut_forward(net, meta, inputs, networks)
  x = inputs['x']
  if meta['family'] == 'munit' and meta['kind'] == 'generator':
    content, style = net.encode(x)
    return {
      'content': content,
      'style': style,
      'y_s': net.decode(content, inputs['s']),
      'y_rec': net.decode(content, style),
    }
  if meta['kind'] == 'generator' and 'z' in inputs:
    return {'y': net(x, inputs['z'])}
  y = net(x)
  if meta['kind'] == 'encoder':
    return {'mu': y[0], 'logvar': y[1]}
  if isinstance(y, (list, tuple)):  # multi-scale discriminators, finest scale first
    return {str(i): out for i, out in enumerate(y)}
  return {'y': y}


def randomize(net, generator) -> None:
  """Random weights of unit-scale activations, rounded to float16 (stored exactly)."""
  with torch.no_grad():
    for name, p in net.named_parameters():
      noise = torch.randn(p.shape, generator=generator)
      if p.dim() > 1:  # conv, transposed conv, linear: fan-in scaled
        p.copy_(noise / math.sqrt(p[0].numel()))
      elif name.endswith(('weight', 'gamma')):  # norm scales
        p.copy_(1.0 + 0.2 * noise)
      else:
        p.copy_(0.2 * noise)
    # MUNIT's AdaptiveInstanceNorm2d never reads or changes its buffers: they keep their init
    # (zeros, ones), as in every official checkpoint.
    fixed = tuple(
      f'{prefix}.' for prefix, module in net.named_modules()
      if type(module).__name__ == 'AdaptiveInstanceNorm2d'
    )  # fmt: skip
    for name, b in net.named_buffers():
      if name.startswith(fixed):
        continue
      if name.endswith('running_mean'):
        b.copy_(0.1 * torch.randn(b.shape, generator=generator))
      elif name.endswith('running_var'):
        b.copy_(1.0 + 0.1 * torch.rand(b.shape, generator=generator))
    for t in list(net.parameters()) + list(net.buffers()):
      if t.is_floating_point():
        t.copy_(t.half().float())


def _commit(clone: pathlib.Path) -> str:
  try:
    done = subprocess.run(
      ['git', '-C', str(clone.expanduser()), 'rev-parse', 'HEAD'],
      capture_output=True,
      text=True,
      check=True,
    )
    return done.stdout.strip()
  except (OSError, subprocess.CalledProcessError):
    return 'unknown (not a git clone)'


def _cut_model_stubs():
  if 'util.util' not in sys.modules:
    util = types.ModuleType('util')
    util.__path__ = []
    util.util = types.ModuleType('util.util')
    util.util.str2bool = lambda v: str(v).lower() in ('yes', 'true', 't', 'y', '1')
    sys.modules['util'], sys.modules['util.util'] = util, util.util


def _cut_model(clone: pathlib.Path, meta):
  """The official CUTModel with the options of `meta`, as its train.py builds it.

  cut_model.py imports `util.util` for an option parser helper only; a stand-in keeps the
  import from pulling in the clone's image utilities (PIL, torchvision).
  """
  _cut_model_stubs()
  module = importlib.import_module('official_cut.cut_model')
  fast = meta['CUT_mode'] == 'FastCUT'
  opt = types.SimpleNamespace(
    **{
      k: v
      for k, v in meta.items()
      if k not in ('family', 'kind', 'mode', 'CUT_mode', 'flip_equivariance')
    },
    gpu_ids=[],
    isTrain=True,
    checkpoints_dir=tempfile.mkdtemp(),
    name='fixture',
    input_nc=3,
    output_nc=3,
    n_layers_D=3,
    normG='instance',
    normD='instance',
    init_type='xavier',
    init_gain=0.02,
    no_dropout=True,
    no_antialias=False,
    no_antialias_up=False,
    gan_mode='lsgan',
    beta1=0.5,
    beta2=0.999,
    batch_size=2,
    direction='AtoB',
    lambda_GAN=1.0,
    lambda_NCE=10.0 if fast else 1.0,
    nce_idt=not fast,
    flip_equivariance=meta.get('flip_equivariance', fast),
    nce_includes_all_negatives_from_minibatch=False,
    nce_T=0.07,
    pool_size=0,
    preprocess='none',
  )
  return module.CUTModel(opt)


def _write_step(spec, clone, out, seed, arrays, nets, inputs) -> pathlib.Path:
  """Adds the weights after the iterations, the batch and the provenance to a train-step
  fixture's `arrays` and writes <out>/<name>.npz."""
  for name, net in nets.items():
    for key, p in net.named_parameters():
      arrays[f'out/params/{name}/{key}'] = p.detach().numpy().astype(np.float32)
  arrays.update({f'in/{k}': v.numpy().astype(np.float32) for k, v in inputs.items()})
  repo, relative = REPOS[spec.meta['family']]
  meta = {
    **spec.meta,
    'official': repo,
    'official_commit': _commit(clone),
    'official_networks_sha256': hashlib.sha256(
      (clone.expanduser() / relative).read_bytes()
    ).hexdigest(),
    'seed': seed,
  }
  arrays['meta'] = json.dumps(meta)
  path = out / f'{spec.name}.npz'
  np.savez_compressed(path, **arrays)
  return path


def make_cut_step(spec: Spec, clone: pathlib.Path, out: pathlib.Path, seed: int) -> pathlib.Path:
  """Two official CUT iterations (optimize_parameters) from random weights on one batch.

  Records the nets' weights before (sd/G/..., sd/D/..., sd/F/...), the batch (in/A, in/B),
  every random draw (in/step<s>_flip; in/step<s>_ids_<call>_<layer>: the patch ids of the
  <call>-th PatchNCE of the step, 0 = NCE(X), 1 = NCE(Y)), each step's losses
  (out/step<s>/<loss>), the first step's gradients (out/grad/<net>/<key>, the .grad PyTorch
  leaves) and the weights after both steps (out/params/<net>/<key>).
  """
  generator = torch.Generator().manual_seed(seed)
  torch.manual_seed(seed)
  np.random.seed(seed % 2**32)
  model = _cut_model(clone, spec.meta)
  inputs = {
    k: 2.0 * torch.rand(shape, generator=generator) - 1.0 for k, shape in spec.inputs.items()
  }
  model.data_dependent_initialize(dict(inputs, A_paths='', B_paths=''))  # creates F and its Adam
  nets = {name: getattr(model, f'net{name}') for name in ('G', 'D', 'F')}
  for net in nets.values():
    randomize(net, generator)
  arrays = {}
  for name, net in nets.items():
    for key, value in net.state_dict().items():
      arrays[f'sd/{name}/{key}'] = (
        value.half().numpy() if value.is_floating_point() else value.numpy()
      )
  drawn = []
  sample = nets['F'].forward

  def recording(feats, num_patches=64, patch_ids=None):
    feats_out, ids = sample(feats, num_patches, patch_ids)
    if patch_ids is None:  # the keys' call draws; the queries' call reuses them
      drawn.append([np.asarray(i.cpu()) for i in ids])
    return feats_out, ids

  nets['F'].forward = recording
  model.set_input(dict(inputs, A_paths='', B_paths=''))
  for step in (1, 2):
    drawn.clear()
    model.optimize_parameters()
    arrays[f'in/step{step}_flip'] = np.array(
      bool(getattr(model, 'flipped_for_equivariance', False))
    )
    for call, ids in enumerate(drawn):
      for layer, layer_ids in enumerate(ids):
        arrays[f'in/step{step}_ids_{call}_{layer}'] = layer_ids.astype(np.int64)
    for loss in model.loss_names:
      arrays[f'out/step{step}/{loss}'] = np.float32(float(getattr(model, f'loss_{loss}')))
    if step == 1:
      for name, net in nets.items():
        for key, p in net.named_parameters():
          arrays[f'out/grad/{name}/{key}'] = p.grad.detach().numpy().astype(np.float32)
  return _write_step(spec, clone, out, seed, arrays, nets, inputs)


def _import_from(clone: pathlib.Path, name: str, relative: str):
  """Imports `relative` (a file of the clone) as module `name`."""
  spec = importlib.util.spec_from_file_location(name, clone.expanduser() / relative)
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  return module


class _Recorder:
  """Wraps a function that draws random numbers; keeps what each call returned."""

  def __init__(self, owner, attr):
    self.owner, self.attr, self.calls = owner, attr, []
    self.original = getattr(owner, attr)
    setattr(owner, attr, self)

  def __call__(self, *args, **kwargs):
    out = self.original(*args, **kwargs)
    self.calls.append(out.detach().clone())
    return out

  def restore(self):
    setattr(self.owner, self.attr, self.original)


def _cyclegan_model(clone, meta):
  """CUT's CycleGANModel with the CycleGAN nets (both no_antialias switches), as its train.py
  builds it; (nets, one iteration, the random draws of the last iteration)."""
  load_networks('cut', clone)  # the official_cut package
  if 'util.image_pool' not in sys.modules:
    _cut_model_stubs()
    sys.modules['util.image_pool'] = _import_from(clone, 'util.image_pool', 'util/image_pool.py')
  module = importlib.import_module('official_cut.cycle_gan_model')
  opt = types.SimpleNamespace(
    **{k: v for k, v in meta.items() if k not in ('family', 'kind', 'mode', 'model', 'norm')},
    normG=meta['norm'], normD=meta['norm'], no_antialias=True, no_antialias_up=True,
    no_dropout=True, init_type='normal', init_gain=0.02, n_layers_D=3, input_nc=3, output_nc=3,
    gpu_ids=[], isTrain=True, checkpoints_dir=tempfile.mkdtemp(), name='fixture',
    preprocess='none', beta1=0.5, beta2=0.999, direction='AtoB', amp=False, batch_size=2,
  )  # fmt: skip
  model = module.CycleGANModel(opt)
  nets = {n: getattr(model, f'net{n}') for n in ('G_A', 'G_B', 'D_A', 'D_B')}

  def iterate(inputs):
    model.set_input(dict(inputs, A_paths='', B_paths=''))
    model.optimize_parameters()
    return {n: getattr(model, f'loss_{n}') for n in model.loss_names}, None

  return nets, iterate, lambda: {}


def _bicyclegan_model(clone, meta):
  """BicycleGAN's BiCycleGANModel as its train.py builds it; its z and eps draws recorded."""
  package = 'official_bicyclegan'
  if package not in sys.modules:
    holder = types.ModuleType(package)
    holder.__path__ = [str(clone.expanduser() / 'models')]
    sys.modules[package] = holder
  module = importlib.import_module(f'{package}.bicycle_gan_model')
  opt = types.SimpleNamespace(
    **{k: v for k, v in meta.items() if k not in ('family', 'kind', 'mode', 'model')},
    input_nc=3, output_nc=3, use_dropout=False, init_type='xavier', init_gain=0.02,
    gpu_ids=[], isTrain=True, checkpoints_dir=tempfile.mkdtemp(), name='fixture',
    preprocess='none', beta1=0.5, direction='AtoB', batch_size=2, no_encode=False,
    continue_train=False, epoch='latest', verbose=False,
  )  # fmt: skip
  model = module.BiCycleGANModel(opt)
  nets = {n: getattr(model, f'net{n}') for n in ('G', 'E', 'D', 'D2')}
  recorder = _Recorder(model, 'get_z_random')

  def iterate(inputs):
    recorder.calls.clear()
    model.set_input(dict(inputs, A_paths='', B_paths=''))
    model.optimize_parameters()
    return {n: getattr(model, f'loss_{n}') for n in model.loss_names}, None

  def draws():  # encode() draws eps first, then forward() draws z_random
    eps, z_random = recorder.calls
    return {'eps': eps, 'z_random': z_random}

  return nets, iterate, draws


def _munit_model(clone, meta):
  """MUNIT's MUNIT_Trainer as its train.py drives it (dis_update, then gen_update), on the CPU;
  the styles both updates draw recorded.

  trainer.py imports its utils module for weight init, the lr scheduler and VGG loading; a
  stand-in without them keeps torchvision and the data code out (the weights are drawn here,
  vgg_w is 0, and the scheduler is not stepped within two iterations). Its .cuda() calls are
  made no-ops.
  """
  networks = load_networks('munit', clone)
  sys.modules['networks'] = networks
  utils = types.ModuleType('utils')
  utils.weights_init = lambda kind: lambda m: None
  utils.get_scheduler = lambda optimizer, hyperparameters, iterations=-1: None
  utils.get_model_list = utils.vgg_preprocess = utils.load_vgg16 = None
  sys.modules['utils'] = utils
  torch.Tensor.cuda = lambda self, *args, **kwargs: self
  module = _import_from(clone, 'official_munit_trainer', 'trainer.py')
  hyperparameters = {
    **{k: v for k, v in meta.items() if k not in ('family', 'kind', 'mode', 'model')},
    'input_dim_a': 3, 'input_dim_b': 3, 'display_size': 2, 'vgg_model_path': '',
  }  # fmt: skip
  trainer = module.MUNIT_Trainer(hyperparameters)
  nets = {n: getattr(trainer, n) for n in ('gen_a', 'gen_b', 'dis_a', 'dis_b')}
  recorder = _Recorder(module.torch, 'randn')

  def iterate(inputs):
    recorder.calls.clear()
    trainer.dis_update(inputs['A'], inputs['B'], hyperparameters)
    # gen_update's backward also reaches the discriminators (their gradients are zeroed before
    # their next update only): theirs are the ones dis_update stepped with, taken here.
    grads = {n: _grads(nets[n]) for n in ('dis_a', 'dis_b')}
    trainer.gen_update(inputs['A'], inputs['B'], hyperparameters)
    grads.update({n: _grads(nets[n]) for n in ('gen_a', 'gen_b')})
    losses = {k.removeprefix('loss_'): v for k, v in vars(trainer).items() if k.startswith('loss_')}
    return losses, grads

  def draws():
    dis_a, dis_b, gen_a, gen_b = recorder.calls
    return {'dis_s_a': dis_a, 'dis_s_b': dis_b, 'gen_s_a': gen_a, 'gen_s_b': gen_b}

  return nets, iterate, draws


def _grads(net) -> dict:
  return {
    key: p.grad.detach().numpy().astype(np.float32)
    for key, p in net.named_parameters()
    if p.grad is not None
  }


MODEL_STEPS = {
  'cycle_gan': _cyclegan_model,
  'bicycle_gan': _bicyclegan_model,
  'munit': _munit_model,
}


def _smooth(shape, generator):
  """Images in [-1, 1] of 4x4-pixel blocks, in steps of 1/8: large images compress small."""
  n, c, h, w = shape
  coarse = torch.randint(0, 17, (n, c, -(-h // 4), -(-w // 4)), generator=generator) / 8.0 - 1.0
  return coarse.repeat_interleave(4, 2).repeat_interleave(4, 3)[:, :, :h, :w].contiguous()


def make_model_step(spec: Spec, clone: pathlib.Path, out: pathlib.Path, seed: int) -> pathlib.Path:
  """Two official iterations of CycleGAN, BicycleGAN or MUNIT from random weights on one batch.

  The keys of make_cut_step: sd/<net>/<key> (float16-exact weights), in/A, in/B, each step's
  random draws (in/step<s>_<name>: BicycleGAN's eps and z_random, MUNIT's dis_s_a, dis_s_b,
  gen_s_a, gen_s_b), out/step<s>/<loss> (the official loss_* members), the first step's
  gradients (out/grad/<net>/<key>) and the weights after both steps (out/params/<net>/<key>).
  Dropout is off; batch statistics do not arise (instance norm, MUNIT's unnormalised Ds).
  """
  generator = torch.Generator().manual_seed(seed)
  torch.manual_seed(seed)
  np.random.seed(seed % 2**32)
  nets, iterate, draws = MODEL_STEPS[spec.meta['model']](clone, spec.meta)
  for net in nets.values():
    randomize(net, generator)
    net.train()
  arrays = {}
  for name, net in nets.items():
    for key, value in net.state_dict().items():
      arrays[f'sd/{name}/{key}'] = (
        value.half().numpy() if value.is_floating_point() else value.numpy()
      )
  inputs = {k: _smooth(shape, generator) for k, shape in spec.inputs.items()}
  for step in (1, 2):
    losses, grads = iterate(inputs)
    for name, value in draws().items():
      arrays[f'in/step{step}_{name}'] = value.numpy().astype(np.float32)
    for loss, value in losses.items():
      arrays[f'out/step{step}/{loss}'] = np.float32(float(torch.as_tensor(value).detach()))
    if step == 1:  # the gradients each optimizer stepped with
      grads = grads or {name: _grads(net) for name, net in nets.items()}
      for name, net_grads in grads.items():
        arrays.update({f'out/grad/{name}/{key}': g for key, g in net_grads.items()})
  return _write_step(spec, clone, out, seed, arrays, nets, inputs)


def make(spec: Spec, networks, clone: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
  """Builds, randomizes and runs one network; writes <out>/<name>.npz."""
  seed = zlib.crc32(spec.name.encode())  # stable across runs and Python versions
  if spec.meta['kind'] == 'train_step' and 'model' in spec.meta:
    return make_model_step(spec, clone, out, seed)
  if spec.meta['kind'] == 'train_step':
    return make_cut_step(spec, clone, out, seed)
  generator = torch.Generator().manual_seed(seed)
  torch.manual_seed(seed)
  net = BUILDERS[spec.meta['family']](networks, spec.meta)
  inputs = {}
  for name, shape in spec.inputs.items():
    if name == 'x':
      inputs[name] = 2.0 * torch.rand(shape, generator=generator) - 1.0
    else:  # z, s: codes from the prior N(0, 1); CUT's features
      inputs[name] = torch.randn(shape, generator=generator)
  if spec.meta['kind'] == 'patchnce':  # PatchSampleF's outputs are unit vectors
    for name in ('feat_q', 'feat_k'):
      inputs[name] = inputs[name] / inputs[name].norm(dim=1, keepdim=True)
  if spec.meta['kind'] == 'patch_sample':
    # The same positions for every image and for queries and keys, as PatchSampleF draws them.
    for i, (_, size) in enumerate(spec.meta['feature_shapes']):
      perm = torch.randperm(size * size, generator=generator)
      inputs[f'ids_{i}'] = perm[: min(spec.meta['num_patches'], size * size)]
    feats = [inputs[f'feat_{i}'] for i in range(len(spec.meta['feature_shapes']))]
    net(feats, spec.meta['num_patches'], None)  # creates the MLPs (the official lazy init)
  state_dict = {}
  if net is not None:
    randomize(net, generator)
    net.train()  # batch norm on the batch's statistics; no fixture has dropout
    state_dict = {k: v.detach().clone() for k, v in net.state_dict().items()}
  with torch.no_grad():
    outputs = forward(net, spec.meta, inputs, networks)
  repo, relative = REPOS[spec.meta['family']]
  source = (clone.expanduser() / relative).read_bytes()
  meta = {
    **spec.meta,
    'official': repo,
    'official_commit': _commit(clone),
    'official_networks_sha256': hashlib.sha256(source).hexdigest(),
    'seed': seed,
  }
  arrays = {'meta': json.dumps(meta)}
  for key, value in state_dict.items():
    arrays[f'sd/{key}'] = value.half().numpy() if value.is_floating_point() else value.numpy()
  for k, v in inputs.items():  # patch ids stay integers
    arrays[f'in/{k}'] = v.numpy() if k.startswith('ids_') else v.numpy().astype(np.float32)
  arrays.update({f'out/{k}': v.numpy().astype(np.float32) for k, v in outputs.items()})
  path = out / f'{spec.name}.npz'
  np.savez_compressed(path, **arrays)
  return path


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  for family, (repo, _) in REPOS.items():
    parser.add_argument(f'--{family}', type=pathlib.Path, help=f'a clone of {repo}')
  parser.add_argument('--set', choices=sorted(SETS), default='small')
  parser.add_argument('--out', type=pathlib.Path, default=ROOT / 'tests' / 'data' / 'parity')
  parser.add_argument('--only', nargs='*', help='make only these fixtures (file stems)')
  args = parser.parse_args(argv)
  if torch is None:
    sys.exit("make_parity_fixtures: needs PyTorch, the extra 'jaxgan[torch]' (pip install torch)")
  clones = {f: getattr(args, f) for f in REPOS if getattr(args, f) is not None}
  if not clones:
    parser.error('give at least one clone: ' + ', '.join(f'--{f}' for f in REPOS))
  args.out.mkdir(parents=True, exist_ok=True)
  for family, clone in clones.items():
    networks = load_networks(family, clone)
    for spec in SETS[args.set]:
      if spec.meta['family'] == family and (not args.only or spec.name in args.only):
        path = make(spec, networks, clone, args.out)
        print(f'{path}  {path.stat().st_size / 1024:.0f} KiB')


if __name__ == '__main__':
  main()
