"""The TrainState pytree, optimizers and learning-rate schedules shared by all models.

A model's whole training state is one `TrainState`: the step, the RNG key, every network's
params and batch statistics (dicts keyed by the official net names, 'G', 'D_A', ...), one optax
state per player (the official optimizer_G, optimizer_D), and the image pools. What never changes
during a run (the linen modules, the optax transformations, which nets each player updates, the
frozen config) is static, so `train_step(state, batch)` needs nothing else.
"""

import math
from collections.abc import Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax import struct

from jaxgan.errors import ConfigError

LR_POLICIES = ('linear', 'step', 'cosine')


class TrainState(struct.PyTreeNode):
  """Everything a run needs to resume; see DEVELOPERS.md, 'TrainState'.

  Attributes:
    step: int32 scalar, the number of train steps done.
    rng: a raw uint32[2] key (jax.random.PRNGKey), split once per step.
    params: {net name: params}.
    batch_stats: {net name: batch statistics}, {} for nets without batch norm.
    opt_state: {player: optax state}, a player being the nets one optimizer updates.
    pools: {name: image pool} (see image_pool.py); may be empty.
    nets: {net name: linen module} (static).
    players: {player: tuple of net names} (static), e.g. {'G': ('G_A', 'G_B'), ...}.
    tx: {player: optax.GradientTransformation} (static).
    config: the run's frozen config (static; never mutate a ConfigDict(state.config), which
      shares its nested dicts: see `freeze_config`).
  """

  step: jax.Array
  rng: jax.Array
  params: dict
  batch_stats: dict
  opt_state: dict
  pools: dict
  nets: Mapping = struct.field(pytree_node=False)
  players: Mapping = struct.field(pytree_node=False)
  tx: Mapping = struct.field(pytree_node=False)
  config: ml_collections.FrozenConfigDict = struct.field(pytree_node=False)

  @classmethod
  def create(cls, *, config, nets, players, variables, pools, rng, steps_per_epoch, tx=None):
    """A fresh state: one optimizer per player over its nets' params.

    Args:
      config: the run's config (ConfigDict; frozen here).
      nets: {net name: linen module}.
      players: {player: tuple of net names}.
      variables: {net name: (params, batch_stats)}, e.g. from `init_net`.
      pools: {name: image pool}.
      rng: the key the steps draw from.
      steps_per_epoch: train steps per epoch, which the lr schedules count in.
      tx: the players' optimizer; default Adam with the config's lr schedule (`make_optimizer`).
    """
    tx = tx or make_optimizer(config, steps_per_epoch)
    tx = {player: tx for player in players}
    params = {name: v[0] for name, v in variables.items()}
    batch_stats = {name: v[1] for name, v in variables.items()}
    opt_state = {
      player: tx[player].init({name: params[name] for name in names})
      for player, names in players.items()
    }
    return cls(
      step=jnp.zeros((), jnp.int32),
      rng=rng,
      params=params,
      batch_stats=batch_stats,
      opt_state=opt_state,
      pools=pools,
      nets=flax.core.FrozenDict(nets),
      players=flax.core.FrozenDict({k: tuple(v) for k, v in players.items()}),
      tx=flax.core.FrozenDict(tx),
      config=freeze_config(config),
    )

  def player_params(self, player: str) -> dict:
    """{net name: params} of the nets `player` updates."""
    return {name: self.params[name] for name in self.players[player]}

  def apply_gradients(self, player: str, grads: dict) -> 'TrainState':
    """One optimizer step of `player`; grads is {net name: grads} over exactly its nets."""
    params = self.player_params(player)
    updates, opt_state = self.tx[player].update(grads, self.opt_state[player], params)
    params = optax.apply_updates(params, updates)
    return self.replace(
      params={**self.params, **params},
      opt_state={**self.opt_state, player: opt_state},
    )

  def apply(self, name, *inputs, train, rng=None, params=None, batch_stats=None):
    """Runs net `name` on inputs; see `apply_net`. params/batch_stats default to the state's."""
    return apply_net(
      self.nets[name],
      self.params[name] if params is None else params,
      self.batch_stats[name] if batch_stats is None else batch_stats,
      *inputs,
      train=train,
      rng=rng,
    )


def eval_rng(state, rng=None):
  """The key a sample or translation draws from: `rng`, else one derived from the state (so
  sampling never advances the state's own key, and stays pure)."""
  return jax.random.fold_in(state.rng, 1) if rng is None else rng


def freeze_config(config) -> ml_collections.FrozenConfigDict:
  """The config as a TrainState holds it (static, hashable)."""
  # A deep copy first: a FrozenConfigDict shares nested ConfigDicts with the ConfigDict it is
  # made from, so changing the caller's config later would change its hash and equality (what
  # jit's cache compares) but not its values. ConfigDict(frozen) shares them likewise: derive a
  # variant from a copy_and_resolve_references() of the original config instead.
  if isinstance(config, ml_collections.FrozenConfigDict):
    return config
  return ml_collections.FrozenConfigDict(config.copy_and_resolve_references())


def init_net(module, rng, *inputs) -> tuple[dict, dict]:
  """(params, batch_stats) of a linen net for `inputs`: arrays, or one shape (NHWC zeros).

  The nets' own initialisers implement config.init_type / init_gain (the official init_weights).
  """
  if len(inputs) == 1 and isinstance(inputs[0], tuple):
    inputs = (jnp.zeros(inputs[0], jnp.float32),)
  params_rng, dropout_rng = jax.random.split(rng)
  variables = module.init({'params': params_rng, 'dropout': dropout_rng}, *inputs, train=False)
  return variables['params'], variables.get('batch_stats', {})


def apply_net(module, params, batch_stats, *inputs, train, rng=None) -> tuple[Any, dict]:
  """Runs a net as the official forward does; returns (outputs in float32, new batch_stats).

  In train mode batch norm normalises with the batch's statistics and updates its running
  averages (returned), and dropout draws its mask from `rng`; in eval mode the running averages
  are used, dropout is off and the batch statistics come back unchanged.
  """
  variables = {'params': params}
  if batch_stats:
    variables['batch_stats'] = batch_stats
  rngs = {'dropout': rng} if rng is not None else {}
  as_float32 = lambda y: jax.tree.map(lambda a: a.astype(jnp.float32), y)
  if train and batch_stats:
    y, updates = module.apply(variables, *inputs, train=True, mutable=['batch_stats'], rngs=rngs)
    return as_float32(y), updates['batch_stats']
  return as_float32(module.apply(variables, *inputs, train=train, rngs=rngs)), batch_stats


def total_steps(config, steps_per_epoch: int) -> int:
  """config.num_steps if > 0, else (n_epochs + n_epochs_decay) epochs of steps_per_epoch."""
  if config.num_steps > 0:
    return int(config.num_steps)
  return int((config.n_epochs + config.n_epochs_decay) * steps_per_epoch)


def lr_factor(config, epoch):
  """The multiplier of config.lr during 0-based `epoch`, as the official get_scheduler.

  The official train.py steps the scheduler once per epoch, so epoch k runs at the rate the
  scheduler gives after k steps: 'linear' is its lambda rule (lr constant for n_epochs, then
  linearly towards 0 over n_epochs_decay: 1/(n_epochs_decay + 1) in the last epoch), 'step'
  multiplies by 0.1 every lr_decay_iters epochs, 'cosine' is CosineAnnealingLR(T_max=n_epochs,
  eta_min=0) in closed form (which, like PyTorch's, rises again after n_epochs).

  Args:
    config: with lr_policy, n_epochs, n_epochs_decay, epoch_count, lr_decay_iters.
    epoch: int or int array, counted from 0 (the official epoch_count - 1 offset is applied
      here, for runs continued from weights without their optimizer state).
  """
  policy = config.lr_policy
  epoch = jnp.asarray(epoch, jnp.int32)
  if policy == 'linear':
    decayed = jnp.maximum(0, epoch + config.epoch_count - config.n_epochs)
    # Past the schedule's end (a run resumed with a smaller num_steps, or stepped on by hand)
    # the official rule turns negative, i.e. gradient ascent; it stops at 0 here.
    return jnp.maximum(0.0, 1.0 - decayed.astype(jnp.float32) / float(config.n_epochs_decay + 1))
  if policy == 'step':
    return jnp.float32(0.1) ** (epoch // config.lr_decay_iters).astype(jnp.float32)
  if policy == 'cosine':
    return 0.5 * (1.0 + jnp.cos(math.pi * epoch.astype(jnp.float32) / config.n_epochs))
  raise ConfigError(f'unknown lr_policy {policy!r}; known: {", ".join(LR_POLICIES)}')


def schedule_epoch(config, count, steps_per_epoch: int):
  """The schedule's 0-based epoch of update `count` (int or int array).

  count // steps_per_epoch, as the official scheduler; but with config.num_steps > 0 the run
  is num_steps long whatever the epochs, so the schedule's n_epochs + n_epochs_decay epochs are
  rescaled to span those steps (the linear decay then starts n_epochs / (n_epochs +
  n_epochs_decay) of the way through, and reaches its last value at the end, as it would over
  the full epochs).
  """
  if config.num_steps > 0:
    epochs = int(config.n_epochs + config.n_epochs_decay)
    return count * epochs // int(config.num_steps)
  return count // steps_per_epoch


def make_schedule(config, steps_per_epoch: int) -> optax.Schedule:
  """step -> learning rate, constant within an epoch (`schedule_epoch`)."""
  if steps_per_epoch < 1:
    raise ConfigError(f'steps_per_epoch must be >= 1, got {steps_per_epoch}')
  config = freeze_config(config)
  lr_factor(config, 0)  # Unknown policies fail here, not inside jit.
  lr = float(config.lr)
  return lambda count: lr * lr_factor(config, schedule_epoch(config, count, steps_per_epoch))


def make_optimizer(config, steps_per_epoch: int) -> optax.GradientTransformation:
  """Adam(lr schedule, b1=beta1, b2=beta2, eps=1e-8), the official optimizers' settings."""
  return optax.adam(
    make_schedule(config, steps_per_epoch), b1=float(config.beta1), b2=float(config.beta2)
  )


def image_size(config) -> tuple[int, int]:
  """(height, width) of the training images the config's preprocessing yields.

  The crop for the cropping modes; the built-in sets' size when they are not preprocessed.
  Other modes ('scale_width', 'none' on folders) give sizes the config does not fix: pass
  image_size to the model's create() then.
  """
  data = config.data
  if data.source == 'synthetic' and data.preprocess == 'none':
    return int(data.synthetic_size), int(data.synthetic_size)
  return int(data.crop_size), int(data.crop_width or data.crop_size)
