"""tfds: our `pix2pix` builder (tfds' own builder test) and build() over tfds sources."""

from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds
from data_fixtures import ab_pair, write_pix2pix_archive
from PIL import Image

from configs import common
from jaxgan import data as jdata
from jaxgan import errors
from jaxgan.data import pixels


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  """A tfds data_dir with pix2pix/facades and cycle_gan/horse2zebra prepared from fake files."""
  from jaxgan.data import pix2pix_tfds  # noqa: F401  registers 'pix2pix'

  tfds.disable_progress_bar()
  root = tmp_path_factory.mktemp('tfds')
  pix2pix_archive = write_pix2pix_archive(root / 'pix2pix_archive')
  cycle_archive = root / 'cycle_archive'
  for domain, n in (('trainA', 3), ('trainB', 2), ('testA', 2), ('testB', 3)):
    (cycle_archive / 'horse2zebra' / domain).mkdir(parents=True)
    for i in range(n):
      image = np.random.default_rng([7, i, len(domain)]).integers(0, 256, (16, 16, 3))
      path = cycle_archive / 'horse2zebra' / domain / f'{domain}_{i}.jpg'
      Image.fromarray(image.astype(np.uint8)).save(path, quality=90)
  archives = {'pix2pix': pix2pix_archive, 'cycle_gan': cycle_archive}
  for name in ('pix2pix/facades', 'cycle_gan/horse2zebra'):
    extracted = archives[name.split('/')[0]]
    with mock.patch.object(
      tfds.download.DownloadManager, 'download_and_extract', lambda self, url, p=extracted: p
    ):
      tfds.builder(name, data_dir=str(root / 'data')).download_and_prepare()
  return root


def _config(data_dir, name, mode, **overrides):
  config = common.get_config()
  config.batch_size = 2
  data = config.data
  data.source = 'tfds'
  data.tfds_name = name
  data.tfds_data_dir = str(data_dir / 'data')
  data.dataset_mode = mode
  data.preprocess = 'crop'
  data.crop_size = 8
  data.num_parallel_calls = 1
  data.update(overrides)
  return config


def _build(config, split, train, **kwargs):
  return jdata.build(config, split, train=train, process_index=0, process_count=1, **kwargs)


def test_pix2pix_source_pairs_and_eval_paths(data_dir):
  config = _config(data_dir, 'pix2pix/facades', 'aligned')
  dataset = _build(config, 'train', True)
  assert (dataset.num_examples, dataset.steps_per_epoch) == (3, 2)
  batches = dataset.batches()
  for _ in range(4):
    batch = next(batches)
    assert batch['A'].shape == (2, 8, 8, 3)
    # Shared crop and flip: B = 255 - A maps to -A up to one float32 rounding (official maths).
    np.testing.assert_allclose(batch['A'], -batch['B'], rtol=0, atol=2**-23)

  config.data.preprocess = 'none'
  dataset = _build(config, 'val', False)
  (batch,) = list(dataset.batches())
  assert list(batch['A_paths']) == [b'facades/val/1.png', b'facades/val/2.png']
  # Pixels as PIL splits the side-by-side image (official AlignedDataset), no preprocessing.
  np.testing.assert_array_equal(batch['A'][0], pixels.normalize(ab_pair(3)[:, :16]))


def test_cycle_gan_source_unaligned_decodes_as_pil(data_dir):
  config = _config(data_dir, 'cycle_gan/horse2zebra', 'unaligned', preprocess='none')
  dataset = _build(config, 'test', False)
  assert dataset.num_examples == 3
  (a, b) = list(dataset.batches())
  assert list(a['A_paths']) + list(b['A_paths']) == [
    b'cycle_gan/horse2zebra/testA/00000',
    b'cycle_gan/horse2zebra/testA/00001',
    b'',
    b'',
  ]
  assert all(p for p in list(a['B_paths']) + list(b['B_paths'])[:1])
  folder = data_dir / 'cycle_archive' / 'horse2zebra' / 'testA'
  want = [np.asarray(Image.open(p).convert('RGB')) for p in sorted(folder.glob('*.jpg'))]
  for image in a['A']:
    got = np.round(image * 127.5 + 127.5).astype(np.uint8)
    assert any(np.array_equal(got, w) for w in want)  # exact: PIL's JPEG decoding

  config.data.preprocess = 'crop'
  dataset = _build(config, 'train', True)
  assert (dataset.num_examples, dataset.steps_per_epoch) == (3, 2)
  batch = next(dataset.batches())
  assert batch['A'].shape == batch['B'].shape == (2, 8, 8, 3)


def test_single_mode_reads_the_direction_s_input_domain(data_dir):
  config = _config(data_dir, 'cycle_gan/horse2zebra', 'single', direction='BtoA')
  dataset = _build(config, 'test', False, batch_size=3)
  (batch,) = list(dataset.batches())
  assert set(batch) == {'A', 'A_paths'}
  assert batch['A_paths'][0] == b'cycle_gan/horse2zebra/testB/00000'


@pytest.mark.parametrize(
  'name,mode,error,match',
  [
    ('imagenet2012', 'aligned', errors.ConfigError, "'imagenet2012' is not supported"),
    ('pix2pix/cityscapes', 'aligned', errors.ConfigError, 'pix2pix has edges2handbags, '),
    ('cycle_gan/horse2zebra', 'aligned', errors.ConfigError, "is unpaired; use dataset_mode 'un"),
  ],
)
def test_bad_tfds_options(data_dir, name, mode, error, match):
  with pytest.raises(error, match=match):
    _build(_config(data_dir, name, mode), 'train', True)


def test_missing_split(data_dir):
  with pytest.raises(errors.InputError, match="pix2pix/facades: no split 'valid'; it has test"):
    _build(_config(data_dir, 'pix2pix/facades', 'aligned'), 'valid', False)


def test_unprepared_dataset_without_network(data_dir, tmp_path):
  def offline(self, url):
    raise OSError(f'cannot reach {url}')

  config = _config(data_dir, 'pix2pix/maps', 'aligned', tfds_data_dir=str(tmp_path))
  with mock.patch.object(tfds.download.DownloadManager, 'download_and_extract', offline):
    with pytest.raises(errors.InputError, match=r'pix2pix/maps: not prepared in .*cannot reach'):
      _build(config, 'train', True)
