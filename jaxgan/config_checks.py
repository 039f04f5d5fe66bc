"""The numeric options every command checks up front, each with what it expects.

A bad number otherwise surfaces late and far from its cause (a seed past int64 inside numpy,
`num_parallel_calls=0` inside tf.data, a negative crop width silently read as "square"): here it
is one ConfigError naming the key, before any data is read or program compiled.
"""

from jaxgan import errors

# key -> (test, what is expected); keys a config lacks are skipped.
RULES = {
  'seed': (lambda v: 0 <= v < 2**32, 'an integer from 0 to 2**32 - 1'),
  'batch_size': (lambda v: v >= 1, 'a positive integer'),
  'data.crop_size': (lambda v: v >= 1, 'a positive integer'),
  'data.load_size': (lambda v: v >= 1, 'a positive integer'),
  'data.crop_width': (lambda v: v >= 0, '0 (square crops) or a positive width'),
  'data.test_load_size': (lambda v: v >= 0, '0 (the crop size) or a positive size'),
  'data.max_dataset_size': (lambda v: v >= 0, '0 (all images) or a positive count'),
  'data.shuffle_buffer': (lambda v: v >= 1, 'a positive integer'),
  'data.num_parallel_calls': (lambda v: v == -1 or v >= 1, '-1 (autotune) or a positive count'),
  'data.prefetch': (lambda v: v >= 0, '0 or more batches'),
  'data.cache_mb': (lambda v: v >= 0, '0 (off) or a size in MB'),
  'data.synthetic_size': (lambda v: v >= 1, 'a positive integer'),
  'data.synthetic_train': (lambda v: v >= 1, 'a positive integer'),
  'data.synthetic_test': (lambda v: v >= 1, 'a positive integer'),
  'data.synthetic_seed': (lambda v: 0 <= v < 2**32, 'an integer from 0 to 2**32 - 1'),
  'eval.num_test': (lambda v: v >= 0, '0 (all images) or a positive count'),
  'eval.batch_size': (lambda v: v >= 1, 'a positive integer'),
  'eval.size_bucket': (lambda v: v >= 0, '0 (exact: pad only what the net needs) or a size'),
  'eval.num_styles': (lambda v: v >= 1, 'a positive integer'),
  'eval.n_samples': (lambda v: v >= 1, 'a positive integer'),
  'eval.style_size': (lambda v: v >= 0, '0 (the official new_size) or a size'),
}


def _get(config, key):
  node = config
  for part in key.split('.'):
    if part not in node:
      return None
    node = node[part]
  return node


def check(config, keys=None):
  """Raises ConfigError for the first key of RULES (or of `keys`) whose value is out of range.

  Args:
    config: a ConfigDict (a run's, or a stored one with command-line overrides).
    keys: only these keys (default: every key of RULES the config has).
  """
  for key in keys or RULES:
    value = _get(config, key)
    if value is None:
      continue
    test, expected = RULES[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
      raise errors.ConfigError(f'config.{key} is {value!r}; expected {expected}')
    if not test(value):
      raise errors.ConfigError(f'config.{key} is {value}; expected {expected}')
