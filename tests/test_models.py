"""pix2pix and CycleGAN on tiny real nets: one step, 8 devices = 1 device, learning, variants.

Compiling a train step takes tens of seconds on 2 shared CPU cores, so each (model, mesh) is
compiled once per module (the `compiled` fixture) and shared by the tests that need it.
"""

import warnings

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numerics
import numpy as np
import optax
import pytest

from configs import common
from jaxgan import models, parallel
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError

BATCH = 8  # global batch: one image per fake device


def _config(name, **kwargs):
  config = common.get_config()
  config.model = name
  config.ngf = config.ndf = 4
  config.netD = 'n_layers'
  config.n_layers_D = 1
  config.data.preprocess = 'crop'
  config.lr = 2e-3  # 10x the official rate: clear progress within the short runs below
  if name == 'pix2pix':
    # The official pix2pix defaults (batch norm, dropout, vanilla GAN, no pool); unet_64 is
    # the smallest U-Net with a dropout block (unet_N has log2(N) - 5 of them).
    config.netG = 'unet_64'
    config.data.crop_size = 64
  else:
    # The official CycleGAN defaults (instance norm, no dropout, lsgan, pools of 50, identity
    # loss) but for the generator, a U-Net: fewer layers to compile than resnet_6blocks.
    config.netG = 'unet_32'
    config.norm = 'instance'
    config.no_dropout = True
    config.gan_mode = 'lsgan'
    config.pool_size = 50
    config.data.crop_size = 32
  config.update(kwargs)
  return config


def _batch(config, seed=0):
  """A fixed batch of smooth images; B is a colour remap of A, so pix2pix has a target."""
  rs = np.random.RandomState(seed)
  size = config.data.crop_size
  grid = np.linspace(0, 2 * np.pi, size)
  yy, xx = np.meshgrid(grid, grid, indexing='ij')
  freq = rs.uniform(0.5, 2.0, (BATCH, 1, 1, 3))
  phase = rs.uniform(0, 2 * np.pi, (BATCH, 1, 1, 3))
  A = np.sin(freq * yy[None, :, :, None] + phase) * np.cos(freq * xx[None, :, :, None])
  B = -A[..., ::-1] * 0.8
  A = A[..., : config.data.input_nc]
  B = B[..., : config.data.output_nc]
  if config.model != 'pix2pix':
    B = np.roll(B, 3, axis=0)  # unpaired
  return {'A': A.astype(np.float32), 'B': B.astype(np.float32)}


def _with_adam_eps(state, eps):
  """The state with Adam's epsilon raised from the official 1e-8.

  Adam's first steps move every parameter by about lr * g / (|g| + eps): a gradient that is
  zero but for rounding (|g| ~ eps, e.g. where ReLU or batch norm cancels the signal) moves
  its parameter by up to +-lr, in a direction any reordering of the sums decides, such as
  1 vs 8 devices. A larger eps keeps such parameters still, so that the comparison of 1 and 8
  devices measures the gradients, not Adam's amplification of their rounding.
  """
  config = state.config
  tx = optax.adam(ts.make_schedule(config, 100), b1=config.beta1, b2=config.beta2, eps=eps)
  opt_state = {player: tx.init(state.player_params(player)) for player in state.players}
  return state.replace(tx=flax.core.FrozenDict({p: tx for p in state.players}), opt_state=opt_state)


def _initial_state(name):
  """(config, the model's initial state on the host), created once for both meshes."""
  model = models.get(name)
  # Instance norm makes the conv biases before it gradient-free in theory; in float32 their
  # gradients are rounding noise, which Adam scales up to +-lr and any reordering of the
  # sums (1 vs 8 devices) changes. Batch norm (no such biases) also makes the comparison
  # test the global batch statistics of all four nets.
  config = _config(name) if name == 'pix2pix' else _config(name, norm='batch')
  state = jax.jit(lambda: model.create(config, jax.random.PRNGKey(0), 100))()
  # eps 1e-4: far above any gradient's rounding noise (see _with_adam_eps).
  return config, jax.device_get(_with_adam_eps(state, 1e-4))


class _Run:
  """A model's initial state (on the host) and its train step compiled for one mesh."""

  def __init__(self, name, n_devices, initial):
    self.model = models.get(name)
    self.config, self.host_state = initial  # donation consumes device copies, never this
    self.mesh = parallel.make_mesh(jax.devices()[:n_devices])
    self.step = parallel.compile_train_step(self.model.train_step, self.host_state, self.mesh)
    self.batch = parallel.shard_batch(_batch(self.config), self.mesh)

  def fresh_state(self):
    return parallel.replicate(self.host_state, self.mesh)

  def train(self, steps):
    state, history = self.fresh_state(), []
    for _ in range(steps):
      state, metrics = self.step(state, self.batch)
      history.append(metrics)
    return state, jax.device_get(history)


@pytest.fixture(scope='module')
def compiled():
  """(name, n_devices) -> _Run, each compiled once per module; one initial state per model.

  The tests that use one model's runs go to one xdist worker (tests/conftest.py: GROUPS).
  """
  states, runs = {}, {}

  def get(name, n_devices):
    if name not in states:
      states[name] = _initial_state(name)
    if (name, n_devices) not in runs:
      runs[name, n_devices] = _Run(name, n_devices, states[name])
    return runs[name, n_devices]

  return get


def _max_diff(a, b):
  diffs = jax.tree.map(lambda x, y: float(np.max(np.abs(np.asarray(x) - np.asarray(y)))), a, b)
  return max(jax.tree.leaves(diffs), default=0.0)


def test_registry():
  assert models.get('pix2pix').NETS == ('G', 'D')
  assert models.get('cycle_gan') is models.get('cyclegan')
  with pytest.raises(ConfigError, match="'no_such_model'.*pix2pix, cyclegan"):
    models.get('no_such_model')
  for name in ('pix2pix', 'cyclegan'):
    model = models.get(name)
    for attr in ('NETS', 'VISUALS', 'create', 'train_step', 'sample', 'translate'):
      assert hasattr(model, attr), (name, attr)


def test_cyclegan_identity_needs_equal_channels():
  config = _config('cyclegan')
  config.data.input_nc = 1
  with pytest.raises(ConfigError, match='lambda_identity'):
    models.get('cyclegan').create(config, jax.random.PRNGKey(0), 1)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['pix2pix', 'cyclegan'])
def test_eight_devices_give_what_one_device_gives(compiled, name):
  """2 steps of the same global batch and seed: batch norm, dropout and pools are global."""
  one, eight = compiled(name, 1), compiled(name, 8)
  assert eight.batch['A'].sharding.num_devices == 8
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    state_1, history_1 = one.train(2)
    state_8, history_8 = eight.train(2)
  assert not [w for w in caught if 'donat' in str(w.message).lower()]
  assert int(state_8.step) == 2
  expected = {
    'pix2pix': 'G_GAN G_L1 D_real D_fake',
    'cyclegan': 'D_A G_A cycle_A idt_A D_B G_B cycle_B idt_B',
  }[name]
  assert set(history_8[0]) == {f'loss_{n}' for n in expected.split()}
  for metrics in history_8:
    assert all(np.isfinite(v) for v in metrics.values()), metrics
  # The updates are real (params moved), and the same on 1 and 8 devices up to the reordered
  # sums (tests/numerics.py). Adam's eps (1e-4, _initial_state) is far above the rounding noise
  # of any gradient, so Adam is linear in that noise (slope lr / eps): it cannot turn it into a
  # +-lr move, and the params differ as the gradients do.
  moved = numerics.difference(state_1.params, one.host_state.params)
  assert moved > 1e-3 * numerics.norm(one.host_state.params)
  params = numerics.difference(state_8.params, state_1.params) / moved
  print(f'{name}: |params_8dev - params_1dev| / |params moved| after 2 steps = {params:.2e}')
  assert params < numerics.REORDERING
  for part in ('batch_stats', 'opt_state', 'pools'):
    got, want = (numerics.floats(getattr(s, part)) for s in (state_8, state_1))
    if want:
      assert numerics.relative_difference(got, want) < numerics.REORDERING, part
  assert numerics.relative_difference(history_8, history_1) < numerics.REORDERING
  if name == 'pix2pix':
    assert state_8.batch_stats['G'] and state_8.batch_stats['D']  # batch norm ran
  else:
    assert int(state_8.pools['fake_A']['count']) == 2 * BATCH


@pytest.mark.slow
def test_donated_state_is_consumed(compiled):
  run = compiled('pix2pix', 8)
  state = run.fresh_state()
  new_state, _ = run.step(state, run.batch)
  assert all(x.is_deleted() for x in jax.tree.leaves(state.params))
  assert not any(x.is_deleted() for x in jax.tree.leaves(new_state.params))


@pytest.mark.slow
def test_pix2pix_learns_the_fixed_batch(compiled):
  _, history = compiled('pix2pix', 1).train(50)
  l1 = [float(m['loss_G_L1']) for m in history]
  first, last = np.mean(l1[:3]), np.mean(l1[-3:])
  print(f'pix2pix loss_G_L1: {first:.2f} -> {last:.2f} over 50 steps')
  assert last < 0.5 * first  # measured: 34 -> 7


@pytest.mark.slow
def test_cyclegan_cycle_loss_drops(compiled):
  _, history = compiled('cyclegan', 1).train(50)
  cycle = [float(m['loss_cycle_A'] + m['loss_cycle_B']) for m in history]
  first, last = np.mean(cycle[:3]), np.mean(cycle[-3:])
  print(f'cyclegan loss_cycle_A + loss_cycle_B: {first:.2f} -> {last:.2f} over 50 steps')
  assert last < 0.7 * first  # measured: 7.6 -> 3.4


def _freeze_d(state):
  """The same state with D's optimizer a no-op: any change of D would come from the G update."""
  tx = optax.set_to_zero()
  opt_state = {**state.opt_state, 'D': tx.init(state.player_params('D'))}
  return state.replace(tx=flax.core.FrozenDict({**state.tx, 'D': tx}), opt_state=opt_state)


@pytest.mark.slow
@pytest.mark.parametrize(
  'name, overrides',
  [
    # 1 -> 3 channels, bfloat16 compute, WGAN-GP with its gradient penalty.
    ('pix2pix', {'compute_dtype': 'bfloat16', 'gan_mode': 'wgangp'}),
    # 1 -> 3 channels without identity loss, bfloat16 compute.
    ('cyclegan', {'compute_dtype': 'bfloat16', 'lambda_identity': 0.0}),
  ],
)
def test_g_update_leaves_d_untouched_in_variants(name, overrides):
  model = models.get(name)
  config = _config(name, **overrides)
  config.data.input_nc, config.data.output_nc = 1, 3
  state = _freeze_d(jax.jit(lambda: model.create(config, jax.random.PRNGKey(1), 10))())
  before = jax.device_get(state.params)
  batch = _batch(config)
  new_state, metrics = jax.jit(model.train_step)(state, batch)
  metrics = jax.device_get(metrics)
  assert all(np.isfinite(v) for v in metrics.values()), metrics
  for net in model.NETS:
    moved = _max_diff(before[net], new_state.params[net])
    assert (moved == 0.0) if net.startswith('D') else (moved > 0.0), (net, moved)
  if name == 'pix2pix':
    assert metrics['loss_D_gp'] > 0.0
  else:
    assert metrics['loss_idt_A'] == 0.0 and metrics['loss_idt_B'] == 0.0
    assert new_state.pools['fake_A']['images'].shape[-1] == 1
  # The visuals, by shape only (no compile): the official order, the right channels.
  visuals = jax.eval_shape(model.sample, new_state, batch)
  expected = ('real_A', 'fake_B', 'real_B')
  if name == 'cyclegan':
    expected = ('real_A', 'fake_B', 'rec_A', 'real_B', 'fake_A', 'rec_B')  # no idt_* at 0
  assert tuple(v for v in model.VISUALS if v in visuals) == expected
  assert set(visuals) == set(expected)
  for key, value in visuals.items():
    assert value.shape[-1] == (1 if key in ('real_A', 'rec_A', 'fake_A') else 3), key
    assert value.dtype == jnp.float32


def test_cyclegan_visuals_in_the_official_order():
  config = _config('cyclegan')
  model = models.get('cyclegan')
  state = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(0), 1))
  batch = jax.eval_shape(lambda: _batch(config))
  visuals = jax.eval_shape(model.sample, state, batch)
  # jax returns dicts sorted by key: VISUALS carries the official order.
  assert set(visuals) == set(model.VISUALS)
  assert model.VISUALS == (
    'real_A',
    'fake_B',
    'rec_A',
    'idt_B',
    'real_B',
    'fake_A',
    'rec_B',
    'idt_A',
  )
  with pytest.raises(ConfigError, match='direction'):
    model.translate(state, batch['A'], 'AtoA')


@pytest.mark.slow
def test_pix2pix_translate_keeps_train_mode_unless_eval_mode(compiled):
  run = compiled('pix2pix', 1)
  state = run.fresh_state()
  images = run.batch['A']
  translate = jax.jit(run.model.translate, static_argnums=2)
  # The official test default keeps dropout on: different keys, different images.
  a = translate(state, images, 'AtoB', jax.random.PRNGKey(1))
  b = translate(state, images, 'AtoB', jax.random.PRNGKey(2))
  assert _max_diff(a, b) > 1e-3
  config = run.config.copy_and_resolve_references()
  config.eval.eval_mode = True
  eval_state = state.replace(config=ml_collections.FrozenConfigDict(config))
  c = translate(eval_state, images, 'AtoB', jax.random.PRNGKey(1))
  d = translate(eval_state, images, 'AtoB', jax.random.PRNGKey(2))
  assert _max_diff(c, d) == 0.0
  with pytest.raises(ConfigError, match='AtoB'):
    run.model.translate(state, images, 'BtoA')


@pytest.mark.parametrize(
  'name, overrides, expected',
  [
    # WGAN-GP through batch-norm Ds: the penalty's D calls carry the statistics along.
    ('cyclegan', {'gan_mode': 'wgangp', 'norm': 'batch'}, {'loss_D_A_gp', 'loss_D_B_gp'}),
    # The older official pix2pix pooled the (A, fake B) pairs.
    ('pix2pix', {'pool_size': 4, 'gan_mode': 'lsgan'}, set()),
  ],
)
def test_other_options_trace(name, overrides, expected):
  """Options no compiled test covers, traced only (shapes, no compile): cheap but catches
  leaked tracers, wrong shapes and missing metrics."""
  model = models.get(name)
  config = _config(name, **overrides)
  state = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(0), 1))
  batch = jax.eval_shape(lambda: _batch(config))
  new_state, metrics = jax.eval_shape(model.train_step, state, batch)
  assert expected <= set(metrics)
  assert all(m.shape == () and m.dtype == jnp.float32 for m in metrics.values())
  assert jax.tree.structure(new_state) == jax.tree.structure(state)
  if name == 'pix2pix':
    assert new_state.pools['fake_AB']['images'].shape == (4, 64, 64, 6)
