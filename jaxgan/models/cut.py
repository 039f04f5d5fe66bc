"""CUT and FastCUT (Park et al., 2020): one generator, an adversarial loss and PatchNCE.

As the official CUTModel of taesungp/contrastive-unpaired-translation. G maps A to B; D judges
B; F (PatchSampleF) projects G's encoder features at sampled positions for the patchwise
contrastive loss, which ties each output patch to the input patch at the same place (Eq. 5).
Each step is the official optimize_parameters: G's forward, D's update, then G's and F's
update against the updated D. The modes are configs (configs/cut_*.py): CUT adds the identity
PatchNCE on B (nce_idt) with lambda_NCE 1; FastCUT drops it, weighs PatchNCE 10 and flips the
inputs at random for flip-equivariance.

G and F are one player: one optax Adam over both, which is the official pair of Adams exactly
(Adam is elementwise; both have the same lr schedule, betas and step count).
"""

import jax
import jax.numpy as jnp

from jaxgan import train_state as ts
from jaxgan.errors import ConfigError
from jaxgan.losses import GANLoss, patch_nce
from jaxgan.models import Inference
from jaxgan.nets import cut as nets

DEFAULT_CONFIG = 'cut_horse2zebra.py'  # in configs/: the paper's CUT on horse2zebra
NETS = ('G', 'D', 'F')
VISUALS = ('real_A', 'fake_B', 'real_B', 'idt_B')  # idt_B only with nce_idt, as officially
LOSSES = ('G_GAN', 'D_real', 'D_fake', 'G', 'NCE', 'NCE_Y')  # NCE_Y only with nce_idt
PLAYERS = {'D': ('D',), 'G': ('G', 'F')}


def nce_layers(config) -> tuple[int, ...]:
  """config.nce_layers ('0,4,8,12,16', the official form) as layer indices of G."""
  text = str(config.nce_layers)
  try:
    taps = tuple(int(t) for t in text.split(',') if t.strip())
  except ValueError:
    raise ConfigError(f'nce_layers={text!r}: expected layer indices such as 0,4,8,12,16') from None
  if not taps or list(taps) != sorted(set(taps)):
    raise ConfigError(f'nce_layers={text!r}: expected increasing layer indices, e.g. 0,4,8,12,16')
  return taps


def _check(config, generator):
  GANLoss(config.gan_mode)
  taps = nce_layers(config)
  kinds = generator.layer_kinds()
  if taps[-1] >= len(kinds):
    raise ConfigError(
      f'nce_layers={config.nce_layers!r}: {config.netG} has layers 0 to {len(kinds) - 1}'
    )
  if config.num_patches < 1:
    raise ConfigError(f'num_patches must be >= 1, got {config.num_patches}')
  if config.nce_T <= 0:
    raise ConfigError(f'nce_T must be > 0, got {config.nce_T}')
  if config.nce_idt and config.data.input_nc != config.data.output_nc:
    raise ConfigError(
      f'nce_idt needs input_nc == output_nc (got {config.data.input_nc} and '
      f'{config.data.output_nc}): G translates B images too; set --config.nce_idt=False'
    )


def create(config, rng, steps_per_epoch, *, image_size=None) -> ts.TrainState:
  """A fresh TrainState for config (see configs/cut_horse2zebra.py).

  Args:
    config: the run's ConfigDict.
    rng: a PRNGKey; initialises the nets and seeds every later step.
    steps_per_epoch: train steps per epoch, which the lr schedule counts in.
    image_size: (height, width) of the training images; default from the config's crop.
  """
  input_nc, output_nc = config.data.input_nc, config.data.output_nc
  height, width = image_size or ts.image_size(config)
  net = {
    'G': nets.define_G(config, output_nc),
    'D': nets.define_D(config),
    'F': nets.define_F(config),
  }
  _check(config, net['G'])
  init_rng, g_rng, d_rng, f_rng = jax.random.split(rng, 4)
  variables = {
    'G': ts.init_net(net['G'], g_rng, (1, height, width, input_nc)),
    'D': ts.init_net(net['D'], d_rng, (1, height, width, output_nc)),
  }
  # F's MLPs take the tapped layers' widths, which the official code learns from a first
  # forward pass (data_dependent_initialize); here from G's shapes.
  taps = nce_layers(config)
  shapes = jax.eval_shape(
    lambda p, x: net['G'].apply({'params': p}, x, taps, True),
    variables['G'][0],
    jax.ShapeDtypeStruct((1, height, width, input_nc), jnp.float32),
  )
  features = [jnp.zeros(s.shape, jnp.float32) for s in shapes]
  ids = nets.draw_patch_ids(f_rng, [s.shape for s in shapes], config.num_patches)
  variables['F'] = ts.init_net(net['F'], f_rng, features, ids)
  return ts.TrainState.create(
    config=config,
    nets=net,
    players=PLAYERS,
    variables=variables,
    pools={},
    rng=init_rng,
    steps_per_epoch=steps_per_epoch,
  )


def _flip(x):
  return x[:, :, ::-1]


def train_step(state: ts.TrainState, batch: dict, draws=None) -> tuple[ts.TrainState, dict]:
  """One official optimize_parameters: G's forward, D's update, G's and F's. Pure; jitted by
  the caller.

  The random draws (the flip, the patch ids, dropout) come from the state's key; `draws`
  replaces the first two, for replaying the official code's (tests/test_cut.py):
  {'flip': bool, 'ids': [ids of NCE(X) per layer, ids of NCE(Y) per layer]}.
  """
  config = state.config
  gan_loss = GANLoss(config.gan_mode)
  taps = nce_layers(config)
  rng, flip_rng, dropout_rng, patch_rng = jax.random.split(state.rng, 4)
  real_A, real_B = batch['A'], batch['B']
  n = real_A.shape[0]
  real = jnp.concatenate([real_A, real_B]) if config.nce_idt else real_A
  flipped = jnp.zeros((), bool)
  if config.flip_equivariance:
    # FastCUT: with probability 1/2 the whole step translates mirrored images.
    flipped = jax.random.uniform(flip_rng) < 0.5 if draws is None else jnp.asarray(draws['flip'])
    real = jnp.where(flipped, _flip(real), real)
  dropout_keys = iter(jax.random.split(dropout_rng, 5))  # the forward, up to 4 encodes

  def forward(params_G):
    return state.apply('G', real, train=True, rng=next(dropout_keys), params=params_G)

  fake, g_vjp, stats_G = jax.vjp(forward, state.params['G'], has_aux=True)
  fake_B = fake[:n]
  stats = {**state.batch_stats, 'G': stats_G}

  def d_loss_fn(params_D):
    s = dict(stats)

    def D(x):
      y, s['D'] = state.apply('D', x, train=True, params=params_D, batch_stats=s['D'])
      return y

    losses = {'D_fake': gan_loss(D(jax.lax.stop_gradient(fake_B)), False)}
    losses['D_real'] = gan_loss(D(real_B), True)
    return (losses['D_fake'] + losses['D_real']) * 0.5, (s, losses)

  grads_D, (stats, losses_D) = jax.grad(d_loss_fn, has_aux=True)(state.params['D'])
  state = state.apply_gradients('D', {'D': grads_D})

  def g_loss_fn(params, fake):
    s = dict(stats)
    zero = jnp.zeros((), jnp.float32)
    losses = {'G_GAN': zero, 'NCE': zero}
    fake_B, idt_B = fake[:n], fake[n:]
    if config.lambda_GAN > 0:
      # D, updated just now, is frozen here: its params are closed over.
      pred, s['D'] = state.apply('D', fake_B, train=True, batch_stats=s['D'])
      losses['G_GAN'] = gan_loss(pred, True) * config.lambda_GAN

    def encode(x):
      feats, s['G'] = state.apply(
        'G', x, taps, True, train=True, rng=next(dropout_keys), params=params['G'],
        batch_stats=s['G'],
      )  # fmt: skip
      return feats

    def tapped_features(pairs):
      """[(queries' taps, keys' taps)] of each (input, output) pair: G's features of the output
      and of the input."""
      if config.normG == 'batch':
        # Batch statistics tie the images of one call together: the official calls, in order.
        return [(encode(tgt), encode(src)) for src, tgt in pairs]
      # Each image is normalised on its own: one pass over all of them gives the same features
      # as the official four calls, and compiles and runs as one.
      images = [x for src, tgt in pairs for x in (tgt, src)]
      feats = encode(jnp.concatenate(images))
      parts = [[f[i * n : (i + 1) * n] for f in feats] for i in range(len(images))]
      return [(parts[2 * j], parts[2 * j + 1]) for j in range(len(pairs))]

    def nce_loss(feat_q, feat_k, key, call):
      # The official calculate_NCE_loss: queries from the output, keys from the input, at
      # the same positions; an output of mirrored inputs is mirrored back first.
      feat_q = [jnp.where(flipped, _flip(f), f) for f in feat_q]
      if draws is None:
        ids = nets.draw_patch_ids(key, [f.shape for f in feat_k], config.num_patches)
      else:
        ids = [jnp.asarray(i) for i in draws['ids'][call]]
      pool_k, _ = state.apply('F', feat_k, ids, train=True, params=params['F'])
      pool_q, _ = state.apply('F', feat_q, ids, train=True, params=params['F'])
      total = zero
      for q, k in zip(pool_q, pool_k, strict=True):
        per_patch = patch_nce(
          q,
          k,
          n,
          nce_T=config.nce_T,
          all_negatives_from_minibatch=config.nce_includes_all_negatives_from_minibatch,
        )
        total += jnp.mean(per_patch) * config.lambda_NCE
      return total / len(taps)

    keys = jax.random.split(patch_rng)
    nce_both = zero
    if config.lambda_NCE > 0:
      pairs = [(real_A, fake_B), (real_B, idt_B)] if config.nce_idt else [(real_A, fake_B)]
      terms = [
        nce_loss(q, k, key, call)
        for call, ((q, k), key) in enumerate(
          zip(tapped_features(pairs), keys[: len(pairs)], strict=True)
        )
      ]
      losses['NCE'] = nce_both = terms[0]
      if config.nce_idt:
        losses['NCE_Y'] = terms[1]
        nce_both = (terms[0] + terms[1]) * 0.5
    elif config.nce_idt:
      losses['NCE_Y'] = zero
    losses['G'] = losses['G_GAN'] + nce_both
    return losses['G'], (s, losses)

  (grads, grad_fake), (stats, losses_G) = jax.grad(g_loss_fn, argnums=(0, 1), has_aux=True)(
    state.player_params('G'), fake
  )
  # The loss reaches G's parameters directly (the taps) and through the forward's output.
  (through_fake,) = g_vjp(grad_fake)
  grads['G'] = jax.tree.map(jnp.add, grads['G'], through_fake)
  state = state.apply_gradients('G', grads)
  state = state.replace(step=state.step + 1, rng=rng, batch_stats=stats)
  losses = {**losses_D, **losses_G}
  return state, {f'loss_{name}': losses[name] for name in LOSSES if name in losses}


def translate(state: ts.TrainState, images: jax.Array, direction: str = 'AtoB', rng=None):
  """G(images), for eval: in train mode unless config.eval.eval_mode, as the official test.py
  (the same result with CUT's instance norm and no dropout)."""
  if direction != 'AtoB':
    raise ConfigError(f'CUT translates AtoB only, got direction {direction!r}')
  train = not state.config.eval.eval_mode
  fake_B, _ = state.apply('G', images, train=train, rng=ts.eval_rng(state, rng))
  return fake_B


def inference(state: ts.TrainState, direction: str = 'AtoB') -> Inference:
  """What export needs to run G on its own (see models.Inference)."""
  if direction != 'AtoB':
    raise ConfigError(f'CUT translates AtoB only, got direction {direction!r}')
  return Inference('G', 0, lambda images, code, rng: translate(state, images, 'AtoB', rng))


def sample(state: ts.TrainState, batch: dict, rng=None) -> dict:
  """The official visuals: real_A, fake_B, real_B, and idt_B = G(real_B) with nce_idt."""
  visuals = {'real_A': batch['A'], 'fake_B': translate(state, batch['A'], 'AtoB', rng)}
  if 'B' in batch:
    visuals['real_B'] = batch['B']
    if state.config.nce_idt:
      visuals['idt_B'] = translate(state, batch['B'], 'AtoB', rng)
  return visuals
