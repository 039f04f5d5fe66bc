"""train.py and eval.py as a user runs them, in subprocesses on one CPU device.

One device: on 2 CPU cores a subprocess compiles faster than the test process's 8 fake devices
(DEVELOPERS.md). The subprocesses of one test worker share compiled programs through JAX's disk
cache, removed when the worker exits.
"""

import atexit
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]

_CACHE = tempfile.mkdtemp(prefix='jaxgan-test-jax-cache-')
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
ENV = dict(
  os.environ,
  JAX_PLATFORMS='cpu',
  XLA_FLAGS='--xla_force_host_platform_device_count=1',
  TF_CPP_MIN_LOG_LEVEL='2',
  JAX_COMPILATION_CACHE_DIR=_CACHE,
  JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
  JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='0',
)


def command(script, *args):
  """The argv of `python <repo>/<script> args...` with this interpreter."""
  return [sys.executable, str(ROOT / script), *args]


def run(script, *args, timeout=600, env=None):
  """Runs a top-level script of the repo to completion; its CompletedProcess (text output).

  env: variables set on top of ENV.
  """
  return subprocess.run(
    command(script, *args),
    env={**ENV, **(env or {})},
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=timeout,
  )
