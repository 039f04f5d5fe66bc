"""jaxgan networks against the official PyTorch ones: same weights, same outputs.

One test per fixture: the committed small ones of tests/data/parity (ids `small/<stem>`, on any
clone) and the full-width ones of $JAXGAN_PARITY_DIR (default ../shared/parity; ids `<stem>`).
"""

import sys

import jax
import jax.numpy as jnp
import numerics
import numpy as np
import pytest
from parity_utils import (
  COMMITTED_DIR,
  PENDING_FAMILIES,
  ROOT,
  committed_paths,
  fixture_paths,
  load_fixture,
  max_error,
  nchw_to_nhwc,
  nhwc_to_nchw,
  parity_dir,
  read_meta,
)

from jaxgan import port
from jaxgan.port import states

# Of the output's scale: the bound for two correct float32 evaluations of a network
# (tests/numerics.py, NETWORK); measured here about 1e-6.
RTOL = numerics.NETWORK

PATHS = fixture_paths()
COMMITTED = committed_paths()

sys.path.insert(0, str(ROOT / 'tools'))
import make_parity_fixtures  # noqa: E402  (a tool, not a package)


def _ported(fixture):
  """The jaxgan module of a fixture's network, its call arguments (x, and BicycleGAN's z) and
  the fixture's weights as its Flax variables."""
  module = port.build_from_meta(fixture.meta)
  args = [jnp.asarray(nchw_to_nhwc(fixture.inputs['x']))]
  if fixture.meta['family'] == 'bicyclegan' and fixture.meta['kind'] == 'generator':
    args.append(jnp.asarray(fixture.inputs['z']))
  template = jax.eval_shape(lambda: module.init(jax.random.key(0), *args))
  name = 'munit' if fixture.meta['family'] == 'munit' else fixture.meta['net']
  buffers = states.official_buffers(module)
  return module, args, port.to_flax(fixture.sd, template, name, buffers=buffers)


def _run_cut(fixture):
  # G: its output and its taps (nce_layers); D: its logits; F (PatchSampleF): its projections
  # at the fixture's patch ids; PatchNCE: the loss per patch and the gradient of their sum.
  from jaxgan import losses

  meta = fixture.meta
  assert meta['mode'] == 'train'
  if meta['kind'] == 'patchnce':
    q, k = (jnp.asarray(fixture.inputs[n]) for n in ('feat_q', 'feat_k'))
    out = {}
    for suffix, everything in (('', False), ('_all_negatives', True)):

      def loss(q, everything=everything):
        return losses.patch_nce(
          q, k, meta['batch_size'], nce_T=meta['nce_T'], all_negatives_from_minibatch=everything
        )

      out[f'loss{suffix}'] = np.asarray(loss(q))
      out[f'grad_q{suffix}'] = np.asarray(jax.grad(lambda q: loss(q).sum())(q))
    return out
  if meta['kind'] == 'patch_sample':
    layers_ = range(len(meta['feature_shapes']))
    feats = [jnp.asarray(nchw_to_nhwc(fixture.inputs[f'feat_{i}'])) for i in layers_]
    ids = [jnp.asarray(fixture.inputs[f'ids_{i}']) for i in layers_]
    module = port.build_from_meta(meta)
    template = jax.eval_shape(lambda: module.init(jax.random.key(0), feats, ids))
    variables = port.to_flax(fixture.sd, template, meta['net'])
    return {str(i): np.asarray(y) for i, y in enumerate(module.apply(variables, feats, ids))}
  module, (x,), variables = _ported(fixture)
  run = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=['batch_stats'])[0])
  out = {'y': nhwc_to_nchw(np.asarray(run(variables, x)))}
  if meta['kind'] == 'generator':
    taps = tuple(meta['nce_layers'])
    feats, _ = module.apply(variables, x, taps, True, train=True, mutable=['batch_stats'])
    out.update({f'feat_{i}': nhwc_to_nchw(np.asarray(f)) for i, f in enumerate(feats)})
  return out


def _run_pix2pix_cyclegan(fixture):
  module, (x,), variables = _ported(fixture)
  # mode 'train': batch norm uses the batch's statistics; no fixture has dropout.
  assert fixture.meta['mode'] == 'train' and not fixture.meta.get('use_dropout', False)
  y, _ = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=['batch_stats']))(variables, x)
  return {'y': nhwc_to_nchw(np.asarray(y))}


def _run_metrics(fixture):
  # Imported here: the metric networks are only built for their own fixtures.
  from jaxgan.metrics import inception, lpips

  if fixture.meta['kind'] == 'fid_inception':
    # pytorch-fid's InceptionV3(resize_input=True, normalize_input=True) on [0, 1] images.
    assert fixture.meta['resize_input'] and fixture.meta['normalize_input']
    variables = inception.inception_variables(fixture.sd)
    x = jnp.asarray(nchw_to_nhwc(fixture.inputs['x']))

    def pool3(variables, x):
      return inception.FIDInceptionV3().apply(variables, 2.0 * inception.resize_bilinear(x) - 1.0)

    return {'pool3': np.asarray(jax.jit(pool3)(variables, x))}
  net, version = fixture.meta['net'], fixture.meta['version']
  variables = lpips.lpips_variables(fixture.sd, net, version)
  x0, x1 = (jnp.asarray(nchw_to_nhwc(fixture.inputs[k])) for k in ('x0', 'x1'))
  return {'d': np.asarray(jax.jit(lpips.LPIPS(net, version).apply)(variables, x0, x1))}


def _run_bicyclegan(fixture):
  # G(x, z) with where_add 'input' or 'all'; E(x) -> (mu, logvar); multi-scale D(x) -> maps.
  module, args, variables = _ported(fixture)
  assert fixture.meta['mode'] == 'train' and not fixture.meta.get('use_dropout', False)
  y, _ = jax.jit(lambda v, *a: module.apply(v, *a, train=True, mutable=['batch_stats']))(
    variables, *args
  )
  if fixture.meta['kind'] == 'encoder':
    return {'mu': np.asarray(y[0]), 'logvar': np.asarray(y[1])}
  if fixture.meta['kind'] == 'discriminator':
    return {str(i): nhwc_to_nchw(np.asarray(d)) for i, d in enumerate(y)}
  return {'y': nhwc_to_nchw(np.asarray(y))}


def _run_munit(fixture):
  from jaxgan.nets import munit

  module, (x,), variables = _ported(fixture)
  assert fixture.meta['mode'] == 'train'
  if fixture.meta['kind'] == 'discriminator':
    outs, _ = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=['batch_stats']))(
      variables, x
    )
    return {str(i): nhwc_to_nchw(np.asarray(y)) for i, y in enumerate(outs)}
  s = jnp.asarray(nchw_to_nhwc(fixture.inputs['s']))

  def run(v, x, s):
    content, style = module.apply(v, x, method=munit.AdaINGen.encode)
    y_s = module.apply(v, content, s, method=munit.AdaINGen.decode)
    y_rec = module.apply(v, content, style, method=munit.AdaINGen.decode)
    return {'content': content, 'style': style, 'y_s': y_s, 'y_rec': y_rec}

  return {k: nhwc_to_nchw(np.asarray(v)) for k, v in jax.jit(run)(variables, x, s).items()}


RUNNERS = {
  'pix2pix_cyclegan': _run_pix2pix_cyclegan,
  'bicyclegan': _run_bicyclegan,
  'metrics': _run_metrics,
  'munit': _run_munit,
  'cut': _run_cut,
}


def _check(path):
  family = read_meta(path)['family']
  if family in PENDING_FAMILIES:
    pytest.skip(PENDING_FAMILIES[family])
  if family not in RUNNERS:
    pytest.skip(f'no parity runner for family {family!r}')
  fixture = load_fixture(path)
  outputs = RUNNERS[family](fixture)
  assert outputs.keys() == fixture.outputs.keys()
  for name, ref in fixture.outputs.items():
    err, scale = max_error(outputs[name], ref)
    assert err <= RTOL * scale, f'{name}: max |diff| {err:.3g} > {RTOL} x {scale:.3g}'


# The networks and losses (the official train steps, cut_step_*, are tests/test_cut.py's).
NETWORKS = [p for p in COMMITTED if read_meta(p)['kind'] != 'train_step']


@pytest.mark.parametrize('path', NETWORKS, ids=[f'small/{p.stem}' for p in NETWORKS])
def test_matches_official_small(path):
  _check(path)


def test_committed_fixtures_are_the_tools_small_set():
  # The files are what tools/make_parity_fixtures.py --set=small makes: the same networks and
  # inputs, every family and kind the port builds, and small enough to live in the repository.
  specs = {spec.name: spec for spec in make_parity_fixtures.SETS['small']}
  assert {p.stem for p in COMMITTED} == set(specs), f'remake {COMMITTED_DIR} with the tool'
  # 2.4 MiB: the nets (1.4), the official train steps of the five models (1.0)
  assert sum(p.stat().st_size for p in COMMITTED) < 2.5 * 2**20
  kinds = set()
  for path in COMMITTED:
    spec, fixture = specs[path.stem], load_fixture(path)
    assert {k: fixture.meta[k] for k in spec.meta} == spec.meta
    # (patch ids and flips, drawn by the tool, are not in the spec)
    drawn = ('ids_', 'step')
    inputs = {k: v.shape for k, v in fixture.inputs.items() if not k.startswith(drawn)}
    assert inputs == spec.inputs
    assert fixture.meta['official'] == make_parity_fixtures.REPOS[spec.meta['family']][0]
    kinds.add((spec.meta['family'], spec.meta['kind']))
  assert {family for family, _ in kinds} == set(port.pytorch.META_BUILDERS)
  # pix2pix/CycleGAN G, D; BicycleGAN G, E, D, train step; MUNIT G, D, train step; CUT G, D,
  # F, PatchNCE, train step (CycleGAN's step is the CycleGANModel of CUT's repository)
  assert len(kinds) == 14


# The networks with an image input (not CUT's PatchNCE and PatchSampleF, whose keys the
# strict to_flax of their parity test covers).
IMAGE_NETS = [p for p in NETWORKS if read_meta(p)['kind'] not in ('patchnce', 'patch_sample')]


@pytest.mark.parametrize('path', IMAGE_NETS, ids=[f'small/{p.stem}' for p in IMAGE_NETS])
def test_exported_state_dict_loads_strictly_into_the_official_net(path):
  # What export.py writes for a net (from_flax, plus the buffers the model declares) has exactly
  # the keys, shapes and values of the official network's state_dict, so the official
  # load_state_dict (strict) takes it. num_batches_tracked is written as 0 (unused by PyTorch).
  from jaxgan.nets import munit

  fixture = load_fixture(path)
  module, _, variables = _ported(fixture)
  exported = port.from_flax(variables)
  exported.update(states.official_buffers(module))  # CUT's fixed filters
  if fixture.meta['family'] == 'munit' and fixture.meta['kind'] == 'generator':
    exported.update(munit.adain_buffers(variables['params']))
  assert sorted(exported) == sorted(fixture.sd)
  for key, value in fixture.sd.items():
    expected = 0 if key.endswith('num_batches_tracked') else value
    np.testing.assert_array_equal(exported[key], expected, err_msg=key)


if PATHS:

  @pytest.mark.parametrize('path', PATHS, ids=[p.stem for p in PATHS])
  def test_matches_official(path):
    _check(path)

else:

  def test_matches_official():
    pytest.skip(f'no parity fixtures at {parity_dir()} (set JAXGAN_PARITY_DIR)')
