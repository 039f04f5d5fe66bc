"""benchmark.py and jaxgan.benchmark: FLOP counts, peaks, the step / input / loop timings."""

import json
import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest
import scripts

from jaxgan import benchmark, layers


def _flops(fn, *args):
  return benchmark.jaxpr_flops(jax.make_jaxpr(fn)(*args).jaxpr)


def test_jaxpr_flops_counts_convolutions_transposed_convolutions_and_matmuls():
  x = jnp.zeros((2, 16, 16, 32))
  w = jnp.zeros((3, 3, 32, 64))
  conv = lambda x, w: jax.lax.conv_general_dilated(  # noqa: E731
    x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  macs = 2 * 8 * 8 * 64 * 9 * 32  # outputs x taps x input channels
  assert _flops(conv, x, w) == 2 * macs
  # Its transpose (the generators' upsampling) does the same multiply-adds, zeros skipped.
  y = jnp.zeros((2, 8, 8, 32))
  kt = jnp.zeros((3, 3, 64, 32))
  transposed = lambda y, k: layers.conv_transpose(y, k, 2, 1, (16, 16))  # noqa: E731
  assert _flops(transposed, y, kt) == pytest.approx(2 * 2 * 8 * 8 * 32 * 9 * 64, rel=0.01)
  # Forward and backward: the two gradients cost what the forward costs, each.
  grad = jax.grad(lambda x, w: jnp.sum(conv(x, w)), argnums=(0, 1))
  assert _flops(grad, x, w) == pytest.approx(3 * 2 * macs, rel=0.01)
  assert _flops(lambda a, b: a @ b, jnp.zeros((4, 5)), jnp.zeros((5, 6))) == 2 * 4 * 5 * 6
  scanned = lambda a: jax.lax.scan(lambda c, _: (c @ a, None), a, None, length=3)[0]  # noqa: E731
  assert _flops(scanned, jnp.zeros((4, 4))) == 3 * 2 * 4**3


def test_official_models_count_as_the_official_flop_counts():
  # bench/side_by_side.py's per-sample counts of the official nets (torch's FlopCounterMode).
  from configs import cyclegan_horse2zebra  # noqa: PLC0415
  from jaxgan import models  # noqa: PLC0415

  config = cyclegan_horse2zebra.get_config()
  model = models.get('cyclegan')
  state = jax.eval_shape(lambda: model.create(config, jax.random.PRNGKey(0), 10))
  batch = {k: jax.ShapeDtypeStruct((1, 256, 256, 3), jnp.float32) for k in 'AB'}
  flops = _flops(model.train_step, state, batch)
  assert flops == pytest.approx(1.87922e12, rel=0.03)


@pytest.mark.parametrize(
  'kind,dtype,peak',
  [
    ('NVIDIA H200', 'bfloat16', 989.0),
    ('NVIDIA H100 80GB HBM3', 'float32', 495.0),
    ('NVIDIA H100 PCIe', 'bfloat16', 756.0),
    ('NVIDIA A10G', 'bfloat16', 125.0),
    ('TPU v5 lite', 'float32', 197.0),
    ('cpu', 'bfloat16', None),
  ],
)
def test_peak_tflops_by_device_kind(kind, dtype, peak):
  assert benchmark.peak_tflops(kind, dtype) == peak


def test_step_timing_imports_no_tensorflow():
  # What time_step runs: the benchmark, the models, the mesh; the accelerator host may lack TF.
  code = (
    'import sys\n'
    'from jaxgan import benchmark, models, parallel\n'
    'for name in models.names(): models.get(name)\n'
    "print('tensorflow' in sys.modules)\n"
  )
  proc = subprocess.run(
    [sys.executable, '-c', code],
    env=scripts.ENV,
    cwd=scripts.ROOT,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.strip() == 'False'


@pytest.mark.long
def test_benchmark_cli_times_step_input_and_loop(tmp_path):
  out = tmp_path / 'bench.json'
  proc = scripts.run(
    'benchmark.py',
    '--config=configs/pix2pix_shapes.py:tiny',
    '--config.batch_size=4',
    '--blocks=2',
    '--min_block_s=0.05',
    '--input',
    '--input_batches=3',
    '--end_to_end=2',
    f'--out={out}',
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads(out.read_text())
  for key in ('images_per_s', 'step_s', 'flops_per_step', 'tflops_per_s', 'compile_s'):
    assert result[key] > 0, key
  assert result['mfu'] is None  # no peak known for a CPU
  assert result['peak_bytes'] > 0
  assert result['images_per_s'] == pytest.approx(4 / result['step_s'])
  assert result['input_images_per_s'] > 0 and result['input_images_per_s_per_core'] > 0
  assert result['end_to_end_steps'] == 2 and result['end_to_end_images_per_s'] > 0
  assert math.isfinite(result['tflops_per_s'])
  assert 'images/s' in proc.stdout and 'input images/s' in proc.stdout


def test_benchmark_cli_refuses_bad_values_in_one_line():
  proc = scripts.run('benchmark.py', '--model=pix2pix', '--blocks=0')
  assert proc.returncode == 2
  assert proc.stderr.strip() == 'error: --blocks must be >= 1, got 0'
  proc = scripts.run('benchmark.py', '--model=pix2pix', '--peak_tflops=-1')
  assert proc.stderr.strip() == 'error: --peak_tflops must be > 0, got -1.0'
