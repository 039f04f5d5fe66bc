"""GAN objectives, L1 and the gradient penalty against values computed by hand."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses
from jaxgan.errors import ConfigError


@pytest.mark.parametrize(
  'mode, prediction, real, fake',
  [
    # BCE with logits: -log sigmoid(x) against 1, -log(1 - sigmoid(x)) against 0.
    (
      'vanilla',
      [0.0, 2.0],
      (math.log(2) + math.log1p(math.exp(-2))) / 2,
      (math.log(2) + math.log1p(math.exp(2))) / 2,
    ),
    # MSE against 1 and 0: ((0-1)^2 + (3-1)^2) / 2, (0^2 + 3^2) / 2.
    ('lsgan', [0.0, 3.0], 2.5, 4.5),
    # The critic: -mean for real, +mean for fake.
    ('wgangp', [1.0, 3.0], -2.0, 2.0),
  ],
)
def test_gan_loss_hand_computed(mode, prediction, real, fake):
  loss = losses.GANLoss(mode)
  x = jnp.asarray(prediction).reshape(1, 1, 2, 1)  # a PatchGAN-shaped output
  np.testing.assert_allclose(loss(x, True), real, rtol=1e-6)
  np.testing.assert_allclose(loss(x, False), fake, rtol=1e-6)


def test_gan_loss_is_float32_for_bfloat16_predictions():
  out = losses.GANLoss('lsgan')(jnp.asarray([0.0, 3.0], jnp.bfloat16), True)
  assert out.dtype == jnp.float32
  np.testing.assert_allclose(out, 2.5)


def test_unknown_gan_mode_is_a_config_error():
  with pytest.raises(ConfigError, match='hinge.*vanilla, lsgan, wgangp'):
    losses.GANLoss('hinge')


def test_l1_and_identity_losses():
  x, y = jnp.asarray([1.0, 2.0]), jnp.asarray([0.0, 4.0])
  np.testing.assert_allclose(losses.l1_loss(x, y), 1.5)
  np.testing.assert_allclose(losses.identity_loss(x, y, 5.0), 7.5)


def _quadratic_critic(x):
  # D(x_i) = sum(x_i^2): its gradient at x_i is 2 x_i, one output per sample.
  return jnp.sum(jnp.square(x), axis=(1, 2, 3))


def test_gradient_penalty_real_hand_computed():
  real = jnp.asarray([[1.0, 0.0], [0.0, 2.0]]).reshape(2, 1, 1, 2)
  # ||2 x_i|| = 2 and 4: 10 * mean((2-1)^2, (4-1)^2) = 50.
  gp = losses.gradient_penalty(
    _quadratic_critic, real, real * 0, jax.random.PRNGKey(0), penalty_type='real'
  )
  np.testing.assert_allclose(gp, 50.0, rtol=1e-6)


def test_gradient_penalty_mixes_per_sample():
  real = jnp.asarray([[1.0, 0.0], [0.0, 2.0]]).reshape(2, 1, 1, 2)
  fake = jnp.asarray([[3.0, 0.0], [0.0, 0.0]]).reshape(2, 1, 1, 2)
  key = jax.random.PRNGKey(3)
  gp = losses.gradient_penalty(_quadratic_critic, real, fake, key, lambda_gp=2.0)
  alpha = np.asarray(jax.random.uniform(key, (2, 1, 1, 1)))
  assert 0 <= alpha.min() and alpha.max() < 1 and alpha[0] != alpha[1]
  x = (alpha * real + (1 - alpha) * fake).reshape(2, 2)
  expected = 2.0 * np.mean((np.linalg.norm(2 * x, axis=1) - 1) ** 2)
  np.testing.assert_allclose(gp, expected, rtol=1e-5)


def test_gradient_penalty_differentiates_the_critic():
  # D_w(x_i) = w * sum(x_i) over d = 4 features: ||grad|| = |w| 2, gp = 10 (2|w| - 1)^2,
  # d gp / d w = 10 * 2 (2|w| - 1) * 2 = 40 at w = 1.
  x = jnp.ones((3, 2, 2, 1))

  def gp(w):
    critic = lambda x: w * jnp.sum(x, axis=(1, 2, 3))
    return losses.gradient_penalty(critic, x, x, jax.random.PRNGKey(0))

  np.testing.assert_allclose(gp(1.0), 10.0, rtol=1e-6)
  np.testing.assert_allclose(jax.grad(gp)(1.0), 40.0, rtol=1e-5)


def test_gradient_penalty_returns_aux_and_rejects_bad_options():
  x = jnp.ones((2, 1, 1, 1))
  gp, aux = losses.gradient_penalty(
    lambda x: (jnp.sum(x, axis=(1, 2, 3)), {'n': jnp.ones(())}),
    x,
    x,
    jax.random.PRNGKey(0),
    has_aux=True,
  )
  assert float(aux['n']) == 1.0
  np.testing.assert_allclose(gp, 0.0, atol=1e-6)  # ||grad|| = 1 exactly
  with pytest.raises(ConfigError, match='lambda_gp'):
    losses.gradient_penalty(_quadratic_critic, x, x, jax.random.PRNGKey(0), lambda_gp=0.0)
  with pytest.raises(ConfigError, match='penalty type'):
    losses.gradient_penalty(_quadratic_critic, x, x, jax.random.PRNGKey(0), penalty_type='x')
