"""PyTorch's file formats without PyTorch: `read` any torch.save file, `write` a state_dict.

One reader for the project: official generator weights (port), the metric networks' weights
(metrics.weights) and MUNIT's checkpoints all come through `read`. `write` produces the zip
archive torch.save has written since PyTorch 1.6 (`torch.load` reads it, weights_only too), so a
net trained here loads into the official code with no PyTorch installed here.
"""

import collections
import dataclasses
import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from jaxgan.errors import WeightsError

StateDict = dict[str, np.ndarray]

# ------------------------------------------------------------------------------------------
# Reading.

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


@dataclasses.dataclass
class _StorageType:
  dtype: np.dtype
  bfloat16: bool = False


@dataclasses.dataclass
class _TensorRef:
  """A tensor whose storage bytes are read after the pickle that names them."""

  storage_key: str
  storage_type: _StorageType
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


def _rebuild_tensor(storage, offset, size, stride, *args):
  del args  # requires_grad, backward hooks, metadata.
  key, storage_type = storage
  return _TensorRef(key, storage_type, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *args):
  del args
  return data


class _TorchUnpickler(pickle.Unpickler):
  """Allows only what state_dicts and TorchScript archives of plain modules hold."""

  def find_class(self, module, name):
    if module == 'collections' and name == 'OrderedDict':
      return OrderedDict
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(np.dtype(_STORAGE_DTYPES[name]), name == 'BFloat16Storage')
    if module == 'torch._utils' and name in ('_rebuild_tensor', '_rebuild_tensor_v2'):
      return _rebuild_tensor
    if module == 'torch._utils' and name == '_rebuild_parameter':
      return _rebuild_parameter
    if module == 'torch.jit._pickle' and name.startswith('build_'):
      return lambda x: x
    if module.startswith('__torch__'):
      return _ScriptObject
    raise pickle.UnpicklingError(f'unexpected object {module}.{name}')

  def persistent_load(self, pid):
    # ('storage', type, key, location, numel[, view metadata]).
    if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
      raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')
    storage_type, key = pid[1], str(pid[2])
    if not isinstance(storage_type, _StorageType):
      raise pickle.UnpicklingError(f'unsupported storage type {storage_type!r}')
    return key, storage_type


def _materialise(ref: _TensorRef, buffers: Mapping[str, bytes]) -> np.ndarray:
  dtype = ref.storage_type.dtype
  flat = np.frombuffer(buffers[ref.storage_key], dtype=dtype.newbyteorder('<'))
  if not ref.size:
    array = flat[ref.offset : ref.offset + 1].reshape(())
  else:
    extent = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if min(ref.size) > 0 and (extent >= len(flat) or min(ref.stride) < 0):
      raise ValueError(f'a tensor of {ref.size} reaches past its storage of {len(flat)}')
    strides = tuple(s * dtype.itemsize for s in ref.stride)
    array = np.lib.stride_tricks.as_strided(flat[ref.offset :], ref.size, strides)
  array = np.array(array, dtype=dtype.newbyteorder('='))
  if ref.storage_type.bfloat16:
    array = (array.astype(np.uint32) << 16).view(np.float32)
  return array


def _flatten(obj, prefix: str, out: dict) -> None:
  """Tensors of a state_dict or of a TorchScript module tree, keyed by dotted path."""
  if isinstance(obj, _ScriptObject):
    obj = obj.state
  if isinstance(obj, Mapping):
    for key, value in obj.items():
      _flatten(value, f'{prefix}{key}.', out)
  elif isinstance(obj, _TensorRef | np.ndarray):
    out[prefix[:-1]] = obj


def _read_zip(path: str) -> StateDict:
  with zipfile.ZipFile(path) as archive:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith('/data.pkl') or n == 'data.pkl']
    if not pickles:
      raise WeightsError(f'cannot read {path}: a zip file without data.pkl')
    root = pickles[0][: -len('data.pkl')]
    obj = _TorchUnpickler(io.BytesIO(archive.read(pickles[0]))).load()
    refs = {}
    _flatten(obj, '', refs)
    keys = {r.storage_key for r in refs.values() if isinstance(r, _TensorRef)}
    buffers = {k: archive.read(f'{root}data/{k}') for k in keys}
  return {k: _materialise(v, buffers) if isinstance(v, _TensorRef) else v for k, v in refs.items()}


def _read_legacy(path: str) -> StateDict:
  with open(path, 'rb') as f:
    if pickle.load(f) != _LEGACY_MAGIC:
      raise WeightsError(f'cannot read {path}: not a PyTorch file')
    pickle.load(f)  # Protocol version.
    pickle.load(f)  # sys_info: endianness and type sizes (little-endian on every platform).
    obj = _TorchUnpickler(f).load()
    storage_keys = pickle.load(f)
    refs = {}
    _flatten(obj, '', refs)
    types = {r.storage_key: r.storage_type for r in refs.values() if isinstance(r, _TensorRef)}
    buffers = {}
    for key in storage_keys:
      numel = int(np.frombuffer(f.read(8), '<i8')[0])
      itemsize = types[str(key)].dtype.itemsize if str(key) in types else 0
      if not itemsize:
        raise WeightsError(f'cannot read {path}: storage {key} of no tensor')
      buffers[str(key)] = f.read(numel * itemsize)
  return {k: _materialise(v, buffers) if isinstance(v, _TensorRef) else v for k, v in refs.items()}


def read(path: str | os.PathLike) -> StateDict:
  """Reads the tensors of a torch.save file or a TorchScript archive, without PyTorch.

  Handles both formats torch.save has had (the zip archive of PyTorch >= 1.6 and the older
  pickle stream) and TorchScript archives of plain modules (their parameters, keyed by the
  attribute path, e.g. 'net.layers.conv.weight'). The unpickler admits only tensors, storages
  and module records, so a file cannot run code.

  Args:
    path: the file.

  Returns:
    Key -> numpy array, in PyTorch layout and dtype.

  Raises:
    WeightsError: the file is missing or not a PyTorch file.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise WeightsError(f'no weight file {path}')
  try:
    if zipfile.is_zipfile(path):
      return _read_zip(path)
    return _read_legacy(path)
  except (pickle.UnpicklingError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as e:
    raise WeightsError(f'cannot read {path}: {type(e).__name__}: {e}'.splitlines()[0]) from None


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


def write(path, state_dict, *, archive='archive'):
  """Writes a (nested) mapping of arrays as torch.save would write the matching tensors.

  Args:
    path: the .pth/.pt file to write (atomically: a temporary file renamed when complete).
    state_dict: key -> numpy array, or key -> such a mapping (MUNIT's {'a': ..., 'b': ...}).
    archive: the zip's top folder (torch.save uses 'archive').

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
  tmp = f'{path}.tmp'
  with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_STORED) as out:
    out.writestr(f'{archive}/data.pkl', pickler.getvalue())
    out.writestr(f'{archive}/byteorder', 'little')
    for key, array in arrays.items():
      out.writestr(_aligned(out, f'{archive}/data/{key}'), array.tobytes())
    out.writestr(f'{archive}/version', '3\n')
  os.replace(tmp, path)
