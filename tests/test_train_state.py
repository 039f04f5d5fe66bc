"""Learning-rate schedules against the official per-epoch sequence, Adam, the TrainState."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import common
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError
from jaxgan.nets import discriminators


def _config(**kwargs):
  config = common.get_config()
  config.lr = 1.0
  config.update(kwargs)
  return config


def _per_epoch(config, epochs, steps_per_epoch=3):
  schedule = ts.make_schedule(config, steps_per_epoch)
  lrs = [float(schedule(step)) for step in range(epochs * steps_per_epoch)]
  # Constant within an epoch: the official steps its scheduler once per epoch.
  per_epoch = lrs[::steps_per_epoch]
  np.testing.assert_allclose(lrs, np.repeat(per_epoch, steps_per_epoch), rtol=1e-6)
  return per_epoch


@pytest.mark.parametrize(
  'epoch_count, expected',
  [
    # lr_l = 1 - max(0, epoch + epoch_count - n_epochs) / (n_epochs_decay + 1), n_epochs = 2,
    # n_epochs_decay = 3: two epochs at lr, then 3/4, 2/4, 1/4 (never 0 while training).
    (1, [1.0, 1.0, 0.75, 0.5, 0.25]),
    # Continuing from epoch 2 (--epoch_count 2) shifts the rule by one epoch.
    (2, [1.0, 0.75, 0.5, 0.25, 0.0]),
  ],
)
def test_linear_policy_is_the_official_lambda_rule(epoch_count, expected):
  config = _config(lr_policy='linear', n_epochs=2, n_epochs_decay=3, epoch_count=epoch_count)
  np.testing.assert_allclose(_per_epoch(config, 5), expected, rtol=1e-6)


def test_linear_policy_default_run_ends_at_one_over_decay_plus_one():
  config = _config(lr=2e-4)  # n_epochs = n_epochs_decay = 100
  schedule = ts.make_schedule(config, 10)
  np.testing.assert_allclose(float(schedule(99 * 10 + 9)), 2e-4, rtol=1e-6)  # epoch 100
  np.testing.assert_allclose(float(schedule(100 * 10)), 2e-4 * 100 / 101, rtol=1e-6)
  np.testing.assert_allclose(float(schedule(199 * 10)), 2e-4 / 101, rtol=1e-5)  # epoch 200


def test_step_policy_decays_tenfold_every_lr_decay_iters_epochs():
  config = _config(lr_policy='step', lr_decay_iters=2)
  np.testing.assert_allclose(_per_epoch(config, 5), [1, 1, 0.1, 0.1, 0.01], rtol=1e-6)


def test_cosine_policy_is_cosine_annealing_over_n_epochs():
  config = _config(lr_policy='cosine', n_epochs=4)
  c = np.cos(np.pi / 4)
  # (1 + cos(pi k / 4)) / 2; past T_max it rises again, as torch's CosineAnnealingLR does.
  expected = [1, (1 + c) / 2, 0.5, (1 - c) / 2, 0, (1 - c) / 2]
  np.testing.assert_allclose(_per_epoch(config, 6), expected, rtol=1e-6, atol=1e-7)


def test_bad_policy_and_steps_per_epoch_are_config_errors():
  with pytest.raises(ConfigError, match="'plateau'.*linear, step, cosine"):
    ts.make_schedule(_config(lr_policy='plateau'), 10)
  with pytest.raises(ConfigError, match='steps_per_epoch'):
    ts.make_schedule(_config(), 0)


def test_total_steps():
  assert ts.total_steps(_config(n_epochs=2, n_epochs_decay=3), 10) == 50
  assert ts.total_steps(_config(num_steps=7), 10) == 7


def test_adam_follows_the_schedule_and_the_official_betas():
  # One epoch at lr, then 1/2 (n_epochs = n_epochs_decay = 1). With a constant gradient Adam's
  # bias-corrected step is lr * g / (|g| + eps) = lr: the params move by -1 then -0.5.
  config = _config(n_epochs=1, n_epochs_decay=1, beta1=0.5, beta2=0.999)
  tx = ts.make_optimizer(config, steps_per_epoch=1)
  params = jnp.zeros(())
  opt_state = tx.init(params)
  moves = []
  for _ in range(2):
    updates, opt_state = tx.update(jnp.ones(()), opt_state, params)
    moves.append(float(updates))
  np.testing.assert_allclose(moves, [-1.0, -0.5], rtol=1e-4)  # float32 bias corrections
  adam_state = opt_state[0]
  np.testing.assert_allclose(adam_state.mu, 1 - 0.5**2, rtol=1e-6)  # b1 = beta1
  np.testing.assert_allclose(adam_state.nu, 1 - 0.999**2, rtol=1e-6)  # b2 = beta2


def _tiny_d_state(norm):
  config = _config(netD='n_layers', ndf=4, n_layers_D=1, norm=norm)
  d = discriminators.define_D(config, 3)
  variables = {
    'D': ts.init_net(d, jax.random.PRNGKey(0), (2, 16, 16, 3)),
    'D2': ts.init_net(d, jax.random.PRNGKey(1), (2, 16, 16, 3)),
  }
  return ts.TrainState.create(
    config=config,
    nets={'D': d, 'D2': d},
    players={'D': ('D',), 'E': ('D2',)},
    variables=variables,
    pools={},
    rng=jax.random.PRNGKey(2),
    steps_per_epoch=1,
  )


def test_apply_net_updates_batch_stats_only_in_train_mode():
  state = _tiny_d_state('batch')
  x = jax.random.normal(jax.random.PRNGKey(3), (2, 16, 16, 3)) + 3.0
  stats = state.batch_stats['D']
  # One compiled call: linen ops run eagerly are slow to dispatch.
  train_stats, eval_stats = jax.jit(
    lambda s, x: (s.apply('D', x, train=True)[1], s.apply('D', x, train=False)[1])
  )(state, x)
  changed = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), stats, train_stats)
  assert all(jax.tree.leaves(changed))
  assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), stats, eval_stats))
  # Instance norm keeps nothing.
  assert _tiny_d_state('instance').batch_stats['D'] == {}


def test_state_is_a_pytree_of_arrays_and_players_update_only_their_nets():
  state = _tiny_d_state('batch')
  leaves = jax.tree.leaves(state)
  assert leaves and all(isinstance(x, jax.Array) for x in leaves)
  assert set(state.opt_state) == {'D', 'E'}
  grads = jax.tree.map(jnp.ones_like, state.player_params('E'))
  new = jax.jit(lambda s, g: s.apply_gradients('E', g))(state, grads)
  same = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), state.params['D'], new.params['D'])
  moved = jax.tree.map(lambda a, b: bool(jnp.all(a != b)), state.params['D2'], new.params['D2'])
  assert all(jax.tree.leaves(same)) and all(jax.tree.leaves(moved))
  assert isinstance(state.tx['D'], optax.GradientTransformation)


def test_num_steps_rescales_the_schedule_to_the_run():
  # 20 steps of a run whose data has 1000 steps an epoch: the 2 + 3 schedule epochs span the 20
  # steps (4 each), so the decay happens within the run instead of never.
  config = _config(lr_policy='linear', n_epochs=2, n_epochs_decay=3, num_steps=20)
  schedule = ts.make_schedule(config, 1000)
  lrs = [float(schedule(step)) for step in range(20)]
  np.testing.assert_allclose(lrs, np.repeat([1.0, 1.0, 0.75, 0.5, 0.25], 4), rtol=1e-6)
  # num_steps equal to the epochs' steps is the official schedule exactly.
  exact = ts.make_schedule(_config(n_epochs=2, n_epochs_decay=3, num_steps=15), 3)
  official = ts.make_schedule(_config(n_epochs=2, n_epochs_decay=3), 3)
  assert [float(exact(s)) for s in range(15)] == [float(official(s)) for s in range(15)]


def test_linear_policy_stops_at_zero_past_its_end():
  # The official lambda rule would give 1 - 5/4 < 0 (gradient ascent) two epochs past the end.
  config = _config(lr_policy='linear', n_epochs=2, n_epochs_decay=3)
  np.testing.assert_allclose(_per_epoch(config, 8)[5:], [0.0, 0.0, 0.0], atol=0)
  steps = ts.make_schedule(_config(n_epochs=1, n_epochs_decay=1, num_steps=4), 1000)
  assert [float(steps(s)) for s in range(8)][-1] == 0.0  # past num_steps: 0, not negative
