"""CycleGAN (Zhu et al., 2017): two GANs tied by cycle consistency, as the official CycleGANModel.

Names follow the official code, not the paper: G_A: A -> B (the paper's G), G_B: B -> A (F),
D_A judges domain B (D_Y), D_B judges domain A (D_X). Each step is the official
optimize_parameters: forward both cycles, update G_A and G_B jointly against the frozen Ds
(Eq. 3 plus the identity loss), then D_A and D_B on real images and detached fakes drawn
through the image pools.
"""

import jax
import jax.numpy as jnp

from jaxgan import image_pool
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError
from jaxgan.losses import GANLoss, gradient_penalty, identity_loss, l1_loss, uses_gradient_penalty
from jaxgan.models import Inference
from jaxgan.nets import discriminators, generators

DEFAULT_CONFIG = 'cyclegan_horse2zebra.py'  # in configs/: the paper's settings
NETS = ('G_A', 'G_B', 'D_A', 'D_B')
# The official order; idt_B and idt_A only when lambda_identity > 0, as there.
VISUALS = ('real_A', 'fake_B', 'rec_A', 'idt_B', 'real_B', 'fake_A', 'rec_B', 'idt_A')
LOSSES = ('D_A', 'G_A', 'cycle_A', 'idt_A', 'D_B', 'G_B', 'cycle_B', 'idt_B')
PLAYERS = {'G': ('G_A', 'G_B'), 'D': ('D_A', 'D_B')}


def create(config, rng, steps_per_epoch, *, image_size=None) -> ts.TrainState:
  """A fresh TrainState for config (see configs/common.py).

  Args:
    config: the run's ConfigDict.
    rng: a PRNGKey; initialises the nets and seeds every later step.
    steps_per_epoch: train steps per epoch, which the lr schedule counts in.
    image_size: (height, width) of the training images; default from the config's crop.
  """
  GANLoss(config.gan_mode)  # Unknown modes fail here, not in the first step.
  input_nc, output_nc = config.data.input_nc, config.data.output_nc
  if config.lambda_identity > 0 and input_nc != output_nc:
    # G_A(real_B) needs B images to have A's channels (the official asserts the same).
    raise ConfigError(
      f'lambda_identity > 0 needs input_nc == output_nc (got {input_nc} and {output_nc}); '
      'set --config.lambda_identity=0'
    )
  height, width = image_size or ts.image_size(config)
  nets = {
    'G_A': generators.define_G(config, input_nc, output_nc),
    'G_B': generators.define_G(config, output_nc, input_nc),
    'D_A': discriminators.define_D(config, output_nc),
    'D_B': discriminators.define_D(config, input_nc),
  }
  in_channels = {'G_A': input_nc, 'G_B': output_nc, 'D_A': output_nc, 'D_B': input_nc}
  init_rng, *net_rngs = jax.random.split(rng, 1 + len(NETS))
  variables = {
    name: ts.init_net(nets[name], key, (1, height, width, in_channels[name]))
    for name, key in zip(NETS, net_rngs, strict=True)
  }
  pools = {}
  if config.pool_size > 0:
    pools['fake_A'] = image_pool.init(config.pool_size, (height, width, input_nc))
    pools['fake_B'] = image_pool.init(config.pool_size, (height, width, output_nc))
  return ts.TrainState.create(
    config=config,
    nets=nets,
    players=PLAYERS,
    variables=variables,
    pools=pools,
    rng=init_rng,
    steps_per_epoch=steps_per_epoch,
  )


def train_step(state: ts.TrainState, batch: dict) -> tuple[ts.TrainState, dict]:
  """One official optimize_parameters: G_A and G_B, then D_A and D_B. Pure; the caller jits it."""
  config = state.config
  gan_loss = GANLoss(config.gan_mode)
  lambda_A, lambda_B, lambda_idt = config.lambda_A, config.lambda_B, config.lambda_identity
  rng, dropout_rng, pool_rng, gp_rng = jax.random.split(state.rng, 4)
  real_A, real_B = batch['A'], batch['B']

  def g_loss_fn(params_G):
    # Batch statistics advance through the calls in the official order; each G call draws its
    # own dropout mask, as each PyTorch forward does.
    stats = dict(state.batch_stats)
    keys = iter(jax.random.split(dropout_rng, 6))

    def G(name, x):
      y, stats[name] = state.apply(
        name, x, train=True, rng=next(keys), params=params_G[name], batch_stats=stats[name]
      )
      return y

    def D(name, x):  # D params are closed over, not differentiated: D is frozen here.
      y, stats[name] = state.apply(name, x, train=True, batch_stats=stats[name])
      return y

    fake_B = G('G_A', real_A)
    rec_A = G('G_B', fake_B)
    fake_A = G('G_B', real_B)
    rec_B = G('G_A', fake_A)
    zero = jnp.zeros((), jnp.float32)
    losses = {'idt_A': zero, 'idt_B': zero}
    if lambda_idt > 0:
      # Identity loss (Sec. 5.2): G_A should leave B images unchanged, G_B A images.
      losses['idt_A'] = identity_loss(G('G_A', real_B), real_B, lambda_B * lambda_idt)
      losses['idt_B'] = identity_loss(G('G_B', real_A), real_A, lambda_A * lambda_idt)
    # Eq. 1 for G and F: their fakes should pass as real.
    losses['G_A'] = gan_loss(D('D_A', fake_B), True)
    losses['G_B'] = gan_loss(D('D_B', fake_A), True)
    # Eq. 2: cycle consistency, weighted by lambda_A (A -> B -> A) and lambda_B (B -> A -> B).
    losses['cycle_A'] = l1_loss(rec_A, real_A) * lambda_A
    losses['cycle_B'] = l1_loss(rec_B, real_B) * lambda_B
    return sum(losses.values()), (stats, losses, fake_A, fake_B)

  grads_G, (batch_stats, losses_G, fake_A, fake_B) = jax.grad(g_loss_fn, has_aux=True)(
    state.player_params('G')
  )
  state = state.apply_gradients('G', grads_G)

  # The Ds train on a history of fakes (Sec. 4, Shrivastava et al.), detached from the Gs.
  pools = dict(state.pools)
  pool_rng_A, pool_rng_B = jax.random.split(pool_rng)
  fake_A = jax.lax.stop_gradient(fake_A)
  fake_B = jax.lax.stop_gradient(fake_B)
  if 'fake_B' in pools:
    pools['fake_B'], fake_B = image_pool.query(pools['fake_B'], fake_B, pool_rng_B)
    pools['fake_A'], fake_A = image_pool.query(pools['fake_A'], fake_A, pool_rng_A)

  def d_loss_fn(params_D):
    stats = dict(batch_stats)
    losses = {}
    gp_rngs = dict(zip(('D_A', 'D_B'), jax.random.split(gp_rng), strict=True))

    def D(name, x):
      y, stats[name] = state.apply(
        name, x, train=True, params=params_D[name], batch_stats=stats[name]
      )
      return y

    def backward_D_basic(name, real, fake):
      # Eq. 1 maximised over D, halved to slow D relative to G (as pix2pix, Isola et al. 3.3).
      loss = (gan_loss(D(name, real), True) + gan_loss(D(name, fake), False)) * 0.5
      if uses_gradient_penalty(config):

        def critic(x):  # Returns its statistics rather than leak them out of the inner grad.
          return state.apply(name, x, train=True, params=params_D[name], batch_stats=stats[name])

        losses[f'{name}_gp'], stats[name] = gradient_penalty(
          critic, real, fake, gp_rngs[name], lambda_gp=config.lambda_gp, has_aux=True
        )
        loss = loss + losses[f'{name}_gp']
      return loss

    losses['D_A'] = backward_D_basic('D_A', real_B, fake_B)
    losses['D_B'] = backward_D_basic('D_B', real_A, fake_A)
    return losses['D_A'] + losses['D_B'], (stats, losses)

  grads_D, (batch_stats, losses_D) = jax.grad(d_loss_fn, has_aux=True)(state.player_params('D'))
  state = state.apply_gradients('D', grads_D)

  state = state.replace(step=state.step + 1, rng=rng, batch_stats=batch_stats, pools=pools)
  losses = {**losses_G, **losses_D}
  metrics = {f'loss_{name}': losses[name] for name in LOSSES}
  for name in ('D_A_gp', 'D_B_gp'):
    if name in losses:
      metrics[f'loss_{name}'] = losses[name]
  return state, metrics


_GENERATORS = {'AtoB': 'G_A', 'BtoA': 'G_B'}


def translate(state: ts.TrainState, images: jax.Array, direction: str = 'AtoB', rng=None):
  """G_A(images) ('AtoB') or G_B(images) ('BtoA'), for eval.

  In train mode (dropout, batch statistics) unless config.eval.eval_mode, as the official test.

  Args:
    state: a TrainState (not modified).
    images: [N, H, W, C] in [-1, 1], of the direction's input domain.
    direction: 'AtoB' or 'BtoA'.
    rng: dropout key; default derived from the state.
  """
  if direction not in _GENERATORS:
    raise ConfigError(f'unknown direction {direction!r}; known: AtoB, BtoA')
  train = not state.config.eval.eval_mode
  out, _ = state.apply(_GENERATORS[direction], images, train=train, rng=ts.eval_rng(state, rng))
  return out


def inference(state: ts.TrainState, direction: str = 'AtoB') -> Inference:
  """What export needs to run the generator of `direction` on its own (see models.Inference)."""
  if direction not in _GENERATORS:
    raise ConfigError(f'unknown direction {direction!r}; known: AtoB, BtoA')
  return Inference(
    _GENERATORS[direction], 0, lambda images, code, rng: translate(state, images, direction, rng)
  )


def sample(state: ts.TrainState, batch: dict, rng=None) -> dict:
  """The official visuals in [-1, 1]; idt_A/idt_B only when lambda_identity > 0.

  Under jit the dict comes back sorted by key: show them in the order of VISUALS.
  """
  config = state.config
  train = not config.eval.eval_mode
  keys = iter(jax.random.split(ts.eval_rng(state, rng), 6))

  def G(name, x):
    return state.apply(name, x, train=train, rng=next(keys))[0]

  real_A, real_B = batch['A'], batch['B']
  visuals = {'real_A': real_A, 'fake_B': G('G_A', real_A)}
  visuals['rec_A'] = G('G_B', visuals['fake_B'])
  identity = config.lambda_identity > 0
  if identity:
    visuals['idt_B'] = G('G_B', real_A)
  visuals['real_B'] = real_B
  visuals['fake_A'] = G('G_B', real_B)
  visuals['rec_B'] = G('G_A', visuals['fake_A'])
  if identity:
    visuals['idt_A'] = G('G_A', real_B)
  return visuals
