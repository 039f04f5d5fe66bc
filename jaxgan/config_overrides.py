"""`--config.<key>=<value>` overrides of a run's stored config (eval.py and export.py on a
workdir).

A trained run's config.json rebuilds its nets, so only what evaluation reads may change: the
data and eval keys, and the compute switches that leave the parameters as they are. A key that
would change the nets the checkpoint holds is refused, naming it. Values are parsed as the type
the stored key has (bool, int, float, str; a tuple or list as a Python literal).
"""

import ast
import difflib

from jaxgan import errors

# Keys outside data.* and eval.* that leave the parameters as they are.
FREE_KEYS = ('compute_dtype', 'remat', 'seed', 'name', 'batch_size')
# data.* keys that do change the nets: the channels of the domains.
NET_KEYS = ('data.input_nc', 'data.output_nc')
_TRUE, _FALSE = ('true', '1', 'yes', 'on'), ('false', '0', 'no', 'off')


def take(argv):
  """Splits `--config.KEY=VALUE` (or `--config.KEY VALUE`) arguments off argv.

  Returns:
    (the other arguments, [(KEY, VALUE text)]).
  """
  rest, overrides, i = [], [], 0
  while i < len(argv):
    arg = argv[i]
    if arg.startswith('--config.'):
      key, sep, value = arg[len('--config.') :].partition('=')
      if not sep:
        if i + 1 >= len(argv):
          raise errors.ConfigError(f'{arg}: expected --config.{key}=VALUE')
        value, i = argv[i + 1], i + 1
      overrides.append((key, value))
    else:
      rest.append(arg)
    i += 1
  return rest, overrides


def _parse(key, text, current):
  """`text` as the type of the stored value `current`."""
  try:
    if isinstance(current, bool):
      if text.lower() not in _TRUE + _FALSE:
        raise ValueError
      return text.lower() in _TRUE
    if isinstance(current, int):
      return int(text)
    if isinstance(current, float):
      return float(text)
    if isinstance(current, str):
      return text
    value = ast.literal_eval(text)
    if isinstance(current, tuple | list):
      value = type(current)(value)
    return value
  except (ValueError, SyntaxError, TypeError):
    kind = type(current).__name__ if current is not None else 'a Python literal'
    raise errors.ConfigError(f'--config.{key}={text}: expected {kind}') from None


def apply(config, overrides):
  """Sets each (key, value text) of `overrides` on `config`, in place.

  Raises:
    jaxgan.errors.ConfigError: an unknown key (with the nearest known one), a value that does
      not parse as the key's type, or a key that would change the nets of the checkpoint.
  """
  from flax import traverse_util  # noqa: PLC0415 - the flags are parsed before JAX loads

  known = list(traverse_util.flatten_dict(config.to_dict(), sep='.'))
  for key, text in overrides:
    if key not in known:
      near = difflib.get_close_matches(key, known, n=1)
      hint = f' (did you mean {near[0]}?)' if near else ''
      raise errors.ConfigError(f'unknown config key --config.{key}{hint}')
    *parents, leaf = key.split('.')
    node = config
    for part in parents:
      node = node[part]
    value = _parse(key, text, node[leaf])
    free = key.split('.')[0] in ('data', 'eval') and key not in NET_KEYS
    if not (free or key in FREE_KEYS) and value != node[leaf]:
      raise errors.ConfigError(
        f'--config.{key}={text}: the checkpoint was trained with {key}={node[leaf]!r} (its '
        'nets and training are fixed); on a workdir only data.* (not the channel counts), '
        f'eval.* and {", ".join(FREE_KEYS)} may change'
      )
    node[leaf] = value
