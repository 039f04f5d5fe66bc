"""Writes docs/config.md: every config key of every model, its default and what it does.

  python tools/config_keys.py > docs/config.md

The defaults come from each model's default config (models.default_config); the descriptions
from the comments beside (or just above) the keys' assignments in configs/common.py and the
model's config file. tests/test_configs.py checks that the file is what this prints.
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import common  # noqa: E402
from jaxgan import models  # noqa: E402

# What the official options mean, for keys whose assignment carries no comment.
OFFICIAL = {
  'model': 'which model: pix2pix | cyclegan | bicyclegan | munit | cut',
  'name': "the experiment's name (page titles, sample grids)",
  'seed': 'seeds the nets, the data order and every random draw of the run',
  'lr': "Adam's initial learning rate (official --lr)",
  'netG': 'generator: resnet_9blocks | resnet_6blocks | unet_256 | unet_128 | unet_<N>',
  'nz': 'BicycleGAN: length of the latent code z',
  'beta1': "Adam's first-moment decay",
  'beta2': "Adam's second-moment decay",
  'epoch_count': 'the epoch the linear policy counts from (official --epoch_count)',
  'n_epochs': 'epochs at the initial learning rate',
  'n_epochs_decay': 'epochs of linear decay to zero after n_epochs',
  'keep_checkpoints': 'how many of the newest checkpoints are kept (0: all)',
  'eval_every': 'score the held-out split every N steps while training (0: never)',
  'keep_best': "the score whose best state is kept in <workdir>/best ('AtoB/fid', 'fid', ...)",
  'eval.fid_on_builtin': 'FID/KID during training also on the built-in sets',
  'ngf': 'generator filters in the last conv layer (official --ngf)',
  'ndf': 'discriminator filters in the first conv layer (official --ndf)',
  'nef': 'encoder filters in the first conv layer (official --nef)',
  'n_layers_D': "netD 'n_layers': the PatchGAN's conv layers",
  'norm': 'instance | batch | none',
  'init_type': 'normal | xavier | kaiming | orthogonal',
  'init_gain': 'scale of normal, xavier and orthogonal inits',
  'netD': 'discriminator architecture',
  'netD2': "the second discriminator's architecture (cLR-GAN branch)",
  'num_Ds': 'scales of the multi-scale discriminators',
  'no_dropout': 'no dropout in the generator (official --no_dropout)',
  'pool_size': 'image buffer of generated images for D (0: none)',
  'lambda_A': 'weight of the cycle loss A -> B -> A',
  'lambda_B': 'weight of the cycle loss B -> A -> B',
  'lambda_identity': 'identity loss weight, relative to lambda_A / lambda_B',
  'lambda_L1': 'weight of the L1 loss',
  'data.dataroot': 'the dataset folder (official layouts: train/, trainA/ ...)',
  'data.load_size': 'scale images to this size before cropping',
  'data.crop_size': 'then crop to this size',
  'data.no_flip': 'no random horizontal flips',
  'data.input_nc': "channels of the model's input domain (1 gray, 3 RGB)",
  'data.output_nc': "channels of the model's output domain (1 gray, 3 RGB)",
  'data.shuffle_buffer': 'tfds sources: shuffle buffer in examples',
  'data.synthetic_test': 'images per domain in the built-in test split',
  'data.synthetic_seed': 'seed of the built-in sets',
  'data.tfds_name': "the tensorflow-datasets builder, with data.source 'tfds'",
  'eval.batch_size': "eval.py's batch (results do not depend on it)",
  'eval.lpips_net': 'LPIPS backbone of the diversity score: alex | vgg',
  'eval.lpips_version': 'LPIPS heads of the diversity score: 0.0 | 0.1',
  'eval.n_samples': 'BicycleGAN: random-z samples per input',
  'eval.sync': 'BicycleGAN: the same z for every input',
  'eval.no_encode': 'BicycleGAN: no encoded output (z = mu of E(B))',
  'eval.style': 'MUNIT: an example image whose style every translation takes',
  'eval.style_domain': 'MUNIT: the domain (A | B) of eval.style',
  'weight_decay': "Adam's L2 weight decay (MUNIT)",
  'step_size': 'MUNIT: iterations between lr x gamma',
  'gamma': 'MUNIT: the step policy factor',
  'gan_w': 'MUNIT: weight of the adversarial losses',
  'recon_x_w': 'MUNIT: weight of the image reconstruction loss',
  'recon_s_w': 'MUNIT: weight of the style reconstruction loss',
  'recon_c_w': 'MUNIT: weight of the content reconstruction loss',
  'recon_x_cyc_w': 'MUNIT: weight of the explicit cycle loss',
  'vgg_w': 'MUNIT: weight of the perceptual (VGG16) loss',
  'vgg_weights': 'MUNIT: a VGG16 weight file (default: looked for as the metrics weights are)',
  'gen.dim': 'MUNIT: filters of the first conv layer of the auto-encoders',
  'gen.mlp_dim': "MUNIT: width of the MLP that maps the style to AdaIN's parameters",
  'gen.style_dim': 'MUNIT: length of the style code',
  'gen.activ': 'MUNIT: activation of the auto-encoders',
  'gen.n_downsample': 'MUNIT: stride-2 convolutions of the content encoder',
  'gen.n_res': 'MUNIT: residual blocks of the content encoder and decoder',
  'gen.pad_type': 'MUNIT: padding of the auto-encoders: reflect | replicate | zero',
  'dis.dim': 'MUNIT: filters of the first conv layer of the discriminators',
  'dis.norm': 'MUNIT: norm of the discriminators',
  'dis.activ': 'MUNIT: activation of the discriminators',
  'dis.n_layer': 'MUNIT: conv layers of each scale',
  'dis.gan_type': 'MUNIT: lsgan | nsgan',
  'dis.num_scales': 'MUNIT: scales of the multi-scale discriminator',
  'dis.pad_type': 'MUNIT: padding of the discriminators',
  'use_same_D': 'BicycleGAN: one D for both branches',
  'conditional_D': 'BicycleGAN: D sees the input A too',
}

# `config.x = ...`, `config.eval.x = ...`, `data.x = ...` (common.get_data_config's local).
_ASSIGN = re.compile(r'^\s*(config(?:\.\w+)*|data)\.(\w+)\s*=\s*(.*)$')


def _comment(code):
  """The comment at the end of a line of code (outside string literals), or ''."""
  quote = None
  for i, char in enumerate(code):
    if quote:
      quote = None if char == quote else quote
    elif char in '\'"':
      quote = char
    elif char == '#':
      return code[i + 1 :].strip()
  return ''


def descriptions(path):
  """{dotted key: comment} of a config file's assignments: the comment at the end of the line,
  else the comment lines just above it, unless they open a section (a blank line, a `def` or a
  docstring before them: 'Networks (...)', 'Objectives.' head a group, not one key); not in
  the variants' functions (shrink)."""
  out, above, previous, function = {}, [], '', None
  for line in path.read_text().splitlines():
    stripped = line.strip()
    if line.startswith('def '):
      function = line[4:].split('(')[0]
    # Not a variant's assignments (shrink: the tiny variant): they describe the variant.
    if function == 'shrink':
      previous, above = stripped, []
      continue
    if stripped.startswith('#'):
      if not above and (not previous or previous.startswith('def ') or previous.endswith('"""')):
        above = [None]  # a section heading: describes no single key
      elif above != [None]:
        above.append(stripped.lstrip('#').strip())
      previous = stripped
      continue
    previous = stripped
    match = _ASSIGN.match(line)
    if match:
      owner, key, rest = match.groups()
      prefix = 'data.' if owner == 'data' else owner.removeprefix('config').lstrip('.')
      prefix = f'{prefix}.' if prefix and not prefix.endswith('.') else prefix
      text = _comment(rest) or ('' if above == [None] else ' '.join(above))
      if text:
        out.setdefault(f'{prefix}{key}', text)
    above = []
  return out


# Keys the shared training loop (train_lib) reads for every model, whatever its step reads.
LOOP_KEYS = {
  'model', 'name', 'seed', 'batch_size', 'compute_dtype', 'remat', 'init_from', 'num_steps',
  'n_epochs', 'n_epochs_decay', 'log_every', 'sample_every', 'checkpoint_every',
  'keep_checkpoints', 'allow_config_change', 'num_samples', 'eval_every', 'keep_best',
}  # fmt: skip


def read_keys(name):
  """The top-level and gen./dis. keys model `name`'s create and train step read, traced (no
  compile) on its default config's tiny variant: every ConfigDict lookup is recorded, except
  the whole-config copies (freezing, comparing) that read every key."""
  import importlib  # noqa: PLC0415

  import jax  # noqa: PLC0415
  import numpy as np  # noqa: PLC0415
  from ml_collections.config_dict import config_dict as cd  # noqa: PLC0415

  model = models.get(name)
  module = importlib.import_module(f'configs.{models.default_config(name).removesuffix(".py")}')
  config = module.get_config('tiny')
  sections = {}

  def index(node, prefix=''):
    sections[frozenset(node.keys())] = prefix
    for key, value in node.items():
      if isinstance(value, cd.ConfigDict):
        index(value, f'{prefix}{key}.')

  index(config)
  seen, recording = set(), [False]
  original = cd.ConfigDict.__getitem__

  def getitem(self, key):
    if recording[0] and isinstance(key, str) and '.' not in key:
      prefix = sections.get(frozenset(self._fields))
      if prefix is not None:
        seen.add(prefix + key)
    return original(self, key)

  def paused(method):
    def run(*args, **kwargs):
      was, recording[0] = recording[0], False
      try:
        return method(*args, **kwargs)
      finally:
        recording[0] = was

    return run

  wholes = [
    (cls, name)
    for cls in (cd.ConfigDict, cd.FrozenConfigDict)
    for name in (
      '__init__',
      'items',
      'values',
      'to_dict',
      'copy_and_resolve_references',
      '__deepcopy__',
      '__eq__',
      '__hash__',
    )  # fmt: skip
    if name in cls.__dict__ and not (cls is cd.ConfigDict and name == '__init__')
  ]
  saved = {(cls, n): cls.__dict__[n] for cls, n in wholes}
  cd.ConfigDict.__getitem__ = getitem
  for (cls, n), method in saved.items():
    setattr(cls, n, paused(method))
  try:
    recording[0] = True
    state = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(0), 10))
    d = config.data
    size = d.synthetic_size if d.source == 'synthetic' else d.crop_size
    batch = {
      k: np.zeros((config.batch_size, size, size, nc), np.float32)
      for k, nc in (('A', d.input_nc), ('B', d.output_nc))
    }
    jax.eval_shape(model.train_step, state, batch)
  finally:
    recording[0] = False
    cd.ConfigDict.__getitem__ = original
    for (cls, n), method in saved.items():
      setattr(cls, n, method)
  return seen


def unread_keys():
  """{model: keys of its default config that it never reads but another model does}: the
  other models' options, shown apart so that no one tunes a key that changes nothing."""
  read = {name: read_keys(name) for name in models.names()}
  out = {}
  for name in models.names():
    others = set().union(*(keys for other, keys in read.items() if other != name))
    out[name] = {
      k for k in others - read[name] - LOOP_KEYS if '.' not in k or k[:4] in ('gen.', 'dis.')
    }
  return out


def _flat(config, prefix=''):
  for key, value in config.items():
    if hasattr(value, 'items'):
      yield from _flat(value, f'{prefix}{key}.')
    else:
      yield f'{prefix}{key}', value


def _cell(text):
  return str(text).replace('|', '\\|')


def render():
  """The markdown of docs/config.md."""
  import importlib  # noqa: PLC0415

  lines = [
    '# Config keys',
    '',
    'Every key can be set on the command line as `--config.<key>=<value>` (train.py,',
    'benchmark.py; eval.py and export.py on a workdir take the `data.*` and `eval.*` keys). The',
    "defaults are those of each model's default config (`--model=<name>` without `--config`);",
    'the other configs in `configs/` change some of them. Written by',
    '`python tools/config_keys.py > docs/config.md`.',
  ]
  shared = descriptions(ROOT / 'configs' / 'common.py')
  unread = unread_keys()
  seen = set()
  for model in models.names():
    file = models.default_config(model)
    if file in seen:
      continue
    seen.add(file)
    module = importlib.import_module(f'configs.{file.removesuffix(".py")}')
    config = module.get_config()
    notes = {**OFFICIAL, **shared, **descriptions(ROOT / 'configs' / file)}
    lines += [
      '',
      f'## {model} (`configs/{file}`)',
      '',
      '| key | default | |',
      '| --- | --- | --- |',
    ]
    skipped = []
    for key, value in _flat(config):
      if key in unread[model]:
        skipped.append(key)
        continue
      lines.append(f'| `{key}` | `{_cell(repr(value))}` | {_cell(notes.get(key, ""))} |')
    if skipped:
      lines += [
        '',
        f'Also in this config, for the other models; {model} does not read them: '
        + ', '.join(f'`{k}`' for k in skipped)
        + '.',
      ]
  return '\n'.join(lines) + '\n'


def keys():
  """Every key of every model's default config (what the doc must list)."""
  import importlib  # noqa: PLC0415

  out = set(dict(_flat(common.get_config())))
  for file in {models.default_config(m) for m in models.names()}:
    module = importlib.import_module(f'configs.{file.removesuffix(".py")}')
    out |= set(dict(_flat(module.get_config())))
  return out


if __name__ == '__main__':
  sys.stdout.write(render())
