"""The official training iterations of CycleGAN, BicycleGAN and MUNIT, replayed (CUT's are in
test_cut.py).

Each fixture (tools/make_parity_fixtures.py, from the official code) holds random weights, one
batch, every random draw of two official iterations (BicycleGAN's z and eps, MUNIT's styles),
each iteration's losses, the first iteration's gradients and the weights after both. jaxgan's
train_step starts from the same weights and draws; the comparison is the one of
test_cut.test_two_steps_equal_the_official_steps:

- losses, to numerics.NETWORK of their scale (the same float32 network, evaluated in another
  order, differs by rounding only);
- gradients, to numerics.NETWORK of the largest gradient of their net (a sum of products is
  rounded relative to the magnitudes summed, and a net's gradients share them);
- weights after two Adam updates, to 1e-2 lr where the first gradient is at least 1e-3 of its
  net's largest. Adam's first update is lr * g / (|g| + eps), about lr * sign(g) whatever |g|:
  where g is below the rounding of its sum (about 1e-4 of the largest), rounding picks the sign
  and the weight moves by a full lr either way. Such weights are left out, and they also shift
  the second step's gradients everywhere a little: measured, the defined weights agree to
  1.9e-3 lr at most (CycleGAN; MUNIT 1.4e-3, BicycleGAN 4e-4), where a changed optimizer
  setting moves them by a sizeable part of lr (test_a_changed_setting_fails).

Two iterations, because Adam's first update does not depend on beta1 (m / sqrt(v) = g / |g| after
bias correction): the second one's losses see the optimizer's settings. A changed loss weight
fails the losses; a changed update order (D before G) or a missing detach fails the gradients.
"""

import jax
import jax.numpy as jnp
import numerics
import numpy as np
import optax
import pytest
from parity_utils import COMMITTED_DIR, load_fixture, max_error, nchw_to_nhwc

from configs import bicyclegan_edges2shoes, cyclegan_horse2zebra, munit_edges2shoes
from jaxgan import models, port
from jaxgan.port import pytorch, states

FIXTURES = ('cyclegan_step', 'bicyclegan_step', 'munit_step')
MODELS = {'cycle_gan': 'cyclegan', 'bicycle_gan': 'bicyclegan', 'munit': 'munit'}


def test_the_official_steps_are_committed():
  # (a parametrization over missing files would only skip)
  for name in FIXTURES:
    assert (COMMITTED_DIR / f'{name}.npz').is_file(), name


def _config(meta, changes=None):
  """The jaxgan config of the fixture's official options (with `changes` made)."""
  model = meta['model']
  options = {k: v for k, v in meta.items() if k not in ('family', 'kind', 'mode', 'model')}
  if model == 'cycle_gan':
    config = cyclegan_horse2zebra.get_config()
  elif model == 'bicycle_gan':
    config = bicyclegan_edges2shoes.get_config()
  else:
    config = munit_edges2shoes.get_config()
    config.gen.update(options.pop('gen'))
    config.dis.update(options.pop('dis'))
    options = {k: v for k, v in options.items() if k in config}  # the VAE variant's weights
  # official_* are the fixture's provenance; init is not used (the weights are the fixture's)
  config.update({k: v for k, v in options.items() if not k.startswith('official') and k != 'seed'})
  config.no_dropout = True  # the fixtures run without dropout
  config.data.input_nc = config.data.output_nc = 3
  config.batch_size = 2
  config.update(changes or {})
  return config


def _capture():
  """An optax stage that passes gradients through and keeps the last ones in its state."""
  return optax.GradientTransformation(
    lambda params: jax.tree.map(jnp.zeros_like, params),
    lambda updates, state, params=None: (updates, updates),
  )


def _official_state(fixture, changes=None):
  config = _config(fixture.meta, changes)
  model = models.get(config.model)
  size = fixture.inputs['A'].shape[-1]
  state = jax.jit(
    lambda: model.create(config, jax.random.PRNGKey(0), 1000, image_size=(size, size))
  )()
  params, stats = dict(state.params), dict(state.batch_stats)
  for net in model.NETS:
    sd = {k.split('/', 1)[1]: v for k, v in fixture.sd.items() if k.startswith(f'{net}/')}
    converted = pytorch.to_flax(
      sd,
      {'params': params[net], 'batch_stats': stats[net]},
      name=net,
      buffers=states.official_buffers(state.nets[net]),
    )
    params[net], stats[net] = converted['params'], converted.get('batch_stats', {})
  # The model's own optimizer behind a stage that keeps the gradients it is given.
  tx = {p: optax.chain(_capture(), state.tx[p]) for p in state.players}
  opt_state = {p: tx[p].init({n: params[n] for n in names}) for p, names in state.players.items()}
  return model, state.replace(
    params=params, batch_stats=stats, opt_state=opt_state, tx=type(state.tx)(tx)
  )


def _draws(fixture, step):
  inputs = {
    k.split('_', 1)[1]: v for k, v in fixture.inputs.items() if k.startswith(f'step{step}_')
  }
  if fixture.meta['model'] == 'bicycle_gan':
    return {k: jnp.asarray(inputs[k]) for k in ('z_random', 'eps')}
  if fixture.meta['model'] == 'munit':
    styles = {k: jnp.asarray(nchw_to_nhwc(v)) for k, v in inputs.items()}
    return {u: (styles[f'{u}_s_a'], styles[f'{u}_s_b']) for u in ('dis', 'gen')}
  return None


def _compare(name, changes=None):
  """Asserts jaxgan's two steps equal the fixture's (see the module docstring), in the order
  they happen: step 1's losses, its gradients, step 2's losses, the weights after both."""
  fixture = load_fixture(COMMITTED_DIR / f'{name}.npz')
  model, state = _official_state(fixture, changes)
  before = jax.device_get(state.params)
  batch = {k: jnp.asarray(nchw_to_nhwc(fixture.inputs[k])) for k in 'AB'}
  draws = [_draws(fixture, step) for step in (1, 2)]
  if draws[0] is None:
    step_fn = jax.jit(lambda state, batch, draws: model.train_step(state, batch))
  else:
    step_fn = jax.jit(model.train_step)
  player_of = {net: p for p, nets in state.players.items() for net in nets}
  defined = {}
  for step in (1, 2):
    state, metrics = step_fn(state, batch, draws[step - 1])
    for key, want in fixture.outputs.items():
      if key.startswith(f'step{step}/'):
        got = metrics[f'loss_{key.split("/")[1]}']
        err, scale = max_error(got, want)
        assert err <= numerics.NETWORK * scale, f'{key}: {float(got)}, official {float(want)}'
    if step == 1:
      for net in model.NETS:
        grads = port.from_flax({'params': jax.device_get(state.opt_state[player_of[net]][0][net])})
        official = {k: fixture.outputs[f'grad/{net}/{k}'] for k in grads}
        largest = max(np.abs(g).max() for g in official.values())
        for key, got in grads.items():
          err, _ = max_error(got, official[key])
          assert err <= numerics.NETWORK * largest, (
            f'gradient of {net} {key}: {err:.3g} of {largest:.3g}'
          )
          defined[net, key] = np.abs(official[key]) >= 1e-3 * largest
  lr = fixture.meta['lr']
  for net in model.NETS:
    after = port.from_flax({'params': jax.device_get(state.params[net])})
    start = port.from_flax({'params': before[net]})
    moved = 0.0
    for key, got in after.items():
      ref = fixture.outputs[f'params/{net}/{key}']
      err = np.abs(got - ref)[defined[net, key]].max(initial=0)
      assert err <= 1e-2 * lr, f'{net} {key} after 2 steps: {err / lr:.3g} lr'
      moved = max(moved, np.abs(ref - start[key]).max())
    assert moved > lr, f'{net} did not move'  # two updates of about lr each


@pytest.mark.slow
@pytest.mark.parametrize('name', FIXTURES)
def test_two_steps_equal_the_official_steps(name):
  _compare(name)


# What the fixtures must catch, each a one-value change of jaxgan's config from the official
# one: a loss weight, the detach of E in BicycleGAN's latent regression (the official code
# freezes E there; latent_updates_E lets the z_L1 gradient reach E), an optimizer setting.
# Each with what must catch it: a step's loss, a gradient, or the weights after two steps.
CHANGES = [
  ('cyclegan_step', {'lambda_identity': 0.25}, 'step1/idt_A'),
  ('cyclegan_step', {'beta1': 0.9}, 'after 2 steps'),
  ('bicyclegan_step', {'latent_updates_E': True}, 'gradient of E'),
  ('bicyclegan_step', {'lambda_kl': 0.02}, 'step1/kl'),
  ('munit_step', {'recon_x_cyc_w': 5.0}, 'step1/gen_total'),
  ('munit_step', {'weight_decay': 0.0}, 'step2/'),
  ('pix2pix', {'lambda_L1': 10.0}, 'step 1 G_L1'),
  ('pix2pix', {'beta1': 0.9}, 'step 2 G_GAN'),
]


@pytest.mark.mutations
@pytest.mark.parametrize(
  ('name', 'changes', 'caught_by'), CHANGES, ids=[f'{n}-{c}' for n, c, _ in CHANGES]
)
def test_a_changed_setting_fails(name, changes, caught_by):
  with pytest.raises(AssertionError, match=caught_by):
    _compare_pix2pix(changes) if name == 'pix2pix' else _compare(name, changes)


# ------------------------------------------------------------------------------------------
# pix2pix: no official fixture (it needs the pix2pix/CycleGAN repository's Pix2PixModel, whose
# clone this project could not fetch; tools/make_parity_fixtures.py). Its step is checked
# against a reference written here from that Pix2PixModel.optimize_parameters, on the nets the
# parity fixtures check: forward (fake_B = G(A), once); D: 0.5 * (BCE(D(A, fake_B.detach()), 0)
# + BCE(D(A, B), 1)), Adam; G: BCE(D'(A, fake_B), 1) + lambda_L1 * |fake_B - B| with D' the
# updated D (frozen), Adam(lr, beta1 0.5, beta2 0.999, eps 1e-8).


def _bce(logits, target):
  return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)).mean()


def _reference_pix2pix_step(state, params, opt, batch, lr, lambda_L1):
  A, B = batch['A'], batch['B']
  adam = optax.adam(lr, b1=0.5, b2=0.999, eps=1e-8)
  stats = state.batch_stats

  def G(p):
    return state.apply('G', A, train=True, params=p, batch_stats=stats['G'])[0]

  def D(p, x):
    return state.apply('D', x, train=True, params=p, batch_stats=stats['D'])[0]

  fake_B = G(params['G'])

  def d_loss(p):
    fake = jnp.concatenate([A, jax.lax.stop_gradient(fake_B)], axis=-1)
    losses = {
      'D_fake': _bce(D(p, fake), 0.0),
      'D_real': _bce(D(p, jnp.concatenate([A, B], -1)), 1.0),
    }
    return 0.5 * (losses['D_fake'] + losses['D_real']), losses

  grads_D, losses = jax.grad(d_loss, has_aux=True)(params['D'])
  update, opt['D'] = adam.update(grads_D, opt['D'])
  params = {**params, 'D': optax.apply_updates(params['D'], update)}

  def g_loss(p):
    fake = G(p)
    parts = {
      'G_GAN': _bce(D(params['D'], jnp.concatenate([A, fake], -1)), 1.0),
      'G_L1': jnp.abs(fake - B).mean() * lambda_L1,
    }
    return parts['G_GAN'] + parts['G_L1'], parts

  grads_G, parts = jax.grad(g_loss, has_aux=True)(params['G'])
  update, opt['G'] = adam.update(grads_G, opt['G'])
  params = {**params, 'G': optax.apply_updates(params['G'], update)}
  return params, opt, {**losses, **parts}, {'D': grads_D, 'G': grads_G}


@pytest.mark.slow
def test_pix2pix_step_equals_the_official_update():
  _compare_pix2pix()


def _compare_pix2pix(changes=None):
  from configs import pix2pix_shapes  # noqa: PLC0415

  config = pix2pix_shapes.get_config('tiny')
  config.update(no_dropout=True, lr=2e-3, batch_size=2)  # the official norm: batch
  config.update(changes or {})
  model = models.get('pix2pix')
  state = jax.jit(lambda: model.create(config, jax.random.PRNGKey(0), 1000))()
  tx = {p: optax.chain(_capture(), state.tx[p]) for p in state.players}
  state = state.replace(
    tx=type(state.tx)(tx),
    opt_state={p: tx[p].init(state.player_params(p)) for p in state.players},
  )
  rs = np.random.RandomState(0)
  batch = {k: jnp.asarray(rs.uniform(-1, 1, (2, 32, 32, 3)), jnp.float32) for k in 'AB'}
  params = dict(state.params)
  adam = optax.adam(config.lr, b1=0.5, b2=0.999, eps=1e-8)
  opt = {n: adam.init(params[n]) for n in ('G', 'D')}
  step, reference = (
    jax.jit(model.train_step),
    jax.jit(_reference_pix2pix_step, static_argnums=(4, 5)),
  )
  for i in (1, 2):
    want_params, opt, want, want_grads = reference(state, params, opt, batch, config.lr, 100.0)
    state, metrics = step(state, batch)
    for name, value in want.items():
      err, scale = max_error(metrics[f'loss_{name}'], value)
      assert err <= numerics.NETWORK * scale, (
        f'step {i} {name}: {metrics[f"loss_{name}"]} vs {value}'
      )
    for net in ('G', 'D'):
      got = jax.tree.leaves(state.opt_state[net][0][net])
      ref = jax.tree.leaves(want_grads[net])
      largest = max(float(jnp.abs(g).max()) for g in ref)
      for g, r in zip(got, ref, strict=True):
        assert max_error(g, r)[0] <= numerics.NETWORK * largest, f'step {i} gradient of {net}'
    # Both continue from jaxgan's weights: Adam's rounding-decided moves (module docstring)
    # stay out of the comparison.
    params = dict(state.params)
