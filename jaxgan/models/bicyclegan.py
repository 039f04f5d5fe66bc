"""BicycleGAN (Zhu et al., 2017): multimodal paired translation, as the official BiCycleGANModel.

G(A, z) maps an input and a latent code z ~ N(0, I) (nz entries) to an output; E(B) encodes an
output into (mu, logvar). Each batch is split in halves (the official code loads two images at a
time): the first half (A1, B1) drives both branches, the second half's B2 is the real data the
second discriminator compares the random-z outputs with.

- cVAE-GAN branch (Sec. 3.3, Eq. 2-4): z ~ E(B1) by reparametrisation, fake_B_encoded =
  G(A1, z); lambda_GAN * GAN on D, lambda_L1 * |fake_B_encoded - B1|, and lambda_kl times the
  KL divergence of E(B1) from N(0, I), summed over the half batch and the nz entries.
- cLR-GAN branch (Sec. 3.4, Eq. 5): fake_B_random = G(A1, z_random); lambda_GAN2 * GAN on D2
  (or on D with use_same_D), and lambda_z * |mu(E(fake_B_random)) - z_random|, whose gradient
  reaches G but not E's parameters (the official backward_G_alone runs with E frozen).

The step is the official optimize_parameters: forward once, update G and E on the sum of all the
above (D not differentiated), then D (and D2) on the same, detached, fakes. D losses are the sums
of the real and fake terms over all scales, unweighted.

The paper's baselines are configs of this code (configs/bicyclegan_shapes.py):
- pix2pix+noise: z_from_E=False (the L1 branch draws z ~ N(0, I)), lambda_kl = lambda_GAN2 =
  lambda_z = 0: no E.
- cVAE-GAN: lambda_GAN2 = lambda_z = 0.
- cLR-GAN: lambda_GAN = lambda_L1 = lambda_kl = 0 and latent_updates_E=True (the paper trains E
  on the latent regression there, min over G and E in Eq. 5, since no other loss does).
"""

import jax
import jax.numpy as jnp

from jaxgan import train_state as ts
from jaxgan.errors import ConfigError
from jaxgan.losses import GANLoss, l1_loss
from jaxgan.models import Inference
from jaxgan.nets import bicycle

DEFAULT_CONFIG = 'bicyclegan_edges2shoes.py'  # in configs/: the paper's settings
NETS = ('G', 'E', 'D', 'D2')
VISUALS = ('real_A_encoded', 'real_B_encoded', 'fake_B_random', 'fake_B_encoded')
LOSSES = ('G_GAN', 'D', 'G_GAN2', 'D2', 'G_L1', 'z_L1', 'kl')


def kl_loss(mu, logvar):
  """KL(N(mu, exp(logvar)) || N(0, I)) summed over the batch and the entries (official sum)."""
  return -0.5 * jnp.sum(1.0 + logvar - jnp.square(mu) - jnp.exp(logvar))


def branches(config) -> dict:
  """Which parts the config's loss weights switch on: {'encoded', 'random', 'E', 'D', 'D2'}."""
  z_from_E = bool(config.z_from_E)
  encoded = config.lambda_GAN > 0 or config.lambda_L1 > 0 or (z_from_E and config.lambda_kl > 0)
  random = config.lambda_GAN2 > 0 or config.lambda_z > 0
  return {
    'encoded': encoded,
    'random': random,
    'E': (encoded and z_from_E) or config.lambda_z > 0,
    'D': config.lambda_GAN > 0,
    'D2': config.lambda_GAN2 > 0 and not config.use_same_D,
  }


def check_batch_size(batch_size: int, num_devices: int = 1) -> None:
  """ConfigError unless the batch splits in halves, on every device too."""
  if batch_size % 2:
    raise ConfigError(
      f'BicycleGAN splits each batch in halves (cVAE-GAN | cLR-GAN): batch_size must be even, '
      f'got {batch_size}'
    )
  if num_devices > 1 and batch_size % num_devices == 0 and (batch_size // num_devices) % 2:
    raise ConfigError(
      f'batch_size {batch_size} gives {batch_size // num_devices} images per device; BicycleGAN '
      f'halves each batch: use a multiple of {2 * num_devices}'
    )


def _check(config):
  GANLoss(config.gan_mode)
  check_batch_size(int(config.batch_size))  # per device: in train_step (eval may run elsewhere)
  if config.nz < 1:
    raise ConfigError(f'BicycleGAN needs a latent code: nz must be >= 1, got {config.nz}')
  if config.use_same_D and config.lambda_GAN2 > 0 and config.lambda_GAN <= 0:
    raise ConfigError('use_same_D needs lambda_GAN > 0: the shared D is the cVAE-GAN branch D')
  on = branches(config)
  if not (on['encoded'] or on['random']):
    raise ConfigError('every loss weight is 0: nothing to train')


def create(config, rng, steps_per_epoch, *, image_size=None) -> ts.TrainState:
  """A fresh TrainState; nets and players as the config's loss weights need them (`branches`).

  Args:
    config: the run's ConfigDict (see configs/bicyclegan_edges2shoes.py for the options).
    rng: a PRNGKey; initialises the nets and seeds every later step.
    steps_per_epoch: train steps per epoch, which the lr schedule counts in.
    image_size: (height, width) of the training images; default from the config's crop.
  """
  _check(config)
  input_nc, output_nc = config.data.input_nc, config.data.output_nc
  height, width = image_size or ts.image_size(config)
  on = branches(config)
  d_nc = input_nc + output_nc if config.conditional_D else output_nc
  nets = {'G': bicycle.define_G(config, output_nc)}
  if on['E']:
    nets['E'] = bicycle.define_E(config)
  if on['D']:
    nets['D'] = bicycle.define_D(config, config.netD)
  if on['D2']:
    nets['D2'] = bicycle.define_D(config, config.netD2)
  rngs = dict(zip(('state', *nets), jax.random.split(rng, len(nets) + 1), strict=True))
  image = lambda c: jnp.zeros((1, height, width, c), jnp.float32)  # noqa: E731
  inputs = {
    'G': (image(input_nc), jnp.zeros((1, config.nz), jnp.float32)),
    'E': (image(output_nc),),
    'D': (image(d_nc),),
    'D2': (image(d_nc),),
  }
  variables = {name: ts.init_net(net, rngs[name], *inputs[name]) for name, net in nets.items()}
  return ts.TrainState.create(
    config=config,
    nets=nets,
    players={name: (name,) for name in nets},
    variables=variables,
    pools={},
    rng=rngs['state'],
    steps_per_epoch=steps_per_epoch,
  )


def _gan(gan_loss, predictions, target_is_real):
  # The official GANLoss sums the loss of every scale of a multi-scale D.
  return sum(gan_loss(p, target_is_real) for p in predictions)


def train_step(state: ts.TrainState, batch: dict, draws=None) -> tuple[ts.TrainState, dict]:
  """One official optimize_parameters: G and E step, then D (and D2). Pure; the caller jits it.

  `draws` ({'z_random', 'eps'}, each [batch / 2, nz]) replaces the step's normal draws: the
  official step's torch.randn, replayed by tests/test_official_steps.py.
  """
  config = state.config
  gan_loss = GANLoss(config.gan_mode)
  on = branches(config)
  real_A, real_B = batch['A'], batch['B']
  # train_lib shards the batch over all devices: each device's share must split in halves too.
  check_batch_size(real_A.shape[0], jax.device_count())
  half = real_A.shape[0] // 2
  # A1, B1 drive both branches; B2 (with A2 for conditional_D) is D2's real data.
  A_enc, B_enc = real_A[:half], real_B[:half]
  A_rand, B_rand = real_A[half:], real_B[half:]
  rng, eps_rng, z_rng, drop_enc, drop_rand = jax.random.split(state.rng, 5)
  z_random = jax.random.normal(z_rng, (half, config.nz), jnp.float32)
  if draws is not None:
    z_random = draws['z_random']
  d_fake_random = 'D' if config.use_same_D else 'D2'

  def d_input(a, b):
    # conditional_D: D judges (A, B) pairs; else B alone.
    return jnp.concatenate([a, b], axis=-1) if config.conditional_D else b

  def ge_loss(params):
    stats = dict(state.batch_stats)
    losses, fakes = {}, {}
    if on['encoded']:
      if config.z_from_E:
        (mu, logvar), stats['E'] = state.apply(
          'E', B_enc, train=True, params=params['E'], batch_stats=stats['E']
        )
        # Reparametrisation (Eq. 3): z = mu + eps * exp(logvar / 2).
        eps = jax.random.normal(eps_rng, mu.shape, jnp.float32) if draws is None else draws['eps']
        z_encoded = eps * jnp.exp(0.5 * logvar) + mu
        if config.lambda_kl > 0:
          losses['kl'] = kl_loss(mu, logvar) * config.lambda_kl
      else:  # pix2pix+noise: the reconstruction branch sees noise, not a code of B.
        z_encoded = jax.random.normal(eps_rng, (half, config.nz), jnp.float32)
      fakes['encoded'], stats['G'] = state.apply(
        'G', A_enc, z_encoded, train=True, rng=drop_enc, params=params['G'], batch_stats=stats['G']
      )
      if config.lambda_L1 > 0:  # Eq. 4
        losses['G_L1'] = l1_loss(fakes['encoded'], B_enc) * config.lambda_L1
      if on['D']:  # Eq. 2; D's params are closed over, not differentiated.
        pred, stats['D'] = state.apply(
          'D', d_input(A_enc, fakes['encoded']), train=True, batch_stats=stats['D']
        )
        losses['G_GAN'] = _gan(gan_loss, pred, True) * config.lambda_GAN
    if on['random']:
      fakes['random'], stats['G'] = state.apply(
        'G', A_enc, z_random, train=True, rng=drop_rand, params=params['G'], batch_stats=stats['G']
      )
      if config.lambda_GAN2 > 0:
        pred, stats[d_fake_random] = state.apply(
          d_fake_random,
          d_input(A_enc, fakes['random']),
          train=True,
          batch_stats=stats[d_fake_random],
        )
        losses['G_GAN2'] = _gan(gan_loss, pred, True) * config.lambda_GAN2
      if config.lambda_z > 0:
        # Eq. 5 on mu, a point estimate. The official code freezes E here: the gradient flows
        # through E into G, but E's parameters get none (unless latent_updates_E).
        params_E = params['E'] if config.latent_updates_E else jax.lax.stop_gradient(params['E'])
        (mu2, _), stats['E'] = state.apply(
          'E', fakes['random'], train=True, params=params_E, batch_stats=stats['E']
        )
        losses['z_L1'] = l1_loss(mu2, z_random) * config.lambda_z
    total = sum(losses.values())
    return total, (losses, stats, fakes)

  ge = {name: state.params[name] for name in ('G', 'E') if name in state.params}
  grads, (losses, stats, fakes) = jax.grad(ge_loss, has_aux=True)(ge)
  for name in ge:
    state = state.apply_gradients(name, {name: grads[name]})

  # update_D: the forward pass's fakes, detached (D maximises Eq. 2 / its cLR counterpart).
  fake_enc = jax.lax.stop_gradient(fakes.get('encoded'))
  fake_rand = jax.lax.stop_gradient(fakes.get('random'))

  def d_loss(params_D, name, pairs):
    st, parts = stats[name], []
    for real, fake in pairs:
      pred_fake, st = state.apply(name, fake, train=True, params=params_D, batch_stats=st)
      pred_real, st = state.apply(name, real, train=True, params=params_D, batch_stats=st)
      parts.append(_gan(gan_loss, pred_fake, False) + _gan(gan_loss, pred_real, True))
    return sum(parts), (st, parts)

  pairs_rand = (d_input(A_rand, B_rand), d_input(A_enc, fake_rand)) if on['random'] else None
  if on['D']:
    pairs = [(d_input(A_enc, B_enc), d_input(A_enc, fake_enc))]
    if config.use_same_D and config.lambda_GAN2 > 0:
      pairs.append(pairs_rand)  # one step of the shared D on both branches' losses
    g, (stats['D'], parts) = jax.grad(d_loss, has_aux=True)(state.params['D'], 'D', pairs)
    state = state.apply_gradients('D', {'D': g})
    losses['D'] = parts[0]
    if len(parts) == 2:
      losses['D2'] = parts[1]
  if on['D2']:
    g, (stats['D2'], parts) = jax.grad(d_loss, has_aux=True)(state.params['D2'], 'D2', [pairs_rand])
    state = state.apply_gradients('D2', {'D2': g})
    losses['D2'] = parts[0]

  state = state.replace(step=state.step + 1, rng=rng, batch_stats=stats)
  zero = jnp.zeros((), jnp.float32)
  metrics = {f'loss_{name}': jnp.asarray(losses.get(name, zero), jnp.float32) for name in LOSSES}
  return state, metrics


# ------------------------------------------------------------------------------------------
# Sampling.


def official_counterpart(config, net: str) -> str | None:
  """Why net `net`'s weights fit no official class (None where they do), for export.py."""
  return bicycle.official_class_note(config) if net == 'G' else None


def generate(state: ts.TrainState, images, z, rng=None):
  """G(images, z) for eval: train mode (dropout) unless config.eval.eval_mode.

  Args:
    state: a TrainState (not modified).
    images: [N, H, W, input_nc] in [-1, 1].
    z: [N, nz] latent codes.
    rng: dropout key; default derived from the state.
  """
  train = not state.config.eval.eval_mode
  fake, _ = state.apply('G', images, z, train=train, rng=ts.eval_rng(state, rng))
  return fake


def encode(state: ts.TrainState, images):
  """mu of E(images), the official test's encoded z (E in eval mode as there)."""
  if 'E' not in state.params:
    raise ConfigError('this BicycleGAN variant has no encoder E (pix2pix+noise): no encoded z')
  (mu, _), _ = state.apply('E', images, train=not state.config.eval.eval_mode)
  return mu


def random_z(rng, n, nz):
  """n latent codes from N(0, I), the official get_z_random('gauss')."""
  return jax.random.normal(rng, (n, nz), jnp.float32)


def translate(state: ts.TrainState, images, direction: str = 'AtoB', rng=None):
  """G(images, z) with z ~ N(0, I) drawn from rng: one random sample per image, for eval.

  Args:
    state: a TrainState (not modified).
    images: [N, H, W, input_nc] in [-1, 1].
    direction: only 'AtoB'.
    rng: key of z and of dropout; default derived from the state.
  """
  if direction != 'AtoB':
    raise ConfigError(f'BicycleGAN translates AtoB only, got direction {direction!r}')
  z_rng, drop_rng = jax.random.split(ts.eval_rng(state, rng))
  z = random_z(z_rng, images.shape[0], state.config.nz)
  return generate(state, images, z, drop_rng)


def inference(state: ts.TrainState, direction: str = 'AtoB') -> Inference:
  """What export needs: G(images, z) with the latent code z [N, nz] as an input."""
  if direction != 'AtoB':
    raise ConfigError(f'BicycleGAN translates AtoB only, got direction {direction!r}')
  return Inference('G', state.config.nz, lambda images, z, rng: generate(state, images, z, rng))


def sample(state: ts.TrainState, batch: dict, rng=None) -> dict:
  """The official visuals: inputs, targets, a random-z output and the output of z = mu(E(B)).

  Under jit the dict comes back sorted by key: show them in the order of VISUALS.
  """
  z_rng, drop_rng = jax.random.split(ts.eval_rng(state, rng))
  visuals = {
    'real_A_encoded': batch['A'],
    'fake_B_random': generate(
      state, batch['A'], random_z(z_rng, batch['A'].shape[0], state.config.nz), drop_rng
    ),
  }
  if 'B' in batch:
    visuals['real_B_encoded'] = batch['B']
    if 'E' in state.params:
      visuals['fake_B_encoded'] = generate(state, batch['A'], encode(state, batch['B']), drop_rng)
  return visuals


# eval.py: a page of random-z samples per input (jaxgan.eval.sampling), scored by mode metrics and
# LPIPS diversity; FID/KID, which read one translation per input, do not apply.
EVALUATION = 'sampling'
FID_KID = False
