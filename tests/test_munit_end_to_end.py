"""MUNIT end to end: train.py's loop on the built-in multimodal task, then its evaluation.

Its own file so that a pytest-xdist worker takes it while another runs tests/test_munit.py.
"""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import munit_shapes  # noqa: E402


@pytest.mark.slow
def test_tiny_end_to_end(tmp_path):
  """train.py's loop on the built-in multimodal task, then the MUNIT evaluation."""
  from jaxgan import (
    eval_lib,  # noqa: PLC0415
    train_lib,  # noqa: PLC0415
  )

  config = munit_shapes.get_config('tiny')
  config.batch_size = 8  # one image per fake device
  outcome = train_lib.train(config, tmp_path / 'run')
  assert outcome.step == config.num_steps
  assert (tmp_path / 'run' / 'web' / 'index.html').is_file()
  log = (tmp_path / 'run' / 'loss_log.txt').read_text()
  assert 'gen_recon_x_a' in log and 'lr: 0.0004' in log
  config, state, step = eval_lib.restore(tmp_path / 'run')
  config.eval.num_styles = 3
  config.eval.lpips_diversity = False  # its AlexNet compile is tested in test_eval.py
  results = eval_lib.evaluate(config, state, tmp_path / 'eval', num_test=2)
  assert set(results) == {'AtoB', 'BtoA'}
  for scores in results.values():
    assert scores['num_images'] == 2 and scores['modes']['num_styles'] == 3
    assert 0 <= scores['modes']['coverage'] <= 1 and 0 <= scores['modes']['content_iou'] <= 1
    assert scores['diversity'] == {'skipped': 'eval.lpips_diversity is off'}
  pngs = sorted(p.name for p in (tmp_path / 'eval' / 'images' / 'AtoB').glob('*.png'))
  assert len(pngs) == 2 * (1 + 3 + 1)  # input, 3 styles, target
  assert 'fake_B_s2' in (tmp_path / 'eval' / 'index.html').read_text()
