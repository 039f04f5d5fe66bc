"""MUNIT end to end: train.py on the built-in multimodal task, then eval.py's sampling.

The sharding is tested in tests/test_munit.py; here the scripts run on one device (scripts.py).
"""

import json

import pytest
import scripts


@pytest.mark.long
def test_tiny_end_to_end(tmp_path):
  workdir, out = tmp_path / 'run', tmp_path / 'eval'
  train = scripts.run(
    'train.py', '--model=munit', '--config=configs/munit_shapes.py:tiny', f'--workdir={workdir}'
  )
  assert train.returncode == 0, train.stderr[-3000:]
  assert (workdir / 'web' / 'index.html').is_file()
  log = (workdir / 'loss_log.txt').read_text()
  assert 'gen_recon_x_a' in log and 'lr: 0.0004' in log
  # LPIPS diversity is tested in test_eval.py (its AlexNet compile is long).
  ev = scripts.run(
    'eval.py', f'--workdir={workdir}', f'--out={out}', '--num_test=2', '--num_styles=3', '--nofid',
    '--nolpips',
  )  # fmt: skip
  assert ev.returncode == 0, ev.stderr[-3000:]
  results = json.loads((out / 'metrics.json').read_text())
  assert set(results) >= {'AtoB', 'BtoA'}
  for direction in ('AtoB', 'BtoA'):
    scores = results[direction]
    assert scores['num_images'] == 2 and scores['modes']['num_styles'] == 3
    assert 0 <= scores['modes']['coverage'] <= 1 and 0 <= scores['modes']['content_iou'] <= 1
    assert 0 <= scores['modes']['coverage_interior'] <= 1
  assert 'colour inside the shapes' in ev.stdout
  pngs = sorted(p.name for p in (out / 'images' / 'AtoB').glob('*.png'))
  assert len(pngs) == 2 * (1 + 3 + 1)  # input, 3 styles, target
  assert 'fake_B_s2' in (out / 'index.html').read_text()
