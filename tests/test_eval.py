"""Evaluation: PNGs, the page and the metrics; per-image semantics; eval.py with a workdir,
official weights and a folder."""

import json
import pathlib
import sys

import jax
import numpy as np
import pytest
import scripts
from PIL import Image

import jaxgan.eval as eval_lib
from jaxgan import checkpoint, errors, models, port

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import cyclegan_shapes, pix2pix_shapes  # noqa: E402


def _state(config):
  """A state with random weights, without compiling the nets' init (slow on loaded CPUs)."""
  model = models.get(config.model)
  abstract = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(config.seed), 1))
  rng = np.random.default_rng(0)

  def fill(x):
    if not np.issubdtype(x.dtype, np.floating):
      return np.zeros(x.shape, x.dtype)
    return rng.normal(0.0, 0.2, x.shape).astype(x.dtype)

  state = jax.tree.map(fill, abstract)
  stats = jax.tree.map(lambda x: np.ones(x.shape, x.dtype), abstract.batch_stats)  # var > 0
  return state.replace(batch_stats=stats)


@pytest.fixture(scope='module')
def pix2pix():
  config = pix2pix_shapes.get_config('tiny')
  return config, _state(config)


def test_pix2pix_pngs_page_and_metrics(tmp_path, pix2pix):
  config, state = pix2pix
  results = eval_lib.evaluate(config, state, tmp_path)
  n = config.data.synthetic_test
  names = [f'{i:05d}' for i in range(n)]
  page = (tmp_path / 'index.html').read_text()
  for name in names:
    for visual in ('real_A', 'fake_B', 'real_B'):
      png = tmp_path / 'images' / 'AtoB' / f'{name}_{visual}.png'
      assert np.asarray(Image.open(png)).shape == (32, 32, 3)
      assert f'images/AtoB/{name}_{visual}.png' in page
  assert 'real_A (input)' in page and 'fake_B (output)' in page and 'real_B (target)' in page
  scores = json.loads((tmp_path / 'metrics.json').read_text())
  assert scores == json.loads(json.dumps(results))
  assert set(scores) == {'AtoB'} and scores['AtoB']['num_images'] == n
  for predictor in ('model', 'identity', 'mean_image'):
    assert 0 <= scores['AtoB'][predictor]['mae'] <= 2 and scores['AtoB'][predictor]['psnr'] > 0
  # The saved target is the true one, and the model's score is measured against it.
  fake = np.stack([np.asarray(Image.open(tmp_path / f'images/AtoB/{m}_fake_B.png')) for m in names])
  real = np.stack([np.asarray(Image.open(tmp_path / f'images/AtoB/{m}_real_B.png')) for m in names])
  mae = np.abs(fake / 127.5 - real / 127.5).mean()
  assert mae == pytest.approx(scores['AtoB']['model']['mae'], abs=0.01)


def test_results_do_not_depend_on_the_batch_size(tmp_path, pix2pix):
  config, state = pix2pix
  outputs = []
  for batch_size in (1, 4):
    config = config.copy_and_resolve_references()
    config.eval.batch_size = batch_size
    out = tmp_path / str(batch_size)
    eval_lib.evaluate(config, state, out, num_test=3)
    assert len(list((out / 'images' / 'AtoB').glob('*_fake_B.png'))) == 3
    outputs.append([np.asarray(Image.open(p)) for p in sorted(out.glob('images/AtoB/*.png'))])
  for a, b in zip(*outputs, strict=True):
    np.testing.assert_array_equal(a, b)


def test_cyclegan_both_directions(tmp_path):
  config = cyclegan_shapes.get_config('tiny')
  config.data.synthetic = 'shapes_recolour'  # the demo's task, with its colour accuracy
  results = eval_lib.evaluate(config, _state(config), tmp_path)
  assert set(results) == {'AtoB', 'BtoA'}
  for scores in results.values():
    assert 0 <= scores['colour_accuracy'] <= 1
  page = (tmp_path / 'index.html').read_text()
  assert 'A -&gt; B (G_A)' in page and 'B -&gt; A (G_B)' in page
  assert (tmp_path / 'images' / 'BtoA' / '00000_fake_A.png').is_file()
  assert 'real_B (input)' in page and 'real_A (target)' in page
  assert 'colour' in eval_lib.format_table(config, results)


@pytest.mark.slow
def test_eval_py_on_a_workdir(tmp_path, pix2pix):
  config, state = pix2pix
  checkpoint.save_config(tmp_path, config)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(4, state)
  out = tmp_path / 'eval' / 'test_4'
  out.mkdir(parents=True)
  earlier = {'AtoB': {'num_real': 4, 'num_fake': 4, 'fid': 12.5}}  # kept by --nofid
  (out / 'metrics.json').write_text(json.dumps({'fid_kid': earlier}))
  result = scripts.run('eval.py', f'--workdir={tmp_path}', '--num_test=2', '--nofid')
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads((out / 'metrics.json').read_text())['fid_kid'] == earlier
  assert f'results: {out}/index.html, {out}/metrics.json' in result.stdout
  assert 'mean_image' in result.stdout and 'PSNR' in result.stdout
  assert json.loads((out / 'metrics.json').read_text())['AtoB']['num_images'] == 2
  assert len(list((out / 'images' / 'AtoB').glob('*.png'))) == 6


@pytest.mark.slow
def test_eval_py_with_official_weights_and_a_folder(tmp_path, pix2pix):
  config, state = pix2pix
  weights = tmp_path / 'latest_net_G.npz'
  port.save_npz(
    weights, port.from_flax({'params': state.params['G'], 'batch_stats': state.batch_stats['G']})
  )
  folder = tmp_path / 'photos'
  folder.mkdir()
  rng = np.random.default_rng(0)
  for name in ('cat', 'dog'):
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(folder / f'{name}.png')
  result = scripts.run(
    'eval.py',
    '--config=configs/pix2pix_shapes.py:tiny',
    f'--weights=G={weights}',
    f'--folder={folder}',
    f'--out={tmp_path / "out"}',
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert not (tmp_path / 'out' / 'metrics.json').exists()
  # The converted weights translate as the state they came from did (same per-image keys).
  eval_lib.evaluate(config, state, tmp_path / 'direct', folder=str(folder))
  for name in ('cat', 'dog'):
    got, expected = (
      np.asarray(Image.open(tmp_path / out / 'images' / 'AtoB' / f'{name}_fake_B.png'))
      for out in ('out', 'direct')
    )
    assert got.shape == (32, 32, 3)
    np.testing.assert_array_equal(got, expected)


def test_the_given_config_governs_eval_mode(tmp_path, pix2pix):
  config, state = pix2pix
  fakes = {}
  for mode in (False, True):
    config = config.copy_and_resolve_references()
    config.eval.eval_mode = mode
    eval_lib.evaluate(config, state, tmp_path / str(mode), num_test=1)
    fakes[mode] = np.asarray(Image.open(tmp_path / str(mode) / 'images/AtoB/00000_fake_B.png'))
  # Running averages (ones here) and no dropout give another image than batch statistics.
  assert not np.array_equal(fakes[False], fakes[True])


def test_diversity_is_zero_for_one_mode_and_positive_for_several():
  config = pix2pix_shapes.get_config('tiny')
  rng = np.random.default_rng(0)
  distinct = rng.uniform(-1, 1, (2, 3, 32, 32, 3)).astype(np.float32)
  same = np.repeat(distinct[:, :1], 3, axis=1)
  result = eval_lib.diversity(config, distinct)
  if 'skipped' in result:
    pytest.skip(f'LPIPS weights: {result["skipped"]}')
  assert (result['net'], result['version'], result['pairs']) == ('alex', '0.0', 4)
  assert result['lpips_diversity'] > 0.01  # measured 0.047 between noise images
  assert eval_lib.diversity(config, same)['lpips_diversity'] == pytest.approx(0.0, abs=1e-6)
  grey = eval_lib.diversity(config, distinct[..., :1])  # 1 channel: compared as grey RGB
  assert grey['lpips_diversity'] > 0.0


def test_diversity_says_why_it_is_skipped():
  config = pix2pix_shapes.get_config('tiny')
  small = np.zeros((1, 2, 16, 16, 3), np.float32)
  assert 'at least 32 px' in eval_lib.diversity(config, small)['skipped']
  assert 'fewer than 2' in eval_lib.diversity(config, small[:, :1])['skipped']
  config.eval.lpips_diversity = False
  assert 'off' in eval_lib.diversity(config, small)['skipped']


def test_padding_reaches_the_nets_multiple_and_crops_back():
  assert eval_lib.padding((1, 37, 53, 3), 4) == (1, 2, 1, 2)  # 40 x 56
  assert eval_lib.padding((1, 37, 53, 3), 4, bucket=32) == (13, 14, 5, 6)  # 64 x 64
  assert eval_lib.padding((1, 64, 48, 3), 32, bucket=32) == (0, 0, 8, 8)
  assert eval_lib.padding((1, 20, 20, 3), 256, bucket=32) == (118, 118, 118, 118)
  assert eval_lib.padding((2, 32, 64, 1), 32, bucket=32) == (0, 0, 0, 0)
  images = np.random.default_rng(0).normal(size=(2, 5, 7, 3))
  pads = eval_lib.padding(images.shape, 16)
  padded = eval_lib.pad(images, pads)
  assert padded.shape == (2, 16, 16, 3)
  np.testing.assert_array_equal(padded[:, 4, 4:11], padded[:, 6, 4:11])  # reflected, not zeros
  np.testing.assert_array_equal(eval_lib.crop(padded, pads), images)


@pytest.mark.slow
def test_a_folder_of_any_sizes_through_eval_py(tmp_path, pix2pix):
  """--config.data.preprocess=none --output_only on a workdir: each output has its input's exact
  size and name; the U-Net (unet_32) takes them padded; --step picks the checkpoint."""
  config, state = pix2pix
  checkpoint.save_config(tmp_path, config)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(2, state)
    ckpt.save(4, state.replace(params=jax.tree.map(np.zeros_like, state.params)))
  folder = tmp_path / 'frames'
  folder.mkdir()
  rng = np.random.default_rng(0)
  sizes = {'frame_0001': (37, 53), 'frame_0002': (64, 48), 'frame_0003': (32, 32)}
  for name, (h, w) in sizes.items():
    Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(folder / f'{name}.jpg')
  out = tmp_path / 'out'
  result = scripts.run(
    'eval.py',
    f'--workdir={tmp_path}',
    '--step=2',
    f'--folder={folder}',
    '--config.data.preprocess=none',
    '--output_only',
    f'--out={out}',
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert sorted(p.name for p in out.iterdir()) == [f'{n}.png' for n in sorted(sizes)]
  for name, (h, w) in sizes.items():
    assert np.asarray(Image.open(out / f'{name}.png')).shape == (h, w, 3)
  # Step 2's weights (step 4's are zeros, whose outputs are flat grey).
  assert np.asarray(Image.open(out / 'frame_0001.png')).std() > 1
  # The image the net takes as it is gives what evaluate gives without any padding.
  eval_lib.evaluate(config, state, tmp_path / 'direct', folder=str(folder))
  direct = tmp_path / 'direct' / 'images' / 'AtoB' / 'frame_0003_fake_B.png'
  np.testing.assert_array_equal(Image.open(out / 'frame_0003.png'), Image.open(direct))


def test_restore_picks_the_step(tmp_path, pix2pix):
  config, state = pix2pix
  checkpoint.save_config(tmp_path, config)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(2, state)
    ckpt.save(4, state.replace(step=np.int32(4)))
  assert eval_lib.restore(tmp_path)[2] == 4
  _, restored, step = eval_lib.restore(tmp_path, step=2, overrides=[('eval.num_test', '1')])
  assert step == 2 and int(restored.step) == int(state.step)
  with pytest.raises(errors.InputError, match=r'--step=3: no checkpoint .* saved steps: 2, 4'):
    eval_lib.restore(tmp_path, step=3)


def test_munit_translates_a_folder_one_way_with_synchronized_styles(tmp_path):
  from configs import munit_shapes  # noqa: PLC0415

  config = munit_shapes.get_config('tiny')
  config.eval.num_styles = 2
  config.data.preprocess = 'none'
  state = _state(config)
  folder = tmp_path / 'in'
  folder.mkdir()
  image = np.random.default_rng(0).integers(0, 255, (37, 53, 3), np.uint8)
  for name in ('a', 'b'):  # the same image twice: only the styles can tell them apart
    Image.fromarray(image).save(folder / f'{name}.png')
  outputs = {}
  for synchronized in (True, False):
    config.eval.synchronized = synchronized
    out = tmp_path / str(synchronized)
    eval_lib.evaluate(config, state, out, folder=str(folder), direction='BtoA', output_only=True)
    assert sorted(p.name for p in out.iterdir()) == ['a.png', 'a_s1.png', 'b.png', 'b_s1.png']
    outputs[synchronized] = {p.stem: np.asarray(Image.open(p)) for p in out.iterdir()}
    assert outputs[synchronized]['a'].shape == (37, 53, 3)
    assert not np.array_equal(outputs[synchronized]['a'], outputs[synchronized]['a_s1'])
  np.testing.assert_array_equal(outputs[True]['a'], outputs[True]['b'])
  np.testing.assert_array_equal(outputs[True]['a_s1'], outputs[True]['b_s1'])
  assert not np.array_equal(outputs[False]['a'], outputs[False]['b'])
