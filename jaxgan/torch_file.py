"""PyTorch's file formats without PyTorch: `read` any torch.save file, `write` a state_dict.

One reader for the project: official generator weights (port), the metric networks' weights
(metrics.weights) and MUNIT's checkpoints all come through `read`. `write` produces the zip
archive torch.save has written since PyTorch 1.6 (`torch.load` reads it, weights_only too), so a
net trained here loads into the official code with no PyTorch installed here.
"""

import collections
import io
import math
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from jaxgan import outputs, safe_pickle
from jaxgan.errors import WeightsError

StateDict = dict[str, np.ndarray]

# ------------------------------------------------------------------------------------------
# Reading. A weight file is hostile until checked: its pickles go through `safe_pickle` (an
# opcode allow-list and a global allow-list of stand-ins that only record arguments), and
# every tensor's offset, shape and stride is checked against the bytes really in the file
# before a view is made. What a file can make the reader hold is bounded by its size: a zip
# member may not declare more than MAX_ZIP_RATIO times its compressed bytes, and all tensors
# together not more than MAX_EXPANSION times the file (tied weights repeat a storage).

MAX_ZIP_RATIO = 100  # deflate reaches ~1000:1 on zeros; weights compress to ~1.1:1
MAX_EXPANSION = 4
MAX_DEPTH = 64  # dicts in dicts, TorchScript submodules; real files nest a few levels
MAX_NDIM = 32

_STORAGE_DTYPES = {
  'FloatStorage': np.float32,
  'DoubleStorage': np.float64,
  'HalfStorage': np.float16,
  'BFloat16Storage': np.uint16,  # Widened to float32 below.
  'LongStorage': np.int64,
  'IntStorage': np.int32,
  'ShortStorage': np.int16,
  'CharStorage': np.int8,
  'ByteStorage': np.uint8,
  'BoolStorage': np.bool_,
}
# Magic number that opens a file of torch.save's legacy (pre-1.6, non-zip) format.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_SIGNATURE = b'PK\x03\x04'


class _StorageType(NamedTuple):  # immutable: a pickle's BUILD cannot retype a storage
  name: str
  dtype: np.dtype


class _Storage(NamedTuple):
  key: str
  type: _StorageType


class _TensorRef(NamedTuple):
  """A tensor whose storage bytes are read after the pickle that names them."""

  storage: _Storage
  offset: int
  size: tuple[int, ...]
  stride: tuple[int, ...]


class _ScriptObject:
  """Any TorchScript module class: keeps the attributes it is rebuilt with."""

  def __init__(self, *args):
    del args
    self.state = {}

  def __setstate__(self, state):
    self.state = state if isinstance(state, dict) else {'state': state}


def _ints(values, what) -> tuple[int, ...]:
  if not isinstance(values, tuple | list) or len(values) > MAX_NDIM:
    raise pickle.UnpicklingError(f'a tensor {what} that is not a short tuple of ints')
  if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
    raise pickle.UnpicklingError(f'a tensor {what} that is not a short tuple of ints')
  return tuple(int(v) for v in values)


def _rebuild_tensor(storage, offset, size, stride, *args):
  del args  # requires_grad, backward hooks, metadata.
  if not isinstance(storage, _Storage):
    raise pickle.UnpicklingError(f'a tensor on {safe_pickle.describe(storage)}, not a storage')
  (offset,) = _ints((offset,), 'offset')
  size, stride = _ints(size, 'size'), _ints(stride, 'stride')
  if len(size) != len(stride):
    raise pickle.UnpicklingError(f'a tensor of {len(size)} dims with {len(stride)} strides')
  return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *args):
  del args
  return data


def _identity(x):
  return x


_TORCH_GLOBALS = {
  ('collections', 'OrderedDict'): OrderedDict,
  ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
  ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
  ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
  ('torch.jit._pickle', 'build_intlist'): _identity,
  ('torch.jit._pickle', 'build_doublelist'): _identity,
  ('torch.jit._pickle', 'build_boollist'): _identity,
  ('torch.jit._pickle', 'build_tensorlist'): _identity,
  ('torch.jit._pickle', 'build_tensor_from_id'): _identity,
  ('__torch__*', '*'): _ScriptObject,
  **{('torch', name): _StorageType(name, np.dtype(t)) for name, t in _STORAGE_DTYPES.items()},
}


def _persistent_load(pid):
  # ('storage', type, key, location, numel[, view metadata]).
  if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'):
    raise pickle.UnpicklingError(f'unexpected persistent id {safe_pickle.describe(pid)}')
  storage_type, key = pid[1], pid[2]
  if not isinstance(storage_type, _StorageType):
    raise pickle.UnpicklingError(f'unsupported storage type {safe_pickle.describe(storage_type)}')
  if not isinstance(key, str | int) or isinstance(key, bool) or len(str(key)) > 64:
    raise pickle.UnpicklingError(f'a storage key {safe_pickle.describe(key)}')
  return _Storage(str(key), storage_type)


def _load_pickle(data, offset=0):
  return safe_pickle.load(data, _TORCH_GLOBALS, persistent_load=_persistent_load, offset=offset)


class _Budget:
  """Bytes the arrays built from one file may take in all."""

  def __init__(self, file_bytes):
    self.left = MAX_EXPANSION * file_bytes + (1 << 20)

  def take(self, nbytes, what):
    if nbytes > self.left:
      raise ValueError(f'{what} would take more memory than the file could hold')
    self.left -= nbytes


def _materialise(ref: _TensorRef, buffer, budget: _Budget) -> np.ndarray:
  dtype = ref.storage.type.dtype
  n = len(buffer) // dtype.itemsize  # the elements the storage really has
  where = f'tensor of size {ref.size} at offset {ref.offset}'
  if ref.offset < 0 or min(ref.size, default=0) < 0 or min(ref.stride, default=0) < 0:
    raise ValueError(f'a {where} with negative offset, size or stride')
  numel = math.prod(ref.size)
  if numel:
    last = ref.offset + sum((d - 1) * s for d, s in zip(ref.size, ref.stride, strict=True))
    if last >= n:
      raise ValueError(f'a {where} reaches past its storage of {n} elements')
    if numel > n:
      raise ValueError(f'a {where} repeats elements past its storage of {n} (an expanded view)')
  elif ref.offset > n:
    raise ValueError(f'a {where} starts past its storage of {n} elements')
  budget.take(numel * dtype.itemsize, f'a {where}')
  flat = np.frombuffer(buffer, dtype=dtype.newbyteorder('<'), count=n)
  strides = tuple(s * dtype.itemsize for s in ref.stride)
  view = np.lib.stride_tricks.as_strided(flat[ref.offset :], ref.size, strides, writeable=False)
  array = np.array(view, dtype=dtype.newbyteorder('='))
  if ref.storage.type.name == 'BFloat16Storage':
    array = (array.astype(np.uint32) << 16).view(np.float32)
  elif dtype == np.bool_:
    array = array.view(np.uint8) != 0  # a byte other than 0 or 1 is still one bool
  return array


def _flatten(obj) -> dict:
  """Tensors of a state_dict or of a TorchScript module tree, keyed by dotted path."""
  out, stack = {}, [(obj, '', 0)]
  while stack:
    obj, prefix, depth = stack.pop()
    if depth > MAX_DEPTH:
      raise ValueError(f'objects nested more than {MAX_DEPTH} deep')
    if isinstance(obj, _ScriptObject):
      obj = obj.state
    if isinstance(obj, Mapping):
      items = list(obj.items())
      stack.extend((v, f'{prefix}{k}.', depth + 1) for k, v in reversed(items))
    elif isinstance(obj, _TensorRef):
      out[prefix[:-1]] = obj
  return out


def _build(refs: dict, buffers: Mapping, budget: _Budget) -> StateDict:
  built, out = {}, {}
  for name, ref in refs.items():
    if ref not in built:  # tied weights: one array
      if ref.storage.key not in buffers:
        raise ValueError(f'{name} names storage {ref.storage.key!r}, which the file lacks')
      built[ref] = _materialise(ref, buffers[ref.storage.key], budget)
    out[name] = built[ref]
  return out


def _read_zip(path: str, file_bytes: int) -> StateDict:
  with zipfile.ZipFile(path) as archive:
    infos = {info.filename: info for info in archive.infolist()}
    budget = _Budget(file_bytes)

    def member(name):
      info = infos.get(name)
      if info is None:
        raise ValueError(f'the archive has no {name}')
      if info.compress_size > file_bytes or info.file_size > MAX_ZIP_RATIO * max(
        info.compress_size, 1
      ):
        raise ValueError(
          f'{name} declares {info.file_size} bytes from {info.compress_size} (a zip bomb?)'
        )
      budget.take(info.file_size, name)
      return archive.read(info)

    pickles = [n for n in infos if n.endswith('/data.pkl') or n == 'data.pkl']
    if not pickles:
      raise WeightsError(f'cannot read {path}: a zip file without data.pkl')
    root = pickles[0][: -len('data.pkl')]
    obj, _ = _load_pickle(member(pickles[0]))
    refs = _flatten(obj)
    keys = {r.storage.key for r in refs.values()}
    buffers = {k: member(f'{root}data/{k}') for k in sorted(keys)}
  return _build(refs, buffers, _Budget(file_bytes))


def _read_legacy(path: str, file_bytes: int) -> StateDict:
  with open(path, 'rb') as f:
    data = f.read(file_bytes + 1)
  if data[:4] == _ZIP_SIGNATURE:
    raise ValueError('a damaged zip archive (truncated, or an incomplete download?)')
  try:
    magic, pos = safe_pickle.load(data, {})
  except pickle.UnpicklingError:
    magic = None
  if not isinstance(magic, int) or magic != _LEGACY_MAGIC:
    raise ValueError('not a PyTorch file (neither a zip archive nor the legacy format)')
  _, pos = safe_pickle.load(data, {}, offset=pos)  # Protocol version.
  _, pos = safe_pickle.load(data, {}, offset=pos)  # sys_info: little-endian on every platform.
  obj, pos = _load_pickle(data, offset=pos)
  storage_keys, pos = safe_pickle.load(data, {}, offset=pos)
  if not isinstance(storage_keys, list) or not all(isinstance(k, str) for k in storage_keys):
    raise ValueError('the storage list is not a list of keys')
  refs = _flatten(obj)
  types = {}
  for ref in refs.values():
    if types.setdefault(ref.storage.key, ref.storage.type) != ref.storage.type:
      raise ValueError(f'storage {ref.storage.key!r} is named with two types')
  view, buffers = memoryview(data), {}
  for key in storage_keys:
    if key not in types:
      raise ValueError(f'storage {key!r} of no tensor')
    if pos + 8 > len(data):
      raise ValueError(f'the file ends before storage {key!r}')
    numel = int.from_bytes(data[pos : pos + 8], 'little', signed=True)
    nbytes = numel * types[key].dtype.itemsize
    if numel < 0 or pos + 8 + nbytes > len(data):
      raise ValueError(f'storage {key!r} declares {numel} elements, more than the file holds')
    buffers[key] = view[pos + 8 : pos + 8 + nbytes]
    pos += 8 + nbytes
  return _build(refs, buffers, _Budget(file_bytes))


def read(path: str | os.PathLike) -> StateDict:
  """Reads the tensors of a torch.save file or a TorchScript archive, without PyTorch.

  Handles both formats torch.save has had (the zip archive of PyTorch >= 1.6 and the older
  pickle stream) and TorchScript archives of plain modules (their parameters, keyed by the
  attribute path, e.g. 'net.layers.conv.weight'). The file cannot run code: its pickles admit
  only tensors, storages, dicts and module records, each a stand-in that records its arguments
  (see the section's comment); views are checked against the bytes before they are made.

  Args:
    path: the file.

  Returns:
    Key -> numpy array, in PyTorch layout and dtype.

  Raises:
    WeightsError: the file is missing, not a PyTorch file, or refused; one line naming it.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise WeightsError(f'no weight file {path}')
  try:
    file_bytes = os.path.getsize(path)
    if zipfile.is_zipfile(path):
      return _read_zip(path, file_bytes)
    return _read_legacy(path, file_bytes)
  except WeightsError:
    raise
  except Exception as e:  # noqa: BLE001 - whatever a hostile file provokes is one line
    raise WeightsError(f'cannot read {path}: {one_line(e)}') from None


def one_line(error: BaseException) -> str:
  """'Type: first line of the message', bounded, for errors raised by hostile input."""
  text = str(error).strip().splitlines()
  detail = f': {text[0][:200]}' if text else ''
  return f'{type(error).__name__}{detail}'


# ------------------------------------------------------------------------------------------
# Writing.

_STORAGE_NAMES = {
  np.dtype(np.float32): 'FloatStorage',
  np.dtype(np.float64): 'DoubleStorage',
  np.dtype(np.float16): 'HalfStorage',
  np.dtype(np.int64): 'LongStorage',
  np.dtype(np.int32): 'IntStorage',
  np.dtype(np.int16): 'ShortStorage',
  np.dtype(np.int8): 'CharStorage',
  np.dtype(np.uint8): 'ByteStorage',
  np.dtype(np.bool_): 'BoolStorage',
}


class _Pickle:
  """Protocol-2 pickle opcodes for the few objects a state_dict pickle holds.

  pickle.Pickler cannot name torch's classes without importing torch, so the stream is written
  by hand, opcode by opcode, as torch.save's own pickler would emit it.
  """

  def __init__(self):
    self.out = io.BytesIO()
    self.out.write(b'\x80\x02')  # PROTO 2

  def global_(self, module, name):
    self.out.write(b'c' + module.encode() + b'\n' + name.encode() + b'\n')

  def str_(self, text):
    data = text.encode()
    self.out.write(b'X' + struct.pack('<I', len(data)) + data)  # BINUNICODE

  def int_(self, value):
    if -(2**31) <= value < 2**31:
      self.out.write(b'J' + struct.pack('<i', value))  # BININT
    else:
      data = int(value).to_bytes(9, 'little', signed=True)
      self.out.write(b'\x8a' + bytes([len(data)]) + data)  # LONG1

  def tuple_(self, items, each):
    self.out.write(b'(')  # MARK
    for item in items:
      each(item)
    self.out.write(b't')  # TUPLE

  def ordered_dict(self):
    self.global_('collections', 'OrderedDict')
    self.out.write(b')R')  # EMPTY_TUPLE, REDUCE: OrderedDict()

  def tensor(self, key, array):
    """torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())."""
    self.global_('torch._utils', '_rebuild_tensor_v2')
    self.out.write(b'(')
    self.out.write(b'(')  # the storage's persistent id
    self.str_('storage')
    self.global_('torch', _STORAGE_NAMES[array.dtype])
    self.str_(key)
    self.str_('cpu')
    self.int_(array.size)
    self.out.write(b'tQ')  # TUPLE, BINPERSID
    self.int_(0)
    self.tuple_(array.shape, self.int_)
    strides = [s // array.itemsize for s in array.strides] if array.size else [1] * array.ndim
    self.tuple_(strides, self.int_)
    self.out.write(b'\x89')  # NEWFALSE: requires_grad
    self.ordered_dict()  # backward hooks
    self.out.write(b'tR')

  def value(self, obj, arrays):
    """A (nested) mapping of arrays; each array's bytes go to `arrays` under its storage key."""
    if isinstance(obj, Mapping):
      self.ordered_dict()
      for name, item in obj.items():
        self.str_(str(name))
        self.value(item, arrays)
        self.out.write(b's')  # SETITEM
      return
    key = str(len(arrays))
    arrays[key] = obj
    self.tensor(key, obj)

  def getvalue(self):
    return self.out.getvalue() + b'.'  # STOP


def _tensor_array(value, name):
  array = np.array(value, order='C', copy=True)  # ascontiguousarray would make 0-d arrays 1-d
  if array.dtype.newbyteorder('=') not in _STORAGE_NAMES:
    raise WeightsError(f'{name}: cannot store dtype {array.dtype} in a PyTorch file')
  return array.astype(array.dtype.newbyteorder('<'), copy=False)


def _aligned(archive, name, alignment=64):
  """A ZipInfo whose data starts at a multiple of `alignment`, as torch.save aligns tensors
  (torch.load can then map them without copying)."""
  info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
  start = archive.fp.tell() + 30 + len(name.encode()) + 4  # local header, name, padding field
  padding = -start % alignment
  info.extra = struct.pack('<HH', 0x4246, padding) + b'Z' * padding  # torch's 'FB' field
  return info


def write(path, state_dict, *, archive='archive', replace=True):
  """Writes a (nested) mapping of arrays as torch.save would write the matching tensors.

  Args:
    path: the .pth/.pt file to write (atomically: a temporary file renamed when complete).
    state_dict: key -> numpy array, or key -> such a mapping (MUNIT's {'a': ..., 'b': ...}).
    archive: the zip's top folder (torch.save uses 'archive').
    replace: write a temporary file beside `path` and rename it over `path` when complete;
      False writes `path` itself (a temporary name the caller chose).

  Raises:
    WeightsError: a value of a dtype PyTorch files cannot hold.
  """

  def convert(obj, prefix=''):
    if isinstance(obj, Mapping):
      return collections.OrderedDict((k, convert(v, f'{prefix}{k}.')) for k, v in obj.items())
    return _tensor_array(obj, prefix[:-1] or 'tensor')

  pickler, arrays = _Pickle(), {}
  pickler.value(convert(state_dict), arrays)
  path = os.fspath(path)
  tmp = outputs.temp_beside(path) if replace else path
  with outputs.discard_on_error(tmp), zipfile.ZipFile(tmp, 'w', zipfile.ZIP_STORED) as out:
    out.writestr(f'{archive}/data.pkl', pickler.getvalue())
    out.writestr(f'{archive}/byteorder', 'little')
    for key, array in arrays.items():
      out.writestr(_aligned(out, f'{archive}/data/{key}'), array.tobytes())
    out.writestr(f'{archive}/version', '3\n')
  if replace:
    os.replace(tmp, path)
