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


# Seconds each of the longest files took in CI (2 cores, two xdist workers; the slowest tests'
# durations, printed at the end of every run); the rest are short.
LONG_FILES = {
  'test_models.py': 330,
  'test_train.py': 285,
  'test_bicyclegan_end_to_end.py': 265,
  'test_metrics_real_weights.py': 200,
  'test_munit.py': 190,
  'test_bicyclegan.py': 110,
  'test_munit_end_to_end.py': 105,
  'test_eval.py': 80,
  'test_train_distributed.py': 72,
  'test_parity.py': 60,
  'test_cli_errors.py': 45,
}


def pytest_collection_modifyitems(items):
  """The longest files first: pytest-xdist's workers (one file each at a time) then start them
  early instead of finishing on them. The order within a file stays."""
  first_seen = {}
  for i, item in enumerate(items):
    first_seen.setdefault(item.path.name, i)
  items.sort(key=lambda item: (-LONG_FILES.get(item.path.name, 0), first_seen[item.path.name]))
