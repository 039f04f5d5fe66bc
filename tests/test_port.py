"""Official state_dicts <-> Flax variables: names, layouts, files and the errors users see."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from configs import common
from jaxgan import nets, port, torch_file
from jaxgan.errors import ConfigError, WeightsError


def _module(netG='resnet_6blocks', ngf=4, norm='batch'):
  config = common.get_config()
  config.update(netG=netG, ngf=ngf, norm=norm, no_dropout=True)
  return nets.define_G(config, 3, 3)


def _template(module, size=16):
  return jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros((1, size, size, 3))))


def _random_variables(template, seed=0):
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda s: rng.standard_normal(s.shape).astype(np.float32), template)


def _state_dict(**kwargs):
  return port.from_flax(_random_variables(_template(_module(**kwargs))))


def test_from_flax_gives_official_names_and_pytorch_layouts():
  variables = _random_variables(_template(_module()))
  sd = port.from_flax(variables)
  params = variables['params']['model']
  assert sd['model.1.weight'].shape == (4, 3, 7, 7)  # conv (out, in, kh, kw)
  np.testing.assert_array_equal(sd['model.1.weight'][2, 1, 5, 6], params['1']['kernel'][5, 6, 1, 2])
  assert sd['model.16.weight'].shape == (16, 8, 3, 3)  # transposed conv (in, out, kh, kw)
  np.testing.assert_array_equal(
    sd['model.16.weight'][9, 3, 0, 2], params['16']['kernel'][0, 2, 3, 9]
  )
  np.testing.assert_array_equal(sd['model.2.weight'], params['2']['scale'])
  np.testing.assert_array_equal(
    sd['model.2.running_var'], variables['batch_stats']['model']['2']['var']
  )
  assert sd['model.2.num_batches_tracked'].dtype == np.int64
  assert 'model.1.bias' not in sd and 'model.23.bias' in sd


@pytest.mark.parametrize('netG,norm', [('resnet_6blocks', 'batch'), ('unet_16', 'instance')])
def test_round_trip_is_exact(netG, norm):
  template = _template(_module(netG, norm=norm))
  variables = _random_variables(template)
  back = port.to_flax(port.from_flax(variables), template)
  assert jax.tree.structure(back) == jax.tree.structure(template)
  for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(variables), strict=True):
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


def test_shape_mismatch_names_key_and_both_shapes():
  sd = _state_dict(ngf=8)
  with pytest.raises(WeightsError) as e:
    port.to_flax(sd, _template(_module(ngf=4)), 'resnet_6blocks')
  msg = str(e.value)
  assert msg.startswith('weights do not fit resnet_6blocks: model.1.weight has shape (8, 3, 7, 7)')
  assert 'expected (4, 3, 7, 7)' in msg and '--config.ngf' in msg and '\n' not in msg


def test_transposed_conv_mismatch_reports_pytorch_layout():
  sd = _state_dict()
  sd['model.16.weight'] = np.zeros((16, 4, 3, 3), np.float32)
  with pytest.raises(
    WeightsError, match=r'model\.16\.weight has shape \(16, 4, 3, 3\), expected \(16, 8, 3, 3\)'
  ):
    port.to_flax(sd, _template(_module()))


def test_missing_and_unexpected_keys_are_named():
  template = _template(_module())
  sd = _state_dict()
  del sd['model.5.running_mean']
  with pytest.raises(WeightsError, match=r'model\.5\.running_mean \(8,\) is missing'):
    port.to_flax(sd, template)
  # Instance-norm weights into a batch-norm net: conv biases it does not have.
  with pytest.raises(WeightsError, match=r'unexpected key model\.1\.bias \(4,\).*--config\.norm'):
    port.to_flax(_state_dict(norm='instance'), template)


def test_clean_state_dict_drops_what_the_official_loader_ignores():
  sd = {
    'module.model.1.weight': np.ones((2, 3, 1, 1), np.float16),
    'module.model.2.weight': np.ones(2),
    'module.model.2.running_mean': np.zeros(2),
    'module.model.2.num_batches_tracked': np.array(5),
    # InstanceNorm statistics of old checkpoints: running stats with no weight beside them.
    'module.model.4.running_mean': np.zeros(2),
    'module.model.4.running_var': np.ones(2),
  }
  clean = port.clean_state_dict(sd)
  assert set(clean) == {'model.1.weight', 'model.2.weight', 'model.2.running_mean'}
  assert clean['model.1.weight'].dtype == np.float32


@pytest.mark.parametrize('prefix', ['', 'sd/'])
def test_load_npz_with_and_without_sd_prefix(tmp_path, prefix):
  sd = _state_dict()
  arrays = {prefix + k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in sd.items()}
  if prefix:
    arrays['meta'] = np.array(json.dumps({'family': 'pix2pix_cyclegan'}))
    arrays['in/x'] = np.zeros((1, 3, 4, 4), np.float32)
  np.savez(tmp_path / 'w.npz', **arrays)
  loaded = port.load_state_dict(tmp_path / 'w.npz')
  assert set(loaded) == {k for k in sd if not k.endswith('num_batches_tracked')}
  assert loaded['model.1.weight'].dtype == np.float32
  np.testing.assert_array_equal(loaded['model.1.weight'], sd['model.1.weight'].astype(np.float16))


def test_save_npz_then_load_round_trips(tmp_path):
  sd = _state_dict()
  port.save_npz(tmp_path / 'w.npz', sd)
  loaded = port.load_state_dict(tmp_path / 'w.npz')
  np.testing.assert_array_equal(
    loaded['model.10.conv_block.1.weight'], sd['model.10.conv_block.1.weight']
  )


def test_load_errors(tmp_path):
  with pytest.raises(WeightsError, match='no weight file'):
    port.load_state_dict(tmp_path / 'missing.pth')
  (tmp_path / 'w.pth').write_bytes(b'not a pickle')
  with pytest.raises(WeightsError, match=r'cannot read .*w\.pth'):
    port.load_state_dict(tmp_path / 'w.pth')
  (tmp_path / 'w.ckpt').write_bytes(b'')
  with pytest.raises(WeightsError, match='expected one of .npz, .pt, .pth'):
    port.load_state_dict(tmp_path / 'w.ckpt')
  (tmp_path / 'bad.npz').write_bytes(b'garbage')
  with pytest.raises(WeightsError, match='cannot read'):
    port.load_state_dict(tmp_path / 'bad.npz')


def test_build_from_meta():
  meta = {'family': 'pix2pix_cyclegan', 'kind': 'discriminator', 'net': 'n_layers'}
  meta.update(n_layers=2, ndf=4, norm='instance', input_nc=6)
  module = port.build_from_meta(json.dumps(meta))
  assert (module.n_layers, module.ndf, module.norm) == (2, 4, 'instance')
  meta = {'family': 'pix2pix_cyclegan', 'kind': 'generator', 'net': 'unet_128', 'ngf': 4}
  module = port.build_from_meta({**meta, 'output_nc': 1, 'use_dropout': True})
  assert (module.num_downs, module.output_nc, module.use_dropout) == (7, 1, True)
  with pytest.raises(WeightsError, match="no jaxgan networks for family 'stargan' yet"):
    port.build_from_meta({'family': 'stargan'})
  with pytest.raises(ConfigError, match='unknown netG'):
    port.build_from_meta({**meta, 'net': 'unet_100'})


def test_fixture_weights_load_into_the_network_its_meta_describes(parity_dir):
  path = parity_dir / 'G_resnet_9blocks_instance.npz'
  if not path.exists():
    pytest.skip(f'no {path.name}')
  with np.load(path) as data:
    meta = json.loads(str(data['meta']))
  module = port.build_from_meta(meta)
  template = jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3))))
  variables = port.to_flax(port.load_state_dict(path), template, meta['net'])
  flat = traverse_util.flatten_dict(variables['params'])
  assert flat[('model', '19', 'kernel')].shape == (3, 3, 16, 32)  # (kh, kw, out, in)
  assert 'batch_stats' not in variables


def test_load_pth_from_data_parallel(tmp_path):
  """A .pth of a DataParallel net (keys 'module.*', float16) reads without PyTorch."""
  sd = _state_dict()
  torch_file.write(
    tmp_path / 'latest_net_G.pth', {f'module.{k}': v.astype(np.float16) for k, v in sd.items()}
  )
  got = port.load_state_dict(tmp_path / 'latest_net_G.pth')
  variables = port.to_flax(got, _template(_module()))
  kernel = variables['params']['model']['1']['kernel']
  assert kernel.dtype == np.float32 and kernel.shape == (7, 7, 3, 4)
  np.testing.assert_allclose(
    kernel, port.to_flax(sd, _template(_module()))['params']['model']['1']['kernel'], atol=1e-2
  )


def test_real_pth_written_by_torch_loads_like_its_npz(tmp_path, parity_dir):
  """An official-style .pth (torch.save of the state_dict, as the official save_networks does,
  with num_batches_tracked) gives the parity outputs. Needs the optional 'torch' extra."""
  torch = pytest.importorskip('torch', reason="PyTorch is the optional extra 'jaxgan[torch]'")
  from parity_utils import load_fixture, nchw_to_nhwc, nhwc_to_nchw

  path = parity_dir / 'G_resnet_6blocks_batch.npz'
  fixture = load_fixture(path)
  state_dict = port.load_state_dict(path)
  tensors = {k: torch.from_numpy(np.array(v)) for k, v in state_dict.items()}
  for key in [k for k in tensors if k.endswith('running_mean')]:
    tensors[key.replace('running_mean', 'num_batches_tracked')] = torch.tensor(7)
  torch.save(tensors, tmp_path / 'latest_net_G.pth')
  module = port.build_from_meta(fixture.meta)
  x = nchw_to_nhwc(fixture.inputs['x'])
  template = jax.eval_shape(lambda: module.init(jax.random.key(0), x))
  variables = port.to_flax(port.load_state_dict(tmp_path / 'latest_net_G.pth'), template)
  y, _ = jax.jit(lambda v, x: module.apply(v, x, train=True, mutable=['batch_stats']))(variables, x)
  np.testing.assert_allclose(nhwc_to_nchw(np.asarray(y)), fixture.outputs['y'], atol=1e-4)
