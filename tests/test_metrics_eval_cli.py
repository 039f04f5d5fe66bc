"""eval.py --real/--fake: one-line errors and exit status 2 before any weights are read."""

import os
import subprocess
import sys

from conftest import ROOT


def _eval(*args, tmp_path):
  env = {**os.environ, 'JAXGAN_OFFLINE': '1', 'JAXGAN_CACHE_DIR': str(tmp_path / 'cache')}
  return subprocess.run(
    [sys.executable, str(ROOT / 'eval.py'), *args],
    capture_output=True,
    text=True,
    env=env,
    timeout=300,
  )


def test_folder_comparison_errors_are_one_line(tmp_path):
  (tmp_path / 'fake').mkdir()
  run = _eval(f'--real={tmp_path / "missing"}', f'--fake={tmp_path / "fake"}', tmp_path=tmp_path)
  assert run.returncode == 2
  assert run.stderr.strip().splitlines()[-1] == 'error: fake folder (--fake): no images ' + (
    f'(bmp, jpg, jpeg, pgm, png, ppm, tif, tiff, webp) in {tmp_path / "fake"}'
  )
  run = _eval(f'--real={tmp_path}', tmp_path=tmp_path)
  assert run.returncode == 2
  assert (
    run.stderr.strip() == 'error: --real and --fake go together: the two image folders to compare'
  )
