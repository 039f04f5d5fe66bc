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
  """Keeps TensorFlow's start-up notices off stderr and turns on JAX's persistent compilation
  cache; call before JAX and TensorFlow are imported.

  TensorFlow only feeds data here, so its oneDNN kernels are not worth their notice. The cache
  (`compile_cache_dir`) keeps every program that took a second or more to compile, so a resumed
  run, a second eval.py or export.py of the same run loads its programs instead of compiling
  them again (JAX_COMPILATION_CACHE_DIR chooses another folder, JAXGAN_COMPILE_CACHE=0 none).
  """
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
  if os.environ.get('JAXGAN_COMPILE_CACHE', '1') != '0':
    os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', str(compile_cache_dir()))
    os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '1')
    if 'jax' in sys.modules:  # imported already (--model's module): JAX read its environment
      import jax  # noqa: PLC0415

      jax.config.update('jax_compilation_cache_dir', os.environ['JAX_COMPILATION_CACHE_DIR'])
      jax.config.update(
        'jax_persistent_cache_min_compile_time_secs',
        float(os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS']),
      )


def compile_cache_dir() -> pathlib.Path:
  """$JAXGAN_CACHE_DIR/xla, else $XDG_CACHE_HOME/jaxgan/xla, else ~/.cache/jaxgan/xla."""
  if os.environ.get('JAXGAN_CACHE_DIR'):
    return pathlib.Path(os.environ['JAXGAN_CACHE_DIR']) / 'xla'
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return pathlib.Path(base) / 'jaxgan' / 'xla'


def starting(command, what):
  """The first line a command prints, before the seconds of importing JAX and TensorFlow."""
  print(f'{command}: {what}; loading JAX and TensorFlow', flush=True)


def quiet_logging():
  """absl logging at WARNING (orbax logs every save at INFO) unless --verbosity was given."""
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)


def checkpoint_step(text):
  """--step's value: None (the newest), 'best' (config.keep_best's state) or a step number."""
  if text is None or text == 'best':
    return text
  try:
    step = int(text)
  except ValueError:
    step = -1
  if step < 0:
    fail(f"--step={text}: expected a checkpoint's step number or 'best'")
  return step


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
    if hint:
      hint = hint[1]
    else:
      try:
        hint = _suggest(given[0].removeprefix('--config.') if given else key)
      except Exception:  # noqa: BLE001 - a hint must never replace the error it helps
        hint = None
    return f'unknown config key {given[0] if given else key}' + (
      f' (did you mean {hint}?)' if hint else ''
    )
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  if len(lines) > 1 and ('parsing config file' in lines[0] or 'loading config' in lines[0]):
    return f'{lines[0].rstrip(":")} {lines[-1]}'  # the cause is the traceback's last line
  return lines[0] if lines else type(e).__name__


def _suggest(key):
  """The known config key closest to a mistyped one (`data.root` -> `data.dataroot`), or None:
  a key that ends as the typed one does, else difflib's closest in the same section."""
  import difflib  # noqa: PLC0415
  import importlib  # noqa: PLC0415

  from configs import common  # noqa: PLC0415

  known, stack = [], [('', common.get_config())]
  for name in models.names():
    module = importlib.import_module(f'configs.{models.default_config(name).removesuffix(".py")}')
    stack.append(('', module.get_config()))
  while stack:
    prefix, node = stack.pop()
    for k, v in node.items():
      if hasattr(v, 'items'):
        stack.append((f'{prefix}{k}.', v))
      else:
        known.append(f'{prefix}{k}')
  section, _, leaf = key.rpartition('.')
  same = sorted({k for k in known if k.rpartition('.')[0] == section})
  ending = [k for k in same if k.rpartition('.')[2].endswith(leaf) and leaf]
  close = ending if len(ending) == 1 else difflib.get_close_matches(key, same, n=1, cutoff=0.6)
  return close[0] if close else None


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


def name_after_own_data(config, argv):
  """Own data (--config.data.dataroot given, --config.name not): the run is named after the
  folder, not after the paper config's dataset (its console line, pages and sample titles)."""
  given = {a.split('=', 1)[0] for a in argv if a.startswith('--config.')}
  if '--config.data.dataroot' in given and '--config.name' not in given:
    name = pathlib.PurePath(str(config.data.dataroot).rstrip('/\\')).name
    if name:
      config.name = name


def check_model(model, config):
  """--model, when given, must name the config's model (an alias such as cycle_gan counts)."""
  if model and models.get(model) is not models.get(config.model):
    fail(f'--model={model} but the config is for {config.model!r}; drop one of them')
