"""BicycleGAN: the KL term, the half-batch split, E frozen under the latent loss, bad input,
the mode metrics; every variant traced (the end-to-end runs: test_bicyclegan_end_to_end.py)."""

import math
import pathlib
import sys

import jax
import numerics
import numpy as np
import pytest
import scripts

from jaxgan import models
from jaxgan.errors import ConfigError
from jaxgan.metrics.modes import mode_metrics
from jaxgan.models import bicyclegan

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import bicyclegan_edges2shoes, bicyclegan_shapes  # noqa: E402


def _config(variant='bicyclegan', **overrides):
  config = bicyclegan_shapes.get_config(f'{variant},tiny')
  config.ngf = config.ndf = config.nef = 4
  # Fewer ops to compile on 2 CPU cores (z once at the input, one D scale): the step's
  # semantics do not depend on them; the nets' own are checked by test_parity.py.
  config.where_add = 'input'
  config.num_Ds = 1
  config.update(overrides)
  return config


def _batch(seed=0, n=2):
  rs = np.random.RandomState(seed)
  return {k: rs.uniform(-1, 1, (n, 32, 32, 3)).astype(np.float32) for k in 'AB'}


def _state(config, seed=0):
  """A state with random weights, without compiling the nets' init (slow on loaded CPUs)."""
  abstract = jax.eval_shape(lambda: bicyclegan.create(config, jax.random.PRNGKey(seed), 10))
  rng = np.random.default_rng(seed)

  def fill(x):
    if not np.issubdtype(x.dtype, np.floating):
      return np.zeros(x.shape, x.dtype)
    return rng.normal(0.0, 0.1, x.shape).astype(x.dtype)

  params = jax.tree.map(fill, abstract.params)
  rest = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), abstract)
  opt_state = {p: rest.tx[p].init({n: params[n] for n in rest.players[p]}) for p in rest.players}
  return rest.replace(params=params, opt_state=opt_state, rng=np.array([0, seed], np.uint32))


@pytest.fixture(scope='module')
def default_run():
  """The default (full BicycleGAN) tiny state and its jitted step, compiled once (its tests go to
  one xdist worker: tests/conftest.py, GROUPS)."""
  return _state(_config()), jax.jit(bicyclegan.train_step)


def test_registered():
  model = models.get('bicyclegan')
  assert model is bicyclegan
  assert model.VISUALS == ('real_A_encoded', 'real_B_encoded', 'fake_B_random', 'fake_B_encoded')


def test_kl_against_hand_computed_value():
  mu = np.array([[1.0, 0.0], [0.0, 0.5]], np.float32)
  logvar = np.array([[0.0, math.log(2.0)], [0.0, 0.0]], np.float32)
  # -1/2 sum(1 + logvar - mu^2 - exp(logvar)): row 1: (1 + 0 - 1 - 1) + (1 + log 2 - 0 - 2);
  # row 2: 0 + (1 + 0 - 0.25 - 1). Summed over the batch, as the official loss_kl.
  expected = -0.5 * ((-1.0) + (math.log(2.0) - 1.0) + (-0.25))
  assert float(bicyclegan.kl_loss(mu, logvar)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow  # compiles the whole step: about a minute on 2 loaded CPU cores
def test_step_losses_and_updates(default_run):
  state, step = default_run
  batch = _batch()
  new, metrics = step(state, batch)
  assert set(metrics) == {f'loss_{n}' for n in bicyclegan.LOSSES}
  assert all(np.isfinite(float(v)) for v in metrics.values())
  for name in ('G', 'E', 'D', 'D2'):  # every player stepped
    diff = jax.tree.map(
      lambda a, b: float(np.abs(a - b).max()), new.params[name], state.params[name]
    )
    assert max(jax.tree.leaves(diff)) > 0, name
  # loss_kl is lambda_kl x the KL of E(B1), B1 the first half only.
  (mu, logvar), _ = state.apply('E', batch['B'][:1], train=True)
  kl = float(bicyclegan.kl_loss(mu, logvar)) * state.config.lambda_kl
  assert float(metrics['loss_kl']) == pytest.approx(kl, rel=1e-4, abs=1e-9)


@pytest.mark.slow
def test_half_batch_split(default_run):
  """A1, B1 drive G, E and D; B2 is only D2's real data; A2 is unused without conditional_D."""
  state, step = default_run
  batch = _batch()
  _, base = step(state, batch)
  other_b2 = {**batch, 'B': batch['B'].copy()}
  other_b2['B'][1:] = -batch['B'][1:]
  _, m = step(state, other_b2)
  changed = {k for k in base if not np.isclose(float(base[k]), float(m[k]), rtol=1e-6, atol=0)}
  assert changed == {'loss_D2'}
  other_a2 = {**batch, 'A': batch['A'].copy()}
  other_a2['A'][1:] = -batch['A'][1:]
  _, m = step(state, other_a2)
  assert all(float(base[k]) == float(m[k]) for k in base)
  other_b1 = {**batch, 'B': batch['B'].copy()}
  other_b1['B'][:1] = -batch['B'][:1]
  _, m = step(state, other_b1)
  assert float(m['loss_G_L1']) != float(base['loss_G_L1'])
  assert float(m['loss_D2']) == float(base['loss_D2'])  # D2's fake is G(A1, z_random) alone


@pytest.mark.parametrize(
  'latent_updates_E',
  [pytest.param(False, marks=pytest.mark.slow), pytest.param(True, marks=pytest.mark.slow)],
  ids=['official', 'clr_gan'],
)
def test_latent_loss_leaves_E_gradient_zero(latent_updates_E):
  # Only |mu(E(G(A, z))) - z| on: officially E's parameters get exactly no gradient (so Adam
  # leaves them bit for bit), while G's do; the cLR-GAN baseline trains E on it too.
  config = _config(
    lambda_GAN=0.0,
    lambda_GAN2=0.0,
    lambda_L1=0.0,
    lambda_kl=0.0,
    lambda_z=0.5,
    latent_updates_E=latent_updates_E,
  )
  state = _state(config, seed=1)
  assert set(state.params) == {'G', 'E'}
  new, metrics = jax.jit(bicyclegan.train_step)(state, _batch())
  assert float(metrics['loss_z_L1']) > 0
  e_moved = jax.tree.map(lambda a, b: bool(np.any(a != b)), new.params['E'], state.params['E'])
  g_moved = jax.tree.map(lambda a, b: bool(np.any(a != b)), new.params['G'], state.params['G'])
  assert any(jax.tree.leaves(g_moved))
  assert any(jax.tree.leaves(e_moved)) == latent_updates_E


def test_odd_batch_is_one_clear_error():
  with pytest.raises(ConfigError, match='batch_size must be even, got 3'):
    bicyclegan.create(_config(batch_size=3), jax.random.PRNGKey(0), 1)
  with pytest.raises(ConfigError, match='images per device'):
    bicyclegan.check_batch_size(8, num_devices=8)
  bicyclegan.check_batch_size(16, num_devices=8)


def test_variants_build_the_nets_they_need_and_trace_their_step():
  """Every variant's nets and train step (traced, not compiled: the end-to-end runs through
  train.py take the official and pix2pix+noise variants, tests/test_bicyclegan_end_to_end.py)."""
  nets = {}
  for variant in bicyclegan_shapes.VARIANTS:
    config = _config(variant)
    state = jax.eval_shape(lambda c=config: bicyclegan.create(c, jax.random.PRNGKey(0), 1))
    nets[variant] = set(state.params)
    _, metrics = jax.eval_shape(bicyclegan.train_step, state, _batch())
    assert set(metrics) >= {f'loss_{n}' for n in bicyclegan.LOSSES}, variant
  assert nets == {
    'bicyclegan': {'G', 'E', 'D', 'D2'},
    'pix2pix_noise': {'G', 'D'},
    'cvae_gan': {'G', 'E', 'D'},
    'clr_gan': {'G', 'E', 'D2'},
  }


def test_shapes_variants_share_one_budget_and_nz():
  # The measured comparison (docs/bicyclegan.md) needs the same nets, code length and steps for
  # all four; nz 2 is the shapes task's documented deviation from the official 8.
  keys = ('nz', 'lr', 'batch_size', 'n_epochs', 'n_epochs_decay', 'ngf', 'nef', 'ndf', 'netG')
  budgets = {
    v: tuple(bicyclegan_shapes.get_config(v)[k] for k in keys) for v in bicyclegan_shapes.VARIANTS
  }
  assert len(set(budgets.values())) == 1
  assert bicyclegan_shapes.get_config().nz == 2
  assert bicyclegan_edges2shoes.get_config().nz == 8


def test_mode_metrics():
  modes = np.zeros((2, 3, 4, 4, 1), np.float32)
  modes[:, 1] = 1.0
  modes[:, 2] = -1.0
  samples = np.zeros((2, 2, 4, 4, 1), np.float32)
  samples[0, 1] = 0.95  # input 0 reaches modes 0 and 1 (MAE 0 and 0.05)
  samples[1, 0] = 0.5  # input 1: one sample at 0 (mode 0), one halfway (no mode)
  samples[1, 1] = 0.05
  samples[1, 0] = 0.5
  got = mode_metrics(samples, modes, threshold=0.1, chunk=1)
  assert got['coverage'] == pytest.approx((2 / 3 + 1 / 3) / 2)
  assert got['precision'] == pytest.approx(3 / 4)
  assert got['mae_nearest'] == pytest.approx((0 + 0.05 + 0.5 + 0.05) / 4)


def test_odd_batch_size_on_the_command_line(tmp_path):
  args = ['--model=bicyclegan', '--config=configs/bicyclegan_shapes.py:tiny']
  run = scripts.run('train.py', *args, '--config.batch_size=3', f'--workdir={tmp_path}')
  assert run.returncode == 2
  assert run.stderr.strip().splitlines()[-1].startswith('error: ')
  assert 'batch_size must be even' in run.stderr


def _official_config(**overrides):
  from configs import bicyclegan_edges2shoes

  config = bicyclegan_edges2shoes.get_config()
  config.ngf = config.nef = 8
  config.data.input_nc = 3
  config.update(overrides)
  return config


def test_official_weights_load_and_sample(parity_dir):
  """The official G and E state_dicts (parity fixtures: *_net_G / *_net_E layouts) sample."""
  from parity_utils import load_fixture, nchw_to_nhwc, nhwc_to_nchw

  import jaxgan.eval as eval_lib

  g = load_fixture(parity_dir / 'bicycle_G_unet_256_add_all.npz')
  e = load_fixture(parity_dir / 'bicycle_E_resnet_256.npz')
  config = _official_config(no_dropout=True)
  config.eval.eval_mode = False  # the fixtures ran in train mode (instance norm: the same)
  weights = {'G': str(parity_dir / 'bicycle_G_unet_256_add_all.npz')}
  weights['E'] = str(parity_dir / 'bicycle_E_resnet_256.npz')
  state = eval_lib.load_weights(config, weights)
  x = nchw_to_nhwc(g.inputs['x'])
  y = jax.jit(bicyclegan.generate)(state, x, g.inputs['z'])
  # Outputs of scale <= 1 (tanh; mu of a small net): numerics.NETWORK bounds the difference.
  np.testing.assert_allclose(nhwc_to_nchw(np.asarray(y)), g.outputs['y'], atol=numerics.NETWORK)
  mu = jax.jit(bicyclegan.encode)(state, nchw_to_nhwc(e.inputs['x']))
  np.testing.assert_allclose(np.asarray(mu), e.outputs['mu'], atol=numerics.NETWORK)


def test_a_folder_is_translated_once_per_image(tmp_path):
  """eval.py --folder: one random-z translation per image, as pix2pix's page (no sampling)."""
  import jaxgan.eval as eval_lib
  from jaxgan import visualize

  folder = tmp_path / 'inputs'
  for i in range(2):
    image = np.full((32, 32, 3), 60 * i, np.uint8)
    visualize.save_png(folder / f'in{i}.png', image)
  config = _config()
  results = eval_lib.evaluate(config, _state(config), tmp_path / 'out', folder=str(folder))
  assert results == {}  # no true targets for a folder
  pngs = sorted(p.name for p in (tmp_path / 'out' / 'images' / 'AtoB').glob('*.png'))
  assert pngs == ['in0_fake_B.png', 'in0_real_A.png', 'in1_fake_B.png', 'in1_real_A.png']


def test_hue_task_sampling_scores_bins(tmp_path, monkeypatch):
  """eval.py's sampling on 'shapes_hues' scores the random samples against the fill family:
  with a stand-in model whose every sample is the true target, all are valid, in 1 bin of 6."""
  import types

  from configs import bicyclegan_hues
  from jaxgan.eval import sampling as eval_sampling
  from jaxgan.eval import tables

  def truth_only(model):
    del model
    return lambda state, image, target, zs, key, encode: (target, np.stack([target] * len(zs)))

  monkeypatch.setattr(eval_sampling, '_sampler', truth_only)
  config = bicyclegan_hues.get_config('tiny')
  config.eval.lpips_diversity = False
  state = types.SimpleNamespace(params={'E': None}, nets={})
  results = eval_sampling.evaluate(config, state, tmp_path, num_test=3)
  modes = results['AtoB']['modes']
  assert modes['num_bins'] == 6 and modes['threshold'] == 0.05
  assert modes['precision'] == 1.0 and modes['coverage'] == pytest.approx(1 / 6)
  assert modes['mae_nearest'] < 0.013  # the scoring grid's own error
  assert 'coverage 0.167 of 6 bins' in tables.sampling_table(results)


def test_nz_mismatching_weights_is_one_line(parity_dir):
  import jaxgan.eval as eval_lib
  from jaxgan.errors import WeightsError

  config = _official_config(nz=16)
  with pytest.raises(WeightsError) as info:
    eval_lib.load_weights(config, {'G': str(parity_dir / 'bicycle_G_unet_256_add_all.npz')})
  message = str(info.value)
  assert '\n' not in message and 'model.down.0.weight' in message and 'nz' in message


@pytest.mark.parametrize(
  'overrides',
  [
    dict(use_same_D=True),
    dict(conditional_D=True),
    dict(where_add='all', upsample='bilinear', nl='lrelu', netE='conv_32', netD='basic_128'),
    pytest.param(
      dict(norm='batch', no_dropout=False, netG='unet_64', netE='resnet_64', gan_mode='vanilla'),
      marks=pytest.mark.slow,
    ),
  ],
  ids=['use_same_D', 'conditional_D', 'all_bilinear_conv_E', 'batch_norm_dropout'],
)
def test_other_options_trace(overrides):
  """The options' step traces (no compile): nets built, shapes fit, losses of the right kind."""
  config = _config(**overrides)
  size = 64 if config.netG == 'unet_64' else 32
  config.data.synthetic_size = config.data.crop_size = config.data.load_size = size
  state = jax.eval_shape(lambda: bicyclegan.create(config, jax.random.PRNGKey(0), 10))
  batch = {k: jax.ShapeDtypeStruct((2, size, size, 3), np.float32) for k in 'AB'}
  new, metrics = jax.eval_shape(bicyclegan.train_step, state, batch)
  assert set(metrics) == {f'loss_{n}' for n in bicyclegan.LOSSES}
  assert set(new.params) == ({'G', 'E', 'D'} if config.use_same_D else {'G', 'E', 'D', 'D2'})
  if config.conditional_D:  # D judges (A, B) pairs: 6 input channels
    kernel = new.params['D']['model']['0']['kernel']
    assert kernel.shape[2] == 6


@pytest.mark.slow
def test_learns_the_fixed_batch(default_run):
  """G's reconstruction of B from E(B) (Eq. 4's L1) falls on one batch of the shapes task: E and
  G learn (after the first steps, where the GAN terms lead)."""
  from jaxgan.data import synthetic  # noqa: PLC0415

  _, step = default_run
  config = _config(num_steps=1000)  # 160 steps well inside the lr schedule
  state = jax.jit(lambda: bicyclegan.create(config, jax.random.PRNGKey(0), 10))()
  images = synthetic.images(config, 'train')
  batch = {k: synthetic.to_model(images[k][:2], 3) for k in 'AB'}
  l1 = []
  for _ in range(160):
    state, metrics = step(state, batch)
    l1.append(float(metrics['loss_G_L1']))
  first, last = np.mean(l1[:20]), np.mean(l1[-20:])
  print(f'bicyclegan loss_G_L1: {first:.2f} -> {last:.2f} over 160 steps')
  assert last < 0.5 * first
