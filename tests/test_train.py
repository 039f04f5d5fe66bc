"""The training loop: end to end through train.py, resume, SIGTERM, and the loop's helpers."""

import itertools
import os
import pathlib
import signal
import subprocess
import sys
import time

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scripts

import jaxgan.eval as eval_lib
from jaxgan import checkpoint, data, errors, models, train_eval, train_lib

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import pix2pix_shapes  # noqa: E402


def _steps(workdir):
  with checkpoint.Checkpointer(workdir) as ckpt:
    return ckpt.all_steps()


def _assert_run_outputs(workdir, steps):
  workdir = pathlib.Path(workdir)
  assert _steps(workdir)[-1] == steps[-1]
  assert (workdir / 'config.json').is_file()
  assert list((workdir / 'tensorboard').glob('events.out.tfevents.*'))
  page = (workdir / 'web' / 'index.html').read_text()
  for step in steps:
    (png,) = (workdir / 'web' / 'images').glob(f'epoch*_step{step:08d}.png')
    assert f'images/{png.name}' in page
  lines = (workdir / 'loss_log.txt').read_text().splitlines()
  logged = [line for line in lines if line.startswith('(epoch')]
  assert [int(line.split('step: ')[1].split(',')[0]) for line in logged] == steps


@pytest.mark.slow
def test_pix2pix_end_to_end_then_resume(tmp_path):
  workdir = tmp_path / 'run'
  args = ['--model=pix2pix', '--config=configs/pix2pix_shapes.py:tiny', f'--workdir={workdir}']
  # A constant lr: num_steps times the schedule, so the longer second run re-times its decay.
  args += ['--config.lr_policy=step', '--config.lr_decay_iters=1000']
  # Scored every 2 steps, the best state kept; the uninterrupted run below is not scored and
  # must end bit-identical: evaluating does not touch the training state or its draws.
  scored = ['--config.eval_every=2', '--config.keep_best=AtoB/mae']
  first = scripts.run('train.py', *args, *scored)
  assert first.returncode == 0, first.stderr[-3000:]
  assert 'starting at step 0' in first.stdout
  assert str(workdir / 'web' / 'index.html') in first.stdout
  _assert_run_outputs(workdir, [2, 4])
  assert checkpoint.load_config(workdir).num_steps == 4

  # The same command with more steps continues from the checkpoint, not from 0.
  best_before = train_eval.read(workdir)
  second = scripts.run('train.py', *args, *scored, '--config.num_steps=6')
  assert second.returncode == 0, second.stderr[-3000:]
  assert 'resuming at step 4' in second.stdout
  _assert_run_outputs(workdir, [2, 4, 6])
  best = _assert_best_kept(workdir, [2, 4, 6])
  # The resumed run competed against the best of the first: it never replaced it by worse.
  assert best['value'] <= best_before['value']

  # Exact resume: the same batches, RNG draws and optimizer states as an uninterrupted run.
  straight = tmp_path / 'straight'
  third = scripts.run(
    'train.py', *args[:2], *args[3:], f'--workdir={straight}', '--config.num_steps=6'
  )
  assert third.returncode == 0, third.stderr[-3000:]
  (step_a, a), (step_b, b) = _final_state(workdir), _final_state(straight)
  assert step_a == step_b == 6
  assert [path for path, _ in a] == [path for path, _ in b]
  for (path, x), (_, y) in zip(a, b, strict=True):
    np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))

  # A diverging continuation (lr 1e10) stops with one line and exit 2 before it writes a
  # checkpoint: step 6 stays the newest, and evaluation reads finite numbers from it.
  huge = ['--config.lr=1e10', '--config.num_steps=12', '--config.allow_config_change=True']
  fourth = scripts.run('train.py', *args, *scored, *huge)
  assert fourth.returncode == 2, fourth.stderr[-3000:]
  (line,) = [x for x in fourth.stderr.splitlines() if x.startswith('error: ')]
  assert 'training diverged at step' in line and '(step 6) is the last good state' in line
  assert _steps(workdir)[-1] == 6
  config, state, step = eval_lib.restore(workdir)  # what eval.py reads: the finite step 6
  assert step == 6 and all(np.isfinite(x).all() for x in jax.tree.leaves(state.params))
  assert train_eval.read(workdir) == best  # the divergence stop kept the best as it was
  _, state, step = eval_lib.restore(workdir, step='best')  # eval.py / export.py --step=best
  assert step == best['step'] and all(np.isfinite(x).all() for x in jax.tree.leaves(state.params))


def _assert_best_kept(workdir, evaluated):
  """The evaluations of `evaluated` steps were logged, and best/ holds the best-scoring one."""
  lines = (pathlib.Path(workdir) / 'loss_log.txt').read_text().splitlines()
  scores = {}
  for line in lines:
    if line.startswith('(eval'):
      step = int(line.split('step: ')[1].split(')')[0])
      scores[step] = float(line.split('AtoB/mae: ')[1].split()[0])
  assert sorted(scores) == evaluated
  best = train_eval.read(workdir)
  assert best['metric'] == 'AtoB/mae' and best['step'] == min(scores, key=scores.get)
  assert best['value'] == pytest.approx(scores[best['step']], rel=1e-3)  # logged with 4 digits
  assert [p.name for p in (pathlib.Path(workdir) / 'best').iterdir() if p.is_dir()] == [
    str(best['step'])
  ]
  # Only the newest evaluation's folder and the best one's stay.
  kept = {p.name for p in (pathlib.Path(workdir) / 'eval' / 'during').iterdir()}
  assert kept == {f'test_{evaluated[-1]}', f'test_{best["step"]}'}
  return best


@pytest.mark.slow
def test_cyclegan_end_to_end(tmp_path):
  workdir = tmp_path / 'run'
  result = scripts.run(
    'train.py', '--config=configs/cyclegan_shapes.py:tiny', f'--workdir={workdir}'
  )
  assert result.returncode == 0, result.stderr[-3000:]
  _assert_run_outputs(workdir, [2, 4])
  page = (workdir / 'web' / 'index.html').read_text()
  for visual in models.get('cyclegan').VISUALS:
    assert f'>{visual}<' in page


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly_then_resumes(tmp_path):
  workdir = tmp_path / 'run'
  args = ['--config=configs/pix2pix_shapes.py:tiny', f'--workdir={workdir}']
  proc = subprocess.Popen(
    scripts.command('train.py', *args, '--config.num_steps=100000'),
    env=scripts.ENV,
    cwd=ROOT,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
  )
  try:
    log = workdir / 'loss_log.txt'
    deadline = time.time() + 400
    while not (log.exists() and log.read_text()) and proc.poll() is None:
      assert time.time() < deadline, 'no training step logged in time'
      time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
  finally:
    if proc.poll() is None:
      proc.kill()
  assert proc.returncode == 128 + signal.SIGTERM, stderr[-3000:]  # preempted, not finished
  assert 'Traceback' not in stderr
  assert 'stopped by SIGTERM at step' in stdout
  reached = int(stdout.split('stopped by SIGTERM at step ')[1].split('/')[0])
  assert 2 <= reached < 100000
  assert _steps(workdir)[-1] == reached

  rerun = scripts.run('train.py', *args, f'--config.num_steps={reached + 2}')
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  assert f'resuming at step {reached}' in rerun.stdout
  assert _steps(workdir)[-1] == reached + 2


def _final_state(workdir, model=None):
  config = checkpoint.load_config(workdir)
  model = model or models.get(config.model)
  template = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(config.seed), 1))
  with checkpoint.Checkpointer(workdir) as ckpt:
    return ckpt.latest_step(), jax.tree_util.tree_flatten_with_path(ckpt.restore(template))[0]


def test_train_stream_starts_at_the_first_unused_batch_without_loading_the_used_ones():
  config = pix2pix_shapes.get_config('tiny')
  config.batch_size = 4
  dataset = data.build(config, 'train', train=True, process_index=0, process_count=1)
  spe = dataset.steps_per_epoch
  from_zero = list(itertools.islice(dataset.batches(), spe + 3))
  # Into the second epoch: its own shuffle and augmentation, the same as the stream from 0.
  resumed = train_lib._train_stream(dataset, start_step=spe + 1)
  for expected in from_zero[spe + 1 :]:
    batch = next(resumed)
    for key in expected:
      np.testing.assert_array_equal(batch[key], expected[key])
  assert not np.array_equal(from_zero[spe + 1]['A'], from_zero[1]['A'])


def test_stop_request_turns_sigterm_into_a_flag():
  with train_lib._StopRequest() as stop:
    assert not stop.requested(0, 1)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.1)  # the handler runs between bytecodes of the main thread
    assert stop.requested(1, 1) and stop.signal == 'SIGTERM'
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_lr_and_epoch_follow_the_official_schedule():
  config = pix2pix_shapes.get_config()
  config.n_epochs, config.n_epochs_decay = 2, 2
  spe = 10
  assert train_lib._epoch(config, 1, spe) == 1 and train_lib._epoch(config, 10, spe) == 1
  assert train_lib._epoch(config, 11, spe) == 2
  assert train_lib._lr(config, 20, spe) == pytest.approx(2e-4)
  # Epoch 3 (0-based 2) is the first decay epoch: 1 - 1 / (n_epochs_decay + 1).
  assert train_lib._lr(config, 21, spe) == pytest.approx(2e-4 * (1 - 1 / 3))


class _FakeState(flax.struct.PyTreeNode):
  step: jax.Array
  rng: jax.Array
  params: dict


class _FakeModel:
  """The Models contract at the smallest cost: the loop's logic without compiling nets."""

  NETS = ('G',)
  VISUALS = ('real_A', 'fake_B')

  @staticmethod
  def create(config, rng, steps_per_epoch):
    del config, steps_per_epoch
    return _FakeState(step=jnp.zeros((), jnp.int32), rng=rng, params={'w': jnp.zeros(3)})

  @staticmethod
  def train_step(state, batch):
    w = state.params['w'] + batch['A'].mean()
    return state.replace(step=state.step + 1, params={'w': w}), {'loss_G': w.sum()}

  @staticmethod
  def sample(state, batch):
    return {'real_A': batch['A'], 'fake_B': batch['A'] * 0 + state.params['w'][0]}


class _FakeData:
  """2 batches an epoch; `on_batch(i)` runs before training batch i is made."""

  def __init__(self, on_batch=lambda i: None):
    self.on_batch = on_batch
    self.num_examples, self.steps_per_epoch = 8, 2

  def build(self, config, split, *, train, batch_size=None, **kwargs):
    del split, kwargs
    n = batch_size or config.batch_size
    outer = self

    class Dataset:
      num_examples, steps_per_epoch = outer.num_examples, outer.steps_per_epoch
      in_memory = False

      def batches(self, start=0):
        for i in itertools.count(start) if train else range(1):
          if train:
            outer.on_batch(i)
          a = np.full((n, 4, 4, 3), (i % 2) / 2, np.float32)
          batch = {'A': a, 'B': -a}
          if not train:
            batch['A_paths'] = np.array([b'x'] * n)
          yield batch

    return Dataset()


def _fake_config(num_steps):
  config = pix2pix_shapes.get_config('tiny')
  config.batch_size = jax.device_count()
  config.num_steps = num_steps
  config.checkpoint_every = 2
  return config


def _fake_run(monkeypatch, tmp_path, num_steps, on_batch=lambda i: None):
  monkeypatch.setattr(models, 'get', lambda name: _FakeModel)
  monkeypatch.setattr(train_lib.data, 'build', _FakeData(on_batch).build)
  return train_lib.train(_fake_config(num_steps), tmp_path)


def test_crash_leaves_the_last_periodic_checkpoint(monkeypatch, tmp_path):
  def crash(i):
    if i == 5:
      raise RuntimeError('disk on fire')

  with pytest.raises(RuntimeError, match='disk on fire'):
    _fake_run(monkeypatch, tmp_path, 10, crash)
  assert _steps(tmp_path) == [2, 4]
  assert not list((tmp_path / 'checkpoints').glob('*tmp*'))
  # The rerun resumes from step 4, with 4 batches skipped (batch values alternate 0, 0.5).
  assert _fake_run(monkeypatch, tmp_path, 6).step == 6
  _, state = _final_state(tmp_path, model=_FakeModel)
  straight = _fake_run(monkeypatch, tmp_path / 'straight', 6)
  assert straight.step == 6
  _, expected = _final_state(tmp_path / 'straight', model=_FakeModel)
  np.testing.assert_array_equal(state[2][1], expected[2][1])  # params.w: the same batches


def test_sigterm_checkpoints_the_step_reached(monkeypatch, tmp_path):
  def term(i):
    if i == 3:
      os.kill(os.getpid(), signal.SIGTERM)

  outcome = _fake_run(monkeypatch, tmp_path, 1000, term)
  # The prefetch thread reads ahead: the stop lands within a few steps of batch 3.
  assert outcome.signal == 'SIGTERM' and 1 <= outcome.step <= 6
  assert _steps(tmp_path)[-1] == outcome.step
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_run_starts_from_init_from_weights(tmp_path):
  """config.init_from='G=<.pth>': the fresh state's G holds the file's weights, D its own init.
  (train.py parses the option before it builds anything: tests/test_cli_errors.py.)"""
  from test_eval import _state  # noqa: PLC0415

  from jaxgan import export_lib, parallel, torch_file  # noqa: PLC0415
  from jaxgan.port import states  # noqa: PLC0415

  config = pix2pix_shapes.get_config('tiny')
  given = _state(config)
  weights = tmp_path / 'latest_net_G.pth'
  torch_file.write(weights, export_lib.state_dict(config, given, 'G'))
  model = models.get('pix2pix')
  create = lambda: model.create(config, jax.random.PRNGKey(config.seed), 10)  # noqa: E731
  sharding = parallel.replicated(parallel.make_mesh(jax.devices()[:1]))
  init_from = states.parse(f'G={weights}', model, option='config.init_from')
  state = train_lib.fresh_state(config, create, sharding, init_from)
  leaves = lambda s, net: jax.tree.leaves(s.params[net])  # noqa: E731
  for got, want in zip(leaves(state, 'G'), leaves(given, 'G'), strict=True):
    np.testing.assert_array_equal(got, want)
  fresh = train_lib.fresh_state(config, create, sharding)
  for got, want in zip(leaves(state, 'D'), leaves(fresh, 'D'), strict=True):
    np.testing.assert_array_equal(got, want)
  assert not np.allclose(leaves(state, 'D')[0], leaves(given, 'D')[0])


class _DivergingModel(_FakeModel):
  """Its parameters turn NaN at step 5 (a diverging GAN, without compiling one)."""

  @staticmethod
  def train_step(state, batch):
    state, metrics = _FakeModel.train_step(state, batch)
    w = jnp.where(state.step >= 5, jnp.nan, state.params['w'])
    return state.replace(params={'w': w}), {'loss_G': w.sum()}


def test_a_diverging_run_stops_and_keeps_its_last_good_checkpoint(monkeypatch, tmp_path):
  monkeypatch.setattr(models, 'get', lambda name: _DivergingModel)
  monkeypatch.setattr(train_lib.data, 'build', _FakeData().build)
  config = pix2pix_shapes.get_config('tiny')
  config.batch_size, config.num_steps, config.checkpoint_every = jax.device_count(), 10, 2
  with pytest.raises(errors.DivergedError, match=r'at step 5: loss_G=nan; .*step 4\) is the last'):
    train_lib.train(config, tmp_path)
  assert _steps(tmp_path) == [2, 4]  # no checkpoint of step 5 or later
  _, leaves = _final_state(tmp_path, model=_FakeModel)
  assert all(np.isfinite(x).all() for _, x in leaves)


def test_resuming_with_other_settings_is_refused_unless_allowed(monkeypatch, tmp_path):
  config = pix2pix_shapes.get_config('tiny')
  _fake_run(monkeypatch, tmp_path, 2)
  changed = config.copy_and_resolve_references()
  changed.batch_size, changed.num_steps, changed.lr = 2 * jax.device_count(), 4, 0.5
  with pytest.raises(
    errors.ConfigError, match=r'other settings \(batch_size .*; lr 0.0002 -> 0.5\)'
  ):
    train_lib.train(changed, tmp_path)
  # num_steps, logging and eval keys change freely; the rest with allow_config_change.
  free = _fake_config(num_steps=4)
  free.log_every, free.eval.num_test = 1, 3
  assert train_lib.train(free, tmp_path).step == 4
  allowed = _fake_config(num_steps=6)
  allowed.lr, allowed.allow_config_change = 0.5, True
  assert train_lib.train(allowed, tmp_path).step == 6
  assert checkpoint.load_config(tmp_path).lr == 0.5


@pytest.mark.parametrize(
  ('key', 'value', 'message'),
  [
    ('checkpoint_every', 0, 'config.checkpoint_every is 0; expected a value > 0'),
    ('log_every', 0, 'config.log_every is 0; expected a value > 0'),
    ('keep_checkpoints', -1, 'config.keep_checkpoints is -1; expected a value >= 0'),
    ('lr', -1.0, r'config.lr is -1.0; expected a value >= 0'),
    ('num_steps', -5, 'config.num_steps is -5; expected a value >= 0'),
  ],
)
def test_bad_loop_options_are_one_line(tmp_path, key, value, message):
  config = pix2pix_shapes.get_config('tiny')
  config[key] = value
  with pytest.raises(errors.ConfigError, match=message):
    train_lib.train(config, tmp_path)
  assert not (tmp_path / 'checkpoints').exists()


def test_a_workdir_that_is_a_file_is_one_line(tmp_path):
  (tmp_path / 'run').write_text('')
  with pytest.raises(errors.InputError, match='is a file; expected a directory'):
    train_lib.train(pix2pix_shapes.get_config('tiny'), tmp_path / 'run')


def test_a_second_trainer_on_a_running_workdir_is_refused(monkeypatch, tmp_path):
  with train_lib.WorkdirLock(tmp_path):  # a trainer holds it
    with pytest.raises(
      errors.InputError, match=rf'{tmp_path} is in use by a running trainer \(pid'
    ):
      _fake_run(monkeypatch, tmp_path, 2)
  assert _fake_run(monkeypatch, tmp_path, 2).step == 2  # released: the lock is never stale


def test_a_full_disk_during_a_save_is_one_line(monkeypatch, tmp_path):
  import errno  # noqa: PLC0415

  save = checkpoint.Checkpointer.save

  def full_at_step_4(self, step, state):
    if step == 4:
      raise RuntimeError('orbax failed') from OSError(errno.ENOSPC, 'No space left on device')
    return save(self, step, state)

  monkeypatch.setattr(checkpoint.Checkpointer, 'save', full_at_step_4)
  with pytest.raises(
    errors.InputError,
    match=r'cannot write checkpoint 4 .*No space left on '
    r'device; the checkpoints written before it \(2\) are intact',
  ):
    _fake_run(monkeypatch, tmp_path, 6)
  assert _steps(tmp_path) == [2]
