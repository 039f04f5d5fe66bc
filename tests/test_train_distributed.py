"""Several processes: train.py under jax.distributed on CPU (gloo collectives) is one run.

Its own file so that a pytest-xdist worker takes it while another runs tests/test_train.py.
"""

import os
import pathlib
import socket
import subprocess
import sys

import pytest

from jaxgan import checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture()
def env():
  return dict(
    os.environ,
    JAX_PLATFORMS='cpu',
    XLA_FLAGS='--xla_force_host_platform_device_count=1',
    TF_CPP_MIN_LOG_LEVEL='2',
  )


def _steps(workdir):
  with checkpoint.Checkpointer(workdir) as ckpt:
    return ckpt.all_steps()


@pytest.mark.slow
def test_two_processes_train_as_one_run(tmp_path, env):
  """Two jax.distributed processes (CPU collectives over gloo), one device each: one run."""
  with socket.socket() as sock:
    sock.bind(('localhost', 0))
    port = sock.getsockname()[1]
  workdir = tmp_path / 'run'
  procs = []
  for process_id in range(2):
    process_env = dict(
      env,
      JAX_COORDINATOR_ADDRESS=f'localhost:{port}',
      JAX_NUM_PROCESSES='2',
      JAX_PROCESS_ID=str(process_id),
    )
    args = ['--config=configs/pix2pix_shapes.py:tiny', f'--workdir={workdir}']
    procs.append(
      subprocess.Popen(
        [sys.executable, str(ROOT / 'train.py'), *args, '--config.num_steps=2'],
        env=process_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
      )
    )
  try:
    outputs = [proc.communicate(timeout=500) for proc in procs]
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
  for proc, (_, stderr) in zip(procs, outputs, strict=True):
    assert proc.returncode == 0, stderr[-3000:]
  # Both processes saw the 2 devices of the run; the primary alone logs and saves samples.
  assert 'on 2 device(s)' in outputs[0][0] and 'on 2 device(s)' not in outputs[1][0]
  assert _steps(workdir)[-1] == 2
  logged = [line for line in (workdir / 'loss_log.txt').read_text().splitlines() if line]
  assert [int(line.split('step: ')[1].split(',')[0]) for line in logged] == [2]
