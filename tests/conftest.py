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
