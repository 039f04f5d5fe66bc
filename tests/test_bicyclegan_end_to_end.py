"""BicycleGAN end to end: tiny runs through train.py, eval.py's sampling page.

Its own file so that a pytest-xdist worker takes it while another runs tests/test_bicyclegan.py.
"""

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

import scripts  # noqa: E402


@pytest.mark.slow
# The official model and the encoder-less baseline: eval.py's sampling with and without E. The
# cVAE-GAN and cLR-GAN variants differ only inside the step, which test_bicyclegan.py traces.
@pytest.mark.parametrize(
  'variant', ['bicyclegan', pytest.param('pix2pix_noise', marks=pytest.mark.long)]
)
def test_end_to_end(tmp_path, variant):
  workdir = tmp_path / variant
  config = f'--config=configs/bicyclegan_shapes.py:{variant},tiny'
  args = ['--model=bicyclegan', config, '--config.num_steps=2', f'--workdir={workdir}']
  light = ['--config.ngf=4', '--config.nef=4', '--config.where_add=input', '--config.num_Ds=1']
  train = scripts.run('train.py', *args, *light)
  assert train.returncode == 0, train.stderr[-3000:]
  log = (workdir / 'loss_log.txt').read_text()
  assert 'G_L1' in log and 'z_L1' in log and 'kl' in log
  # LPIPS diversity once (its AlexNet compile is tested in test_eval.py too).
  no_encode = ['--no_encode', '--nolpips'] if variant == 'pix2pix_noise' else []
  out = tmp_path / 'eval'
  ev = scripts.run(
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
