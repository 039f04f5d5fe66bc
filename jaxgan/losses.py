"""Objectives of the four models, as the official `networks.GANLoss` and friends define them.

All losses are computed in float32 whatever dtype the networks compute in: a bfloat16
discriminator output is upcast before it is compared with its target.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgan.errors import ConfigError

GAN_MODES = ('vanilla', 'lsgan', 'wgangp')


def _f32(x):
  return jnp.asarray(x, jnp.float32)


def _vanilla(prediction, target_is_real):
  # The original GAN objective (Goodfellow et al., Eq. 1) on logits: BCE against 1 or 0.
  target = jnp.full_like(prediction, 1.0 if target_is_real else 0.0)
  return optax.sigmoid_binary_cross_entropy(prediction, target).mean()


def _lsgan(prediction, target_is_real):
  # LSGAN (Mao et al., Eq. 2 with a=0, b=c=1): mean squared error against 1 or 0.
  target = 1.0 if target_is_real else 0.0
  return jnp.mean(jnp.square(prediction - target))


def _wgangp(prediction, target_is_real):
  # The critic's Wasserstein estimate (Gulrajani et al., Eq. 3): -E[D(real)] and +E[D(fake)].
  return -prediction.mean() if target_is_real else prediction.mean()


_GAN_LOSSES = {'vanilla': _vanilla, 'lsgan': _lsgan, 'wgangp': _wgangp}


class GANLoss:
  """The GAN objective by name: `GANLoss(mode)(prediction, target_is_real) -> scalar`.

  Args:
    gan_mode: 'vanilla' (BCE with logits), 'lsgan' (MSE) or 'wgangp' (the critic's mean).
  """

  def __init__(self, gan_mode: str):
    if gan_mode not in _GAN_LOSSES:
      raise ConfigError(f'unknown gan_mode {gan_mode!r}; known: {", ".join(GAN_MODES)}')
    self.gan_mode = gan_mode
    self._loss = _GAN_LOSSES[gan_mode]

  def __call__(self, prediction: jax.Array, target_is_real: bool) -> jax.Array:
    """The loss of a discriminator output (any shape, e.g. PatchGAN's) against real/fake."""
    return self._loss(_f32(prediction), target_is_real)


def l1_loss(x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean absolute error, torch.nn.L1Loss with its default mean reduction."""
  return jnp.mean(jnp.abs(_f32(x) - _f32(y)))


def identity_loss(idt: jax.Array, real: jax.Array, weight: float) -> jax.Array:
  """CycleGAN's identity mapping loss (Zhu et al. Sec. 5.2, after Taigman et al.): weight * L1."""
  return l1_loss(idt, real) * weight


def uses_gradient_penalty(config) -> bool:
  """Whether the D losses add the gradient penalty.

  The official models never call cal_gradient_penalty; WGAN-GP needs it, so it is added for
  gan_mode 'wgangp' with lambda_gp > 0 (lambda_gp = 0 gives the official objective).
  """
  return config.gan_mode == 'wgangp' and config.lambda_gp > 0


def gradient_penalty(
  discriminator: Callable[[jax.Array], jax.Array],
  real: jax.Array,
  fake: jax.Array,
  rng: jax.Array,
  *,
  lambda_gp: float = 10.0,
  constant: float = 1.0,
  penalty_type: str = 'mixed',
  has_aux: bool = False,
):
  """The WGAN-GP penalty (Gulrajani et al., Eq. 3), as the official `cal_gradient_penalty`.

  lambda_gp * mean over samples of (||grad_x sum D(x)||_2 - constant)^2, with x a per-sample
  random mix of real and fake ('mixed'), or x = real / x = fake. The gradient is taken of the
  sum of all outputs (the official grad_outputs of ones), so a PatchGAN's patches add up.

  Args:
    discriminator: x -> D(x); differentiable in its parameters, which the caller closes over,
      so that the penalty's gradient reaches them (a gradient of a gradient).
    real: real samples [N, ...].
    fake: generated samples, same shape (the caller stops their gradient).
    rng: key for the mixing weights alpha ~ U[0, 1), one per sample.
    lambda_gp: weight of the penalty, > 0 (the official returns 0 for 0: skip the call).
    constant: the target norm (1 for WGAN-GP).
    penalty_type: 'mixed', 'real' or 'fake'.
    has_aux: discriminator returns (D(x), aux), e.g. its updated batch statistics.

  Returns:
    The weighted penalty, a float32 scalar; with has_aux, (penalty, aux).
  """
  if lambda_gp <= 0.0:
    raise ConfigError(f'lambda_gp must be > 0 for a gradient penalty, got {lambda_gp}')
  real, fake = _f32(real), _f32(fake)
  if penalty_type == 'mixed':
    alpha = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1), jnp.float32)
    x = alpha * real + (1.0 - alpha) * fake
  elif penalty_type == 'real':
    x = real
  elif penalty_type == 'fake':
    x = fake
  else:
    raise ConfigError(f'unknown gradient penalty type {penalty_type!r}; known: mixed, real, fake')

  def total(x):
    out = discriminator(x)
    out, aux = out if has_aux else (out, None)
    return jnp.sum(_f32(out)), aux

  grads, aux = jax.grad(total, has_aux=True)(x)
  grads = grads.reshape(grads.shape[0], -1)
  # The official adds 1e-16 before the norm, which also keeps the norm's gradient finite at 0.
  norms = jnp.sqrt(jnp.sum(jnp.square(grads + 1e-16), axis=1))
  penalty = jnp.mean(jnp.square(norms - constant)) * lambda_gp
  return (penalty, aux) if has_aux else penalty


# MUNIT's names of the objectives of its multi-scale discriminators (MsImageDis): 'nsgan' is the
# non-saturating BCE, the 'vanilla' above.
MUNIT_GAN_TYPES = {'lsgan': 'lsgan', 'nsgan': 'vanilla'}


def _munit_gan(gan_type):
  if gan_type not in MUNIT_GAN_TYPES:
    raise ConfigError(f'unknown gan_type {gan_type!r}; known: {", ".join(MUNIT_GAN_TYPES)}')
  return GANLoss(MUNIT_GAN_TYPES[gan_type])


def multiscale_dis_loss(gan_type, outs_fake, outs_real) -> jax.Array:
  """MsImageDis.calc_dis_loss: fakes towards 0, reals towards 1, summed over the scales."""
  loss = _munit_gan(gan_type)
  total = jnp.zeros((), jnp.float32)
  for fake, real in zip(outs_fake, outs_real, strict=True):
    total += loss(fake, False) + loss(real, True)
  return total


def multiscale_gen_loss(gan_type, outs_fake) -> jax.Array:
  """MsImageDis.calc_gen_loss: fakes towards 1, summed over the scales."""
  loss = _munit_gan(gan_type)
  total = jnp.zeros((), jnp.float32)
  for fake in outs_fake:
    total += loss(fake, True)
  return total


def patch_nce(
  feat_q: jax.Array,
  feat_k: jax.Array,
  num_images: int,
  *,
  nce_T: float = 0.07,
  all_negatives_from_minibatch: bool = False,
) -> jax.Array:
  """CUT's PatchNCE loss per query patch (Park et al. 2020, Eq. 2 and 5), the official
  PatchNCELoss: InfoNCE of each output patch against the input patch at the same position
  (positive) and the other sampled patches of the same image (negatives).

  Args:
    feat_q: [num_images * P, D] unit-length features of the output patches (queries),
      image-major as `nets.cut.PatchSampleF` returns them.
    feat_k: the same of the input patches (keys); their gradient is stopped, as officially.
    num_images: the images the patches come from (the whole batch, on any mesh: negatives are
      per image, never per device).
    nce_T: the temperature tau.
    all_negatives_from_minibatch: negatives from every image of the batch (the official option
      for single-image translation).

  Returns:
    [num_images * P] cross-entropies, the official reduction='none'.
  """
  feat_q, feat_k = _f32(feat_q), jax.lax.stop_gradient(_f32(feat_k))
  dim = feat_q.shape[-1]
  l_pos = jnp.sum(feat_q * feat_k, axis=-1, keepdims=True)
  groups = 1 if all_negatives_from_minibatch else num_images
  q = feat_q.reshape(groups, -1, dim)
  k = feat_k.reshape(groups, -1, dim)
  n = q.shape[1]
  l_neg = jnp.einsum('gnd,gmd->gnm', q, k)
  # A patch against itself is the positive, not a negative: the official masks it with -10
  # (exp(-10 / tau) is ~0), rather than removing it.
  l_neg = jnp.where(jnp.eye(n, dtype=bool), -10.0, l_neg).reshape(-1, n)
  logits = jnp.concatenate([l_pos, l_neg], axis=1) / nce_T
  return jax.nn.logsumexp(logits, axis=1) - logits[:, 0]
