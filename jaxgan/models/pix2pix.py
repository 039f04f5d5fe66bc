"""pix2pix (Isola et al., 2017): a conditional GAN plus L1, as the official Pix2PixModel.

G maps A to B; D is a PatchGAN on (A, B) pairs, concatenated along channels (Eq. 1: D sees the
condition). Each step is the official optimize_parameters: forward G once, update D on
(real pair, detached fake pair), then update G through the *updated* D plus lambda_L1 * L1
(Eq. 4), reusing the fake_B of the forward pass.
"""

import jax
import jax.numpy as jnp

from jaxgan import image_pool
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError
from jaxgan.losses import GANLoss, gradient_penalty, l1_loss, uses_gradient_penalty
from jaxgan.models import Inference
from jaxgan.nets import discriminators, generators

DEFAULT_CONFIG = 'pix2pix_facades.py'  # in configs/: the paper's settings
NETS = ('G', 'D')
VISUALS = ('real_A', 'fake_B', 'real_B')
LOSSES = ('G_GAN', 'G_L1', 'D_real', 'D_fake')
PLAYERS = {'G': ('G',), 'D': ('D',)}


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
  height, width = image_size or ts.image_size(config)
  nets = {
    'G': generators.define_G(config, input_nc, output_nc),
    # Conditional D (Eq. 1): it judges A and B together.
    'D': discriminators.define_D(config, input_nc + output_nc),
  }
  init_rng, g_rng, d_rng = jax.random.split(rng, 3)
  variables = {
    'G': ts.init_net(nets['G'], g_rng, (1, height, width, input_nc)),
    'D': ts.init_net(nets['D'], d_rng, (1, height, width, input_nc + output_nc)),
  }
  pools = {}
  if config.pool_size > 0:  # Older official versions pooled the (A, fake B) pairs.
    pools['fake_AB'] = image_pool.init(config.pool_size, (height, width, input_nc + output_nc))
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
  """One official optimize_parameters: D step, then G step. Pure; the caller jits it."""
  config = state.config
  gan_loss = GANLoss(config.gan_mode)
  rng, dropout_rng, pool_rng, gp_rng = jax.random.split(state.rng, 4)
  real_A, real_B = batch['A'], batch['B']

  # forward(): fake_B = G(real_A), once. The pullback is kept for the G step, which
  # differentiates this very pass (same dropout mask, same batch statistics).
  def generate(params_G):
    return state.apply('G', real_A, train=True, rng=dropout_rng, params=params_G)

  fake_B, pullback_G, batch_stats_G = jax.vjp(generate, state.params['G'], has_aux=True)

  # backward_D: fake_B is detached (Eq. 1 maximised over D only), through the pool if any.
  fake_AB = jnp.concatenate([real_A, jax.lax.stop_gradient(fake_B)], axis=-1)
  pools = dict(state.pools)
  if 'fake_AB' in pools:
    pools['fake_AB'], fake_AB = image_pool.query(pools['fake_AB'], fake_AB, pool_rng)
  real_AB = jnp.concatenate([real_A, real_B], axis=-1)

  def d_loss_fn(params_D):
    stats = state.batch_stats['D']
    pred_fake, stats = state.apply('D', fake_AB, train=True, params=params_D, batch_stats=stats)
    pred_real, stats = state.apply('D', real_AB, train=True, params=params_D, batch_stats=stats)
    losses = {'D_fake': gan_loss(pred_fake, False), 'D_real': gan_loss(pred_real, True)}
    # Halved "to slow down the rate at which D learns relative to G" (Sec. 3.3).
    loss_D = (losses['D_fake'] + losses['D_real']) * 0.5
    if uses_gradient_penalty(config):

      def critic(x, stats=stats):
        return state.apply('D', x, train=True, params=params_D, batch_stats=stats)

      losses['D_gp'], stats = gradient_penalty(
        critic, real_AB, fake_AB, gp_rng, lambda_gp=config.lambda_gp, has_aux=True
      )
      loss_D = loss_D + losses['D_gp']
    return loss_D, (stats, losses)

  grads_D, (batch_stats_D, losses_D) = jax.grad(d_loss_fn, has_aux=True)(state.params['D'])
  state = state.apply_gradients('D', {'D': grads_D})

  # backward_G: the same fake_B, judged by the updated D, whose params are not differentiated
  # (the official set_requires_grad(netD, False)); Eq. 4: GAN + lambda_L1 * L1.
  def g_loss_fn(fake_B):
    pred_fake, stats = state.apply(
      'D', jnp.concatenate([real_A, fake_B], axis=-1), train=True, batch_stats=batch_stats_D
    )
    losses = {
      'G_GAN': gan_loss(pred_fake, True),
      'G_L1': l1_loss(fake_B, real_B) * config.lambda_L1,
    }
    return losses['G_GAN'] + losses['G_L1'], (stats, losses)

  grad_fake_B, (batch_stats_D, losses_G) = jax.grad(g_loss_fn, has_aux=True)(fake_B)
  (grads_G,) = pullback_G(grad_fake_B)
  state = state.apply_gradients('G', {'G': grads_G})

  state = state.replace(
    step=state.step + 1,
    rng=rng,
    batch_stats={**state.batch_stats, 'G': batch_stats_G, 'D': batch_stats_D},
    pools=pools,
  )
  losses = {**losses_G, **losses_D}
  metrics = {f'loss_{name}': losses[name] for name in LOSSES}
  if 'D_gp' in losses:
    metrics['loss_D_gp'] = losses['D_gp']
  return state, metrics


def translate(state: ts.TrainState, images: jax.Array, direction: str = 'AtoB', rng=None):
  """G(images), for eval: in train mode (dropout, batch statistics) unless config.eval.eval_mode.

  Args:
    state: a TrainState (not modified).
    images: [N, H, W, input_nc] in [-1, 1].
    direction: only 'AtoB' (pix2pix learns one direction).
    rng: dropout key; default derived from the state.
  """
  if direction != 'AtoB':
    raise ConfigError(f'pix2pix translates AtoB only, got direction {direction!r}')
  train = not state.config.eval.eval_mode
  fake_B, _ = state.apply('G', images, train=train, rng=ts.eval_rng(state, rng))
  return fake_B


def inference(state: ts.TrainState, direction: str = 'AtoB') -> Inference:
  """What export needs to run the generator of `direction` on its own (see models.Inference)."""
  if direction != 'AtoB':
    raise ConfigError(f'pix2pix translates AtoB only, got direction {direction!r}')
  return Inference('G', 0, lambda images, code, rng: translate(state, images, 'AtoB', rng))


def sample(state: ts.TrainState, batch: dict, rng=None) -> dict:
  """The official visuals {real_A, fake_B, real_B} (those the batch allows), in [-1, 1].

  Under jit the dict comes back sorted by key: show them in the order of VISUALS.
  """
  visuals = {'real_A': batch['A'], 'fake_B': translate(state, batch['A'], 'AtoB', rng)}
  if 'B' in batch:
    visuals['real_B'] = batch['B']
  return visuals
