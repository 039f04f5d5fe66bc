"""Weight files from others: crafted attacks are refused in one line, and a few thousand seeded
mutations of valid files each load or fail cleanly, in bounded time and memory."""

import importlib.util
import io
import os
import pathlib
import pickle
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from jaxgan import npz_file, torch_file
from jaxgan.errors import WeightsError
from jaxgan.metrics import weights

DATA = pathlib.Path(__file__).parent / 'data'
HOSTILE = DATA / 'hostile'
ROOT = pathlib.Path(__file__).parent.parent


def _tool():
  spec = importlib.util.spec_from_file_location('hostile', ROOT / 'tools/make_hostile_weights.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _reader(name):
  if name.endswith('.npz'):
    return npz_file.read
  if name.startswith('numpy_pickle'):
    return weights.read_numpy_pickle
  return torch_file.read


def test_committed_files_are_what_the_tool_makes():
  made = _tool().files()
  assert sorted(made) == sorted(p.name for p in HOSTILE.iterdir())
  for name, data in made.items():
    assert (HOSTILE / name).read_bytes() == data, name


@pytest.mark.parametrize('name', sorted(p.name for p in HOSTILE.iterdir()))
def test_hostile_file_is_refused_in_one_line(name, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # where the files' code would leave its marker
  with pytest.raises(WeightsError) as error:
    _reader(name)(HOSTILE / name)
  message = str(error.value)
  assert message.startswith(f'cannot read {HOSTILE / name}: ') and '\n' not in message
  assert not (tmp_path / _tool().MARKER).exists()


def _plain_unpickle(data: bytes, cwd):
  """Unpickles `data` with the standard pickle in a child process in `cwd`."""
  code = 'import pickle, sys; pickle.loads(sys.stdin.buffer.read())'
  subprocess.run([sys.executable, '-c', code], input=data, cwd=cwd, capture_output=True, timeout=60)


def test_the_code_files_are_armed(tmp_path):
  """What the readers refuse does run code under plain pickle (so the test above means it)."""
  marker = tmp_path / _tool().MARKER
  payloads = {
    'legacy_code_in_magic.bin': (HOSTILE / 'legacy_code_in_magic.bin').read_bytes(),
    'numpy_pickle_code.bin': (HOSTILE / 'numpy_pickle_code.bin').read_bytes(),
  }
  for name in ('zip_code.bin', 'zip_code_stack_global.bin', 'zip_code_inst.bin'):
    with zipfile.ZipFile(HOSTILE / name) as archive:
      payloads[name] = archive.read('archive/data.pkl')
  for name, data in payloads.items():
    _plain_unpickle(data, tmp_path)
    assert marker.exists(), name
    marker.unlink()


def test_real_files_still_read():
  """The readers keep reading what they read before: every torch format, numpy pickles."""
  arrays = {'net': {'w': np.arange(6, dtype=np.float32).reshape(2, 3)}, 'b': np.ones(2, '>i8')}
  path = HOSTILE.parent / 'torch_format_zip.bin'
  keys = ['a.count', 'a.weight', 'half', 'scalar', 'shared', 'view']
  assert sorted(torch_file.read(path)) == keys
  buffer = io.BytesIO()
  pickle.dump(arrays, buffer, protocol=4)
  tmp = pathlib.Path(os.environ.get('TMPDIR', '/tmp'))
  file = tmp / f'jaxgan_numpy_pickle_{os.getpid()}.ckpt'
  file.write_bytes(buffer.getvalue())
  try:
    got = weights.read_numpy_pickle(file)
  finally:
    file.unlink()
  np.testing.assert_array_equal(got['net']['w'], arrays['net']['w'])
  assert got['b'].dtype == np.int64 and got['b'].tolist() == [1, 1]


# ------------------------------------------------------------------------------------------
# Fuzzing: JAXGAN_FUZZ_ITERATIONS (default 3000 in all) seeded mutations of valid files.

_EXTREMES = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1]


def _mutate(data: bytes, rng) -> bytes:
  data = bytearray(data)
  kind = rng.integers(6)
  if kind == 0:  # flip a few bits
    for _ in range(rng.integers(1, 9)):
      data[rng.integers(len(data))] ^= 1 << rng.integers(8)
  elif kind == 1:  # an extreme integer over 1, 2, 4 or 8 bytes (sizes, offsets, lengths)
    width = int(rng.choice([1, 2, 4, 8]))
    pos = int(rng.integers(max(len(data) - width, 1)))
    value = int(rng.choice(_EXTREMES)) % (1 << (8 * width))
    data[pos : pos + width] = value.to_bytes(width, 'little')
  elif kind == 2:  # truncate
    del data[rng.integers(len(data)) :]
  elif kind == 3:  # delete a chunk
    start = int(rng.integers(len(data)))
    del data[start : start + int(rng.integers(1, 64))]
  elif kind == 4:  # repeat a chunk
    start = int(rng.integers(len(data)))
    data[start:start] = data[start : start + int(rng.integers(1, 64))] * int(rng.integers(1, 4))
  else:  # random bytes
    start = int(rng.integers(len(data)))
    data[start : start + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()
  return bytes(data)


def _mutate_member(data: bytes, rng) -> bytes:
  """Mutates one member of a zip and writes the zip again, CRCs right, so that the mutation
  reaches the pickle or the array header instead of the zip's checksum."""
  with zipfile.ZipFile(io.BytesIO(data)) as archive:
    members = [(info, archive.read(info)) for info in archive.infolist()]
  target = int(rng.integers(len(members)))
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w') as archive:
    for i, (info, content) in enumerate(members):
      archive.writestr(info, _mutate(content, rng) if i == target and content else content)
  return buffer.getvalue()


def _seeds():
  buffer = io.BytesIO()
  arrays = {'net': {'w': np.arange(12, dtype=np.float32).reshape(3, 4)}, 'b': np.ones(3, np.int64)}
  pickle.dump(arrays, buffer, protocol=4)
  return {
    'legacy': (torch_file.read, (DATA / 'torch_format_legacy.bin').read_bytes(), False),
    'zip': (torch_file.read, (DATA / 'torch_format_zip.bin').read_bytes(), True),
    'script': (torch_file.read, (DATA / 'torch_format_script.bin').read_bytes(), True),
    'npz': (npz_file.read, (DATA / 'torch_format_expected.npz').read_bytes(), True),
    'numpy_pickle': (weights.read_numpy_pickle, buffer.getvalue(), False),
  }


@pytest.mark.parametrize('kind', ['legacy', 'zip', 'script', 'npz', 'numpy_pickle'])
def test_fuzzed_files_load_or_fail_cleanly(kind, tmp_path):
  """Each mutation loads or raises WeightsError; none takes over a second or more memory than
  MAX_ZIP_RATIO times its size (plus 8 MB for the reader's own objects)."""
  iterations = int(os.environ.get('JAXGAN_FUZZ_ITERATIONS', 3000)) // 5
  reader, seed, is_zip = _seeds()[kind]
  rng = np.random.default_rng([2026, len(kind)])
  path = tmp_path / f'fuzz_{kind}.bin'
  outcomes = {'loaded': 0, 'refused': 0}
  tracemalloc.start()
  try:
    for _ in range(iterations):
      data = _mutate_member(seed, rng) if is_zip and rng.random() < 0.7 else _mutate(seed, rng)
      path.write_bytes(data)
      tracemalloc.reset_peak()
      before = tracemalloc.get_traced_memory()[0]
      start = time.perf_counter()
      try:
        reader(path)
        outcomes['loaded'] += 1
      except WeightsError as e:
        assert '\n' not in str(e) and str(path) in str(e)
        outcomes['refused'] += 1
      elapsed = time.perf_counter() - start
      peak = tracemalloc.get_traced_memory()[1] - before
      assert elapsed < 1.0, (data[:64], elapsed)
      assert peak < torch_file.MAX_ZIP_RATIO * len(data) + (8 << 20), (data[:64], peak)
  finally:
    tracemalloc.stop()
  print(f'{kind}: {outcomes}')
  # The mutations reach both outcomes: some keep the file readable, most break it.
  assert outcomes['refused'] > iterations // 4 and outcomes['loaded'] > 0
