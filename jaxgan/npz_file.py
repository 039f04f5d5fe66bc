"""Reading `.npz` weight files from others: bounded, no pickles, every size checked.

`np.load` on an `.npz` refuses pickles (allow_pickle=False) but still trusts the archive: it
allocates an array of the shape a member's header declares before reading its bytes, and
inflates a member of any compression ratio. Here each member's header is read first, its
dtype must be a plain number, and the bytes the shape needs must be exactly the bytes the
member holds, within `torch_file.MAX_ZIP_RATIO` of what the archive stores.
"""

import io
import math
import os
import zipfile

import numpy as np

from jaxgan.errors import WeightsError
from jaxgan.torch_file import MAX_ZIP_RATIO, one_line

_HEADER_BYTES = 10_000  # numpy's own limit on a header (max_header_size)


def _member(archive, info, file_bytes):
  if info.compress_size > file_bytes or info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
    raise ValueError(f'{info.filename} declares {info.file_size} bytes (a zip bomb?)')
  with archive.open(info) as f:
    head = io.BytesIO(f.read(min(info.file_size, _HEADER_BYTES + 16)))
    version = np.lib.format.read_magic(head)
    if version == (1, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_1_0(head, _HEADER_BYTES)
    elif version in ((2, 0), (3, 0)):
      shape, fortran, dtype = np.lib.format.read_array_header_2_0(head, _HEADER_BYTES)
    else:
      raise ValueError(f'{info.filename}: npy format {version}')
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
      raise ValueError(f'{info.filename}: dtype {dtype} is not a plain number')
    if len(shape) > 32:
      raise ValueError(f'{info.filename}: {len(shape)} dims')
    nbytes = math.prod(shape) * dtype.itemsize
    if head.tell() + nbytes != info.file_size:
      raise ValueError(
        f'{info.filename}: shape {shape[:8]} needs {nbytes} bytes, the member holds '
        f'{info.file_size - head.tell()}'
      )
    f.seek(head.tell())
    raw = f.read(nbytes)
  if len(raw) != nbytes:
    raise ValueError(f'{info.filename} is truncated')
  array = np.frombuffer(raw, dtype).reshape(shape, order='F' if fortran else 'C')
  return array.astype(dtype.newbyteorder('='))


def read(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """The arrays of an `.npz` file, keyed by name (without '.npy').

  Raises:
    WeightsError: a missing, damaged or hostile file (object or record dtypes, sizes that do
      not match the bytes, zip bombs); one line naming it.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise WeightsError(f'no weight file {path}')
  try:
    file_bytes = os.path.getsize(path)
    out = {}
    with zipfile.ZipFile(path) as archive:
      for info in archive.infolist():
        if not info.filename.endswith('.npy'):
          continue
        name = info.filename[: -len('.npy')]
        out[name] = _member(archive, info, file_bytes)
        if sum(a.nbytes for a in out.values()) > MAX_ZIP_RATIO * file_bytes:
          raise ValueError('the arrays take more memory than the file could hold')
    return out
  except Exception as e:  # noqa: BLE001 - whatever a hostile file provokes is one line
    raise WeightsError(f'cannot read {path}: {one_line(e)}') from None
