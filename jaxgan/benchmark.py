"""How fast a model trains on the accelerator at hand: its step, its input pipeline, both together.

`time_step` compiles the model's data-parallel train step (the one train.py runs) for the
config's shapes and times it on synthetic batches already on the device: compile time, the
median of several timed blocks after warm-up, the FLOPs of its convolutions and matmuls,
achieved TFLOP/s and MFU against the device's peak, and the step's memory. It imports no
TensorFlow, so it runs on an accelerator host that has none. `time_input` times the config's
real tf.data pipeline alone; `time_end_to_end` the training loop with its data.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import time
from collections.abc import Callable

import jax
import jax.extend
import numpy as np

from jaxgan import layers, models, parallel
from jaxgan import train_state as ts
from jaxgan.errors import ConfigError

# Dense peak TFLOP/s per chip, (bfloat16, float32 as XLA computes it by default), from the
# vendors' datasheets: XLA runs float32 convolutions and matmuls on GPUs with TF32 tensor cores
# (default precision) and on TPUs in one bfloat16 pass, so that is the float32 peak that counts.
# First match of a lowercase substring of `device.device_kind` wins.
PEAK_TFLOPS = (
  ('h200', (989.0, 495.0)),
  ('h100 pcie', (756.0, 378.0)),
  ('h100', (989.0, 495.0)),
  ('gh200', (989.0, 495.0)),
  ('b200', (2250.0, 1100.0)),
  ('a100', (312.0, 156.0)),
  ('a10g', (125.0, 62.5)),  # before 'a10': an A10G is not an A10
  ('a10', (125.0, 62.5)),
  ('l40s', (362.0, 183.0)),
  ('l4', (121.0, 60.0)),
  ('v100', (125.0, 15.7)),  # no bf16 tensor cores: the fp16 rate, an upper bound
  ('t4', (65.0, 8.1)),
  ('rtx 4090', (165.0, 82.6)),
  ('tpu v6', (918.0, 918.0)),
  ('tpu v5p', (459.0, 459.0)),
  ('tpu v5 lite', (197.0, 197.0)),
  ('tpu v5e', (197.0, 197.0)),
  ('tpu v4', (275.0, 275.0)),
  ('tpu v3', (123.0, 123.0)),
)


def peak_tflops(device_kind: str, compute_dtype: str) -> float | None:
  """The dense peak of one device of `device_kind` for `compute_dtype`, or None if unknown."""
  kind = device_kind.lower()
  for pattern, (bf16, f32) in PEAK_TFLOPS:
    if pattern in kind:
      return bf16 if compute_dtype == 'bfloat16' else f32
  return None


def describe(config) -> dict:
  """What a result is of: model, dtype, global batch, image size."""
  return {
    'model': config.model,
    'compute_dtype': config.compute_dtype,
    'batch_size': int(config.batch_size),
    'image_size': list(ts.image_size(config)),
  }


def synthetic_batch(config, batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
  """Uniform [-1, 1] images of the shapes the config's pipeline yields ('A' and 'B')."""
  height, width = ts.image_size(config)
  rng = np.random.default_rng(seed)
  channels = {'A': config.data.input_nc, 'B': config.data.output_nc}
  return {
    k: rng.uniform(-1, 1, (batch_size, height, width, c)).astype(np.float32)
    for k, c in channels.items()
  }


def _conv_flops(eqn) -> float:
  out = eqn.outvars[0].aval.shape
  rhs = eqn.invars[1].aval.shape
  dn = eqn.params['dimension_numbers']
  rhs_spatial = math.prod(rhs[d] for d in dn.rhs_spec[2:])
  rhs_in = rhs[dn.rhs_spec[1]]
  # An input-dilated convolution (a transposed one, or an input gradient) skips the zeros.
  dilation = math.prod(eqn.params.get('lhs_dilation') or (1,))
  return 2.0 * math.prod(out) * rhs_spatial * rhs_in / dilation


def _dot_flops(eqn) -> float:
  lhs = eqn.invars[0].aval.shape
  (contract, _), _ = eqn.params['dimension_numbers']
  return 2.0 * math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs[d] for d in contract)


def _subjaxprs(eqn):
  for value in eqn.params.values():
    for item in value if isinstance(value, list | tuple) else (value,):
      if isinstance(item, jax.extend.core.ClosedJaxpr):
        yield item.jaxpr
      elif isinstance(item, jax.extend.core.Jaxpr):
        yield item


def jaxpr_flops(jaxpr) -> float:
  """FLOPs of the convolutions and matmuls of a jaxpr (2 per multiply-add), sub-jaxprs included.

  The count the papers' and the official code's FLOP figures use (convolutions and matmuls,
  forward and backward); a scan counts its body `length` times, a cond its costliest branch.
  """
  total = 0.0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == 'conv_general_dilated':
      total += _conv_flops(eqn)
    elif name == 'dot_general':
      total += _dot_flops(eqn)
    elif name == 'cond':
      total += max((jaxpr_flops(b.jaxpr) for b in eqn.params['branches']), default=0.0)
    else:
      inner = sum(jaxpr_flops(j) for j in _subjaxprs(eqn))
      total += inner * (eqn.params.get('length', 1) if name == 'scan' else 1)
  return total


def _xla_flops(compiled) -> float | None:
  """FLOPs per call as XLA's cost analysis of the compiled program counts them, if it does."""
  try:
    analysis = compiled.cost_analysis()
  except Exception:  # noqa: BLE001 - some backends implement no cost analysis
    return None
  if isinstance(analysis, list | tuple):
    analysis = analysis[0] if analysis else None
  flops = (analysis or {}).get('flops')
  return float(flops) if flops and flops > 0 else None


def _device_peak_bytes(device) -> int | None:
  with contextlib.suppress(Exception):
    stats = device.memory_stats() or {}
    if 'peak_bytes_in_use' in stats:
      return int(stats['peak_bytes_in_use'])
  return None


def _compiled_bytes(compiled) -> int | None:
  """The compiled program's own footprint (arguments, outputs, temporaries), where known."""
  with contextlib.suppress(Exception):
    m = compiled.memory_analysis()
    total = (
      m.argument_size_in_bytes
      + m.output_size_in_bytes
      - m.alias_size_in_bytes
      + m.temp_size_in_bytes
    )
    return int(total)
  return None


def time_blocks(run: Callable[[int], None], *, warmup: int, blocks: int, min_block_s: float):
  """Seconds per step: warm-up, a calibration, then `blocks` timed blocks; all block times."""
  run(max(warmup, 1))
  t0 = time.perf_counter()
  run(2)
  per = max((time.perf_counter() - t0) / 2, 1e-6)
  n = max(3, int(min_block_s / per))
  times = []
  for _ in range(blocks):
    t0 = time.perf_counter()
    run(n)
    times.append((time.perf_counter() - t0) / n)
  return times, n


def prepare_step(config) -> tuple[Callable[[int], None], dict]:
  """Builds, places and compiles `config.model`'s train step; returns (run, facts).

  `run(n)` runs n steps on two alternating synthetic batches already on the device and waits
  for them. The facts so far: compile and init seconds, FLOPs per step, the compiled program's
  footprint. Nothing is timed on the device yet, so several can be prepared at once.
  """
  check_config(config)
  model = models.get(config.model)
  mesh = parallel.make_mesh()
  parallel.check_batch_size(config.batch_size, mesh)
  rep = parallel.replicated(mesh)

  def create():  # steps_per_epoch only scales the lr schedule: any value costs the same
    return model.create(config, jax.random.PRNGKey(config.seed), 1000)

  t0 = time.perf_counter()
  state = jax.jit(create, out_shardings=rep)()
  jax.block_until_ready(state)
  init_s = time.perf_counter() - t0

  local = config.batch_size // jax.process_count()
  host_batches = [synthetic_batch(config, local, seed=2 * jax.process_index() + i) for i in (0, 1)]
  batches = [parallel.shard_batch(b, mesh) for b in host_batches]
  step = parallel.compile_train_step(model.train_step, state, mesh)
  t0 = time.perf_counter()
  lowered = step.lower(state, batches[0])
  compiled = lowered.compile()
  compile_s = time.perf_counter() - t0
  flops = jaxpr_flops(jax.make_jaxpr(model.train_step)(state, batches[0]).jaxpr)
  box = {'state': state}

  def run(n):
    s, metrics = box['state'], None
    for i in range(n):
      s, metrics = compiled(s, batches[i % 2])
    jax.block_until_ready((s, metrics))
    box['state'] = s

  device = jax.devices()[0]
  facts = {
    **describe(config),
    'device_kind': device.device_kind,
    'platform': device.platform,
    'devices': int(mesh.devices.size),
    'jax': jax.__version__,
    'remat': bool(config.get('remat', False)),
    'compile_s': compile_s,
    'init_s': init_s,
    'flops_per_step': flops,
    # On GPUs XLA's count leaves out the cuDNN convolutions (92 GFLOP of CycleGAN's 30 TFLOP).
    'xla_flops_per_step': _xla_flops(compiled),
    'compiled_bytes': _compiled_bytes(compiled),
    'hlo': compiled.as_text,
  }
  return run, facts


def measure_step(
  run: Callable[[int], None],
  facts: dict,
  *,
  warmup: int = 3,
  blocks: int = 5,
  min_block_s: float = 1.0,
  peak: float | None = None,
  profile_dir: str | None = None,
) -> dict:
  """Times a prepared step (see `prepare_step`); returns the benchmark's result dict."""
  times, per_block = time_blocks(run, warmup=warmup, blocks=blocks, min_block_s=min_block_s)
  if profile_dir:
    os.makedirs(profile_dir, exist_ok=True)
    with jax.profiler.trace(profile_dir):
      run(5)
  result = _result(facts)
  step_s = statistics.median(times)
  device = jax.devices()[0]
  if peak is None:
    peak = peak_tflops(facts['device_kind'], facts['compute_dtype'])
  flops = facts['flops_per_step']
  tflops = flops / step_s / 1e12 if flops else None
  result.update(
    step_s=step_s,
    step_s_blocks=times,
    steps_per_block=per_block,
    images_per_s=facts['batch_size'] / step_s,
    tflops_per_s=tflops,
    peak_tflops_per_device=peak,
    mfu=tflops / (peak * facts['devices']) if tflops and peak else None,
    device_peak_bytes=_device_peak_bytes(device),
  )
  if result['peak_bytes'] is None:
    result['peak_bytes'] = result['device_peak_bytes']
  return result


def _result(facts: dict) -> dict:
  # peak_bytes: what the step needs (arguments, outputs, temporaries) where XLA reports it;
  # the allocator's peak also holds what compilation's autotuning took (GBs on a GPU).
  result = {k: v for k, v in facts.items() if k != 'hlo'}
  result['peak_bytes'] = facts['compiled_bytes']
  return result


def compile_step(config) -> dict:
  """What `prepare_step` learns without running: compile time, FLOPs, the step's memory."""
  return _result(prepare_step(config)[1])


def time_step(config, **kwargs) -> dict:
  """Times `config.model`'s jitted train step at the config's batch and image size.

  Args:
    config: a run's ConfigDict (batch_size is the global batch, over all devices).
    **kwargs: `measure_step`'s options (warmup, blocks, min_block_s, peak, profile_dir).

  Returns:
    A dict with images_per_s, step_s, flops_per_step, tflops_per_s, mfu (None where the
    device's peak is unknown), compile_s, peak_bytes, and what they were measured on.
  """
  run, facts = prepare_step(config)
  return measure_step(run, facts, **kwargs)


def time_input(config, *, num_batches: int = 50, warmup: int = 5) -> dict:
  """Images/s of the config's real training pipeline alone (host side: decode, augment, batch).

  Per core divides by the cores tf.data may use (config.data.num_parallel_calls, or all).
  """
  from jaxgan import data  # noqa: PLC0415 - TensorFlow only where the pipeline is timed

  dataset = data.build(
    config,
    'train',
    train=True,
    process_index=jax.process_index(),
    process_count=jax.process_count(),
  )
  it = dataset.batches(0)
  t0 = time.perf_counter()
  for _ in range(warmup):
    next(it)
  first_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(num_batches):
    next(it)
  seconds = time.perf_counter() - t0
  del it
  images = num_batches * dataset.batch_size
  cores = config.data.num_parallel_calls
  cores = os.cpu_count() if cores is None or cores <= 0 else min(cores, os.cpu_count())
  return {
    'input_images_per_s': images / seconds,
    'input_images_per_s_per_core': images / seconds / cores,
    'input_cores': cores,
    'input_first_batches_s': first_s,
    'input_batches': num_batches,
    'input_batch_size': dataset.batch_size,
  }


def time_end_to_end(config, workdir, *, num_steps: int = 50) -> dict:
  """Steps/s of train.py's loop with its real data for `num_steps` steps (after compilation).

  Checkpoints and samples are kept out of the timed steps; the first (compiling) step is not
  counted.
  """
  from jaxgan import train_lib  # noqa: PLC0415 - imports TensorFlow

  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.num_steps = num_steps + 1
    config.checkpoint_every = 10**9
    config.sample_every = 10**9
    config.log_every = 10**9
  clock = {}

  def on_step(step):
    clock[step] = time.perf_counter()

  train_lib.train(config, workdir, on_step=on_step)
  first, last = min(clock), max(clock)
  seconds = clock[last] - clock[first]
  steps = last - first
  return {
    'end_to_end_steps': steps,
    'end_to_end_step_s': seconds / steps,
    'end_to_end_images_per_s': steps * config.batch_size / seconds,
  }


def summary(result: dict) -> str:
  """A short table of a result, for the terminal."""

  def fmt(key, scale=1.0, spec='.3f', unit=''):
    v = result.get(key)
    return 'n/a' if v is None else f'{v * scale:{spec}}{unit}'

  rows = [
    (
      'model',
      f'{result.get("model")} {result.get("compute_dtype")} batch '
      f'{result.get("batch_size")} {"x".join(map(str, result.get("image_size", [])))}',
    ),
    ('device', f'{result.get("devices")} x {result.get("device_kind")}'),
    ('compile', fmt('compile_s', spec='.1f', unit=' s')),
    ('step', fmt('step_s', 1e3, '.2f', ' ms')),
    ('images/s', fmt('images_per_s', spec='.1f')),
    ('GFLOP/step', fmt('flops_per_step', 1e-9, '.1f')),
    ('TFLOP/s', fmt('tflops_per_s', spec='.1f')),
    ('MFU', fmt('mfu', 100, '.1f', ' %')),
    ('peak memory', fmt('peak_bytes', 2**-30, '.2f', ' GiB')),
  ]
  for key, label in (
    ('input_images_per_s', 'input images/s'),
    ('input_images_per_s_per_core', 'input img/s/core'),
    ('end_to_end_images_per_s', 'end-to-end img/s'),
  ):
    if key in result:
      rows.append((label, fmt(key, spec='.1f')))
  return '\n'.join(f'{k:>18s}  {v}' for k, v in rows)


def write_json(result: dict, path: str) -> None:
  """Writes a result as JSON (atomically: a reader never sees half a file)."""
  tmp = f'{path}.tmp'
  with open(tmp, 'w') as f:
    json.dump(result, f, indent=1, default=float)
  os.replace(tmp, path)


def check_config(config) -> None:
  """One line for options the benchmark cannot time."""
  if config.batch_size < 1:
    raise ConfigError(f'batch_size must be >= 1, got {config.batch_size}')
  layers.get_dtype(config.compute_dtype)


def profile_table(profile_dir: str, top: int = 40) -> str:
  """The device time of a jax.profiler trace, by kernel and by the XLA op that ran it, as text.

  For each device timeline: the events' total time, then the `top` kernels by total time (with
  their count and share), then the `top` XLA ops (an op's kernels together) where the trace
  names them.
  """
  import glob  # noqa: PLC0415

  from jax.profiler import ProfileData  # noqa: PLC0415

  paths = sorted(glob.glob(os.path.join(profile_dir, '**', '*.xplane.pb'), recursive=True))
  if not paths:
    return f'no trace under {profile_dir}'
  out = []

  def table(title, totals, counts):
    total = sum(totals.values())
    out.append(
      f'== {title}: {total / 1e6:.3f} ms in {sum(counts.values())} events, {len(totals)} names'
    )
    for name, ns in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
      out.append(f'{ns / 1e6:10.3f} ms {100 * ns / total:5.1f}% x{counts[name]:<5d} {name[:160]}')

  for plane in ProfileData.from_file(paths[-1]).planes:
    if not plane.name.startswith('/device:'):
      continue
    for line in plane.lines:
      totals, counts, op_totals, op_counts = {}, {}, {}, {}
      for event in line.events:
        totals[event.name] = totals.get(event.name, 0.0) + event.duration_ns
        counts[event.name] = counts.get(event.name, 0) + 1
        with contextlib.suppress(Exception):
          stats = dict(event.stats)
          op = stats.get('hlo_op') or stats.get('tf_op')
          if op:
            key = f'{op} <- {event.name[:60]}'
            op_totals[key] = op_totals.get(key, 0.0) + event.duration_ns
            op_counts[key] = op_counts.get(key, 0) + 1
      if sum(totals.values()):
        table(f'{plane.name} | {line.name}', totals, counts)
      if op_totals:
        table(f'{plane.name} | {line.name} by XLA op', op_totals, op_counts)
  return '\n'.join(out)
