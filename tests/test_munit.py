"""MUNIT: its own layers against hand-computed values, each loss term, the optimiser, 8 devices.

The networks themselves are checked against the official ones in tests/test_parity.py.
"""

import flax
import jax
import jax.numpy as jnp
import numerics
import numpy as np
import optax
import pytest

from configs import munit_edges2shoes
from jaxgan import layers, losses, models, parallel
from jaxgan.models import munit
from jaxgan.nets import munit as nets


def test_registry_and_contract():
  model = models.get('munit')
  assert model is munit
  assert model.NETS == ('gen_a', 'gen_b', 'dis_a', 'dis_b')
  for attr in ('VISUALS', 'create', 'train_step', 'sample', 'translate'):
    assert hasattr(model, attr)


def test_layernorm_unbiased_std_eps_on_std():
  """x = 1, 2, 3, 4: mean 2.5, unbiased std sqrt(5/3) = 1.2909944; eps added to the std."""
  x = jnp.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
  ln = layers.LayerNorm(epsilon=0.1)
  variables = {'params': {'gamma': jnp.array([2.0]), 'beta': jnp.array([0.5])}}
  y = np.asarray(ln.apply(variables, x)).ravel()
  std = 1.2909944
  expected = (np.array([1, 2, 3, 4]) - 2.5) / (std + 0.1) * 2.0 + 0.5
  np.testing.assert_allclose(y, expected, rtol=1e-6)
  np.testing.assert_allclose(y[0], -1.6567297, rtol=1e-6)  # -1.5 / 1.3909944 * 2 + 0.5
  # Per sample over (C, H, W) together: another sample does not change this one.
  x2 = jnp.concatenate([x, 10 * x + 3])
  np.testing.assert_allclose(np.asarray(ln.apply(variables, x2))[0].ravel(), y, rtol=1e-6)
  # gamma starts in U[0, 1), beta at 0, as the official layer.
  init = layers.LayerNorm().init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 2, 64)))['params']
  assert 0 <= float(init['gamma'].min()) and float(init['gamma'].max()) < 1
  assert float(jnp.abs(init['beta']).max()) == 0


def test_adain_takes_shift_then_scale():
  """Within one layer: the first C parameters shift (mean), the next C scale (std)."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 3))
  block = nets.Conv2dBlock(3, 1, norm='adain', activation='none')
  variables = block.init(jax.random.PRNGKey(1), x, jnp.zeros((2, 6)))
  params = jnp.array([[1.0, 2.0, 3.0, 0.5, 1.5, 2.5], [-1.0, 0.0, 1.0, 3.0, 2.0, 1.0]])
  y = np.asarray(block.apply(variables, x, params))
  np.testing.assert_allclose(y.mean((1, 2)), params[:, :3], atol=1e-5)
  np.testing.assert_allclose(y.std((1, 2)), params[:, 3:], rtol=1e-3)


def test_adain_parameters_assigned_in_module_order():
  """The official assign_adain_params: layers in module order, 2C parameters each.

  With zero conv weights every AdaIN layer outputs its shift, so two residual blocks give
  x + shift(block 0, conv 1) + shift(block 1, conv 1): parameters 4-5 and 12-13 of 0-15.
  """
  dim = 2
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 4, 4, dim))
  blocks = nets.ResBlocks(2, dim, norm='adain', activation='relu')
  p = jnp.arange(16.0)[None]  # 2 blocks x 2 layers x (shift, scale) x 2 channels
  variables = blocks.init(jax.random.PRNGKey(1), x, p)
  zeros = jax.tree.map(jnp.zeros_like, variables)
  y = np.asarray(blocks.apply(zeros, x, p))
  # Block b, layer j: shift p[8b + 4j : 8b + 4j + 2], scale the next 2.
  expected = np.asarray(x) + np.array([4.0, 5.0]) + np.array([12.0, 13.0])
  np.testing.assert_allclose(y, expected, rtol=1e-6)
  # And the MLP's output size is what the decoder consumes: 4 x dim per residual block.
  gen = nets.AdaINGen(dim=2, n_downsample=1, n_res=2, mlp_dim=4, style_dim=3)
  params = jax.eval_shape(gen.init, jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 3)))['params']
  assert params['mlp']['model']['2']['fc']['kernel'].shape == (4, 2 * 4 * 4)


def test_avg_pool_excludes_padding():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  y = np.asarray(nets.avg_pool_exclude_pad(x))[0, :, :, 0]
  # Top-left window covers x[0:2, 0:2] only (padding not counted): (0 + 1 + 4 + 5) / 4.
  assert y.shape == (2, 2)
  np.testing.assert_allclose(y[0, 0], 2.5)
  np.testing.assert_allclose(y[1, 1], np.mean([5, 6, 7, 9, 10, 11, 13, 14, 15]))


def _softplus(x):
  return np.log1p(np.exp(x))


def test_gan_losses_hand_computed():
  fake = [jnp.full((1, 2, 2, 1), 0.5), jnp.full((1, 1, 1, 1), -1.0)]
  real = [jnp.full((1, 2, 2, 1), 0.25), jnp.full((1, 1, 1, 1), 2.0)]
  # lsgan: D pushes fakes to 0, reals to 1; G pushes fakes to 1; summed over the scales.
  want = 0.25 + 0.5625 + 1.0 + 1.0
  np.testing.assert_allclose(losses.multiscale_dis_loss('lsgan', fake, real), want)
  np.testing.assert_allclose(losses.multiscale_gen_loss('lsgan', fake), 0.25 + 4.0)
  # nsgan: BCE of the sigmoid.
  d = _softplus(0.5) + _softplus(-0.25) + _softplus(-1.0) + _softplus(-2.0)
  np.testing.assert_allclose(losses.multiscale_dis_loss('nsgan', fake, real), d, rtol=1e-6)
  want = _softplus(-0.5) + _softplus(1.0)
  np.testing.assert_allclose(losses.multiscale_gen_loss('nsgan', fake), want, rtol=1e-6)
  with pytest.raises(Exception, match='gan_type'):
    losses.multiscale_gen_loss('wgan', fake)


def test_vgg_loss_compares_instance_normed_features():
  a = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 3))
  # Instance norm removes per-channel affine changes: no loss between x and 3x + 1.
  assert float(munit.vgg_loss(lambda x: x, a, 3 * a + 1)) < 1e-8
  b = jax.random.normal(jax.random.PRNGKey(1), (2, 4, 4, 3))

  def inorm(x):
    x = np.asarray(x)
    return (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-5)

  np.testing.assert_allclose(
    munit.vgg_loss(lambda x: x, a, b), np.mean((inorm(a) - inorm(b)) ** 2), rtol=1e-5
  )


def _tiny_state(**overrides):
  config = munit_edges2shoes.get_config('tiny')
  config.update(overrides)
  return jax.jit(lambda: munit.create(config, jax.random.PRNGKey(0)))()  # faster than op by op


@pytest.mark.slow  # one compile of the whole generator objective, twice over
def test_each_generator_loss_term():
  """gen_losses against the terms recomputed from encode/decode, with distinct weights."""
  state = _tiny_state(
    gan_w=2.0, recon_x_w=3.0, recon_s_w=5.0, recon_c_w=7.0, recon_x_cyc_w=11.0, vgg_w=13.0
  )
  keys = jax.random.split(jax.random.PRNGKey(2), 4)
  x_a = jax.random.uniform(keys[0], (2, 32, 32, 3), minval=-1, maxval=1)
  x_b = jax.random.uniform(keys[1], (2, 32, 32, 3), minval=-1, maxval=1)
  s_a = munit.random_style(state.config, keys[2], 2)
  s_b = munit.random_style(state.config, keys[3], 2)
  vgg = lambda x: x[..., ::-1] * 2.0  # any feature map: the loss's form is under test

  def losses_and_expected(params):
    _, (losses, _) = munit.gen_losses(state, params, x_a, x_b, s_a, s_b, vgg=vgg)
    enc = lambda n, x: munit.encode(state, n, x)
    dec = lambda n, c, s: munit.decode(state, n, c, s)
    l1 = munit.recon_criterion
    c_a, sa_prime = enc('gen_a', x_a)
    c_b, sb_prime = enc('gen_b', x_b)
    x_ba, x_ab = dec('gen_a', c_b, s_a), dec('gen_b', c_a, s_b)
    c_b_rec, s_a_rec = enc('gen_a', x_ba)
    c_a_rec, s_b_rec = enc('gen_b', x_ab)
    d_a, _ = munit.discriminate(state, 'dis_a', x_ba)
    d_b, _ = munit.discriminate(state, 'dis_b', x_ab)
    expected = {
      'gen_recon_x_a': l1(dec('gen_a', c_a, sa_prime), x_a),
      'gen_recon_x_b': l1(dec('gen_b', c_b, sb_prime), x_b),
      'gen_recon_s_a': jnp.mean(jnp.abs(s_a_rec - s_a)),
      'gen_recon_s_b': jnp.mean(jnp.abs(s_b_rec - s_b)),
      'gen_recon_c_a': jnp.mean(jnp.abs(c_a_rec - c_a)),
      'gen_recon_c_b': jnp.mean(jnp.abs(c_b_rec - c_b)),
      'gen_cycrecon_x_a': l1(dec('gen_a', c_a_rec, sa_prime), x_a),
      'gen_cycrecon_x_b': l1(dec('gen_b', c_b_rec, sb_prime), x_b),
      'gen_adv_a': sum(jnp.mean((o - 1) ** 2) for o in d_a),
      'gen_adv_b': sum(jnp.mean((o - 1) ** 2) for o in d_b),
      'gen_vgg_a': munit.vgg_loss(vgg, x_ba, x_b),
      'gen_vgg_b': munit.vgg_loss(vgg, x_ab, x_a),
    }
    return losses, expected

  losses, expected = jax.jit(losses_and_expected)(state.player_params('gen'))
  for name, value in expected.items():
    np.testing.assert_allclose(losses[name], value, rtol=1e-5, err_msg=name)
    assert float(value) > 0, name
  weights = {'adv': 2, 'recon_x': 3, 'recon_s': 5, 'recon_c': 7, 'cycrecon_x': 11, 'vgg': 13}
  total = sum(w * (expected[f'gen_{t}_a'] + expected[f'gen_{t}_b']) for t, w in weights.items())
  np.testing.assert_allclose(losses['gen_total'], total, rtol=1e-5)


def test_optimizer_is_torch_adam_with_l2_weight_decay_and_step_lr():
  """Three steps of torch.optim.Adam(lr, (0.5, 0.999), weight_decay=0.1), StepLR(2, 0.5)."""
  config = munit_edges2shoes.get_config()
  config.update(lr=0.1, weight_decay=0.1, step_size=2, gamma=0.5)
  # The scheduler steps before each iteration: iteration i runs at gamma ** ((i + 1) // 2).
  np.testing.assert_allclose(
    [munit.learning_rate(config, s) for s in (1, 2, 3, 4)], [0.1, 0.05, 0.05, 0.025]
  )
  tx = munit.make_optimizer(config)
  w = jnp.array([1.0, -2.0])
  grads = [jnp.array([0.5, 0.1]), jnp.array([-0.2, 0.3]), jnp.array([0.4, 0.0])]
  state = tx.init(w)
  ref_w, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
  for t, g in enumerate(grads, start=1):
    updates, state = tx.update(g, state, w)
    w = w + updates
    g = np.asarray(g) + 0.1 * ref_w  # L2 in the gradient
    m = 0.5 * m + 0.5 * g
    v = 0.999 * v + 0.001 * g**2
    lr = 0.1 * 0.5 ** (t // 2)
    ref_w = ref_w - lr * (m / (1 - 0.5**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
  np.testing.assert_allclose(w, ref_w, rtol=1e-5)


def test_translation_uses_the_other_decoder_and_the_style():
  state = _tiny_state()
  x = jax.random.uniform(jax.random.PRNGKey(3), (2, 32, 32, 3), minval=-1, maxval=1)

  @jax.jit  # one program: op by op, each of the nets' ops compiles on its own (slower)
  def run(state, x):
    y1 = munit.translate(state, x, 'AtoB', rng=jax.random.PRNGKey(0))
    y2 = munit.translate(state, x, 'AtoB', rng=jax.random.PRNGKey(1))
    style = munit.style_of(state, x, 'B')
    c, _ = munit.encode(state, 'gen_a', x)
    guided = munit.translate(state, x, 'AtoB', style=style)
    return y1, y2, guided, munit.decode(state, 'gen_b', c, style)

  y1, y2, guided, decoded = run(state, x)
  assert y1.shape == x.shape and float(jnp.abs(y1 - y2).max()) > 1e-4  # styles matter
  np.testing.assert_allclose(guided, decoded, atol=1e-6)


def _with_sgd(state, lr):
  tx = optax.sgd(lr)
  opt_state = {player: tx.init(state.player_params(player)) for player in state.players}
  return state.replace(tx=flax.core.FrozenDict({p: tx for p in state.players}), opt_state=opt_state)


@pytest.mark.slow
def test_eight_devices_give_what_one_device_gives():
  """2 steps on the same global batch of 8 and seed: the styles are drawn globally too.

  Plain SGD (lr 0.1, moving the params by 6 % of their norm) instead of MUNIT's Adam, whose
  division by sqrt(v) + eps turns the rounding noise of a near-zero gradient into a move of up
  to +-lr in a direction any reordering decides: SGD's update is linear in the gradient, so the
  params differ only as much as the reordered sums do (tests/numerics.py: REORDERING).
  """
  config = munit_edges2shoes.get_config('tiny')
  config.dis.update(norm='bn', num_scales=1)  # batch norm: the global batch's statistics
  config.batch_size = 8
  state = _with_sgd(jax.jit(lambda: munit.create(config, jax.random.PRNGKey(0)))(), 0.1)
  host = jax.device_get(state)
  rs = np.random.RandomState(0)
  batch = {k: rs.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32) for k in 'AB'}
  results = []
  for n in (1, 8):
    mesh = parallel.make_mesh(jax.devices()[:n])
    step = parallel.compile_train_step(munit.train_step, state, mesh)
    s, sharded = parallel.replicate(host, mesh), parallel.shard_batch(batch, mesh)
    history = []
    for _ in range(2):
      s, metrics = step(s, sharded)
      history.append(metrics)
    results.append((jax.device_get(s), jax.device_get(history)))
  (state_1, history_1), (state_8, history_8) = results
  assert set(history_8[0]) == {f'loss_{n}' for n in munit.LOSSES}
  assert all(np.isfinite(v) for m in history_8 for v in m.values())
  moved = numerics.difference(state_1.params, host.params)
  assert moved > 0.01 * numerics.norm(host.params)  # the updates are real
  assert state_8.batch_stats['dis_a']  # batch norm ran
  params = numerics.difference(state_8.params, state_1.params) / moved
  print(f'munit: |params_8dev - params_1dev| / |params moved| after 2 steps = {params:.2e}')
  assert params < numerics.REORDERING
  for got, want in ((state_8.batch_stats, state_1.batch_stats), (history_8, history_1)):
    assert numerics.relative_difference(got, want) < numerics.REORDERING


def test_vgg16_is_the_official_layout_and_preprocessing(tmp_path):
  """No pooling after relu4_3 (relu5_3 at 1/8); caffe weights see BGR 0-255 minus the mean."""
  from jaxgan.nets import vgg16  # noqa: PLC0415

  rs = np.random.RandomState(0)
  sd, cin = {}, 3
  for name, (features, _) in zip(
    vgg16.NAMES, [b for b in vgg16.BLOCKS for _ in range(b[1])], strict=True
  ):
    sd[f'{name}.weight'] = rs.normal(0, 0.05, (features, cin, 3, 3)).astype(np.float32)
    sd[f'{name}.bias'] = np.zeros(features, np.float32)
    cin = features
  np.savez(tmp_path / 'vgg16.npz', **sd)
  config = munit_edges2shoes.get_config()
  config.update(vgg_model='caffe', vgg_weights=str(tmp_path / 'vgg16.npz'))
  features = vgg16.features_fn(config)(jnp.zeros((1, 16, 16, 3)))
  assert features.shape == (1, 2, 2, 512)
  x = jnp.full((1, 1, 1, 3), -1.0).at[..., 0].set(1.0)  # pure red
  np.testing.assert_allclose(
    vgg16.preprocess(x, 'caffe').ravel(), [-103.939, -116.779, 255 - 123.680], rtol=1e-6
  )


def test_official_weights_load_and_reconstruct(parity_dir, tmp_path):
  """The parity fixture's generator as gen_a, and as both halves of a gen_*.pt-style pair."""
  from parity_utils import load_fixture, nchw_to_nhwc  # noqa: PLC0415

  import jaxgan.eval as eval_lib  # noqa: PLC0415
  from jaxgan import port  # noqa: PLC0415
  from jaxgan.port import states  # noqa: PLC0415

  fixture = load_fixture(parity_dir / 'munit_G_adain.npz')
  meta = fixture.meta
  config = munit_edges2shoes.get_config()
  config.gen.update({k: meta[k] for k in ('dim', 'style_dim', 'n_downsample', 'n_res', 'mlp_dim')})
  config.data.crop_size = 64
  pair = {f'{d}.{k}': v for d in 'ab' for k, v in fixture.sd.items()}
  port.save_npz(tmp_path / 'gen_00001000.npz', pair)
  weights = states.parse([f'gen={tmp_path / "gen_00001000.npz"}'], munit)
  assert weights == {'gen': str(tmp_path / 'gen_00001000.npz')}
  state = eval_lib.load_weights(config, weights)
  x = jnp.asarray(nchw_to_nhwc(fixture.inputs['x']))
  s = jnp.asarray(nchw_to_nhwc(fixture.inputs['s']))

  @jax.jit
  def run(state):
    c, _ = munit.encode(state, 'gen_b', x)
    return munit.translate(state, x, 'AtoB', style=s), munit.decode(state, 'gen_b', c, s)

  y_ab, y_b = run(state)
  np.testing.assert_allclose(y_ab, nchw_to_nhwc(fixture.outputs['y_s']), atol=1e-4)
  np.testing.assert_allclose(y_b, y_ab, atol=1e-6)
  with pytest.raises(Exception, match='not an official MUNIT pair'):
    eval_lib.load_weights(config, {'gen': str(parity_dir / 'munit_G_adain.npz')})


@pytest.mark.slow
def test_learns_the_fixed_batch():
  """The within-domain reconstructions (gen_recon_x_*, the heaviest loss) fall on one batch of
  the shapes task."""
  from configs import munit_shapes  # noqa: PLC0415
  from jaxgan.data import synthetic  # noqa: PLC0415

  config = munit_shapes.get_config('tiny')
  state = jax.jit(lambda: munit.create(config, jax.random.PRNGKey(0)))()
  images = synthetic.images(config, 'train')
  batch = {k: synthetic.to_model(images[k][: config.batch_size], 3) for k in 'AB'}
  step, recon = jax.jit(munit.train_step), []
  for _ in range(25):
    state, metrics = step(state, batch)
    recon.append(float(metrics['loss_gen_recon_x_a'] + metrics['loss_gen_recon_x_b']))
  first, last = np.mean(recon[:3]), np.mean(recon[-3:])
  print(f'munit loss_gen_recon_x_a + _b: {first:.3f} -> {last:.3f} over 25 steps')
  assert last < 0.65 * first


def test_style_image_is_resized_as_the_official_test(tmp_path):
  """torchvision's Resize(new_size): the shorter side to new_size, the aspect ratio kept."""
  from PIL import Image  # noqa: PLC0415

  from jaxgan.eval import styles  # noqa: PLC0415

  config = munit_edges2shoes.get_config('tiny')
  rs = np.random.RandomState(0)
  pixels = rs.randint(0, 256, (64, 96, 3)).astype(np.uint8)  # 96 wide, 64 high
  Image.fromarray(pixels).save(tmp_path / 'style.png')
  size = styles.style_size(config)
  assert size == config.data.crop_size
  got = styles.load_style_image(tmp_path / 'style.png', config, 'B')
  want = np.asarray(Image.fromarray(pixels).resize((size * 96 // 64, size), Image.BILINEAR))
  assert got.shape == (1, size, size * 96 // 64, 3)
  np.testing.assert_array_equal(np.round((got[0] + 1) * 127.5), want)
  config.eval.style_size = 48
  assert styles.load_style_image(tmp_path / 'style.png', config, 'B').shape == (1, 48, 72, 3)
