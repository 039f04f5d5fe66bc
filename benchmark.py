r"""Times a model's train step on the accelerator at hand; the work is in jaxgan/benchmark.py.

  python benchmark.py --config=configs/cyclegan_horse2zebra.py --config.batch_size=16 \
      --config.compute_dtype=bfloat16 --out=bench.json
  python benchmark.py --model=pix2pix --input          # + the real input pipeline alone
  python benchmark.py --model=pix2pix --end_to_end=50  # + the training loop with its data

The step is timed on synthetic batches of the config's shapes already on the device (median of
--blocks timed blocks after --warmup steps); FLOPs are the step's convolutions and matmuls
(counted in its jaxpr), MFU is against the device kind's peak (--peak_tflops overrides). The
step timing imports no TensorFlow. docs/performance.md explains the numbers and holds measured ones.
"""

import os
import sys
import tempfile

from absl import app, flags
from ml_collections import config_flags

from jaxgan import cli, errors, models

flags.DEFINE_string('model', None, f'the model: {" | ".join(models.names())}')
config_flags.DEFINE_config_file(
  'config', None, 'a config file, configs/<name>.py[:arg]; its keys: docs/config.md'
)
flags.DEFINE_string('out', None, 'write the result as JSON here')
flags.DEFINE_float('peak_tflops', None, 'peak TFLOP/s of one device, for MFU (default: by kind)')
flags.DEFINE_bool('input', False, 'also time the real input pipeline alone (needs the data)')
flags.DEFINE_integer('input_batches', 50, 'batches the input timing reads')
flags.DEFINE_integer('end_to_end', 0, 'also time this many steps of the real training loop')
flags.DEFINE_bool('step', True, 'time the train step (--nostep: only --input/--end_to_end)')
flags.DEFINE_integer('warmup', 3, 'steps run before timing')
flags.DEFINE_integer('blocks', 5, 'timed blocks; the median counts')
flags.DEFINE_float('min_block_s', 1.0, 'seconds each timed block runs at least')
flags.DEFINE_string('profile_dir', None, 'write a jax.profiler trace of 5 steps here')
flags.DEFINE_bool(
  'compile_only', False, 'compile and report FLOPs and memory without running a step'
)
FLAGS = flags.FLAGS


def main(argv):
  cli.quiet_logging()
  config = cli.run_config(argv, FLAGS.model, FLAGS.config)
  for name in ('warmup', 'blocks', 'input_batches', 'end_to_end'):
    if FLAGS[name].value < (1 if name == 'blocks' else 0):
      cli.fail(f'--{name} must be >= {1 if name == "blocks" else 0}, got {FLAGS[name].value}')
  if FLAGS.min_block_s <= 0:
    cli.fail(f'--min_block_s must be > 0, got {FLAGS.min_block_s}')
  if FLAGS.peak_tflops is not None and FLAGS.peak_tflops <= 0:
    cli.fail(f'--peak_tflops must be > 0, got {FLAGS.peak_tflops}')
  os.environ.setdefault('JAXGAN_COMPILE_CACHE', '0')  # the compile time it reports is real
  cli.quiet_environment()
  from jaxgan import benchmark  # noqa: PLC0415 - imports JAX: after the flags

  result = {}
  try:
    if FLAGS.step and FLAGS.compile_only:
      result.update(benchmark.compile_step(config))
    elif FLAGS.step:
      result.update(
        benchmark.time_step(
          config,
          warmup=FLAGS.warmup,
          blocks=FLAGS.blocks,
          min_block_s=FLAGS.min_block_s,
          peak=FLAGS.peak_tflops,
          profile_dir=FLAGS.profile_dir,
        )
      )
    if FLAGS.input:
      result.update(benchmark.time_input(config, num_batches=FLAGS.input_batches))
    if FLAGS.end_to_end:
      with tempfile.TemporaryDirectory(prefix='jaxgan_bench_') as workdir:
        result.update(benchmark.time_end_to_end(config, workdir, num_steps=FLAGS.end_to_end))
  except errors.JaxganError as e:
    cli.fail(e)
  print(benchmark.summary({**benchmark.describe(config), **result}))
  if FLAGS.profile_dir:
    print(benchmark.profile_table(FLAGS.profile_dir, top=15))
  if FLAGS.out:
    benchmark.write_json(result, FLAGS.out)
  sys.stdout.flush()


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
