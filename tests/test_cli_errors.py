"""Bad input to train.py / eval.py: exit status 2 and exactly one stderr line 'error: ...'."""

import pathlib
import sys

import numpy as np
import pytest
import scripts
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import pix2pix_shapes  # noqa: E402
from jaxgan import checkpoint, port  # noqa: E402


def _run(script, *args, timeout=300):
  result = scripts.run(script, *args, timeout=timeout)
  lines = result.stderr.splitlines()
  assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
  assert len(lines) == 1 and lines[0].startswith('error: '), result.stderr[-3000:]
  return lines[0]


def test_unknown_model(tmp_path):
  line = _run('train.py', '--model=pix2pixhd', f'--workdir={tmp_path}')
  assert 'pix2pixhd' in line and 'pix2pix' in line and 'cyclegan' in line


def test_unknown_config_key(tmp_path):
  line = _run('train.py', '--model=pix2pix', '--config.lambda_L2=1', f'--workdir={tmp_path}')
  assert line == 'error: unknown config key --config.lambda_L2 (did you mean lambda_L1?)'


def test_unknown_nested_config_key(tmp_path):
  line = _run(
    'train.py',
    '--config=configs/pix2pix_shapes.py',
    '--config.data.size=3',
    f'--workdir={tmp_path}',
  )
  assert line == 'error: unknown config key --config.data.size (did you mean data.load_size?)'


def test_a_mistyped_key_gets_the_key_it_meant(tmp_path):
  line = _run('train.py', '--model=cyclegan', '--config.data.root=x', f'--workdir={tmp_path}')
  assert line == 'error: unknown config key --config.data.root (did you mean data.dataroot?)'


def test_bad_option_value_type(tmp_path):
  line = _run('train.py', '--model=cyclegan', '--config.lr=fast', f'--workdir={tmp_path}')
  assert '--config.lr=fast' in line


def test_bad_option_value(tmp_path):
  line = _run(
    'train.py',
    '--config=configs/pix2pix_shapes.py:tiny',
    '--config.netG=unet_99x',
    f'--workdir={tmp_path}',
  )
  assert 'unet_99x' in line


def test_model_disagrees_with_config(tmp_path):
  line = _run(
    'train.py', '--model=cyclegan', '--config=configs/pix2pix_shapes.py', f'--workdir={tmp_path}'
  )
  assert 'cyclegan' in line and 'pix2pix' in line


def test_missing_dataset_folder_says_how_to_get_it(tmp_path):
  line = _run('train.py', '--model=pix2pix', f'--workdir={tmp_path / "run"}')
  assert './datasets/facades' in line
  assert 'download_pix2pix_dataset.sh facades' in line
  assert '--config=configs/pix2pix_shapes.py' in line


def test_missing_workdir():
  line = _run('eval.py', '--workdir=/nonexistent/run')
  assert '/nonexistent/run' in line


def test_workdir_without_checkpoint(tmp_path):
  checkpoint.save_config(tmp_path, pix2pix_shapes.get_config('tiny'))
  line = _run('eval.py', f'--workdir={tmp_path}')
  assert 'no checkpoint' in line


def test_weights_that_do_not_fit(tmp_path):
  weights = tmp_path / 'G.npz'
  port.save_npz(weights, {'model.0.weight': np.zeros((3, 3, 4, 4), np.float32)})
  line = _run(
    'eval.py',
    '--config=configs/pix2pix_shapes.py:tiny',
    f'--weights=G={weights}',
    f'--out={tmp_path / "out"}',
  )
  assert 'weights do not fit' in line and 'model.0.weight' in line


def test_missing_weight_file(tmp_path):
  line = _run('eval.py', '--model=pix2pix', '--weights=G=/nonexistent/G.pth', f'--out={tmp_path}')
  assert '/nonexistent/G.pth' in line


@pytest.mark.parametrize('spec', ['G', 'D_C=x.npz'])
def test_bad_weights_spec(tmp_path, spec):
  line = _run('eval.py', '--model=pix2pix', f'--weights={spec}', f'--out={tmp_path}')
  assert '--weights' in line


def test_eval_refuses_a_config_it_would_ignore(tmp_path):
  line = _run('eval.py', f'--workdir={tmp_path}', '--config=configs/pix2pix_shapes.py')
  assert '--config would be ignored with --workdir' in line and '--config.<key>' in line


@pytest.mark.parametrize(
  ('override', 'expected'),
  # One through eval.py; tests/test_config_overrides.py has the others' messages.
  [('--config.data.preproces=none', 'unknown config key --config.data.preproces (did you mean')],
)
def test_eval_workdir_overrides(tmp_path, override, expected):
  checkpoint.save_config(tmp_path, pix2pix_shapes.get_config('tiny'))
  line = _run('eval.py', f'--workdir={tmp_path}', override)
  assert expected in line, line


def test_init_from_names_an_unknown_net(tmp_path):
  line = _run(
    'train.py',
    '--config=configs/pix2pix_shapes.py:tiny',
    '--config.init_from=G_A=x.pth',
    f'--workdir={tmp_path}',
  )
  assert line == "error: config.init_from: unknown net 'G_A'; known: G, D"


def _unaligned_folder(root, test_a):
  """trainA/B and testB of 32 px images; testA holds `test_a` ({name: bytes or array})."""
  rng = np.random.default_rng(0)
  for split in ('trainA', 'trainB', 'testB'):
    (root / split).mkdir(parents=True)
    for i in range(2):
      Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(root / split / f'{i}.png')
  (root / 'testA').mkdir()
  for name, content in test_a.items():
    if isinstance(content, bytes):
      (root / 'testA' / name).write_bytes(content)
    else:
      Image.fromarray(content).save(root / 'testA' / name)


@pytest.mark.parametrize(
  ('test_a', 'preprocess', 'expected'),
  [
    ({'small.png': np.zeros((10, 10, 3), np.uint8)}, 'crop', 'small.png: image is 10x10'),
    ({'bad.png': b'not an image'}, 'crop', 'bad.png'),
  ],
)
def test_a_bad_held_out_image_is_one_line_without_hanging(tmp_path, test_a, preprocess, expected):
  """The held-out sample batch is read from the test split before training: an image there
  that cannot be used ends the run in seconds (it used to hang at exit)."""
  _unaligned_folder(tmp_path / 'data', test_a)
  line = _run(
    'train.py',
    '--config=configs/cyclegan_shapes.py:tiny',
    f'--workdir={tmp_path / "run"}',
    '--config.data.source=folder',
    f'--config.data.dataroot={tmp_path / "data"}',
    '--config.data.dataset_mode=unaligned',
    f'--config.data.preprocess={preprocess}',
    '--config.data.crop_size=32',
    timeout=120,
  )
  assert expected in line, line
