"""The one wrapper around orbax: checkpoints of the whole TrainState, and the run's config.

Layout of a workdir:

  <workdir>/config.json           the run's ConfigDict, so eval.py --workdir can rebuild the run
  <workdir>/checkpoints/<step>/   one orbax checkpoint per saved step (the newest `keep` are kept)

Every leaf of the TrainState pytree is saved (params, batch stats, optimizer states, image pools,
step, RNG key), flattened to a dict keyed by its tree path so that namedtuple optimizer states,
empty pools and typed PRNG keys all round-trip; the pytree structure comes back from the
template given to `restore`. Orbax writes each step into a temporary directory and renames it
when complete, so a run killed mid-save leaves no checkpoint that `latest_step` would pick up;
leftover temporary directories are removed when the next run opens the directory. Orbax also
coordinates processes: call every method here from every process.
"""

import contextlib
import json
import os
import pathlib
import shutil
import sys
import time

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from jaxgan import errors

CONFIG_FILE = 'config.json'
CHECKPOINT_DIR = 'checkpoints'
# The best-scoring state of a run (config.keep_best, jaxgan.train_eval): its own folder of one
# step, and the record naming it.
BEST_DIR = 'best'
BEST_FILE = 'best.json'


def _key_name(key):
  for attr in ('key', 'name', 'idx'):
    if hasattr(key, attr):
      return str(getattr(key, attr))
  return str(key)


def _is_prng_key(x):
  return hasattr(x, 'dtype') and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _key_impl(key):
  if isinstance(key, jax.Array):
    return jax.random.key_impl(key)
  return key.dtype._impl  # an abstract key (from jax.eval_shape) carries its impl in its dtype


def _named_leaves(tree):
  """[(name, leaf)] in tree order, each leaf named by its path ('params.G.conv.kernel')."""
  named = [
    ('.'.join(_key_name(k) for k in path) or 'leaf', leaf)
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
  ]
  if len({name for name, _ in named}) != len(named):
    raise ValueError('two leaves of the state share a checkpoint name')
  return named


def _abstract_leaf(leaf, default_sharding):
  """The ShapeDtypeStruct (with sharding) that orbax restores `leaf`'s saved value into."""
  sharding = getattr(leaf, 'sharding', None) or default_sharding
  if _is_prng_key(leaf):
    # The key data has one more (trailing) axis than the key; a NamedSharding's spec leaves it
    # replicated.
    shape = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(leaf.shape, leaf.dtype))
    return jax.ShapeDtypeStruct(shape.shape, shape.dtype, sharding=sharding)
  leaf = np.asarray(leaf) if not hasattr(leaf, 'dtype') else leaf
  return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding)


def _complete(step_dir: pathlib.Path) -> bool:
  """Whether a step folder holds a whole checkpoint: orbax's metadata and our one item. An
  empty or partial one comes from an interrupted copy or sync (orbax itself only renames a
  step into place once complete)."""
  return (step_dir / '_CHECKPOINT_METADATA').is_file() and (step_dir / 'default').is_dir()


def _ignore_closed_loop_callbacks():
  """After a failed restore, tensorstore's reads still in flight complete on orbax's closed
  event loop, and their callbacks report 'Event loop is closed' tracebacks (as unraisable
  exceptions, from tensorstore's threads) around the real message: those are not news."""
  previous = sys.unraisablehook
  if getattr(previous, 'jaxgan_filter', False):
    return

  def hook(unraisable):
    if unraisable.exc_type is RuntimeError and str(unraisable.exc_value) == 'Event loop is closed':
      return
    previous(unraisable)

  hook.jaxgan_filter = True
  sys.unraisablehook = hook


@contextlib.contextmanager
def _quiet_orbax():
  """Keeps orbax's own warnings about folders we skip (and name) off the console."""
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    yield
  finally:
    logging.set_verbosity(verbosity)


class Checkpointer:
  """Saves and restores TrainStates under `<workdir>/checkpoints`.

  Args:
    workdir: the run's directory (created if absent, unless read_only).
    keep: how many of the newest checkpoints to keep (None or 0: all).
    async_save: write in a background thread; `wait()` (or `close()`) blocks until done.
    read_only: only restore (eval.py): create nothing, and leave a running trainer's temporary
      directories alone.
    subdir: the folder of the workdir the steps go in (`best` holds the best-scoring state,
      jaxgan.train_eval).
  """

  def __init__(self, workdir, *, keep=3, async_save=True, read_only=False, subdir=CHECKPOINT_DIR):
    self.directory = pathlib.Path(workdir).absolute() / subdir
    self._options = ocp.CheckpointManagerOptions(
      max_to_keep=keep or None,
      create=not read_only,
      cleanup_tmp_directories=not read_only,
      enable_async_checkpointing=async_save,
    )
    self._read_only = read_only
    self._warned, self._saved = set(), set()
    self._manager = None
    self._open()

  def _open(self):
    """A fresh orbax manager: one that failed to restore a step keeps state that makes it
    fail on every other step."""
    if self._manager is not None:
      with contextlib.suppress(Exception), _quiet_orbax():
        self._manager.close()
    with _quiet_orbax():
      self._manager = ocp.CheckpointManager(self.directory, options=self._options)

  def latest_step(self):
    """The newest complete checkpoint's step, or None when there is none."""
    steps = self.all_steps()
    return steps[-1] if steps else None

  def all_steps(self):
    """The steps of complete checkpoints, oldest first; incomplete step folders are named once
    on stderr and skipped."""
    steps = []
    for step in sorted(self._manager.all_steps()):
      # A step this process saved is orbax's to finish (an async save is on its way to disk).
      if step in self._saved or _complete(self.directory / str(step)):
        steps.append(step)
      elif step not in self._warned and (self.directory / str(step)).exists():
        self._warned.add(step)
        print(
          f'warning: {self.directory / str(step)} is not a complete checkpoint (an interrupted '
          'copy?): skipped',
          file=sys.stderr,
          flush=True,
        )
    return steps

  def incomplete_steps(self):
    return sorted(
      s
      for s in self._manager.all_steps()
      if s not in self._saved and not _complete(self.directory / str(s))
    )

  def save(self, step, state):
    """Saves `state` as checkpoint `step` (asynchronously unless async_save=False)."""
    flat = {
      name: jax.random.key_data(leaf) if _is_prng_key(leaf) else leaf
      for name, leaf in _named_leaves(state)
    }
    self._manager.save(int(step), args=ocp.args.StandardSave(flat), force=True)
    self._saved.add(int(step))

  def restore(self, template, step=None):
    """Restores checkpoint `step` (default: the newest) into the structure of `template`.

    Args:
      template: a state with the run's structure: concrete arrays, or abstract ones from
        `jax.eval_shape` (ShapeDtypeStructs). Each leaf's sharding (where it has one) is the
        sharding restored into; leaves without one go to the first local device.
      step: which checkpoint; None for the newest.

    Returns:
      The restored state, with typed PRNG keys wrapped back as keys.

    Raises:
      jaxgan.errors.InputError: no checkpoint, or one that is damaged or does not fit the
        template (one line).
    """
    step = self.latest_step() if step is None else step
    if step is None:
      raise errors.InputError(f'no checkpoint in {self.directory}')
    where = self.directory / str(step)
    if where.exists() and not _complete(where):
      raise errors.InputError(f'checkpoint {where} is incomplete (an interrupted copy?)')
    default = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    named = _named_leaves(template)
    abstract = {name: _abstract_leaf(leaf, default) for name, leaf in named}
    _ignore_closed_loop_callbacks()
    try:
      with _quiet_orbax():
        restored = self._manager.restore(int(step), args=ocp.args.StandardRestore(abstract))
    except Exception as e:  # noqa: BLE001 - orbax and tensorstore fail in many ways
      self._open()
      text = str(e).strip().splitlines()
      msg = text[0][:300] if text else type(e).__name__
      raise errors.InputError(
        f'checkpoint {where} cannot be restored (damaged, or does not fit this model/config): {msg}'
      ) from None
    out = []
    for name, leaf in named:
      value = restored[name]
      if _is_prng_key(leaf):
        value = jax.random.wrap_key_data(value, impl=_key_impl(leaf))
      elif isinstance(leaf, np.ndarray | np.generic | int | float):
        value = np.asarray(value)
      out.append(value)
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), out)

  def restore_intact(self, template, *, set_aside=False):
    """(state, step) of the newest checkpoint that restores, trying older ones past damage.

    A checkpoint that cannot be read (a truncated file, garbage in its metadata) is named in a
    line on stderr and skipped; with `set_aside` (a training run, which will write that step
    again) it is moved to `<workdir>/damaged_checkpoints/`, as are incomplete step folders. A
    step that disappears while it is read (a trainer's rotation removed it) is not damage:
    the steps are listed again.

    Raises:
      jaxgan.errors.InputError: no checkpoint, or none that restores (each named).
    """
    if set_aside and self.incomplete_steps():
      self._set_aside(self.incomplete_steps())
    failures, tried = [], set()
    for _ in range(10):  # a rotation can remove at most a few steps while we read
      steps = [s for s in self.all_steps() if s not in tried]
      if not steps and not tried:
        raise errors.InputError(f'no checkpoint in {self.directory}')
      raced = False
      for step in reversed(steps):
        tried.add(step)
        try:
          state = self.restore(template, step)
        except Exception as e:  # noqa: BLE001 - any failure to read means this step is unusable
          if not (self.directory / str(step)).exists():
            raced = True  # removed by a running trainer's rotation: list again
            break
          text = str(e).strip().splitlines()
          failures.append((step, text[0] if text else type(e).__name__))
          continue
        if failures:
          named = ', '.join(f'{s} ({why})' for s, why in failures)
          print(
            f'warning: damaged checkpoint(s) {named} skipped; using step {step}',
            file=sys.stderr,
            flush=True,
          )
          if set_aside:
            self._set_aside([s for s, _ in failures])
        return state, step
      if not raced:
        break
    reasons = '; '.join(f'{s} ({why})' for s, why in failures) or 'none left'
    raise errors.InputError(f'no checkpoint in {self.directory} restores: {reasons}')

  def _set_aside(self, steps):
    if jax.process_index() == 0:
      aside = self.directory.parent / 'damaged_checkpoints'
      aside.mkdir(exist_ok=True)
      for step in steps:
        source = self.directory / str(step)
        if source.exists():
          shutil.move(str(source), str(aside / f'{step}-{int(time.time())}'))
    self._manager.reload()

  def wait(self):
    """Blocks until any background save has been committed."""
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
    # orbax's close() does not wait for the removal of temporary directories it starts when
    # opened; a process exiting meanwhile prints that thread's traceback.
    await_cleanup = getattr(self._manager, '_maybe_await_cleanup_tmp_directory', None)
    if await_cleanup:
      await_cleanup()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def read_best(workdir) -> dict | None:
  """The record of a workdir's best-scoring state ({'metric', 'value', 'step', 'scores'}), or
  None where there is none.

  Raises:
    jaxgan.errors.InputError: a record that is not one (damaged, edited, or someone else's),
      named in one line; its step is never used as a path unchecked.
  """
  path = pathlib.Path(workdir) / BEST_DIR / BEST_FILE
  if not path.exists():
    return None
  try:
    if path.stat().st_size > 2**20:  # a record is a few hundred bytes
      raise ValueError('larger than 1 MiB')
    record = json.loads(path.read_text())
    valid = (
      isinstance(record, dict)
      and isinstance(record.get('metric'), str)
      and isinstance(record.get('value'), int | float)
      and not isinstance(record.get('value'), bool)
      and isinstance(record.get('step'), int)
      and not isinstance(record.get('step'), bool)
      and record['step'] >= 0
    )
    if not valid:
      raise ValueError('expected {"metric": <name>, "value": <number>, "step": <step>}')
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.InputError(f'{path} is not a best-state record: {str(e)[:200]}') from None
  return record


def save_config(workdir, config):
  """Writes `config` to `<workdir>/config.json` (process 0 only, atomically)."""
  if jax.process_index() != 0:
    return
  path = pathlib.Path(workdir) / CONFIG_FILE
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(path.name + '.tmp')
  tmp.write_text(config.to_json_best_effort(indent=2, sort_keys=True) + '\n')
  os.replace(tmp, path)


def load_config(workdir, defaults=None):
  """Reads the ConfigDict a run stored in `<workdir>/config.json`.

  Args:
    workdir: the training run's directory.
    defaults: optional ConfigDict whose keys fill those the stored config lacks: a run trained
      before an option existed reads as trained with its default.

  Raises:
    jaxgan.errors.InputError: the workdir or its config.json is missing or unreadable.
  """
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise errors.InputError(f'no workdir at {workdir}')
  path = workdir / CONFIG_FILE
  try:
    values = json.loads(path.read_text())
  except FileNotFoundError:
    raise errors.InputError(f'{path} is missing: is {workdir} a training workdir?') from None
  except (OSError, ValueError) as e:
    raise errors.InputError(f'cannot read {path}: {e}'.splitlines()[0]) from None
  if not isinstance(values, dict) or not isinstance(values.get('model'), str):
    raise errors.InputError(
      f'{path} is not a jaxgan config (expected an object with a "model"); is {workdir} a '
      'training workdir?'
    )
  if defaults is not None:
    mismatch = _type_mismatch(values, defaults.to_dict())
    if mismatch:
      raise errors.InputError(f'{path} is not a jaxgan config: {mismatch}')
    _fill_missing(values, defaults.to_dict())
  return ml_collections.ConfigDict(values)


def _kind(value):
  if isinstance(value, bool):
    return 'a boolean'
  if isinstance(value, int | float):
    return 'a number'
  if isinstance(value, str):
    return 'a string'
  if isinstance(value, dict):
    return 'a section'
  return 'a list' if isinstance(value, list | tuple) else 'null'


def _type_mismatch(values, defaults, prefix=''):
  """'key is X, expected Y' for the first stored value of another kind than its default."""
  for key, default in defaults.items():
    if key not in values or default is None or values[key] is None:
      continue
    got, want = _kind(values[key]), _kind(default)
    if got != want and not (want == 'a list' and got in ('a number', 'a string')):
      return f'{prefix}{key} is {got}, expected {want}'
    if want == 'a section':
      found = _type_mismatch(values[key], default, f'{prefix}{key}.')
      if found:
        return found
  return None


def _fill_missing(values, defaults):
  for key, default in defaults.items():
    if key not in values:
      values[key] = default
    elif isinstance(default, dict) and isinstance(values[key], dict):
      _fill_missing(values[key], default)
