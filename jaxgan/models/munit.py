"""MUNIT (Huang et al., 2018): multimodal unsupervised translation, as the official MUNIT_Trainer.

Each domain has an auto-encoder (`gen_a`, `gen_b`: content and style encoders, AdaIN decoder)
and a multi-scale discriminator (`dis_a` judges domain A, `dis_b` domain B). A translation
A -> B keeps the content code of an A image and decodes it with `gen_b` and a style code drawn
from the prior N(0, I) (or encoded from a B image: example-guided translation).

Each step is the official iteration: `dis_update` then `gen_update`, each drawing its own fresh
styles. The generator objective (Sec. 3.2, Eq. 5 of the paper) is

  gan_w (L_GAN^a + L_GAN^b) + recon_x_w (L_recon^x_a + L_recon^x_b)
  + recon_c_w (L_recon^c_a + L_recon^c_b) + recon_s_w (L_recon^s_a + L_recon^s_b)
  + recon_x_cyc_w (explicit style-augmented cycle, Sec. 3.2 'cycle') + vgg_w (the
  domain-invariant perceptual loss of Sec. 5.1 on instance-normed VGG16 relu5_3 features).

The optimizers are the official ones: Adam(lr, beta1, beta2) with weight_decay added to the
gradient (torch's Adam(weight_decay), i.e. L2, not AdamW), lr multiplied by gamma every
step_size iterations, stepped once per iteration before the update (so, as there, the first
decay comes at iteration step_size - 1, counted from 0).
"""

import jax
import jax.numpy as jnp
import optax

from jaxgan import layers
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError
from jaxgan.losses import multiscale_dis_loss, multiscale_gen_loss
from jaxgan.models import Inference
from jaxgan.nets import munit as nets

DEFAULT_CONFIG = 'munit_edges2shoes.py'  # in configs/: the paper's settings
NETS = ('gen_a', 'gen_b', 'dis_a', 'dis_b')
# MUNIT_Trainer.sample's order: x_a, x_a_recon, x_ab1 (fixed style), x_ab2 (random style), ...
VISUALS = ('x_a', 'x_a_recon', 'x_ab1', 'x_ab2', 'x_b', 'x_b_recon', 'x_ba1', 'x_ba2')
# The official loss_* members (unweighted), in trainer order.
LOSSES = (
  'dis_a',
  'dis_b',
  'dis_total',
  'gen_adv_a',
  'gen_adv_b',
  'gen_recon_x_a',
  'gen_recon_x_b',
  'gen_recon_s_a',
  'gen_recon_s_b',
  'gen_recon_c_a',
  'gen_recon_c_b',
  'gen_cycrecon_x_a',
  'gen_cycrecon_x_b',
  'gen_vgg_a',
  'gen_vgg_b',
  'gen_total',
)
PLAYERS = {'gen': ('gen_a', 'gen_b'), 'dis': ('dis_a', 'dis_b')}
# eval.py --weights also takes the official pair files: gen=gen_<iter>.pt, dis=dis_<iter>.pt.
WEIGHT_FILES = ('gen', 'dis')
# Official state_dict entries the nets keep no state for, added on export (strict loading).
OFFICIAL_BUFFERS = {'gen_a': nets.adain_buffers, 'gen_b': nets.adain_buffers}
EVALUATION = 'styles'  # several random styles per input, both ways (jaxgan.eval.styles)
LR_POLICIES = ('step', 'constant')


# ------------------------------------------------------------------------------------------
# Optimisation.


def lr_factor(config, count):
  """The multiplier of config.lr for the update after `count` updates (0-based iteration).

  The official train loop calls scheduler.step() before each iteration's updates, so iteration
  i runs at gamma ** ((i + 1) // step_size) ('step'); 'constant' keeps lr.
  """
  if config.lr_policy == 'constant':
    return jnp.ones((), jnp.float32)
  if config.lr_policy != 'step':
    raise ConfigError(f'unknown MUNIT lr_policy {config.lr_policy!r}; known: step, constant')
  count = jnp.asarray(count, jnp.int32)
  return jnp.float32(config.gamma) ** ((count + 1) // int(config.step_size)).astype(jnp.float32)


def learning_rate(config, step):
  """The learning rate step `step` (1-based) trained with; train_lib logs it."""
  return float(config.lr) * float(lr_factor(config, step - 1))


def make_optimizer(config, eps=1e-8) -> optax.GradientTransformation:
  """torch.optim.Adam(lr, (beta1, beta2), weight_decay) with the step schedule, per iteration.

  `eps` is torch's default; tests raise it (see tests/test_models.py, `_with_adam_eps`).
  """
  lr_factor(config, 0)  # Unknown policies fail here, not inside jit.
  lr = float(config.lr)
  frozen = ts.freeze_config(config)
  return optax.chain(
    # torch's weight_decay: grad += wd * param before the moments (L2, not decoupled).
    optax.add_decayed_weights(float(config.weight_decay)),
    optax.scale_by_adam(b1=float(config.beta1), b2=float(config.beta2), eps=eps),
    optax.scale_by_learning_rate(lambda count: lr * lr_factor(frozen, count)),
  )


# ------------------------------------------------------------------------------------------
# State.


def create(config, rng, steps_per_epoch=1, *, image_size=None) -> ts.TrainState:
  """A fresh TrainState: kaiming (config.init) generators, N(0, 0.02) discriminators.

  Args:
    config: the run's ConfigDict (see configs/munit_edges2shoes.py).
    rng: a PRNGKey; initialises the nets and seeds every later step.
    steps_per_epoch: unused (MUNIT's schedule counts iterations); kept for the contract.
    image_size: (height, width) of the training images; default from the config's crop.
  """
  del steps_per_epoch
  multiscale_dis_loss(config.dis.gan_type, [], [])  # Unknown gan types fail here.
  if config.vgg_w > 0 and (config.data.input_nc, config.data.output_nc) != (3, 3):
    raise ConfigError('vgg_w > 0 needs RGB images in both domains (input_nc = output_nc = 3)')
  input_nc, output_nc = config.data.input_nc, config.data.output_nc
  height, width = image_size or ts.image_size(config)
  modules = {
    'gen_a': nets.define_gen(config, input_nc),
    'gen_b': nets.define_gen(config, output_nc),
    'dis_a': nets.define_dis(config),
    'dis_b': nets.define_dis(config),
  }
  channels = {'gen_a': input_nc, 'gen_b': output_nc, 'dis_a': input_nc, 'dis_b': output_nc}
  init_rng, *net_rngs = jax.random.split(rng, 1 + len(NETS))
  variables = {
    name: ts.init_net(modules[name], key, (1, height, width, channels[name]))
    for name, key in zip(NETS, net_rngs, strict=True)
  }
  return ts.TrainState.create(
    config=config,
    nets=modules,
    players=PLAYERS,
    variables=variables,
    pools={},
    rng=init_rng,
    steps_per_epoch=1,  # MUNIT's schedule counts iterations
    tx=make_optimizer(config),
  )


def encode(state, name, images, params=None):
  """(content, style) codes of `images` by auto-encoder `name` ('gen_a' | 'gen_b')."""
  params = state.params[name] if params is None else params
  return state.nets[name].apply({'params': params}, images, method=nets.AdaINGen.encode)


def decode(state, name, content, style, params=None):
  """Images from content and style codes ([N, 1, 1, style_dim]) by auto-encoder `name`."""
  params = state.params[name] if params is None else params
  return state.nets[name].apply({'params': params}, content, style, method=nets.AdaINGen.decode)


def discriminate(state, name, images, *, params=None, batch_stats=None, train=True):
  """(list of patch logits per scale, new batch_stats) of discriminator `name`."""
  params = state.params[name] if params is None else params
  stats = state.batch_stats[name] if batch_stats is None else batch_stats
  variables = {'params': params}
  if stats:
    variables['batch_stats'] = stats
    if train:
      outs, updates = state.nets[name].apply(variables, images, train=True, mutable=['batch_stats'])
      return outs, updates['batch_stats']
  return state.nets[name].apply(variables, images, train=train), stats


def random_style(config, rng, n):
  """n style codes from the prior N(0, I), [n, 1, 1, style_dim]."""
  return jax.random.normal(rng, (n, 1, 1, config.gen.style_dim), jnp.float32)


# ------------------------------------------------------------------------------------------
# Losses.


def recon_criterion(x, target):
  """The official recon_criterion: mean absolute error."""
  return jnp.mean(jnp.abs(x - target))


def vgg_loss(vgg, img, target):
  """Domain-invariant perceptual loss: MSE of instance-normed VGG16 relu5_3 features.

  Args:
    vgg: features(images in [-1, 1]) -> [N, h, w, 512] (preprocessing included).
    img, target: [N, H, W, 3] in [-1, 1].
  """
  return jnp.mean(jnp.square(layers.instance_norm(vgg(img)) - layers.instance_norm(vgg(target))))


def _vgg_features(config):
  if config.vgg_w <= 0:
    return None
  from jaxgan.nets import vgg16  # noqa: PLC0415 - only runs that use the VGG loss need it

  return vgg16.features_fn(config)


def gen_losses(state, params_G, x_a, x_b, s_a, s_b, *, dis_stats=None, vgg=None):
  """The official gen_update's losses (unweighted) and the total, for params_G.

  Returns:
    (total, (losses dict, new discriminator batch stats)).
  """
  config = state.config
  dis_stats = dict(state.batch_stats if dis_stats is None else dis_stats)
  pa, pb = params_G['gen_a'], params_G['gen_b']
  c_a, s_a_prime = encode(state, 'gen_a', x_a, pa)
  c_b, s_b_prime = encode(state, 'gen_b', x_b, pb)
  # Within-domain reconstruction (Eq. 1).
  x_a_recon = decode(state, 'gen_a', c_a, s_a_prime, pa)
  x_b_recon = decode(state, 'gen_b', c_b, s_b_prime, pb)
  # Cross-domain translation with styles from the prior.
  x_ba = decode(state, 'gen_a', c_b, s_a, pa)
  x_ab = decode(state, 'gen_b', c_a, s_b, pb)
  # Latent reconstruction (Eq. 2, 3): the translation's codes give back content and style.
  c_b_recon, s_a_recon = encode(state, 'gen_a', x_ba, pa)
  c_a_recon, s_b_recon = encode(state, 'gen_b', x_ab, pb)
  zero = jnp.zeros((), jnp.float32)
  losses = {
    'gen_recon_x_a': recon_criterion(x_a_recon, x_a),
    'gen_recon_x_b': recon_criterion(x_b_recon, x_b),
    'gen_recon_s_a': recon_criterion(s_a_recon, s_a),
    'gen_recon_s_b': recon_criterion(s_b_recon, s_b),
    'gen_recon_c_a': recon_criterion(c_a_recon, c_a),
    'gen_recon_c_b': recon_criterion(c_b_recon, c_b),
    'gen_cycrecon_x_a': zero,
    'gen_cycrecon_x_b': zero,
    'gen_vgg_a': zero,
    'gen_vgg_b': zero,
  }
  if config.recon_x_cyc_w > 0:
    # Explicit style-augmented cycle: back to the source domain with the source's own style.
    x_aba = decode(state, 'gen_a', c_a_recon, s_a_prime, pa)
    x_bab = decode(state, 'gen_b', c_b_recon, s_b_prime, pb)
    losses['gen_cycrecon_x_a'] = recon_criterion(x_aba, x_a)
    losses['gen_cycrecon_x_b'] = recon_criterion(x_bab, x_b)
  # GAN loss (Eq. 4) against the frozen discriminators.
  outs_a, dis_stats['dis_a'] = discriminate(state, 'dis_a', x_ba, batch_stats=dis_stats['dis_a'])
  outs_b, dis_stats['dis_b'] = discriminate(state, 'dis_b', x_ab, batch_stats=dis_stats['dis_b'])
  losses['gen_adv_a'] = multiscale_gen_loss(config.dis.gan_type, outs_a)
  losses['gen_adv_b'] = multiscale_gen_loss(config.dis.gan_type, outs_b)
  if config.vgg_w > 0:
    # As the official: the translation against its content source, across domains.
    losses['gen_vgg_a'] = vgg_loss(vgg, x_ba, x_b)
    losses['gen_vgg_b'] = vgg_loss(vgg, x_ab, x_a)
  total = (
    config.gan_w * (losses['gen_adv_a'] + losses['gen_adv_b'])
    + config.recon_x_w * (losses['gen_recon_x_a'] + losses['gen_recon_x_b'])
    + config.recon_s_w * (losses['gen_recon_s_a'] + losses['gen_recon_s_b'])
    + config.recon_c_w * (losses['gen_recon_c_a'] + losses['gen_recon_c_b'])
    + config.recon_x_cyc_w * (losses['gen_cycrecon_x_a'] + losses['gen_cycrecon_x_b'])
    + config.vgg_w * (losses['gen_vgg_a'] + losses['gen_vgg_b'])
  )
  losses['gen_total'] = total
  return total, (losses, dis_stats)


def dis_losses(state, params_D, x_a, x_b, x_ba, x_ab):
  """The official dis_update's losses for params_D on detached translations x_ba, x_ab."""
  config = state.config
  stats = dict(state.batch_stats)
  losses = {}
  for name, fake, real in (('dis_a', x_ba, x_a), ('dis_b', x_ab, x_b)):
    # calc_dis_loss: the fakes' forward, then the reals' (batch norm sees them in that order).
    outs_fake, stats[name] = discriminate(
      state, name, fake, params=params_D[name], batch_stats=stats[name]
    )
    outs_real, stats[name] = discriminate(
      state, name, real, params=params_D[name], batch_stats=stats[name]
    )
    losses[name] = multiscale_dis_loss(config.dis.gan_type, outs_fake, outs_real)
  total = config.gan_w * (losses['dis_a'] + losses['dis_b'])
  losses['dis_total'] = total
  return total, (losses, stats)


# ------------------------------------------------------------------------------------------
# The step.


def train_step(state: ts.TrainState, batch: dict, draws=None) -> tuple[ts.TrainState, dict]:
  """One official iteration: dis_update, then gen_update. Pure; the caller jits it.

  `draws` ({'dis': (s_a, s_b), 'gen': (s_a, s_b)}, each [N, 1, 1, style_dim]) replaces the
  styles the two updates draw: the official iteration's torch.randn, replayed by
  tests/test_official_steps.py.
  """
  config = state.config
  x_a, x_b = batch['A'], batch['B']
  n = x_a.shape[0]
  rng, *keys = jax.random.split(state.rng, 5)
  vgg = _vgg_features(config)

  # dis_update: fresh styles, translations detached from the generators.
  s_a, s_b = random_style(config, keys[0], n), random_style(config, keys[1], n)
  if draws is not None:
    s_a, s_b = draws['dis']
  c_a, _ = encode(state, 'gen_a', x_a)
  c_b, _ = encode(state, 'gen_b', x_b)
  x_ba = jax.lax.stop_gradient(decode(state, 'gen_a', c_b, s_a))
  x_ab = jax.lax.stop_gradient(decode(state, 'gen_b', c_a, s_b))
  grads_D, (losses_D, batch_stats) = jax.grad(dis_losses, argnums=1, has_aux=True)(
    state, state.player_params('dis'), x_a, x_b, x_ba, x_ab
  )
  state = state.apply_gradients('dis', grads_D).replace(batch_stats=batch_stats)

  # gen_update against the updated, frozen discriminators, with new styles.
  s_a, s_b = random_style(config, keys[2], n), random_style(config, keys[3], n)
  if draws is not None:
    s_a, s_b = draws['gen']

  def g_loss(params_G):
    return gen_losses(state, params_G, x_a, x_b, s_a, s_b, vgg=vgg)

  grads_G, (losses_G, batch_stats) = jax.grad(g_loss, has_aux=True)(state.player_params('gen'))
  state = state.apply_gradients('gen', grads_G)
  state = state.replace(step=state.step + 1, rng=rng, batch_stats=batch_stats)
  losses = {**losses_D, **losses_G}
  return state, {f'loss_{name}': losses[name] for name in LOSSES}


# ------------------------------------------------------------------------------------------
# Sampling and translation.


def fixed_styles(config, n):
  """(s_a, s_b): the run's fixed display styles (the official trainer's s_a, s_b)."""
  key_a, key_b = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(config.seed), 7))
  return random_style(config, key_a, n), random_style(config, key_b, n)


def sample(state: ts.TrainState, batch: dict, rng=None) -> dict:
  """MUNIT_Trainer.sample: reconstructions and both translations, fixed and random styles.

  Under jit the dict comes back sorted by key: show them in the order of VISUALS.
  """
  config = state.config
  x_a, x_b = batch['A'], batch['B']
  n = x_a.shape[0]
  s_a1, s_b1 = fixed_styles(config, n)
  key_a, key_b = jax.random.split(ts.eval_rng(state, rng))
  s_a2, s_b2 = random_style(config, key_a, n), random_style(config, key_b, n)
  c_a, s_a_fake = encode(state, 'gen_a', x_a)
  c_b, s_b_fake = encode(state, 'gen_b', x_b)
  return {
    'x_a': x_a,
    'x_a_recon': decode(state, 'gen_a', c_a, s_a_fake),
    'x_ab1': decode(state, 'gen_b', c_a, s_b1),
    'x_ab2': decode(state, 'gen_b', c_a, s_b2),
    'x_b': x_b,
    'x_b_recon': decode(state, 'gen_b', c_b, s_b_fake),
    'x_ba1': decode(state, 'gen_a', c_b, s_a1),
    'x_ba2': decode(state, 'gen_a', c_b, s_a2),
  }


_DIRECTIONS = {'AtoB': ('gen_a', 'gen_b'), 'BtoA': ('gen_b', 'gen_a')}


def translate(state: ts.TrainState, images, direction='AtoB', rng=None, style=None):
  """Translates images across domains with random styles, or with `style` codes.

  Args:
    state: a TrainState (not modified).
    images: [N, H, W, C] in [-1, 1], of the direction's source domain.
    direction: 'AtoB' (content by gen_a, decoded by gen_b) or 'BtoA'.
    rng: the key of the random styles; default derived from the state.
    style: [N, 1, 1, style_dim] target-domain style codes (e.g. `encode(...)[1]` of example
      images: example-guided translation); default drawn from the prior with `rng`.
  """
  if direction not in _DIRECTIONS:
    raise ConfigError(f'unknown direction {direction!r}; known: AtoB, BtoA')
  source, target = _DIRECTIONS[direction]
  content, _ = encode(state, source, images)
  if style is None:
    style = random_style(state.config, ts.eval_rng(state, rng), images.shape[0])
  return decode(state, target, content, style)


def style_of(state: ts.TrainState, images, domain):
  """Style codes of images of `domain` ('A' | 'B'), for example-guided translation."""
  return encode(state, 'gen_a' if domain == 'A' else 'gen_b', images)[1]


def inference(state: ts.TrainState, direction: str = 'AtoB') -> Inference:
  """What export needs: the source's content encoder and the target's decoder, with the
  target-domain style code [N, style_dim] as an input."""
  if direction not in _DIRECTIONS:
    raise ConfigError(f'unknown direction {direction!r}; known: AtoB, BtoA')
  return Inference(
    _DIRECTIONS[direction][0],
    state.config.gen.style_dim,
    lambda images, style, rng: translate(state, images, direction, style=style[:, None, None, :]),
  )
