"""Trains a model: the loop is jaxgan/train_lib.py, the settings a Python config.

  python train.py --model=pix2pix --workdir=runs/facades
  python train.py --model=cyclegan --config=configs/cyclegan_shapes.py --workdir=runs/shapes \
      --config.batch_size=4

Without --config, a model trains with the paper's settings: pix2pix with
configs/pix2pix_facades.py, cyclegan with configs/cyclegan_horse2zebra.py. With --config,
--model may be left out; when given it must name the config's model. A config file takes an
argument after a colon (`configs/pix2pix_shapes.py:tiny`); any key can be overridden
(`--config.data.load_size=143`). Re-running the same command resumes from the workdir's
newest checkpoint.

Exit status: 0 when training finished, or when SIGTERM stopped it after saving a checkpoint;
130 when Ctrl-C (SIGINT) did; 2 with a one-line `error: ...` on stderr for bad input (unknown
model, config key or value, missing dataset, a checkpoint that does not fit).
"""

import os
import pathlib
import sys

# TensorFlow only feeds data here: keep its start-up notices (oneDNN's among them) off stderr.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from jaxgan import errors, models  # noqa: E402

CONFIGS = pathlib.Path(__file__).resolve().parent / 'configs'
DEFAULT_CONFIGS = {  # the paper's settings for each model
  'pix2pix': 'pix2pix_facades.py',
  'cyclegan': 'cyclegan_horse2zebra.py',
  'cycle_gan': 'cyclegan_horse2zebra.py',
}

flags.DEFINE_string('model', None, f'the model: {" | ".join(models.names())}')
flags.DEFINE_string('workdir', None, 'directory for checkpoints, samples and logs (resumes)')
config_flags.DEFINE_config_file('config', None, 'a config file, configs/<name>.py[:arg]')
FLAGS = flags.FLAGS


def fail(message):
  """Prints `error: message` (its first line) to stderr and exits with status 2."""
  line = str(message).strip().splitlines()[0] if str(message).strip() else 'unknown error'
  print(f'error: {line}', file=sys.stderr, flush=True)
  sys.exit(2)


def _flag_value(argv, name):
  """The value of --name=V or --name V in argv, else None."""
  for i, arg in enumerate(argv):
    if arg.startswith(f'--{name}='):
      return arg.split('=', 1)[1]
    if arg == f'--{name}' and i + 1 < len(argv):
      return argv[i + 1]
  return None


def _config_error(e, argv):
  """One line for an exception absl/ml_collections raised while loading --config."""
  if isinstance(e, KeyError | AttributeError):
    key = str(e).strip('"\'')
    given = [a.split('=', 1)[0] for a in argv if a.startswith('--config.') and key in a]
    return f'unknown config key {given[0] if given else key}'
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  if len(lines) > 1 and ('parsing config file' in lines[0] or 'loading config' in lines[0]):
    return f'{lines[0].rstrip(":")} {lines[-1]}'  # the cause is the traceback's last line
  return lines[0] if lines else type(e).__name__


def parse_flags(argv):
  """absl's parse, plus --model's default config; errors become one line and exit 2."""
  model = _flag_value(argv, 'model')
  if model is not None and model not in models.names():
    fail(f'unknown --model={model!r}; known: {", ".join(models.names())}')
  if _flag_value(argv, 'config') is None and model is not None:
    argv = [argv[0], f'--config={CONFIGS / DEFAULT_CONFIGS[model]}', *argv[1:]]
  try:
    rest = FLAGS(argv)
    if FLAGS.config is not None:
      FLAGS.config.get('model')  # a config file that failed to load raises only when used
  except (flags.Error, errors.JaxganError, ValueError, TypeError, OSError, LookupError) as e:
    fail(_config_error(e, argv))
  except AttributeError as e:  # ml_collections: a key the config does not have
    fail(_config_error(e, argv))
  return rest


def main(argv):
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])}')
  config = FLAGS.config
  if config is None:
    fail(f'give --model ({" | ".join(models.names())}) or --config=configs/<name>.py')
  if not FLAGS.workdir:
    fail('give --workdir=DIR, the directory for checkpoints, samples and logs')
  from jaxgan import train_lib  # noqa: PLC0415 - after the flags: imports JAX and TensorFlow

  try:
    if FLAGS.model and models.get(FLAGS.model) is not models.get(config.model):
      fail(f'--model={FLAGS.model} but the config trains {config.model!r}; drop one of them')
    outcome = train_lib.train(config, FLAGS.workdir)
  except errors.JaxganError as e:
    fail(e)
  if outcome.signal == 'SIGINT':
    sys.exit(130)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
