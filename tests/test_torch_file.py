"""jaxgan.torch_file: PyTorch's file formats read and written without PyTorch."""

import pathlib
import pickle
import sys
import zipfile

import numpy as np
import pytest

from jaxgan import torch_file
from jaxgan.errors import WeightsError

DATA = pathlib.Path(__file__).parent / 'data'


@pytest.mark.parametrize('name', ['legacy', 'zip', 'script'])
def test_reads_every_torch_format_without_torch(name, monkeypatch):
  # Written by torch 2.13 (torch.save's legacy and zip formats, torch.jit.save of a small
  # module): a few random tensors, not weights (hence not named .pth, which git ignores).
  monkeypatch.setitem(sys.modules, 'torch', None)
  expected = np.load(DATA / 'torch_format_expected.npz')
  prefix = 'script/' if name == 'script' else ''
  keys = sorted(k[len(prefix) :] for k in expected.files if k.startswith('script/') == bool(prefix))
  sd = torch_file.read(DATA / f'torch_format_{name}.bin')
  assert sorted(sd) == keys
  for key in keys:
    want = expected[prefix + key]
    assert sd[key].dtype == want.dtype and sd[key].shape == want.shape, key
    np.testing.assert_array_equal(sd[key], want)


def test_reader_refuses_code(tmp_path):
  path = tmp_path / 'evil.pth'
  # A legacy-format file whose payload would call os.system when unpickled.
  with open(path, 'wb') as f:
    for obj in (torch_file._LEGACY_MAGIC, 1001, {}):
      pickle.dump(obj, f, protocol=2)
    f.write(b'cos\nsystem\n(S"echo pwned"\ntR.')
  with pytest.raises(WeightsError, match=r'cannot read .*evil\.pth: UnpicklingError.*os\.system'):
    torch_file.read(path)


def _tree():
  rng = np.random.default_rng(0)
  return {
    'a': {
      'conv.weight': rng.normal(size=(4, 3, 2, 2)).astype(np.float32),
      'bn.num_batches_tracked': np.array(7, np.int64),  # a 0-d tensor
    },
    'b': {'x': rng.normal(size=(5,)).astype(np.float16), 'mask': np.array([True, False])},
    't': rng.normal(size=(3, 4)).astype(np.float32).T,  # not C-contiguous
  }


def test_write_then_read_round_trips(tmp_path):
  tree = _tree()
  torch_file.write(tmp_path / 'w.pth', tree)
  got = torch_file.read(tmp_path / 'w.pth')
  want = {'a.conv.weight', 'a.bn.num_batches_tracked', 'b.x', 'b.mask', 't'}
  assert set(got) == want
  for key, value in (
    ('a.conv.weight', tree['a']['conv.weight']),
    ('a.bn.num_batches_tracked', tree['a']['bn.num_batches_tracked']),
    ('b.x', tree['b']['x']),
    ('b.mask', tree['b']['mask']),
    ('t', tree['t']),
  ):
    assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
    np.testing.assert_array_equal(got[key], value)
  assert not (tmp_path / 'w.pth.tmp').exists()


def test_written_file_has_torch_save_layout(tmp_path):
  torch_file.write(tmp_path / 'w.pth', _tree())
  with zipfile.ZipFile(tmp_path / 'w.pth') as archive:
    names = archive.namelist()
    assert {'archive/data.pkl', 'archive/version', 'archive/byteorder'} <= set(names)
    for info in archive.infolist():
      if '/data/' in info.filename:  # tensor data starts 64-byte aligned, as torch.save's
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        assert start % 64 == 0, info.filename
    text = archive.read('archive/data.pkl')
  for name in (b'torch._utils\n_rebuild_tensor_v2', b'torch\nFloatStorage', b'torch\nLongStorage'):
    assert name in text


def test_write_refuses_unstorable_dtypes(tmp_path):
  with pytest.raises(WeightsError, match=r'w\.weight: cannot store dtype complex64'):
    torch_file.write(tmp_path / 'x.pth', {'w': {'weight': np.zeros(2, np.complex64)}})


def test_torch_loads_a_written_file(tmp_path):
  """torch.load (weights_only, as the official code can use) reads what `write` wrote."""
  torch = pytest.importorskip('torch', reason="PyTorch is the optional extra 'jaxgan[torch]'")
  tree = _tree()
  torch_file.write(tmp_path / 'w.pth', tree)
  loaded = torch.load(tmp_path / 'w.pth', weights_only=True)
  np.testing.assert_array_equal(loaded['a']['conv.weight'].numpy(), tree['a']['conv.weight'])
  assert loaded['a']['bn.num_batches_tracked'].item() == 7
  np.testing.assert_array_equal(loaded['t'].numpy(), tree['t'])
