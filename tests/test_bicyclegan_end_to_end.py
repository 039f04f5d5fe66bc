"""BicycleGAN end to end: one tiny run per variant (train.py or its loop), eval.py's sampling page.

Its own file so that a pytest-xdist worker takes it while another runs tests/test_bicyclegan.py.
"""

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from test_bicyclegan import _run  # noqa: E402

from configs import bicyclegan_shapes  # noqa: E402

LIGHT = dict(ngf=4, nef=4, where_add='input', num_Ds=1)  # fewer ops to compile


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['bicyclegan', 'pix2pix_noise'])
def test_end_to_end(tmp_path, variant):
  """train.py, then eval.py's sampling page: with E and without (pix2pix+noise has none)."""
  workdir = tmp_path / variant
  config = f'--config=configs/bicyclegan_shapes.py:{variant},tiny'
  args = ['--model=bicyclegan', config, '--config.num_steps=2', f'--workdir={workdir}']
  train = _run('train.py', *args, *(f'--config.{k}={v}' for k, v in LIGHT.items()))
  assert train.returncode == 0, train.stderr[-3000:]
  log = (workdir / 'loss_log.txt').read_text()
  assert 'G_L1' in log and 'z_L1' in log and 'kl' in log
  # LPIPS diversity once (its AlexNet compile is tested in test_eval.py too).
  no_encode = ['--no_encode', '--nolpips'] if variant == 'pix2pix_noise' else []
  out = tmp_path / 'eval'
  ev = _run(
    'eval.py', f'--workdir={workdir}', f'--out={out}', '--n_samples=3', '--sync', *no_encode
  )
  assert ev.returncode == 0, ev.stderr[-3000:]
  assert 'coverage' in ev.stdout
  scores = json.loads((out / 'metrics.json').read_text())['AtoB']
  assert scores['n_samples'] == 3 and 0 <= scores['modes']['coverage'] <= 1
  if not no_encode:
    assert 'LPIPS diversity' in ev.stdout and scores['diversity']
  page = (out / 'index.html').read_text()
  assert 'random_sample03' in page and ('encoded' in page) != bool(no_encode)


@pytest.mark.slow
@pytest.mark.parametrize('variant', ['cvae_gan', 'clr_gan'])
def test_baseline_trains(tmp_path, variant):
  """train.py's loop in this process (8 fake devices), saving the import of a subprocess."""
  from jaxgan import checkpoint, train_lib  # noqa: PLC0415

  config = bicyclegan_shapes.get_config(f'{variant},tiny')
  config.update(LIGHT, num_steps=2, batch_size=16)  # halves of one image per device
  outcome = train_lib.train(config, tmp_path / 'run')
  assert outcome.step == 2
  log = (tmp_path / 'run' / 'loss_log.txt').read_text()
  assert 'G_L1' in log and 'z_L1' in log and 'kl' in log
  assert (tmp_path / 'run' / 'web' / 'index.html').is_file()
  with checkpoint.Checkpointer(tmp_path / 'run') as ckpt:
    assert ckpt.latest_step() == 2
