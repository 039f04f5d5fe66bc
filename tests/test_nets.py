"""Generators and discriminators: shapes, official layer names and biases, init, dtypes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from configs import common
from jaxgan import layers, nets, port
from jaxgan.errors import ConfigError
from jaxgan.nets import generators


def _config(**overrides):
  config = common.get_config()
  config.ngf = config.ndf = 4
  config.update(overrides)
  return config


def _shapes(module, x_shape):
  """(output shape, variables of shapes) without computing anything."""
  out, variables = jax.eval_shape(
    lambda: module.init_with_output(jax.random.key(0), jnp.zeros(x_shape))
  )
  return out.shape, variables


def _init(module, x, key=0):
  # Jitted: op-by-op would compile every layer of every shape separately. Still seconds per
  # net on CPU (XLA compiles one random sampler per parameter): used sparingly, on small nets.
  return jax.jit(module.init)(jax.random.key(key), x)


def _random_variables(module, x_shape, seed=0):
  """Variables of the right tree and shapes, drawn in numpy: no XLA compile of `init`."""
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = path[-1].key
    if name == 'kernel':
      return rng.normal(0, 0.1, leaf.shape).astype(np.float32)
    if name in ('scale', 'var'):
      return (1 + 0.1 * rng.random(leaf.shape)).astype(np.float32)
    return (0.1 * rng.normal(size=leaf.shape)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(draw, _shapes(module, x_shape)[1])


def _apply(module, variables, x, train=False, key=None):
  # Eager: the per-op compilations are cached across calls, unlike a fresh jit per call.
  if not train:
    return module.apply(variables, x, train=False)
  rngs = {} if key is None else {'dropout': jax.random.key(key)}
  return module.apply(variables, x, train=True, mutable=['batch_stats'], rngs=rngs)


def _official_keys(variables):
  return set(port.from_flax(jax.tree.map(lambda s: np.zeros(s.shape), variables)))


@pytest.mark.parametrize(
  'netG,size',
  [('resnet_9blocks', 32), ('resnet_6blocks', 32), ('unet_128', 128), ('unet_256', 256)]
  + [(f'unet_{n}', n) for n in (8, 16, 32, 64)],
)
def test_generator_output_shapes(netG, size):
  module = nets.define_G(_config(netG=netG), 3, 2)
  shape, _ = _shapes(module, (2, size, size, 3))
  assert shape == (2, size, size, 2)


@pytest.mark.parametrize(
  'netD,n_layers,size,out',
  [('basic', 3, 64, 6), ('n_layers', 5, 128, 2), ('n_layers', 1, 32, 14), ('pixel', 3, 16, 16)],
)
def test_discriminator_output_shapes(netD, n_layers, size, out):
  module = nets.define_D(_config(netD=netD, n_layers_D=n_layers), 6)
  shape, _ = _shapes(module, (2, size, size, 6))
  assert shape == (2, out, out, 1)


def test_unet_n_has_log2_n_levels_with_official_channels():
  _, variables = _shapes(nets.define_G(_config(netG='unet_32'), 3, 3), (1, 32, 32, 3))
  keys = _official_keys(variables)
  # Five levels: four nested blocks under the outermost one, the innermost at ngf * 8.
  innermost = 'model.model.1' + '.model.3' * 3
  assert f'{innermost}.model.1.weight' in keys and f'{innermost}.model.3.model.1.weight' not in keys
  flat = traverse_util.flatten_dict(variables['params'])
  assert flat[(*innermost.split('.'), 'model', '1', 'kernel')].shape == (4, 4, 32, 32)
  level3 = innermost.rpartition('.model.3')[0]
  assert flat[(*level3.split('.'), 'model', '1', 'kernel')].shape == (4, 4, 16, 32)
  # unet_8: three levels, channels ngf, 2 ngf, 4 ngf.
  _, variables = _shapes(nets.define_G(_config(netG='unet_8'), 3, 3), (1, 8, 8, 3))
  flat = traverse_util.flatten_dict(variables['params'])
  assert flat[('model', 'model', '1', 'model', '3', 'model', '1', 'kernel')].shape == (4, 4, 8, 16)


@pytest.mark.parametrize('netG', ['unet_48', 'unet_4', 'resnet_8blocks', 'unet'])
def test_unknown_generator_lists_known_names(netG):
  with pytest.raises(ConfigError, match=r'known: resnet_6blocks, .*unet_256, unet_<N>'):
    nets.define_G(_config(netG=netG), 3, 3)


def test_unknown_discriminator_and_norm_raise_config_error():
  with pytest.raises(ConfigError, match='known: basic, n_layers, pixel'):
    nets.define_D(_config(netD='multiscale'), 3)
  with pytest.raises(ConfigError, match='unknown norm'):
    nets.define_G(_config(norm='layer'), 3, 3)


def test_unet_rejects_sizes_it_cannot_halve_down_to_1x1():
  with pytest.raises(ConfigError, match='unet_256 needs image sides that are multiples of 256'):
    _shapes(nets.define_G(_config(netG='unet_256'), 3, 3), (1, 64, 64, 3))


def test_resnet_official_keys_and_bias_rule_per_norm():
  keys = {}
  for norm in ('batch', 'instance', 'none'):
    module = nets.define_G(_config(netG='resnet_6blocks', norm=norm, no_dropout=True), 3, 3)
    keys[norm] = _official_keys(_shapes(module, (1, 32, 32, 3))[1])
  # Conv biases only with instance norm ('none' has none either: the official quirk).
  assert 'model.1.bias' in keys['instance']
  assert 'model.1.bias' not in keys['batch'] | keys['none']
  assert 'model.10.conv_block.5.bias' in keys['instance']
  assert 'model.19.bias' in keys['instance'] and 'model.19.bias' not in keys['batch']
  # The last conv is biased whatever the norm; norm 'none' keeps the indices of 'batch'.
  assert {'model.23.weight', 'model.23.bias'} <= keys['none'] & keys['batch']
  assert {'model.2.weight', 'model.2.running_var', 'model.2.num_batches_tracked'} <= keys['batch']
  # 'none' is 'batch' without its batch norms, at the same indices.
  bn_layers = {k.rpartition('.')[0] for k in keys['batch'] if k.endswith('.running_mean')}
  assert len(bn_layers) == 2 * 6 + 5
  assert keys['none'] == {k for k in keys['batch'] if k.rpartition('.')[0] not in bn_layers}


def test_resnet_dropout_shifts_block_indices():
  module = nets.define_G(_config(netG='resnet_6blocks', norm='instance'), 3, 3)
  keys = _official_keys(_shapes(module, (1, 16, 16, 3))[1])
  # [pad, conv, norm, relu, dropout, pad, conv, norm]: the second conv is index 6.
  assert 'model.10.conv_block.6.weight' in keys and 'model.10.conv_block.5.weight' not in keys


def test_resnet_block_dropout_is_random_in_train_mode_only():
  block = functools.partial(
    generators.ResnetBlock, 4, 'reflect', layers.identity, use_dropout=True, use_bias=True
  )
  x = np.random.default_rng(1).uniform(-1, 1, (1, 6, 6, 4)).astype(np.float32)
  variables = _random_variables(block(train=True), x.shape)
  rngs = [{'dropout': jax.random.key(i)} for i in range(2)]
  y0, y1 = (block(train=True).apply(variables, x, rngs=r) for r in rngs)
  assert float(jnp.abs(y0 - y1).max()) > 1e-3
  np.testing.assert_array_equal(block().apply(variables, x), block().apply(variables, x))


def test_unet_dropout_only_on_inner_ngf8_levels():
  module = nets.define_G(_config(netG='unet_128'), 3, 3)
  keys = _official_keys(_shapes(module, (1, 128, 128, 3))[1])
  module = nets.define_G(_config(netG='unet_128', no_dropout=True), 3, 3)
  assert keys == _official_keys(_shapes(module, (1, 128, 128, 3))[1])  # Dropout is last.


def test_batch_norm_generator_updates_batch_stats_in_train_mode():
  module = nets.define_G(_config(netG='unet_8', no_dropout=True), 3, 3)
  x = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
  variables = _init(module, x)  # The one generator init of this file.
  flat = traverse_util.flatten_dict(variables['params'])
  kernels = [np.ravel(v) for k, v in flat.items() if k[-1] == 'kernel']
  assert abs(np.concatenate(kernels).std() - 0.02) < 0.002  # init_type 'normal', gain 0.02
  y, updates = _apply(module, variables, x, train=True)
  assert y.dtype == jnp.float32 and float(jnp.abs(y).max()) <= 1  # tanh
  before = variables['batch_stats']['model']['model']['1']['model']['2']['mean']
  after = updates['batch_stats']['model']['model']['1']['model']['2']['mean']
  assert float(jnp.abs(after - before).max()) > 0


def test_init_statistics_follow_init_type_and_gain():
  config = _config(netD='basic', ndf=16, norm='batch', init_type='kaiming', init_gain=0.05)
  flat = traverse_util.flatten_dict(
    _init(nets.define_D(config, 6), jnp.zeros((2, 32, 32, 6)))['params']
  )
  # kaiming: std sqrt(2 / fan_in) whatever the gain; the first conv is 4x4 over 6 channels.
  assert abs(np.std(flat[('model', '0', 'kernel')]) - np.sqrt(2 / 96)) < 0.01
  # Batch norm scales are N(1, init_gain) whatever the init_type, biases 0.
  scales = np.concatenate([np.ravel(v) for k, v in flat.items() if k[-1] == 'scale'])
  assert abs(scales.mean() - 1) < 0.01 and abs(scales.std() - 0.05) < 0.01
  biases = [v for k, v in flat.items() if k[-1] == 'bias']
  assert len(biases) == 5 and all(np.all(b == 0) for b in biases)


def test_bfloat16_compute_runs_with_float32_params():
  netG = 'unet_8'
  x = np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
  f32 = nets.define_G(_config(netG=netG, no_dropout=True), 3, 3)
  bf16 = nets.define_G(_config(netG=netG, no_dropout=True, compute_dtype='bfloat16'), 3, 3)
  variables = _random_variables(f32, x.shape)
  (y32, _), (y16, _) = _apply(f32, variables, x, True), _apply(bf16, variables, x, True)
  assert y16.dtype == jnp.float32
  assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(_shapes(bf16, x.shape)[1]))
  assert bool(jnp.all(jnp.isfinite(y16)))
  assert 0 < float(jnp.abs(y16 - y32).max()) < 0.1


def test_discriminator_official_keys():
  module = nets.define_D(_config(netD='basic', norm='batch'), 6)
  keys = _official_keys(_shapes(module, (1, 64, 64, 6))[1])
  stats = {'weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'}
  want = {'model.0.weight', 'model.0.bias', 'model.2.weight', 'model.5.weight'}
  want |= {'model.8.weight', 'model.11.weight', 'model.11.bias'}
  want |= {f'model.{i}.{s}' for i in (3, 6, 9) for s in stats}
  assert keys == want
  module = nets.define_D(_config(netD='pixel', norm='batch'), 6)
  keys = _official_keys(_shapes(module, (1, 8, 8, 6))[1])
  assert {'net.0.bias', 'net.5.weight'} <= keys and 'net.5.bias' not in keys


def _remat_pair(name):
  """(module without remat, module with remat, input) of one generator family, tiny."""
  if name == 'munit':
    from configs import munit_shapes  # noqa: PLC0415
    from jaxgan.nets import munit  # noqa: PLC0415

    config = munit_shapes.get_config('tiny')
    build = lambda: munit.define_gen(config, 3)  # noqa: E731
    shape = (2, 16, 16, 3)
  elif name == 'bicycle':
    from configs import bicyclegan_shapes  # noqa: PLC0415
    from jaxgan.nets import bicycle  # noqa: PLC0415

    config = bicyclegan_shapes.get_config('tiny')
    build = lambda: bicycle.define_G(config, 3)  # noqa: E731
    shape = (2, 32, 32, config.data.input_nc)
  else:
    config = _config(netG=name, norm='instance')
    build = lambda: generators.define_G(config, 3, 3)  # noqa: E731
    shape = (2, 32, 32, 3)
  plain = build()
  config.remat = True
  return plain, build(), jnp.asarray(np.random.default_rng(0).uniform(-1, 1, shape), jnp.float32)


@pytest.mark.parametrize('name', ['resnet_6blocks', 'unet_32', 'bicycle', 'munit'])
def test_remat_keeps_parameters_outputs_and_gradients(name):
  plain, remat, x = _remat_pair(name)
  variables = jax.jit(plain.init)(jax.random.key(0), x)
  shapes = jax.eval_shape(remat.init, jax.random.key(0), x)
  assert jax.tree.structure(shapes) == jax.tree.structure(variables)

  def loss(module):
    return lambda p: jnp.sum(jnp.sin(module.apply({**variables, 'params': p}, x)))

  want = jax.jit(jax.value_and_grad(loss(plain)))(variables['params'])
  got = jax.jit(jax.value_and_grad(loss(remat)))(variables['params'])
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)  # recomputed: sums reordered
  # The recomputation is there: the backward pass holds a checkpointed call.
  jaxpr = jax.make_jaxpr(jax.grad(loss(remat)))(variables['params'])
  assert 'checkpoint' in str(jaxpr) or 'remat' in str(jaxpr)
