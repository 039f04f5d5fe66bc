"""Folder evaluation: every image counted once over 8 devices, the features cache, the
pytorch-fid preprocessing, and one-line errors for bad folders.

A small stand-in network replaces the Inception (its parity is in test_parity.py): the
pipeline around it is what is tested here.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan.errors import InputError
from jaxgan.metrics import folders, inception


class _PooledFeatures(nn.Module):
  """[N, 299, 299, 3] -> [N, 12]: means of 2x2 quadrants per channel (a cheap 'network')."""

  @nn.compact
  def __call__(self, x):
    h = x.shape[1] // 2
    quads = [x[:, :h, :h], x[:, :h, h:], x[:, h:, :h], x[:, h:, h:]]
    return jnp.concatenate([q.mean(axis=(1, 2)) for q in quads], axis=-1)


@pytest.fixture(scope='module')
def extractor():
  return inception.FeatureExtractor(variables={}, module=_PooledFeatures(), batch_size=8)


def _write(folder, images, ext='png'):
  folder.mkdir(parents=True, exist_ok=True)
  for i, image in enumerate(images):
    Image.fromarray(image).save(folder / f'{i:03d}.{ext}')
  return folder


def _images(n, seed, size=16):
  return np.random.RandomState(seed).randint(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_every_image_counts_once_with_a_padded_last_batch(extractor):
  images = _images(13, 0)  # 8 + 5 over 8 devices.
  features = extractor(images)
  assert features.shape == (13, 12)
  one_by_one = np.concatenate([extractor(images[i : i + 1]) for i in range(13)])
  np.testing.assert_allclose(features, one_by_one, atol=1e-6)
  batches = extractor([images[:3], images[3:]])  # An iterable of batches of any size.
  np.testing.assert_allclose(batches, features, atol=1e-6)


def test_pytorch_fid_preprocessing(extractor):
  # Constant images stay constant through the bilinear resize: features are 2 * v / 255 - 1.
  images = np.full((2, 16, 16, 3), 51, np.uint8)
  np.testing.assert_allclose(extractor(images), 2 * 51 / 255 - 1, atol=1e-6)
  # Floats in [-1, 1] are the library's images: the same value as a float.
  floats = np.full((2, 16, 16, 3), 2 * 51 / 255 - 1, np.float32)
  np.testing.assert_allclose(extractor(floats), extractor(images), atol=1e-6)


def test_bilinear_matrix_is_torchs_interpolate():
  # torch 2.13: F.interpolate(arange(4) -> 6 and arange(6) -> 3, mode='bilinear',
  # align_corners=False); shrinking takes two taps, no antialiasing filter.
  up = inception.bilinear_matrix(4, 6) @ np.arange(4.0)
  np.testing.assert_allclose(up, [0.0, 0.5, 1.1666667461395264, 1.8333333730697632, 2.5, 3.0])
  down = inception.bilinear_matrix(6, 3) @ np.arange(6.0)
  np.testing.assert_allclose(down, [0.5, 2.5, 4.5], atol=1e-6)


def test_fid_of_a_folder_with_itself_is_zero_and_grows_with_noise(tmp_path, extractor):
  base = _images(20, 0)
  real = _write(tmp_path / 'real', base)
  results = folders.evaluate_folders(
    real, real, extractor=extractor, fid_allow_few=True, kid_subsets=5, cache=False, progress=False
  )
  assert abs(results['fid']) < 1e-6
  assert results['num_real'] == results['num_fake'] == 20
  rng = np.random.RandomState(1)
  values = []
  for sigma in (10, 40):
    noisy = np.clip(base + rng.randn(*base.shape) * sigma, 0, 255).astype(np.uint8)
    fake = _write(tmp_path / f'fake{sigma}', noisy)
    r = folders.evaluate_folders(
      real, fake, extractor=extractor, fid_allow_few=True, kid=False, cache=False, progress=False
    )
    values.append(r['fid'])
  assert 0 < values[0] < values[1]


def test_few_images_skip_fid_with_a_note_and_keep_kid(tmp_path, extractor):
  real = _write(tmp_path / 'real', _images(6, 0))
  fake = _write(tmp_path / 'fake', _images(6, 1))
  results = folders.evaluate_folders(
    real, fake, extractor=extractor, kid_subsets=3, cache=False, progress=False
  )
  assert results['fid'] is None
  (note,) = results['notes']
  assert 'more images than its 12 features' in note and 'KID' in note and str(real) in note
  assert results['kid_subset_size'] == 6 and np.isfinite(results['kid'])
  table = folders.format_table(results)
  assert (
    'FID' in table
    and 'n/a (see notes)' in table
    and 'KID x 1e3 (all 6 images, one subset)' in table
  )
  assert table.splitlines()[-1] == f'note: {note}'


def test_real_features_are_cached_per_dataset(tmp_path, extractor, monkeypatch):
  real = _write(tmp_path / 'real', _images(5, 0))
  cache = tmp_path / 'cache'
  first = folders.folder_features(real, extractor, cache=cache)
  (cached,) = (cache / 'features').iterdir()
  assert cached.name.startswith('real-')
  calls = []
  monkeypatch.setattr(inception.FeatureExtractor, '__call__', lambda *a, **k: calls.append(1))
  np.testing.assert_array_equal(folders.folder_features(real, extractor, cache=cache), first)
  assert not calls
  _write(real, _images(6, 2))  # The dataset changed: a new entry, computed again.
  monkeypatch.undo()
  assert folders.folder_features(real, extractor, cache=cache).shape == (6, 12)
  assert len(list((cache / 'features').iterdir())) == 2


def test_grayscale_files_are_read_as_rgb_like_pytorch_fid(tmp_path, extractor):
  gray = np.random.RandomState(0).randint(0, 256, (3, 16, 16), dtype=np.uint8)
  folder = tmp_path / 'gray'
  folder.mkdir()
  for i, image in enumerate(gray):
    Image.fromarray(image, mode='L').save(folder / f'{i}.png')
  rgb = _write(tmp_path / 'rgb', np.repeat(gray[..., None], 3, -1))
  np.testing.assert_allclose(
    folders.folder_features(folder, extractor), folders.folder_features(rgb, extractor), atol=1e-6
  )


def _error(call):
  with pytest.raises(InputError) as e:
    call()
  assert '\n' not in str(e.value)
  return str(e.value)


def test_bad_folders_are_one_line(tmp_path, extractor):
  real = _write(tmp_path / 'real', _images(3, 0))
  evaluate = lambda r, f: folders.evaluate_folders(  # noqa: E731
    r, f, extractor=extractor, cache=False, progress=False
  )
  message = _error(lambda: evaluate(real, tmp_path / 'missing'))
  assert message == f'fake folder (--fake): no folder {tmp_path / "missing"}'
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'empty' / 'notes.txt').write_text('not an image')
  assert 'real folder (--real): no images (bmp, jpg' in _error(
    lambda: evaluate(tmp_path / 'empty', real)
  )
  mixed = _write(tmp_path / 'mixed', _images(2, 0))
  Image.fromarray(_images(1, 1, size=24)[0]).save(mixed / '002.png')
  message = _error(lambda: evaluate(real, mixed))
  assert message.startswith(f'images of mixed sizes: {mixed / "002.png"} is 24x24, ')
  assert '001.png' not in message and '000.png is 16x16' in message
  broken = _write(tmp_path / 'broken', _images(1, 0))
  (broken / '001.jpg').write_bytes(b'not a jpeg')
  assert _error(lambda: evaluate(real, broken)).startswith(
    f'cannot read image {broken / "001.jpg"}'
  )


def test_grayscale_arrays_are_one_line(extractor):
  assert 'grayscale' in _error(lambda: extractor(np.zeros((2, 16, 16), np.uint8)))
  assert 'np.repeat' in _error(lambda: extractor(np.zeros((2, 16, 16, 1), np.uint8)))
  assert 'expected [N, H, W, 3]' in _error(lambda: extractor(np.zeros((2, 16, 16, 4), np.uint8)))


def test_evaluate_arrays_matches_folders(tmp_path, extractor):
  a, b = _images(14, 0), _images(14, 1)
  from_arrays = folders.evaluate_arrays(a, b, extractor=extractor, kid_subsets=4)
  from_folders = folders.evaluate_folders(
    _write(tmp_path / 'a', a),
    _write(tmp_path / 'b', b),
    extractor=extractor,
    kid_subsets=4,
    cache=False,
    progress=False,
  )
  assert from_arrays['fid'] == pytest.approx(from_folders['fid'], rel=1e-6)
  assert from_arrays['kid'] == pytest.approx(from_folders['kid'], rel=1e-6)


def test_uses_all_devices():
  assert jax.device_count() == 8  # conftest's fake CPU devices: sharding is exercised.


def test_evaluate_translations_pairs_fakes_with_reals_of_their_domain(tmp_path, extractor):
  images = tmp_path / 'images'
  for d, (src, dst) in {'AtoB': ('A', 'B'), 'BtoA': ('B', 'A')}.items():
    (images / d).mkdir(parents=True)
    count = 5 if d == 'AtoB' else 7
    for i, image in enumerate(_images(count, ord(src))):
      Image.fromarray(image).save(images / d / f'{i:04d}_real_{src}.png')
      Image.fromarray(255 - image).save(images / d / f'{i:04d}_fake_{dst}.png')
  results = folders.evaluate_translations(
    tmp_path, extractor=extractor, kid_subsets=2, progress=False
  )
  assert sorted(results) == ['AtoB', 'BtoA']
  # CycleGAN: A -> B outputs are compared with the B inputs of the other direction.
  assert (results['AtoB']['num_fake'], results['AtoB']['num_real']) == (5, 7)
  assert (results['BtoA']['num_fake'], results['BtoA']['num_real']) == (7, 5)
  assert results['AtoB']['real'].endswith('images/*/*_real_B.png')
  assert folders.evaluate_translations(tmp_path / 'nothing', extractor=extractor) == {}
  # Paired: the direction's own targets, not also the other direction's copies of them.
  for i, image in enumerate(_images(3, 9)):
    Image.fromarray(image).save(images / 'AtoB' / f'{i:04d}_real_B.png')
  results = folders.evaluate_translations(
    tmp_path, extractor=extractor, kid_subsets=2, progress=False
  )
  assert (results['AtoB']['num_fake'], results['AtoB']['num_real']) == (5, 3)
  assert results['AtoB']['real'].endswith('images/AtoB/*_real_B.png')


def test_package_exports_load_lazily():
  import subprocess
  import sys

  code = (
    'import sys, jaxgan.metrics as m; assert "jaxgan.metrics.inception" not in sys.modules; '
    'assert m.folders.evaluate_translations and m.evaluate_folders and m.lpips_diversity; '
    'assert m.FeatureExtractor is m.inception.FeatureExtractor'
  )
  subprocess.run([sys.executable, '-c', code], check=True, timeout=120)


def test_format_table_reports_kid_spread_only_where_there_is_one():
  one = {'num_real': 4, 'num_fake': 4, 'fid': None, 'kid': 0.002, 'kid_std': None}
  table = folders.format_table({**one, 'kid_subset_size': 4, 'kid_subsets': 1})
  assert 'KID x 1e3 (all 4 images, one subset)' in table and '+-' not in table
  several = {**one, 'kid_std': 0.001, 'kid_subset_size': 50, 'kid_subsets': 100}
  table = folders.format_table(several)
  assert '(100 subsets of 50)' in table and '2.000 +- 1.000 (std over subsets)' in table
