"""eval.py --real/--fake: one-line errors and exit status 2 before any weights are read."""

import scripts


def _eval(*args, tmp_path):
  env = {'JAXGAN_OFFLINE': '1', 'JAXGAN_CACHE_DIR': str(tmp_path / 'cache')}
  return scripts.run('eval.py', *args, timeout=300, env=env)


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
