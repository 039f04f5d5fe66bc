"""CUT and FastCUT: the official train step, PatchNCE per image on any mesh, taps, weights.

The nets and PatchNCE themselves are checked against the official code in tests/test_parity.py
(the cut_* fixtures); here the model around them.
"""

import jax
import jax.numpy as jnp
import numerics
import numpy as np
import optax
import pytest
from parity_utils import COMMITTED_DIR, load_fixture, max_error, nchw_to_nhwc

from configs import cut_horse2zebra, cut_shapes
from jaxgan import export_lib, losses, parallel, port
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError, WeightsError
from jaxgan.models import cut
from jaxgan.nets import cut as cut_nets
from jaxgan.port import states

STEP_FIXTURES = sorted(COMMITTED_DIR.glob('cut_step*.npz'))


def test_nce_layers_are_the_official_layer_indices():
  # 0 is the padded input, 4 and 8 the convolutions before the two blur poolings, 12 and 16
  # residual blocks; the blur filters sit at the official indices of their buffers.
  g = cut_nets.ResnetGenerator(ngf=4, n_blocks=9)
  kinds = g.layer_kinds()
  assert [kinds[i] for i in (0, 4, 8, 12, 16)] == ['pad', 'conv', 'conv', 'block', 'block']
  assert len(kinds) == 32 and kinds[-1] == 'tanh'
  assert sorted(g.official_buffers()) == [f'model.{i}.filt' for i in (11, 21, 25, 7)]
  strided = cut_nets.ResnetGenerator(ngf=4, n_blocks=6, no_antialias=True, no_antialias_up=True)
  assert strided.official_buffers() == {} and len(strided.layer_kinds()) == 25
  with pytest.raises(ConfigError, match='increasing layer indices'):
    cut.nce_layers(_with(nce_layers='4,0'))


def _with(**kwargs):
  config = cut_horse2zebra.get_config()
  config.update(kwargs)
  return config


@pytest.mark.parametrize(
  ('key', 'value', 'message'),
  [
    ('nce_layers', '0,4,40', 'has layers 0 to 31'),
    ('nce_layers', 'a,b', 'expected layer indices'),
    ('num_patches', 0, 'num_patches must be >= 1'),
    ('netF', 'reshape', 'unknown netF'),
    ('netG', 'unet_256', 'PatchNCE taps a ResNet generator'),
  ],
)
def test_bad_options_are_one_line(key, value, message):
  config = cut_horse2zebra.get_config('tiny')
  config.netG = 'resnet_9blocks'
  config[key] = value
  with pytest.raises(ConfigError, match=message):
    jax.eval_shape(lambda: cut.create(config, jax.random.PRNGKey(0), 1))


def test_patch_nce_takes_negatives_from_each_image_alone():
  # The loss of a batch is the losses of its images side by side: no image's patches are
  # another's negatives, however the batch is split over devices (the official
  # DataParallel path groups by the per-GPU batch instead). With all the batch's negatives
  # it is the loss of one image holding every patch.
  rs = np.random.RandomState(0)
  q, k = (rs.normal(size=(3 * 5, 8)).astype(np.float32) for _ in range(2))
  q, k = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (q, k))
  batch = losses.patch_nce(q, k, 3)
  single = [losses.patch_nce(q[5 * i : 5 * i + 5], k[5 * i : 5 * i + 5], 1) for i in range(3)]
  np.testing.assert_allclose(batch, np.concatenate(single), rtol=numerics.REORDERING)
  together = losses.patch_nce(q, k, 3, all_negatives_from_minibatch=True)
  np.testing.assert_allclose(together, losses.patch_nce(q, k, 1), rtol=numerics.REORDERING)
  assert np.all(together > batch)  # more negatives, more to tell apart
  # The keys are detached: the gradient reaches the queries only.
  dq, dk = jax.grad(lambda q, k: losses.patch_nce(q, k, 3).sum(), argnums=(0, 1))(q, k)
  assert np.abs(dq).max() > 0 and np.abs(dk).max() == 0


def test_exported_files_are_official_and_load_back(tmp_path):
  # export.py's .pth of G (its blur filters included, the official keys) and of F load back
  # through --weights / init_from; a file whose filters differ from the official ones is
  # refused; the sample page has the official visuals (idt_B with nce_idt).
  config = cut_horse2zebra.get_config('tiny')
  create = jax.jit(lambda seed: cut.create(config, jax.random.PRNGKey(seed), 1))
  state, other = create(0), create(1)
  paths = {net: tmp_path / f'latest_net_{net}.pth' for net in ('G', 'F')}
  for net, path in paths.items():
    export_lib.export(config, state, net, 'pth', str(path))
  sd = port.load_state_dict(paths['G'])
  assert sd['model.7.filt'].shape == (16, 1, 3, 3) and 'mlp_0.0.weight' in port.load_state_dict(
    paths['F']
  )
  loaded = states.load_into(config, other, {net: str(p) for net, p in paths.items()})
  for net in paths:
    assert numerics.difference(loaded.params[net], state.params[net]) == 0
  module = state.nets['G']
  variables = {'params': state.params['G']}
  sd['model.7.filt'] = sd['model.7.filt'] * 2
  with pytest.raises(WeightsError, match='model.7.filt is not the fixed filter'):
    port.to_flax(sd, variables, 'G', buffers=states.official_buffers(module))
  del sd['model.7.filt']
  with pytest.raises(WeightsError, match=r'model.7.filt \(16, 1, 3, 3\) is missing'):
    port.to_flax(sd, variables, 'G', buffers=states.official_buffers(module))
  batch = {k: jnp.zeros((2, 32, 32, 3)) for k in 'AB'}
  visuals = jax.jit(cut.sample)(state, batch)
  assert set(visuals) == set(cut.VISUALS)


# ------------------------------------------------------------------------------------------
# The official train step, replayed.


def test_the_official_step_is_committed():
  # (a parametrization over no files would only skip)
  assert [p.stem for p in STEP_FIXTURES] == ['cut_step']


def _capture():
  """An optax stage that passes gradients through and keeps the last ones in its state."""
  return optax.GradientTransformation(
    lambda params: jax.tree.map(jnp.zeros_like, params),
    lambda updates, state, params=None: (updates, updates),
  )


def _official_state(fixture):
  meta = fixture.meta
  config = cut_horse2zebra.get_config('fastcut' if meta['CUT_mode'] == 'FastCUT' else None)
  config.update(
    {k: meta[k] for k in ('netG', 'netD', 'ngf', 'ndf', 'netF', 'netF_nc', 'num_patches', 'lr')}
  )
  config.nce_layers = meta['nce_layers']
  config.flip_equivariance = meta.get('flip_equivariance', config.flip_equivariance)
  config.batch_size = 2
  state = cut.create(config, jax.random.PRNGKey(0), 1000, image_size=(32, 32))
  params = {}
  for net in cut.NETS:
    sd = {k.split('/', 1)[1]: v for k, v in fixture.sd.items() if k.startswith(f'{net}/')}
    buffers = states.official_buffers(state.nets[net])
    params[net] = port.to_flax(sd, {'params': state.params[net]}, net, buffers=buffers)['params']
  # The official Adam (eps 1e-8, the lr of the first epoch) behind a stage keeping the grads.
  tx = optax.chain(_capture(), ts.make_optimizer(config, 1000))
  opt_state = {p: tx.init({n: params[n] for n in names}) for p, names in cut.PLAYERS.items()}
  return state.replace(
    params=params, opt_state=opt_state, tx=type(state.tx)({p: tx for p in cut.PLAYERS})
  )


def _draws(fixture, step):
  ids = []
  for call in (0, 1):
    layers = sorted(
      (int(k.rsplit('_', 1)[1]), v)
      for k, v in fixture.inputs.items()
      if k.startswith(f'step{step}_ids_{call}_')
    )
    if layers:
      ids.append([v for _, v in layers])
  return {'flip': np.asarray(fixture.inputs[f'step{step}_flip']), 'ids': ids}


def _relative(got, want):
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  return np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30)


@pytest.mark.slow
@pytest.mark.parametrize('path', STEP_FIXTURES, ids=[p.stem for p in STEP_FIXTURES])
def test_two_steps_equal_the_official_steps(path):
  """Two official CUTModel.optimize_parameters (tools/make_parity_fixtures.py; CUT with
  FastCUT's flip-equivariance, the first step unflipped, the second flipped) from the same
  weights, batch, flips and patch ids: every loss, every gradient of the first step, and the
  weights after Adam's two updates.

  Losses and gradients: to numerics.NETWORK of their scale (float32 evaluations of the same
  network differ by rounding only). Weights: Adam's first update is lr * g / (|g| + eps), about
  lr * sign(g), so a gradient that is zero but for rounding moves its weight by up to +-lr in a
  direction the rounding decides; the weights are compared where the first gradient is at
  least 1e-3 of its net's largest (there the update is lr * sign(g) whatever the rounding),
  to 1e-3 lr.
  """
  fixture = load_fixture(path)
  state = _official_state(fixture)
  before = jax.device_get(state.params)
  batch = {k: jnp.asarray(nchw_to_nhwc(fixture.inputs[k])) for k in 'AB'}
  grads = None
  step_fn = jax.jit(lambda state, batch, draws: cut.train_step(state, batch, draws))
  for step in (1, 2):
    state, metrics = step_fn(state, batch, _draws(fixture, step))
    for name, want in fixture.outputs.items():
      if name.startswith(f'step{step}/'):
        err, scale = max_error(metrics[f'loss_{name.split("/")[1]}'], want)
        assert err <= numerics.NETWORK * scale, f'{name}: {metrics}'
    if step == 1:
      grads = jax.device_get({p: state.opt_state[p][0] for p in cut.PLAYERS})
  lr = fixture.meta['lr']
  for net in cut.NETS:
    player = 'D' if net == 'D' else 'G'
    flat_grad = port.from_flax({'params': grads[player][net]})
    flat_after = port.from_flax({'params': jax.device_get(state.params[net])})
    flat_before = port.from_flax({'params': before[net]})
    largest = max(np.abs(fixture.outputs[f'grad/{net}/{k}']).max() for k in flat_grad)
    for key, want in flat_grad.items():
      official = fixture.outputs[f'grad/{net}/{key}']
      err, scale = max_error(want, official)
      assert err <= numerics.NETWORK * scale, f'gradient of {net} {key}: {err:.3g}'
      # (the conv biases before instance norm have gradients of rounding noise only)
      defined = np.abs(official) >= 1e-3 * largest
      got, ref = flat_after[key], fixture.outputs[f'params/{net}/{key}']
      assert np.abs(got - ref)[defined].max(initial=0) <= 1e-3 * lr, f'{net} {key} after 2 steps'
      moved = np.abs(ref - flat_before[key])[defined]
      assert moved.size == 0 or moved.max() > lr  # the weights did move


# ------------------------------------------------------------------------------------------
# Data parallel, and the command line.


@pytest.mark.slow
def test_eight_devices_give_what_one_device_gives_and_the_losses_fall():
  """FastCUT (flips, PatchNCE on layers 0, 4, 8) on a global batch of 8 with batch-norm D, on 1
  and 8 devices: the same losses and weights after 2 steps (the flips and patch ids are drawn
  from the replicated key, PatchNCE's negatives per image whatever the split).

  SGD (lr 0.05) instead of Adam, whose first steps turn rounding noise of near-zero gradients
  into moves of +-lr (see test_two_steps_equal_the_official_steps): SGD's update is linear in
  the gradient, so the weights differ only as the reordered sums do (numerics.REORDERING).
  """
  config = cut_shapes.get_config('fastcut,tiny')
  config.update(
    batch_size=8, normD='batch', netG='resnet_4blocks', nce_layers='0,4,8', netD='n_layers'
  )
  state = jax.jit(lambda: cut.create(config, jax.random.PRNGKey(0), 100))()
  tx = optax.sgd(0.05)
  opt_state = {p: tx.init(state.player_params(p)) for p in state.players}
  host = jax.device_get(
    state.replace(tx=type(state.tx)({p: tx for p in state.players}), opt_state=opt_state)
  )
  rs = np.random.RandomState(0)
  batch = {k: rs.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32) for k in 'AB'}
  results = []
  for n in (1, 8):
    mesh = parallel.make_mesh(jax.devices()[:n])
    step = parallel.compile_train_step(cut.train_step, host, mesh)
    s, sharded = parallel.replicate(host, mesh), parallel.shard_batch(batch, mesh)
    history = []
    for _ in range(2):
      s, metrics = step(s, sharded)
      history.append(metrics)
    results.append((jax.device_get(s), jax.device_get(history)))
  (state_1, history_1), (state_8, history_8) = results
  assert set(history_8[0]) == {f'loss_{n}' for n in ('G_GAN', 'D_real', 'D_fake', 'G', 'NCE')}
  assert history_1[-1]['loss_NCE'] < history_1[0]['loss_NCE']  # PatchNCE learns
  moved = numerics.difference(state_1.params, host.params)
  assert moved > 0.01 * numerics.norm(host.params)
  assert state_8.batch_stats['D']  # batch norm ran on the global batch
  params = numerics.difference(state_8.params, state_1.params) / moved
  print(f'cut: |params_8dev - params_1dev| / |params moved| after 2 steps = {params:.2e}')
  assert params < numerics.REORDERING
  for got, want in ((state_8.batch_stats, state_1.batch_stats), (history_8, history_1)):
    assert numerics.relative_difference(got, want) < numerics.REORDERING
