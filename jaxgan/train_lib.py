"""The one training loop, shared by every model (pix2pix, CycleGAN, ...).

`train(config, workdir)` builds the data and the model, resumes from the newest checkpoint in
the workdir if there is one, and runs the compiled, donated, data-parallel step until
`train_state.total_steps`. Outputs, all under the workdir:

  config.json         the run's config (eval.py --workdir rebuilds the run from it)
  checkpoints/<step>  every `checkpoint_every` steps and at the end (newest `keep_checkpoints`)
  web/index.html      sample grids (web/images/) of a fixed held-out batch, newest first
  tensorboard/        losses and lr every `log_every` steps, the sample grids
  loss_log.txt        the losses as text, like the official loss_log.txt

Resuming: re-running the same command continues from the newest checkpoint, which holds the
whole TrainState (params, batch stats, optimizer states, image pools, step, RNG key), so the
step, the learning rate and every random draw of the steps continue exactly. The data stream is
rebuilt from the config's seed (data.build draws every shuffle and augmentation statelessly from
the example's position) and started at the batches not yet used, so the resumed run
sees exactly the batches an uninterrupted one would: on the same devices its final state is the
uninterrupted run's bit for bit (tests/test_train.py checks it). What is not exact: a resume
with other options than num_steps (batch size, data) or on another number of devices. Folders
and the built-in sets jump to the position without loading an image; tfds streams (shuffle
buffers) read and drop the used batches.

Stopping: SIGTERM or SIGINT (Ctrl-C) sets a flag; the loop saves a checkpoint at the next step
boundary and returns (a second Ctrl-C stops at once). An exception leaves the newest periodic
checkpoint intact: a save is committed whole or not at all.
"""

import collections
import contextlib
import dataclasses
import fcntl
import inspect
import json
import os
import pathlib
import shutil
import signal
import socket
import sys
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
import tqdm
from flax import traverse_util
from jax.experimental import multihost_utils

from jaxgan import checkpoint, config_checks, data, errors, models, parallel, train_eval, visualize
from jaxgan import train_state as ts
from jaxgan.port import states

_AHEAD = 2  # steps the host may dispatch ahead of the device


@dataclasses.dataclass
class Outcome:
  """How `train` ended.

  Attributes:
    step: the step reached (and checkpointed).
    total_steps: the step the run trains to.
    signal: 'SIGTERM' or 'SIGINT' when a signal stopped it early, else None.
  """

  step: int
  total_steps: int
  signal: str | None = None


class _StopRequest:
  """Turns SIGTERM/SIGINT into a flag the loop polls at step boundaries (main thread only)."""

  def __init__(self):
    self.signal = None
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.signal == 'SIGINT' and signum == signal.SIGINT:
      raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the checkpoint
    self.signal = signal.Signals(signum).name

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def requested(self, step, every):
    """Whether to stop after `step`: every process must agree, so processes vote every `every`."""
    if jax.process_count() == 1:
      return self.signal is not None
    if step % every:
      return False
    votes = multihost_utils.process_allgather(np.int32(self.signal is not None))
    if votes.any() and self.signal is None:
      self.signal = 'SIGTERM'  # another process was told to stop
    return bool(votes.any())


def _train_stream(dataset, start_step, released=None):
  """The training batches from step `start_step` on (data.build's endless training stream).

  `released` (a threading.Event) is set once the stream is closed or dropped: the prefetch
  thread reading it has let go of the tf.data iterator.
  """
  try:
    yield from dataset.batches(start_step)  # a training stream runs on across epochs
  finally:
    if released is not None:
      released.set()


def sample_batch(config, num):
  """A fixed batch of `num` held-out examples (config.eval.split's, else the train split's).

  Every process loads the same examples, so the batch can be replicated.
  """
  for split in (config.eval.split, 'train'):
    try:
      dataset = data.build(
        config, split, train=False, process_index=0, process_count=1, batch_size=num
      )
    except errors.InputError:
      if split == 'train':
        raise
      continue
    batch = next(dataset.batches())
    return {k: v for k, v in batch.items() if not k.endswith('_paths')}
  raise AssertionError('unreachable')


def _lr(config, step, steps_per_epoch):
  """The learning rate step `step` (1-based) trained with."""
  return float(config.lr) * float(
    ts.lr_factor(config, ts.schedule_epoch(config, step - 1, steps_per_epoch))
  )


def _epoch(config, step, steps_per_epoch):
  """The official epoch number (from epoch_count) that step `step` (1-based) belongs to."""
  return (max(step, 1) - 1) // steps_per_epoch + int(config.epoch_count)


# What a resumed run may change without --config.allow_config_change: how long, how often it
# logs, samples and saves, how it is evaluated, where the data lies, how fast it is read.
FREE_KEYS = (
  'num_steps',
  'log_every',
  'sample_every',
  'checkpoint_every',
  'keep_checkpoints',
  'eval_every',
  'keep_best',
  'num_samples',
  'name',
  'allow_config_change',
  'remat',
  'eval.',
  'data.dataroot',
  'data.tfds_data_dir',
  'data.prefetch',
  'data.num_parallel_calls',
  'data.autotune',
  'data.cache_mb',
)


# Options of the loop and the optimiser that must be positive (or >= 0), checked before anything
# is built: a zero interval would divide by zero, a negative lr would ascend.
_POSITIVE = ('log_every', 'sample_every', 'checkpoint_every', 'num_samples')
_NON_NEGATIVE = ('lr', 'num_steps', 'keep_checkpoints', 'n_epochs', 'n_epochs_decay')


def _check_options(config, workdir):
  """ConfigError / InputError naming the option or the workdir, before anything is built."""
  config_checks.check(config)
  for key in _POSITIVE:
    if key in config and not config[key] > 0:
      raise errors.ConfigError(f'config.{key} is {config[key]}; expected a value > 0')
  for key in _NON_NEGATIVE:
    if key in config and config[key] < 0:
      raise errors.ConfigError(f'config.{key} is {config[key]}; expected a value >= 0')
  if config.num_steps == 0 and config.get('n_epochs', 0) + config.get('n_epochs_decay', 0) == 0:
    raise errors.ConfigError('config.num_steps is 0 and so are the epochs: nothing to train')
  train_eval.check(config)
  if workdir.exists() and not workdir.is_dir():
    raise errors.InputError(f'--workdir={workdir} is a file; expected a directory')
  if workdir.is_dir() and not os.access(workdir, os.W_OK | os.X_OK):
    raise errors.InputError(f'--workdir={workdir} is not writable: checkpoints go there')


def _check_config_change(config, workdir, primary):
  """Refuses (ConfigError) resuming with settings that change what the run is, naming them."""
  try:
    saved = traverse_util.flatten_dict(checkpoint.load_config(workdir).to_dict(), sep='.')
  except errors.InputError:
    return  # no config.json (a run from before it existed): nothing to compare
  new = traverse_util.flatten_dict(json.loads(config.to_json_best_effort()), sep='.')

  def free(key):
    return any(key == f or (f.endswith('.') and key.startswith(f)) for f in FREE_KEYS)

  changed = [
    f'{key} {saved[key]!r} -> {new[key]!r}'
    for key in sorted(saved.keys() & new.keys())
    if saved[key] != new[key] and not free(key)
  ]
  if not changed:
    return
  if not config.get('allow_config_change', False):
    raise errors.ConfigError(
      f'{workdir} was trained with other settings ({"; ".join(changed)}): resuming would '
      'change the run; drop the changes, use another --workdir, or pass '
      '--config.allow_config_change=True'
    )
  if primary:
    print(f'  resuming with changed settings: {"; ".join(changed)}', flush=True)


_FINITE = 'finite'


def _finite_checked(train_step):
  """train_step that also reports whether its losses and the new parameters are all finite
  (reductions inside the jitted step; the host reads the flag with the step's metrics)."""

  def step(state, batch):
    state, metrics = train_step(state, batch)
    leaves = [*metrics.values(), *jax.tree.leaves(state.params)]
    finite = jnp.stack([jnp.isfinite(x).all() for x in leaves]).all()
    return state, {**metrics, _FINITE: finite}

  return step


class _Checked:
  """Reads each step's finite flag (after the step is done) and stops the run on the first
  step that is not: the checkpoints written before it stay the last good states."""

  def __init__(self, ckpt):
    self.ckpt = ckpt

  def __call__(self, step, metrics):
    values = jax.device_get(metrics)
    if bool(values[_FINITE]):
      return
    bad = [f'{k}={float(v)}' for k, v in values.items() if k != _FINITE and not np.isfinite(v)]
    what = ', '.join(bad) if bad else 'the losses are finite but some parameters are not'
    good = self.ckpt.latest_step()
    if good:
      where = (
        f'the newest checkpoint (step {good}) is the last good state: rerun with a lower '
        '--config.lr (and --config.allow_config_change=True) to resume from it'
      )
    else:
      where = 'no checkpoint was written: start again with a lower --config.lr'
    raise errors.DivergedError(f'training diverged at step {step}: {what}; {where}')

  def all(self, in_flight):
    while in_flight:
      self(*in_flight.popleft())


# tensorstore's status codes for what an OSError says elsewhere (orbax raises them as
# ValueError: a full disk is 'RESOURCE_EXHAUSTED: ... No space left on device').
_STORAGE_STATUS = {
  'RESOURCE_EXHAUSTED': 'no space left on the device',
  'PERMISSION_DENIED': 'permission denied',
}


def _storage_error(error):
  """What a failed write says about the storage (a full disk, a read-only workdir: orbax
  wraps OSErrors, tensorstore raises its status codes), or None for any other failure."""
  seen = set()
  while error is not None and id(error) not in seen:
    if isinstance(error, OSError):
      return error.strerror or str(error)
    for status, meaning in _STORAGE_STATUS.items():
      if str(error).startswith(status) or f' {status}' in str(error)[:200]:
        return meaning
    seen.add(id(error))
    error = error.__cause__ or error.__context__
  return None


def _save(ckpt, step, state):
  """ckpt.save (state None: wait for the saves in flight); a full disk or a read-only workdir
  is one line saying which checkpoints are intact (orbax renames a step only once complete)."""
  try:
    if state is None:
      ckpt.wait()
    else:
      ckpt.save(step, state)
  except Exception as e:
    reason = _storage_error(e)
    if reason is None:
      raise
    intact = ', '.join(map(str, ckpt.all_steps())) or 'none'
    raise errors.InputError(
      f'cannot write checkpoint {step} to {ckpt.directory}: {reason}; the checkpoints written '
      f'before it ({intact}) are intact'
    ) from None


def fresh_state(config, create, sharding, init_from=None):
  """The state a new run starts from: `create()` as one program, then the nets `init_from`
  names ({net: file}, `port.states.parse` of config.init_from) loaded from their files."""
  state = jax.jit(create, out_shardings=sharding)()  # one program: faster than op-by-op init
  if init_from:
    state = jax.device_put(states.load_into(config, state, init_from), sharding)
  return state


class WorkdirLock:
  """An exclusive lock on a workdir (`<workdir>/.lock`, flock), held while a run trains in it.

  The kernel releases it when the process ends, however it ends: a lock is never stale. The
  file keeps the holder's pid and host for the message a second trainer gets.
  """

  def __init__(self, workdir):
    self.path = pathlib.Path(workdir) / '.lock'
    self.file = None

  def __enter__(self):
    self.path.parent.mkdir(parents=True, exist_ok=True)
    self.file = open(self.path, 'a+')  # noqa: SIM115 - held open for the lock's lifetime
    try:
      fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      self.file.seek(0)
      holder = self.file.read().strip() or 'another process'
      self.file.close()
      raise errors.InputError(
        f'{self.path.parent} is in use by a running trainer ({holder}): wait for it, stop it, '
        'or use another --workdir'
      ) from None
    self.file.seek(0)
    self.file.truncate()
    self.file.write(f'pid {os.getpid()} on {socket.gethostname()}')
    self.file.flush()
    return self

  def __exit__(self, *exc):
    if self.file is not None:
      self.file.close()  # releases the lock


class _ProgressBar:
  """tqdm's bar (step/s, ETA, losses), started after the first step: its rate and ETA leave
  out the compilation, which the line before it reports. At most 160 columns, a terminal's
  width or 120 in a log file, with a bar 20 wide: MUNIT's 12 losses are cut at the end (all of
  them are in loss_log.txt and TensorBoard)."""

  def __init__(self, total, start, *, enabled):
    self.total, self.start, self.enabled = total, start, enabled
    self.bar, self.t0 = None, time.time()
    columns = shutil.get_terminal_size((120, 24)).columns if sys.stderr.isatty() else 120
    self.columns = min(columns, 160)

  def update(self, step, metrics):
    if self.bar is None:
      jax.block_until_ready(metrics)  # the first step compiles the program
      if self.enabled:
        tqdm.tqdm.write(
          f'  first step (compiling the train step, or loading it from the compilation cache): '
          f'{time.time() - self.t0:.1f}s'
        )
      self.bar = tqdm.tqdm(
        total=self.total,
        initial=step,
        unit='step',
        ncols=self.columns,
        bar_format='{l_bar}{bar:20}{r_bar}',  # the bar keeps its width; long losses are cut
        disable=not self.enabled,
        smoothing=0.1,
      )
    else:
      self.bar.update(step - self.bar.n)

  def losses(self, values):
    if self.bar is not None:
      self.bar.set_postfix({k.removeprefix('loss_'): f'{v:.3f}' for k, v in values.items()})

  def close(self):
    if self.bar is not None:
      self.bar.close()


def train(config, workdir, *, on_step=None):
  """Trains `config.model` on `config`'s data, writing into `workdir`; resumes from it.

  Args:
    config: the run's ConfigDict (see configs/common.py).
    workdir: the run's directory; created if absent.
    on_step: called with the step number after each step is dispatched (the benchmark's
      clock; at most _AHEAD steps run ahead of the device).

  Returns:
    An `Outcome`.

  Raises:
    jaxgan.errors.JaxganError: bad config, missing data, a checkpoint that does not fit.
  """
  parallel.init_distributed()
  workdir = pathlib.Path(workdir)
  _check_options(config, workdir)
  # One trainer per workdir: two would overwrite each other's checkpoints and logs.
  with WorkdirLock(workdir) if jax.process_index() == 0 else contextlib.nullcontext():
    return _train(config, workdir, on_step)


def _train(config, workdir, on_step):
  """`train`'s work, under the workdir's lock."""
  primary = jax.process_index() == 0
  model = models.get(config.model)
  mesh = parallel.make_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  # Bad model options fail here, in a second, before any data is read.
  jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(config.seed), 1))
  init_from = states.parse(config.get('init_from', ''), model, option='config.init_from')
  # Scoring while training: a score it cannot compute fails here, not at its first evaluation.
  evaluator = train_eval.Evaluator(config, workdir)

  dataset = data.build(
    config,
    'train',
    train=True,
    process_index=jax.process_index(),
    process_count=jax.process_count(),
  )
  spe = dataset.steps_per_epoch
  total = ts.total_steps(config, spe)
  held_out = sample_batch(config, config.num_samples)

  def create():
    return model.create(config, jax.random.PRNGKey(config.seed), spe)

  rep = parallel.replicated(mesh)
  ckpt = checkpoint.Checkpointer(workdir, keep=config.keep_checkpoints)
  start = ckpt.latest_step() or 0
  if start:
    _check_config_change(config, workdir, primary)
  web_dir = workdir / 'web'
  if primary:  # before the seconds of building (or restoring) the state and compiling
    print(
      f'{config.model} {config.name}: {dataset.num_examples} training examples'
      f'{" (decoded and resized once, held in memory)" if dataset.in_memory else ""}, '
      f'{spe} steps an epoch, {total} steps on {mesh.devices.size} device(s)\n'
      f'  {"resuming at step " + str(start) if start else "starting at step 0"}'
      + (f' from {config.init_from}' if init_from and not start else '')
      + '\n'
      f'  checkpoints: {ckpt.directory} (every {config.checkpoint_every} steps, keeps '
      f'{config.keep_checkpoints})\n'
      f'  samples:     {web_dir / "index.html"} (every {config.sample_every} steps)\n'
      + (
        f'  evaluation:  {workdir / train_eval.DURING_DIR} (every {config.eval_every} steps'
        + (
          f'; the best {config.keep_best} kept in {workdir / train_eval.BEST_DIR}'
          if config.keep_best
          else ''
        )
        + ')\n'
        if config.get('eval_every', 0)
        else ''
      )
      + f'  TensorBoard: tensorboard --logdir {workdir / "tensorboard"}',
      flush=True,
    )

  if start:
    template = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=rep), jax.eval_shape(create)
    )
    state, start = ckpt.restore_intact(template, set_aside=True)
  else:
    state = fresh_state(config, create, rep, init_from)
  checkpoint.save_config(workdir, config)

  step_fn = parallel.compile_train_step(_finite_checked(model.train_step), state, mesh)
  sample_fn = jax.jit(model.sample, out_shardings=rep)
  held_out = parallel.replicate(held_out, mesh)
  writer = visualize.Writer(workdir / 'tensorboard', enabled=primary)

  def log(step, metrics):
    values = {k: float(v) for k, v in jax.device_get(metrics).items() if k != _FINITE}
    if not primary:
      return
    # A model with its own schedule (MUNIT: per iteration) says what rate the step used.
    lr = (
      model.learning_rate(config, step)
      if hasattr(model, 'learning_rate')
      else _lr(config, step, spe)
    )
    writer.scalars(step, {**values, 'lr': lr})
    bar.losses(values)
    line = ' '.join(f'{k.removeprefix("loss_")}: {v:.4f}' for k, v in values.items())
    with open(workdir / 'loss_log.txt', 'a') as f:
      f.write(f'(epoch: {_epoch(config, step, spe)}, step: {step}, lr: {lr:.3g}) {line}\n')

  def save_sample(step):
    visuals = jax.device_get(sample_fn(state, held_out))
    if not primary:
      return
    names = [n for n in model.VISUALS if n in visuals]
    grid = visualize.make_grid(visuals, names)
    visualize.save_training_sample(
      web_dir,
      grid,
      epoch=_epoch(config, step, spe),
      step=step,
      columns=names,
      title=f'{config.name} ({config.model})',
      column_width=max(128, grid.shape[1] // len(names)),
    )
    writer.image(step, 'samples', grid)

  def evaluate(step):
    t = time.time()
    scores, kept = evaluator(state, step)
    if not primary:
      return
    writer.scalars(step, {f'eval/{k}': v for k, v in scores.items()})
    line = ' '.join(f'{k}: {v:.4g}' for k, v in scores.items())
    best = evaluator.best.record if evaluator.best else None
    note = (
      f' (best {best["metric"]} {best["value"]:.4g} at step {best["step"]}'
      + (', kept' if kept else '')
      + ')'
      if best
      else ''
    )
    tqdm.tqdm.write(f'  eval at step {step} ({time.time() - t:.1f}s): {line}{note}')
    with open(workdir / 'loss_log.txt', 'a') as f:
      f.write(f'(eval, epoch: {_epoch(config, step, spe)}, step: {step}) {line}{note}\n')

  step, saved = start, start
  released = threading.Event()
  stream = _train_stream(dataset, start, released)
  batches = parallel.prefetch_to_device(stream, config.data.prefetch, mesh)
  bar = _ProgressBar(total, start, enabled=primary)
  t0 = time.time()
  try:
    with _StopRequest() as stop:
      in_flight = collections.deque()
      checked = _Checked(ckpt)
      while step < total and not stop.requested(step, config.log_every):
        state, metrics = step_fn(state, next(batches))
        step += 1
        # The host runs at most _AHEAD steps ahead of the device: the bar's rate is the real
        # one, and a stop request is acted on within _AHEAD steps (not a whole log interval).
        in_flight.append((step, metrics))
        if len(in_flight) > _AHEAD:
          checked(*in_flight.popleft())
        bar.update(step, in_flight[-1][1])
        if on_step is not None:
          on_step(step)
        if step % config.log_every == 0 or step == total:
          checked.all(in_flight)  # what is logged and shown comes from finite steps
          log(step, metrics)
        if step % config.sample_every == 0 or step == total:
          checked.all(in_flight)
          save_sample(step)
        if evaluator.due(step, total):
          checked.all(in_flight)  # only a state whose every step was finite is scored or kept
          evaluate(step)
        if step % config.checkpoint_every == 0 and step < total:
          checked.all(in_flight)  # a checkpoint holds only a state every step of was finite
          _save(ckpt, step, state)
          saved = step
      checked.all(in_flight)
      if step > saved or ckpt.latest_step() is None:
        _save(ckpt, step, state)
      _save(ckpt, step, None)
  finally:
    prefetching = inspect.getgeneratorstate(batches) != inspect.GEN_CREATED
    batches.close()  # stops the prefetch thread...
    del stream
    if prefetching:
      # ...which must be out of TensorFlow before the interpreter exits: a daemon thread still
      # in tf.data's C++ code then aborts the process ('FATAL: exception not rethrown').
      released.wait(timeout=60)
    bar.close()
    writer.close()
    evaluator.close()
    ckpt.close()  # waits for a save in flight; an interrupted one is never picked up
  if primary and start >= total and not stop.signal:
    print(
      f'nothing to train: the run is at step {start}, its num_steps is {total} (raise '
      f'--config.num_steps to train on); checkpoint {ckpt.directory}/{start}',
      flush=True,
    )
  elif primary:
    done = f'stopped by {stop.signal} at' if stop.signal else 'finished'
    print(
      f'{done} step {step}/{total} in {time.time() - t0:.0f}s; checkpoint {ckpt.directory}/{step}',
      flush=True,
    )
  return Outcome(step=step, total_steps=total, signal=stop.signal)
