"""Every config loads (full and tiny), states the official settings, and builds its model."""

import importlib
import pathlib
import sys

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

CONFIGS = sorted(
  p.stem for p in (ROOT / 'configs').glob('*.py') if p.stem not in ('__init__', 'common', 'tiny')
)


def _load(name, arg=None):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def test_all_configs_are_listed():
  assert set(CONFIGS) >= {
    'pix2pix_facades',
    'pix2pix_maps',
    'pix2pix_edges2shoes',
    'pix2pix_shapes',
    'cyclegan_horse2zebra',
    'cyclegan_monet2photo',
    'cyclegan_summer2winter_yosemite',
    'cyclegan_shapes',
  }


@pytest.mark.parametrize('name', CONFIGS)
def test_config_loads_and_names_its_model(name):
  config = _load(name)
  assert config.model == name.split('_')[0]
  if config.model in ('pix2pix', 'bicyclegan'):
    assert config.data.dataset_mode == 'aligned' and config.netG.startswith('unet_')
  elif config.model == 'munit':  # its own nets: config.gen / config.dis
    assert config.data.dataset_mode == 'unaligned' and config.gen.n_res >= 1
  else:
    assert config.data.dataset_mode == 'unaligned'
    # The built-in task's one switch from the official nets: see configs/cyclegan_shapes.py.
    assert config.netG.startswith('unet_' if name == 'cyclegan_shapes' else 'resnet_')


def test_pix2pix_facades_is_the_official_script():
  c = _load('pix2pix_facades')
  assert (c.netG, c.norm, c.gan_mode, c.no_dropout) == ('unet_256', 'batch', 'vanilla', False)
  assert (c.lambda_L1, c.pool_size, c.batch_size) == (100.0, 0, 1)
  assert (c.data.direction, c.data.load_size, c.data.crop_size) == ('BtoA', 286, 256)
  assert (c.n_epochs, c.n_epochs_decay, c.lr, c.beta1) == (100, 100, 2e-4, 0.5)
  assert c.data.source == 'folder' and c.data.dataroot == './datasets/facades'


def test_edges2shoes_and_maps():
  shoes = _load('pix2pix_edges2shoes')
  assert (shoes.batch_size, shoes.n_epochs + shoes.n_epochs_decay) == (4, 15)
  assert shoes.data.direction == 'AtoB'
  maps = _load('pix2pix_maps')
  assert (maps.batch_size, maps.n_epochs + maps.n_epochs_decay) == (1, 200)
  assert maps.data.dataroot == './datasets/maps'


@pytest.mark.parametrize(
  'name,dataset',
  [
    ('cyclegan_horse2zebra', 'horse2zebra'),
    ('cyclegan_monet2photo', 'monet2photo'),
    ('cyclegan_summer2winter_yosemite', 'summer2winter_yosemite'),
  ],
)
def test_cyclegan_configs_are_the_official_defaults(name, dataset):
  c = _load(name)
  assert (c.netG, c.norm, c.gan_mode, c.no_dropout) == ('resnet_9blocks', 'instance', 'lsgan', True)
  assert (c.pool_size, c.lambda_A, c.lambda_B, c.lambda_identity) == (50, 10.0, 10.0, 0.5)
  assert (c.batch_size, c.n_epochs, c.n_epochs_decay) == (1, 100, 100)
  assert c.data.dataroot == f'./datasets/{dataset}'
  assert c.data.tfds_name == f'cycle_gan/{dataset}'


@pytest.mark.parametrize('name', CONFIGS)
def test_tiny_variant_is_tiny_and_builds(name):
  config = _load(name, 'tiny')
  assert config.data.source == 'synthetic' and config.data.synthetic_size == 32
  assert max(config.ngf, config.ndf) <= 8 and config.num_steps <= 10
  from jaxgan import models

  model = models.get(config.model)
  state = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(0), 8))
  assert set(state.params) == set(model.NETS)


def test_unknown_variant_fails():
  with pytest.raises(ValueError, match='unknown config variant'):
    _load('pix2pix_shapes', 'huge')


def test_docs_config_md_lists_every_key_as_the_tool_writes_it():
  import importlib.util  # noqa: PLC0415

  path = pathlib.Path(__file__).resolve().parents[1] / 'tools' / 'config_keys.py'
  spec = importlib.util.spec_from_file_location('config_keys', path)
  tool = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(tool)
  doc = (path.parents[1] / 'docs' / 'config.md').read_text()
  assert doc == tool.render(), (
    'docs/config.md is stale: python tools/config_keys.py > docs/config.md'
  )
  for key in tool.keys():
    assert f'| `{key}` |' in doc, key
  undescribed = [line for line in doc.splitlines() if line.endswith('|  |')]
  assert not undescribed, undescribed
