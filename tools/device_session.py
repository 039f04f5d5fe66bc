"""One prepared call on a lent GPU: several benchmark cases compiled at once, then timed alone.

A developer's tool for the speed work (docs/performance.md). Each case runs in its own process:
it compiles (in parallel with the others, on the host's cores), says it is ready, then takes a
file lock and times alone on the device. Cases:

  step:MODEL:DTYPE:BATCH[:profile][:hlo][|XLA_FLAGS]   jaxgan.benchmark on the model's paper
                                                        config at 256 px (a profile table, the
                                                        optimized HLO, extra XLA flags)
  layers:BATCH[:names[:dtypes]]                         tools/layer_bench.py's layer timings

  python tools/device_session.py --out $OUT \
    --cases 'step:cyclegan:float32:16:profile,layers:16;step:munit:bfloat16:16'

(waves separated by ';' run one after another, so that fewer processes hold GPU memory)

Writes results.json, profiles.txt, layers.txt, hlo.tar.gz and session.log under --out.
"""

import argparse
import ast
import fcntl
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(model, dtype, batch):
  """The model's paper config (train.py's default for --model) at 256 px."""
  import importlib.util  # noqa: PLC0415

  from jaxgan import cli, models  # noqa: PLC0415

  path = cli.CONFIGS / models.default_config(model)
  spec = importlib.util.spec_from_file_location('cfg', path)
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  config = mod.get_config()
  config.batch_size = batch
  config.compute_dtype = dtype
  config.data.crop_size = 256
  config.data.load_size = 256
  return config


def wait_turn(sync, n_cases, ready_wait):
  deadline = time.time() + ready_wait
  while time.time() < deadline:
    if len([f for f in os.listdir(sync) if f.endswith('.ready')]) >= n_cases:
      return
    time.sleep(0.5)


def step_case(args, spec, tag):
  fields = spec.split(':')
  model, dtype, batch = fields[1], fields[2], int(fields[3])
  options = set(fields[4:])
  sys.path.insert(0, ROOT)
  from jaxgan import benchmark  # noqa: PLC0415

  config = load_config(model, dtype, batch)
  for option in options:
    if '=' in option:  # key=value config overrides, e.g. remat=True
      key, value = option.split('=', 1)
      with config.unlocked():
        try:
          config[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
          config[key] = value
  run, facts = benchmark.prepare_step(config)
  if 'hlo' in options:
    with gzip.open(os.path.join(args.work, f'{tag}.hlo.txt.gz'), 'wt') as f:
      f.write(facts['hlo']())
  yield
  profile_dir = os.path.join(args.work, f'{tag}.trace') if 'profile' in options else None
  result = benchmark.measure_step(run, facts, min_block_s=0.5, profile_dir=profile_dir)
  if profile_dir:
    with open(os.path.join(args.work, f'{tag}.profile.txt'), 'w') as f:
      f.write(benchmark.profile_table(profile_dir, top=args.top))
  yield result


def layers_case(args, spec, tag):
  fields = spec.split(':')
  batch = int(fields[1])
  names = set(fields[2].split('+')) if len(fields) > 2 and fields[2] else None
  dtypes = fields[3].split('+') if len(fields) > 3 else ['float32', 'bfloat16']
  sys.path.insert(0, ROOT)
  sys.path.insert(0, os.path.join(ROOT, 'tools'))
  import layer_bench  # noqa: PLC0415

  ready = layer_bench.prepare(batch, dtypes, names)
  yield
  lines, results = [], []
  for name, dtype, compiled, fn_args, flops in ready:
    s = layer_bench.bench(compiled, fn_args, min_s=0.15, blocks=3)
    results.append({'case': name, 'dtype': dtype, 'ms': s * 1e3, 'tflops': flops / s / 1e12})
    lines.append(
      f'{name:18s} {dtype:9s} {s * 1e3:9.3f} ms {flops / 1e9:9.2f} GFLOP '
      f'{flops / s / 1e12:7.1f} TFLOP/s'
    )
  run, pool_args = layer_bench.pool_case(batch)
  s = layer_bench.bench(run, pool_args, min_s=0.15, blocks=3)
  lines.append(f'{"image_pool":18s} {"":9s} {s * 1e3:9.3f} ms')
  results.append({'case': 'image_pool', 'ms': s * 1e3})
  with open(os.path.join(args.work, f'{tag}.layers.txt'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  yield {'layers': results}


def worker(args):
  spec = args.case.split('|')[0]
  tag = spec.replace(':', '_').replace('+', '-').replace('=', '-')
  result = {'case': args.case}
  steps = None
  try:
    kind = spec.split(':')[0]
    steps = (step_case if kind == 'step' else layers_case)(args, spec, tag)
    next(steps)
  except Exception as e:  # noqa: BLE001
    result['error'] = f'prepare: {type(e).__name__}: {e}'
    result['traceback'] = traceback.format_exc()[-3000:]
    steps = None
  open(os.path.join(args.sync, tag + '.ready'), 'w').close()
  wait_turn(args.sync, args.n_cases, args.ready_wait)
  if steps is not None:
    with open(os.path.join(args.sync, 'lock'), 'w') as lock:
      fcntl.flock(lock, fcntl.LOCK_EX)
      try:
        result.update(next(steps))
      except Exception as e:  # noqa: BLE001
        result['error'] = f'time: {type(e).__name__}: {e}'
        result['traceback'] = traceback.format_exc()[-3000:]
      finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
  print('RESULT ' + json.dumps(result, default=str), flush=True)


def driver(args):
  waves = [w.split(',') for w in args.cases.split(';') if w]
  os.makedirs(args.out, exist_ok=True)
  work = tempfile.mkdtemp(prefix='jaxgan_session_')
  t0 = time.time()
  results, logs = [], {}
  for i, cases in enumerate(waves):
    sync = os.path.join(work, f'sync{i}')
    os.makedirs(sync)
    procs = start_wave(args, cases, sync, work)
    collect(args, procs, t0, results, logs)
  write_outputs(args, work, t0, results, logs)
  summarize(results)


def start_wave(args, cases, sync, work):
  procs = {}
  for case in cases:
    env = dict(
      os.environ,
      XLA_PYTHON_CLIENT_PREALLOCATE='false',
      XLA_PYTHON_CLIENT_MEM_FRACTION=str(args.mem_fraction),
      PYTHONUNBUFFERED='1',
      TF_CPP_MIN_LOG_LEVEL='3',
    )
    if '|' in case:
      env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') + ' ' + case.split('|', 1)[1]).strip()
    cmd = [
      sys.executable,
      __file__,
      '--worker',
      '--case',
      case,
      '--sync',
      sync,
      '--work',
      work,
      '--n_cases',
      str(len(cases)),
      '--ready_wait',
      str(args.ready_wait),
      '--top',
      str(args.top),
    ]
    procs[case] = subprocess.Popen(
      cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
  return procs


def collect(args, procs, t0, results, logs):
  for case, p in procs.items():
    try:
      out, _ = p.communicate(timeout=max(1, args.deadline - (time.time() - t0)))
    except subprocess.TimeoutExpired:
      p.kill()
      out, _ = p.communicate()
      out += '\nKILLED at the deadline'
    logs[case] = out
    got = [json.loads(line[7:]) for line in out.splitlines() if line.startswith('RESULT ')]
    results.append(got[0] if got else {'case': case, 'error': 'no result', 'rc': p.returncode})


def write_outputs(args, work, t0, results, logs):
  meta = {'wall_s': time.time() - t0, 'host': os.uname().nodename}
  with open(os.path.join(args.out, 'results.json'), 'w') as f:
    json.dump({'meta': meta, 'results': results}, f, indent=1, default=str)
  with open(os.path.join(args.out, 'session.log'), 'w') as f:
    for case, out in logs.items():
      f.write(f'===== {case}\n{out[-6000:]}\n')
  for suffix, name in (('.profile.txt', 'profiles.txt'), ('.layers.txt', 'layers.txt')):
    with open(os.path.join(args.out, name), 'w') as f:
      for fn in sorted(os.listdir(work)):
        if fn.endswith(suffix):
          f.write(f'######## {fn}\n' + open(os.path.join(work, fn)).read() + '\n')
  hlos = [fn for fn in sorted(os.listdir(work)) if fn.endswith('.hlo.txt.gz')]
  if hlos:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
      for fn in hlos:
        tar.add(os.path.join(work, fn), arcname=fn)
    with open(os.path.join(args.out, 'hlo.tar'), 'wb') as f:
      f.write(buf.getvalue())


def summarize(results):
  print(
    f'{"case":52s} {"ms/step":>9s} {"img/s":>8s} {"TFLOP/s":>8s} {"MFU":>6s} {"compile":>8s} '
    f'{"peakGB":>7s}'
  )
  for r in results:
    if 'error' in r:
      print(f'{r["case"]:52s} ERROR {r["error"][:200]}')
      continue
    if 'layers' in r:
      print(f'{r["case"]:52s} ({len(r["layers"])} layer timings in layers.txt)')
      continue
    mfu = r.get('mfu')
    print(
      f'{r["case"]:52s} {r["step_s"] * 1e3:9.2f} {r["images_per_s"]:8.1f} '
      f'{r.get("tflops_per_s") or 0:8.1f} {100 * (mfu or 0):5.1f}% {r["compile_s"]:8.1f} '
      f'{(r.get("peak_bytes") or 0) / 2**30:7.2f}'
    )


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--worker', action='store_true')
  ap.add_argument('--case')
  ap.add_argument('--cases', default='')
  ap.add_argument('--sync')
  ap.add_argument('--work')
  ap.add_argument('--out', default='session_out')
  ap.add_argument('--n_cases', type=int, default=1)
  ap.add_argument('--ready_wait', type=float, default=300)
  ap.add_argument('--deadline', type=float, default=480)
  ap.add_argument('--mem_fraction', type=float, default=0.45)
  ap.add_argument('--top', type=int, default=40)
  args = ap.parse_args()
  if args.worker:
    worker(args)
  else:
    driver(args)


if __name__ == '__main__':
  main()
