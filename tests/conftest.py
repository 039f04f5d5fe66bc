"""Tests run on CPU JAX with 8 fake devices, so sharding is exercised everywhere."""

import os

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import pathlib  # noqa: E402

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _shared_dir(env, default):
  return pathlib.Path(os.environ.get(env, ROOT.parent / 'shared' / default))


@pytest.fixture(scope='session')
def parity_dir():
  path = _shared_dir('JAXGAN_PARITY_DIR', 'parity')
  if not path.is_dir():
    pytest.skip(f'no parity fixtures at {path} (set JAXGAN_PARITY_DIR)')
  return path


@pytest.fixture(scope='session')
def shared_data_dir():
  path = _shared_dir('JAXGAN_SHARED_DATA', 'data')
  if not path.is_dir():
    pytest.skip(f'no shared test images at {path} (set JAXGAN_SHARED_DATA)')
  return path


# How pytest-xdist (setup.cfg: --dist loadgroup --no-loadscope-reorder) hands out the tests:
# in units, the longest first, each unit to the next free worker. A unit is a whole file (its
# tests share module fixtures), but in SPREAD_FILES each test is its own unit (they share
# nothing costly) unless it carries an xdist_group mark (tests sharing one compiled step).
SPREAD_FILES = {
  'test_bicyclegan.py',
  'test_bicyclegan_end_to_end.py',
  'test_cli_errors.py',
  'test_eval.py',
  'test_models.py',
  'test_munit.py',
  'test_train.py',
}

# Seconds each long unit took in CI (2 cores, two xdist workers; the slowest tests' durations
# are printed at the end of every run): a file, a group, or a test (every parameter of it).
LONG_UNITS = {
  'test_train.py::test_cyclegan_end_to_end': 105,
  'test_munit_end_to_end.py': 90,
  'test_metrics_real_weights.py': 110,
  'models_pix2pix': 100,
  'models_cyclegan': 90,
  'test_bicyclegan_end_to_end.py::test_end_to_end': 65,
  'test_train.py::test_pix2pix_end_to_end_then_resume': 80,
  'test_munit.py::test_eight_devices_give_what_one_device_gives': 80,
  'test_train_distributed.py': 77,
  'test_parity.py': 60,
  'test_train.py::test_sigterm_saves_and_exits_cleanly_then_resumes': 50,
  'test_munit.py::test_each_generator_loss_term': 46,
  'test_models.py::test_g_update_leaves_d_untouched_in_variants': 42,
  'bicycle_default_run': 40,
  'test_bicyclegan.py::test_latent_loss_leaves_E_gradient_zero': 20,
  'test_eval.py::test_eval_py_on_a_workdir': 20,
  'test_cli_errors.py::test_missing_dataset_folder_says_how_to_get_it': 19,
  'test_eval.py::test_eval_py_with_official_weights_and_a_folder': 16,
}


def _unit(item):
  """(xdist group name or None, the name LONG_UNITS knows the unit's time by)."""
  marks = [m.args[0] for m in item.iter_markers('xdist_group')]
  if marks:
    return marks[0], marks[0]
  file = item.path.name
  if file in SPREAD_FILES:
    return None, f'{file}::{item.originalname}'
  return file, file


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items):
  """Groups the tests into units and sorts the units longest first; the order within a unit
  stays."""
  first_seen, seconds = {}, {}
  for i, item in enumerate(items):
    group, name = _unit(item)
    if group and not list(item.iter_markers('xdist_group')):
      item.add_marker(pytest.mark.xdist_group(group))
    key = group or item.nodeid
    first_seen.setdefault(key, i)
    seconds[item.nodeid] = (LONG_UNITS.get(name, 0), key)
  items.sort(key=lambda item: (-seconds[item.nodeid][0], first_seen[seconds[item.nodeid][1]]))
