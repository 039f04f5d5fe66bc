"""Where commands may write: never over what they did not write, never into another run.

A training workdir (a folder with `config.json` and `checkpoints/`) belongs to its run: eval.py
and export.py refuse an `--out` that is one, or that lies inside one's checkpoints. An existing
file or folder is replaced only when it carries the mark of the command that replaces it (an
earlier export of the same format, an earlier evaluation), and then atomically: the new one is
written beside it under a temporary name and renamed over it.
"""

import contextlib
import os
import pathlib
import shutil
import tempfile

from jaxgan import errors

CONFIG_FILE = 'config.json'
CHECKPOINT_DIR = 'checkpoints'


def is_workdir(path) -> bool:
  path = pathlib.Path(path)
  return (path / CONFIG_FILE).is_file() and (path / CHECKPOINT_DIR).is_dir()


def refuse_run_folders(out, flag='--out'):
  """Raises ConfigError when `out` is a training workdir or inside one's checkpoints."""
  out = pathlib.Path(out).absolute()
  if is_workdir(out):
    raise errors.ConfigError(
      f'{flag}={out} is a training workdir; writing there could destroy the run: choose '
      'another path'
    )
  for parent in out.parents:
    if parent.name == CHECKPOINT_DIR and is_workdir(parent.parent):
      raise errors.ConfigError(
        f'{flag}={out} is inside the checkpoints of the run {parent.parent}: choose another path'
      )


def check_writable_parent(out, flag='--out'):
  """Creates `out`'s parent folder, or raises ConfigError naming why it cannot be written."""
  parent = pathlib.Path(out).absolute().parent
  try:
    parent.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise errors.ConfigError(f'cannot create {flag}={out}: {e.strerror or e}') from None
  if not parent.is_dir():
    raise errors.ConfigError(f'{flag}={out}: {parent} is not a folder')
  if not os.access(parent, os.W_OK | os.X_OK):
    raise errors.ConfigError(f'cannot write {flag}={out}: {parent} is not writable')


def temp_beside(path, *, folder=False) -> str:
  """A new, unused temporary name in `path`'s folder (never one a user's file could have)."""
  path = pathlib.Path(path)
  prefix = f'.{path.name}.'
  if folder:
    return tempfile.mkdtemp(prefix=prefix, suffix='.tmp', dir=path.parent)
  fd, tmp = tempfile.mkstemp(prefix=prefix, suffix='.tmp', dir=path.parent)
  os.close(fd)
  return tmp


def replace(tmp, path):
  """Renames `tmp` over `path` (a file, or a folder whose old contents go only after)."""
  path = pathlib.Path(path)
  if pathlib.Path(tmp).is_dir() and path.is_dir():
    old = temp_beside(path, folder=True)
    os.rmdir(old)
    os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
  else:
    os.replace(tmp, path)


@contextlib.contextmanager
def discard_on_error(tmp):
  """Removes the temporary `tmp` when the block fails (what is being replaced stays)."""
  try:
    yield tmp
  except BaseException:
    if os.path.isdir(tmp):
      shutil.rmtree(tmp, ignore_errors=True)
    elif os.path.exists(tmp):
      os.remove(tmp)
    raise
