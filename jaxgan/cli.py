"""What train.py and eval.py share: --model's default config, and one-line errors.

Bad input ends a command with `error: <one line>` on stderr and exit status 2, never a
traceback: jaxgan's own errors (`jaxgan.errors.JaxganError`), and what absl / ml_collections
raise for unknown flags, unknown config keys, bad values and config files that fail to load.
"""

import os
import pathlib
import re
import sys

from absl import flags, logging

from jaxgan import config_overrides, errors, models

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / 'configs'


def quiet_environment():
  """Keeps TensorFlow's start-up notices off stderr; call before TensorFlow is imported.

  TensorFlow only feeds data here, so its oneDNN kernels are not worth their notice.
  """
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')


def quiet_logging():
  """absl logging at WARNING (orbax logs every save at INFO) unless --verbosity was given."""
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)


def fail(message):
  """Prints `error: message` (its first line) to stderr and exits with status 2."""
  text = str(message).strip()
  print(f'error: {text.splitlines()[0] if text else "unknown error"}', file=sys.stderr, flush=True)
  sys.exit(2)


def flag_value(argv, name):
  """The value of --name=V or --name V in argv, else None."""
  for i, arg in enumerate(argv):
    if arg.startswith(f'--{name}='):
      return arg.split('=', 1)[1]
    if arg == f'--{name}' and i + 1 < len(argv):
      return argv[i + 1]
  return None


def _config_error(e, argv):
  """One line for an exception absl / ml_collections raised while loading --config."""
  if isinstance(e, KeyError | AttributeError):
    text = e
    while isinstance(text, BaseException) and text.args:
      text = text.args[0]  # ml_collections nests the KeyError in AttributeErrors
    text = str(text)
    key = text.splitlines()[0].strip('"\' ') if text.strip() else '?'
    given = [a.split('=', 1)[0] for a in argv if a.startswith('--config.') and key in a]
    hint = re.search(r'Did you mean "([^"]+)"', text)
    return f'unknown config key {given[0] if given else key}' + (
      f' (did you mean {hint[1]}?)' if hint else ''
    )
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  if len(lines) > 1 and ('parsing config file' in lines[0] or 'loading config' in lines[0]):
    return f'{lines[0].rstrip(":")} {lines[-1]}'  # the cause is the traceback's last line
  return lines[0] if lines else type(e).__name__


def parse_flags(argv):
  """absl's flag parsing, plus --model's default --config; bad flags fail with one line.

  Without --config, `--model=M` loads `configs/<models.default_config(M)>` (so `--config.*`
  overrides apply to it). An unknown --model fails listing the known ones.
  """
  model = flag_value(argv, 'model')
  if model is not None and model not in models.names():
    fail(f'unknown --model={model!r}; known: {", ".join(models.names())}')
  if flag_value(argv, 'config') is None and model is not None:
    argv = [argv[0], f'--config={CONFIGS / models.default_config(model)}', *argv[1:]]
  try:
    rest = flags.FLAGS(argv)
    config = flags.FLAGS['config'].value if 'config' in flags.FLAGS else None
    if config is not None:
      config.get('model')  # a config file that failed to load raises only when used
  except (flags.Error, errors.JaxganError, ValueError, TypeError, OSError, LookupError) as e:
    fail(_config_error(e, argv))
  except AttributeError as e:  # ml_collections: a key the config does not have
    fail(_config_error(e, argv))
  return rest


# --config.<key>=<value> given with --workdir (and no --config): overrides of the run's stored
# config, which eval.py and export.py apply when they restore it (`jaxgan.config_overrides`).
WORKDIR_OVERRIDES = []


def parse_workdir_flags(argv):
  """`parse_flags`, with --config.* after --workdir (and no --config) kept in WORKDIR_OVERRIDES
  instead of applied to a config file."""
  if flag_value(argv, 'workdir') is not None and flag_value(argv, 'config') is None:
    try:
      argv, overrides = config_overrides.take(argv)
    except errors.JaxganError as e:
      fail(e)
    WORKDIR_OVERRIDES[:] = overrides
  return parse_flags(argv)


def run_config(argv, model, config):
  """The config a train.py-like command runs: no stray arguments, a config, --model agreeing."""
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])}')
  if config is None:
    fail(f'give --model ({" | ".join(models.names())}) or --config=configs/<name>.py')
  check_model(model, config)
  return config


def check_model(model, config):
  """--model, when given, must name the config's model (an alias such as cycle_gan counts)."""
  if model and models.get(model) is not models.get(config.model):
    fail(f'--model={model} but the config is for {config.model!r}; drop one of them')
