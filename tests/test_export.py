"""export.py / export_lib: every format round-trips; programs equal the live generator within
numerics.NETWORK (outputs in [-1, 1]: two float32 evaluations of one network) on two image
sizes; bad input is one line."""

import pathlib
import sys

import jax
import numerics
import numpy as np
import pytest
import scripts
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from test_eval import _state  # noqa: E402

import jaxgan.eval as eval_lib  # noqa: E402
from configs import bicyclegan_shapes, cyclegan_shapes, munit_shapes, pix2pix_shapes  # noqa: E402
from jaxgan import checkpoint, export_lib, models, port, torch_file  # noqa: E402
from jaxgan.data import pixels  # noqa: E402
from jaxgan.errors import ConfigError  # noqa: E402
from jaxgan.models import munit  # noqa: E402

SIZES = ((37, 53), (32, 32))  # one the nets cannot take as it is, one they can


def _images(size, channels=3, n=2, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (n, *size, channels)).astype(np.float32)


@pytest.fixture(scope='module')
def cyclegan():
  config = cyclegan_shapes.get_config('tiny')
  return config, _state(config)


@pytest.mark.parametrize('fmt', ['npz', 'pth'])
@pytest.mark.parametrize('net', ['G_A', 'D_B'])
def test_weights_round_trip(tmp_path, cyclegan, fmt, net):
  config, state = cyclegan
  path = export_lib.export(config, state, net, fmt, tmp_path / f'{net}.{fmt}')
  template = {'params': state.params[net], 'batch_stats': state.batch_stats[net]}
  loaded = port.to_flax(port.load_state_dict(path), template)
  for got, want in zip(jax.tree.leaves(loaded), jax.tree.leaves(template), strict=True):
    np.testing.assert_array_equal(got, want)


def test_munit_exports_the_official_gen_pair(tmp_path):
  config = munit_shapes.get_config('tiny')
  state = _state(config)
  path = export_lib.export(config, state, 'gen', 'pth', tmp_path / 'gen_00000004.pt')
  loaded = eval_lib.load_weights(config, {'gen': path})
  for net in ('gen_a', 'gen_b'):
    for got, want in zip(
      jax.tree.leaves(loaded.params[net]), jax.tree.leaves(state.params[net]), strict=True
    ):
      np.testing.assert_array_equal(got, want)
  # The official AdaIN layers' buffers are in the file (the official strict load needs them):
  # 2 ResBlocks x 2 AdaIN layers x (running_mean, running_var) per generator.
  raw = torch_file.read(path)
  for side in 'ab':
    buffers = [k for k in raw if k.startswith(f'{side}.dec.model.0.') and '.norm.running_' in k]
    assert len(buffers) == 2 * 2 * config.gen.n_res, buffers
    content_dim = config.gen.dim * 2**config.gen.n_downsample
    assert all(raw[k].shape == (content_dim,) for k in buffers)


def test_weights_without_an_official_class_are_named():
  config = bicyclegan_shapes.get_config()  # unet_32, where_add 'all': 5 levels
  assert 'no official class' in export_lib.official_note(config, 'G')
  assert export_lib.official_note(config, 'E') is None
  config.netG = 'unet_64'
  assert export_lib.official_note(config, 'G') is None
  config.netG, config.where_add = 'unet_32', 'input'
  assert export_lib.official_note(config, 'G') is None
  assert export_lib.official_note(pix2pix_shapes.get_config(), 'G') is None


def _load(fmt, path):
  """The exported program as a numpy function, loaded as a user would."""
  if fmt == 'jax':
    exported = jax.export.deserialize(bytearray(pathlib.Path(path).read_bytes()))
    return lambda *args: np.asarray(exported.call(*args))
  import tensorflow as tf  # noqa: PLC0415

  serve = tf.saved_model.load(str(path)).signatures['serving_default']

  def run(*args):
    inputs = dict(zip(('images', 'codes'), map(tf.constant, args), strict=False))
    return serve(**inputs)['output_0'].numpy()

  return run


@pytest.mark.parametrize('fmt', ['jax', 'savedmodel'])
def test_cyclegan_program_equals_the_live_generator_and_eval(tmp_path, cyclegan, fmt):
  config, state = cyclegan
  path = export_lib.export(config, state, 'G_B', fmt, tmp_path / f'G_B.{fmt}')
  program = _load(fmt, path)
  live, channels, code_size = export_lib.function(config, state, 'BtoA')
  assert (channels, code_size) == (3, 0)
  multiple = eval_lib.size_multiple(state, 'G_B')
  bucket = config.eval.size_bucket  # eval.py's default: pad only what the net needs, as here
  assert bucket == 0
  translate = eval_lib.sized(eval_lib.translator(models.get('cyclegan'), 'BtoA'), multiple, bucket)
  for size in SIZES:
    images = _images(size)
    got = program(images)
    assert got.shape == images.shape
    np.testing.assert_allclose(got, jax.jit(live)(images), atol=numerics.NETWORK)
    # What eval.py computes for these images (G_B: instance norm, no dropout).
    keys = jax.random.split(jax.random.key(0), 2)
    np.testing.assert_allclose(got, translate(state, images, keys), atol=numerics.NETWORK)


@pytest.mark.parametrize(
  ('module', 'net', 'direction'),
  [(munit_shapes, 'gen_b', 'BtoA'), (bicyclegan_shapes, 'G', 'AtoB')],
)
def test_multimodal_programs_take_the_code(tmp_path, module, net, direction):
  config = module.get_config('tiny')
  state = _state(config)
  path = export_lib.export(config, state, net, 'jax', tmp_path / 'g.jax')
  program = _load('jax', path)
  live, channels, code_size = export_lib.function(config, state, direction)
  assert code_size == (config.gen.style_dim if config.model == 'munit' else config.nz)
  for size in SIZES:
    images = _images(size, channels)
    codes = np.random.default_rng(1).normal(size=(2, code_size)).astype(np.float32)
    got = program(images, codes)
    assert got.shape[:3] == images.shape[:3]
    np.testing.assert_allclose(got, jax.jit(live)(images, codes), atol=numerics.NETWORK)
    assert not np.allclose(got, program(images, codes[::-1]), atol=1e-3)  # the code matters
  if config.model == 'munit':  # the content of gen_b decoded by gen_a with the given style
    images = _images((32, 32), channels)
    want = munit.translate(state, images, 'BtoA', style=codes[:, None, None, :])
    np.testing.assert_allclose(program(images, codes), want, atol=numerics.NETWORK)


def test_pix2pix_program_returns_what_eval_writes(tmp_path):
  """Train-mode batch norm and dropout as eval.py applies them: the same PNGs."""
  config = pix2pix_shapes.get_config('tiny')
  state = _state(config)
  folder = tmp_path / 'in'
  folder.mkdir()
  images = _images((32, 32), n=3)
  for i, image in enumerate(images):
    Image.fromarray(np.round((image + 1) * 127.5).astype(np.uint8)).save(folder / f'{i}.png')
  eval_lib.evaluate(config, state, tmp_path / 'eval', folder=str(folder), output_only=True)
  program = _load('jax', export_lib.export(config, state, 'G', 'jax', tmp_path / 'G.jax'))
  read = np.stack([np.asarray(Image.open(folder / f'{i}.png')) for i in range(3)])
  got = program(pixels.normalize(read))
  for i in range(3):
    want = np.asarray(Image.open(tmp_path / 'eval' / f'{i}.png')).astype(int)
    png = np.round((np.clip(got[i], -1, 1) + 1) * 127.5).astype(int)
    assert np.abs(png - want).max() <= 1


def test_bad_nets_and_formats_name_what_is_known(cyclegan):
  config, state = cyclegan
  with pytest.raises(ConfigError, match=r"--net='G' cannot be exported as jax .* known: AtoB"):
    export_lib.export(config, state, 'G', 'jax', '/nonexistent/x')
  with pytest.raises(ConfigError, match=r"--net='AtoB' cannot be exported as pth"):
    export_lib.export(config, state, 'AtoB', 'pth', '/nonexistent/x')
  with pytest.raises(ConfigError, match="unknown --format='onnx'; known: npz, pth, jax"):
    export_lib.export(config, state, 'G_A', 'onnx', '/nonexistent/x')


@pytest.mark.slow
def test_export_py_end_to_end(tmp_path, cyclegan):
  config, state = cyclegan
  checkpoint.save_config(tmp_path, config)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(2, state)
  out = tmp_path / 'latest_net_G_A.pth'
  result = scripts.run(
    'export.py', f'--workdir={tmp_path}', '--net=G_A', '--format=pth', f'--out={out}', '--step=2'
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'as pth: {out}' in result.stdout
  got, want = port.load_state_dict(out), export_lib.state_dict(config, state, 'G_A')
  assert set(got) == {k for k in want if not k.endswith('num_batches_tracked')}
  for key, value in got.items():
    np.testing.assert_array_equal(value, want[key])
  for args, message in (
    (['--net=G_A', '--format=onnx', f'--out={out}'], "unknown --format='onnx'"),
    (['--net=G_C', '--format=jax', f'--out={out}'], "--net='G_C' cannot be exported"),
    (['--net=G_A', '--format=jax', f'--out={out}', '--step=3'], '--step=3: no checkpoint'),
  ):
    result = scripts.run('export.py', f'--workdir={tmp_path}', *args)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
