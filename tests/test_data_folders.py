"""build() on image folders in the official layouts: pairing, order, sharding, seeds, errors.

The generated images encode what a test needs to see in their pixels: red = the image's index,
green = 8 * column (so a flip or a crop shows), blue = 8 * row; the B half of an aligned image
is 255 - A, so in [-1, 1] a correctly paired, identically transformed B is exactly -A.
"""

import re

import numpy as np
import pytest
from PIL import Image

from configs import common
from jaxgan import data as jdata
from jaxgan import errors
from jaxgan.data import folders, pixels

H, W = 20, 24  # each half of an aligned image


def _image(index, height=H, width=W):
  y, x = np.mgrid[:height, :width]
  red = np.full_like(x, 10 * index + 5)
  return np.stack([red, 8 * x, 8 * y], axis=-1).astype(np.uint8)


def _index(batch_image):
  """Image index from a batch image in [-1, 1] (its red channel)."""
  red = np.round((batch_image[..., 0] + 1) * 127.5)
  return int(round((red.mean() - 5) / 10))


def _flipped(batch_image):
  green = batch_image[..., 1]
  return bool(green[:, 0].mean() > green[:, -1].mean())


def _write(path, array):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(array).save(path)
  return str(path)


@pytest.fixture(scope='module')
def root(tmp_path_factory):
  root = tmp_path_factory.mktemp('datasets')
  for split, n in (('train', 5), ('test', 3)):
    for i in range(n):
      a = _image(i)
      _write(root / 'aligned' / split / f'{i}.png', np.concatenate([a, 255 - a], axis=1))
  for domain, n in (('trainA', 3), ('trainB', 5), ('testA', 2), ('testB', 3)):
    offset = 0 if domain.endswith('A') else 10
    for i in range(n):
      _write(root / 'unaligned' / domain / f'{i}.png', _image(i + offset))
  for i in range(4):
    _write(root / 'single' / 'sub' / f'{i}.png', _image(i))
  (root / 'single' / 'notes.txt').write_text('not an image')
  return root


def _config(root, mode='aligned', **overrides):
  config = common.get_config()
  config.batch_size = 2
  data = config.data
  data.source = 'folder'
  data.dataroot = str(root / mode)
  data.dataset_mode = mode
  data.preprocess = 'crop'
  data.crop_size = 16
  data.num_parallel_calls = 1
  data.update(overrides)
  return config


def _examples(dataset, n):
  """The first n examples of a stream, as a list of dicts of single images."""
  out = []
  for batch in dataset.batches():
    for i in range(dataset.batch_size):
      out.append({k: v[i] for k, v in batch.items()})
      if len(out) == n:
        return out
  return out


def _build(config, split='train', train=True, **kwargs):
  kwargs.setdefault('process_index', 0)
  kwargs.setdefault('process_count', 1)
  return jdata.build(config, split, train=train, **kwargs)


def test_aligned_pairs_share_crop_and_flip_non_square(root):
  config = _config(root, crop_width=12)
  dataset = _build(config)
  assert (dataset.num_examples, dataset.steps_per_epoch, dataset.batch_size) == (5, 3, 2)
  examples = _examples(dataset, 30)
  for ex in examples:
    assert ex['A'].shape == (16, 12, 3) and ex['B'].shape == (16, 12, 3)
    assert ex['A'].dtype == np.float32
    # Same image, same crop, same flip: B = 255 - A, which the official normalisation maps to
    # -A up to one float32 rounding (6e-8); another crop or flip would differ by 1e-2 or more.
    np.testing.assert_allclose(ex['A'], -ex['B'], rtol=0, atol=2**-23)
  flips = [_flipped(ex['A']) for ex in examples]
  assert 5 < sum(flips) < 25
  # Every crop position of the 24 px wide half, 13 of them, comes up.
  left_columns = {
    int(round((ex['A'][0, -1 if f else 0, 1] + 1) * 127.5)) // 8
    for ex, f in zip(examples, flips, strict=True)
  }
  assert len(left_columns) >= 8 and left_columns <= set(range(13))
  # Each epoch visits every image once, in a fresh order.
  epochs = [[_index(ex['A']) for ex in examples[i : i + 5]] for i in (0, 5, 10)]
  assert all(sorted(e) == list(range(5)) for e in epochs)
  assert len({tuple(e) for e in epochs}) > 1


def test_aligned_resize_and_crop_keeps_pairs(root):
  config = _config(root, preprocess='resize_and_crop', load_size=28, crop_size=16)
  for ex in _examples(_build(config), 4):
    assert ex['A'].shape == (16, 16, 3)
    # Bicubic of 255 - x is 255 - bicubic(x) up to rounding.
    np.testing.assert_allclose(ex['A'], -ex['B'], atol=1.01 / 127.5)


@pytest.fixture(scope='module')
def unaligned_stream(root):
  """The first 40 training examples of the unaligned folders, seed 7."""
  dataset = _build(_config(root, 'unaligned'), seed=7)
  assert (dataset.num_examples, dataset.steps_per_epoch) == (5, 3)  # max(3, 5), official
  return _examples(dataset, 40)


def test_unaligned_draws_b_at_random_and_transforms_independently(unaligned_stream):
  examples = unaligned_stream
  # Epoch of 5 = a permutation of range(5) taken modulo |A| = 3: counts 2, 2, 1.
  first = [_index(ex['A']) for ex in examples[:5]]
  assert sorted(np.bincount(first, minlength=3)) == [1, 2, 2]
  b = [_index(ex['B']) - 10 for ex in examples]
  assert set(b) <= set(range(5)) and len(set(b)) == 5
  assert any(b[i : i + 5] != list(range(5)) for i in range(0, 40, 5))
  flips = [(_flipped(ex['A']), _flipped(ex['B'])) for ex in examples]
  assert {(True, False), (False, True)} <= set(flips)  # not shared, unlike aligned


def test_serial_batches_take_both_domains_in_order(root):
  config = _config(root, 'unaligned', serial_batches=True, no_flip=True)
  examples = _examples(_build(config), 7)
  assert [_index(ex['A']) for ex in examples] == [0, 1, 2, 0, 1, 0, 1]
  assert [_index(ex['B']) - 10 for ex in examples] == [0, 1, 2, 3, 4, 0, 1]


def test_direction_btoa_swaps_domains_and_channel_counts(root):
  ab = _examples(_build(_config(root)), 6)
  ba = _examples(_build(_config(root, direction='BtoA', input_nc=1)), 6)
  for x, y in zip(ab, ba, strict=True):
    assert y['A'].shape == (16, 16, 1) and y['B'].shape == (16, 16, 3)
    np.testing.assert_array_equal(y['B'], x['A'])
    rgb = np.round((x['B'] + 1) * 127.5).astype(np.uint8)
    gray = pixels.normalize(np.asarray(Image.fromarray(rgb).convert('L')))
    np.testing.assert_array_equal(y['A'][..., 0], gray)


def test_same_seed_same_stream_other_seed_other_stream(root, unaligned_stream):
  config = _config(root, 'unaligned')
  again = _examples(_build(config, seed=7), 6)
  other = _examples(_build(config, seed=8), 6)
  for x, y in zip(unaligned_stream, again, strict=False):
    np.testing.assert_array_equal(x['A'], y['A'])
    np.testing.assert_array_equal(x['B'], y['B'])
  assert any(
    not np.array_equal(x['B'], y['B']) for x, y in zip(unaligned_stream, other, strict=False)
  )


def test_process_shards_are_disjoint_and_cover_the_split(root):
  config = _config(root)
  seen = []
  for index in range(2):
    dataset = _build(config, process_index=index, process_count=2)
    assert dataset.batch_size == 1
    # This process's epoch: every 2nd image from `index`, each once.
    seen.append(sorted(_index(ex['A']) for ex in _examples(dataset, 3 - index)))
  assert seen == [[0, 2, 4], [1, 3]]

  # Evaluation: the same number of batches everywhere, each image on exactly one process.
  paths = []
  for index in range(2):
    config.batch_size = 4
    dataset = _build(config, train=False, process_index=index, process_count=2)
    batches = list(dataset.batches())
    assert len(batches) == dataset.steps_per_epoch == 2  # ceil(5 / 4)
    paths += [p for b in batches for p in b['A_paths'] if p]
  assert sorted(paths) == sorted(
    str(root / 'aligned' / 'train' / f'{i}.png').encode() for i in range(5)
  )


def test_eval_yields_every_image_once_with_its_path(root):
  dataset = _build(_config(root, crop_size=16, crop_width=20), 'test', train=False)
  batches = list(dataset.batches())
  assert dataset.keys == ('A', 'B', 'A_paths', 'B_paths')
  assert len(batches) == dataset.steps_per_epoch == 2
  paths = [p for b in batches for p in b['A_paths']]
  assert paths[-1] == b''  # padding to a full batch
  assert paths[:3] == [str(root / 'aligned' / 'test' / f'{i}.png').encode() for i in range(3)]
  a = np.concatenate([b['A'] for b in batches])
  assert [_index(x) for x in a[:3]] == [0, 1, 2]
  assert not any(_flipped(x) for x in a)
  # Centred crop: 20 of 24 columns from column 2, 16 of 20 rows from row 2.
  assert round((a[0, 0, 0, 1] + 1) * 127.5) == 16 and round((a[0, 0, 0, 2] + 1) * 127.5) == 16

  dataset = _build(_config(root, 'unaligned'), 'test', train=False)
  batches = list(dataset.batches())
  assert dataset.num_examples == 3 and len(batches) == 2
  a_paths = [p for b in batches for p in b['A_paths']]
  b_paths = [p for b in batches for p in b['B_paths']]
  assert a_paths == [str(root / 'unaligned' / 'testA' / f'{i}.png').encode() for i in range(2)] + [
    b'',
    b'',
  ]
  assert [p for p in b_paths if p] == [
    str(root / 'unaligned' / 'testB' / f'{i}.png').encode() for i in range(3)
  ]


def test_single_reads_every_image_under_dataroot(root):
  dataset = _build(_config(root, 'single'), 'test', train=False, batch_size=4)
  (batch,) = list(dataset.batches())
  assert set(batch) == {'A', 'A_paths'}
  assert [_index(x) for x in batch['A']] == [0, 1, 2, 3]
  with pytest.raises(errors.InputError, match=r"unaligned: dataset_mode 'single' reads every"):
    _build(_config(root, 'single', dataroot=str(root / 'unaligned')), 'test', train=False)


@pytest.mark.parametrize(
  'overrides,shape',
  [
    (dict(preprocess='scale_width', load_size=12, crop_size=8), (10, 12)),
    (dict(preprocess='none', no_flip=True), (20, 24)),
  ],
)
def test_preprocess_output_shapes(root, overrides, shape):
  (ex,) = _examples(_build(_config(root, **overrides)), 1)
  assert ex['A'].shape[:2] == shape and ex['B'].shape[:2] == shape


def test_real_jpegs_in_the_official_unaligned_layout(shared_data_dir):
  dataroot = shared_data_dir / 'demo_edges2handbags'
  config = _config(
    dataroot.parent, 'unaligned', dataroot=str(dataroot), preprocess='resize_and_crop'
  )
  config.data.update(load_size=143, crop_size=128)
  (ex,) = _examples(_build(config), 1)
  assert ex['A'].shape == ex['B'].shape == (128, 128, 3)
  assert -1 <= ex['A'].min() < ex['A'].max() <= 1

  # Evaluation resizes to crop_size (official test options): PIL's result, within 2 levels.
  config.batch_size = 4
  dataset = _build(config, 'test', train=False)
  batches = list(dataset.batches())
  assert dataset.num_examples == 9 and len(batches) == 3
  names = sorted(p.decode() for b in batches for p in b['A_paths'] if p)
  assert names == sorted(str(p) for p in (dataroot / 'testA').glob('*.jpg'))
  first = Image.open(dataroot / 'testA' / '00000.jpg').convert('RGB')
  want = np.asarray(first.resize((128, 128), Image.BICUBIC), np.float32) / 127.5 - 1
  assert np.abs(batches[0]['A'][0] - want).max() <= 2 / 127.5 + 1e-6


# Errors: one line naming the file or option.


def test_missing_dataset_folder_says_how_to_get_it(root):
  config = _config(root, dataroot=str(root / 'facades'))
  with pytest.raises(errors.InputError) as error:
    _build(config)
  message = str(error.value)
  assert '\n' not in message
  assert f'{root}/facades/train: no such folder' in message
  assert 'download_pix2pix_dataset.sh facades' in message
  assert 'pix2pix/facades' in message and 'configs/pix2pix_shapes.py' in message
  config = _config(root, 'unaligned', dataroot=str(root / 'horse2zebra'))
  with pytest.raises(errors.InputError, match='cycle_gan/horse2zebra.*configs/cyclegan_shapes'):
    _build(config)


def test_empty_split(root, tmp_path):
  (tmp_path / 'train').mkdir()
  (tmp_path / 'train' / 'readme.txt').write_text('')
  with pytest.raises(errors.InputError, match=r'/train: no images \(expected files ending in'):
    _build(_config(root, dataroot=str(tmp_path)))


def _bad_folder(tmp_path, name, contents):
  for i in range(2):
    _write(tmp_path / 'train' / f'{i}.png', np.zeros((8, 16, 3), np.uint8))
  path = tmp_path / 'train' / name
  if isinstance(contents, bytes):
    path.write_bytes(contents)
  else:
    Image.fromarray(contents).save(path)
  return path


def _first_epoch(config):
  dataset = _build(config, train=False)
  for _ in dataset.batches():
    pass


def test_corrupt_image_is_named(root, tmp_path):
  path = _bad_folder(tmp_path, 'bad.jpg', b'\xff\xd8 not really a jpeg')
  config = _config(root, dataroot=str(tmp_path), crop_size=8)
  with pytest.raises(errors.InputError, match=rf'^{path}: not a readable image') as error:
    _first_epoch(config)
  assert '\n' not in str(error.value)


def _decode_error(contents):
  with pytest.raises(ValueError) as error:
    folders._decode(contents, b'dir/x.png')
  return str(error.value)


def test_truncated_and_deep_images_are_named(tmp_path):
  image = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
  Image.fromarray(image).save(tmp_path / 'full.jpg')
  message = _decode_error((tmp_path / 'full.jpg').read_bytes()[:200])
  assert re.search(r'dir/x.png: not a readable image \(.*[Tt]runcated', message)
  Image.fromarray(np.full((8, 16), 40000, np.uint16)).save(tmp_path / 'deep.png')
  message = _decode_error((tmp_path / 'deep.png').read_bytes())
  assert "dir/x.png: image mode 'I;16" in message


def test_image_smaller_than_the_crop_is_named(root):
  with pytest.raises(
    errors.InputError,
    match=r'/train/0.png: image is 20x24 after preprocess crop, smaller than the crop 22x22$',
  ):
    _first_epoch(_config(root, crop_size=22))


def test_images_of_different_sizes_cannot_share_a_batch(root, tmp_path):
  _write(tmp_path / 'train' / '0.png', np.zeros((8, 16, 3), np.uint8))
  _write(tmp_path / 'train' / '1.png', np.zeros((12, 16, 3), np.uint8))
  with pytest.raises(
    errors.InputError,
    match=r'images of different sizes \(\[12,8,3\] and \[8,8,3\]\) cannot share a batch',
  ):
    _first_epoch(_config(root, dataroot=str(tmp_path), preprocess='none'))


@pytest.mark.parametrize(
  'overrides,match',
  [
    (dict(source='s3'), "data.source 's3' is unknown; expected one of folder, tfds, synthetic"),
    (dict(dataset_mode='paired'), "data.dataset_mode 'paired' is unknown"),
    (dict(direction='AB'), "data.direction 'AB' is unknown"),
    (dict(preprocess='scale'), "data.preprocess 'scale' is unknown"),
    (dict(source='synthetic', synthetic='cats'), "data.synthetic 'cats' is unknown"),
    (dict(output_nc=4), 'data.output_nc is 4; expected 1 .gray. or 3 .RGB.'),
    (dict(dataroot=''), 'data.dataroot is empty'),
  ],
)
def test_bad_options(root, overrides, match):
  with pytest.raises(errors.ConfigError, match=match):
    _build(_config(root, **overrides))


def test_batch_size_must_divide_over_processes(root):
  config = _config(root)
  config.batch_size = 3
  with pytest.raises(errors.ConfigError, match='batch_size 3 is not a positive multiple of the'):
    _build(config, process_index=0, process_count=2)


@pytest.mark.parametrize(
  'mode,overrides',
  [
    ('aligned', dict(preprocess='resize_and_crop', load_size=20, crop_size=16)),
    (
      'unaligned',
      dict(
        direction='BtoA', output_nc=1, preprocess='scale_width_and_crop', load_size=18, crop_size=12
      ),
    ),
    ('unaligned', dict(crop_width=12)),
  ],
)
def test_in_memory_training_stream_is_the_decoding_stream(root, mode, overrides):
  # Decoded and resized once, held in memory: the same batches as decoding every time.
  held = _build(_config(root, mode, **overrides))
  decoded = _build(_config(root, mode, cache_mb=0, **overrides))
  assert held.in_memory and not decoded.in_memory
  for got, want in zip(_examples(held, 7), _examples(decoded, 7), strict=True):
    assert got.keys() == want.keys()
    for key in got:
      np.testing.assert_array_equal(got[key], want[key])


def test_in_memory_only_within_the_budget(root):
  # 20x24x3 bytes an image, 5 images: over a budget of 1e-4 MB (105 bytes).
  assert not _build(_config(root, cache_mb=1e-4)).in_memory
  assert _build(_config(root, cache_mb=1)).in_memory


def test_corrupt_training_image_is_named_when_held_in_memory(root, tmp_path):
  path = _bad_folder(tmp_path, 'bad.jpg', b'\xff\xd8 not really a jpeg')
  with pytest.raises(errors.InputError, match=rf'^{path}: not a readable image'):
    _build(_config(root, dataroot=str(tmp_path), crop_size=8))
