"""config_overrides: --config.<key>=<value> on a run's stored config."""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import cyclegan_shapes  # noqa: E402
from jaxgan import config_overrides  # noqa: E402
from jaxgan.errors import ConfigError  # noqa: E402


def test_take_splits_overrides_off_argv():
  argv = ['eval.py', '--workdir=w', '--config.data.preprocess=none', '--config.eval.num_test', '3']
  rest, overrides = config_overrides.take(argv)
  assert rest == ['eval.py', '--workdir=w']
  assert overrides == [('data.preprocess', 'none'), ('eval.num_test', '3')]
  with pytest.raises(ConfigError, match='expected --config.seed=VALUE'):
    config_overrides.take(['--config.seed'])


def test_values_take_the_stored_type():
  config = cyclegan_shapes.get_config('tiny')
  config_overrides.apply(
    config,
    [
      ('data.preprocess', 'none'),
      ('data.no_flip', 'true'),
      ('eval.num_test', '7'),
      ('data.cache_mb', '12'),
      ('compute_dtype', 'bfloat16'),
      ('ngf', str(config.ngf)),  # a net key set to what the run has is no change
    ],
  )
  assert config.data.preprocess == 'none' and config.data.no_flip is True
  assert config.eval.num_test == 7 and config.data.cache_mb == 12.0
  assert isinstance(config.data.cache_mb, float) and config.compute_dtype == 'bfloat16'


@pytest.mark.parametrize(
  ('key', 'value', 'message'),
  [
    ('data.no_flip', 'maybe', 'data.no_flip=maybe: expected bool'),
    ('eval.num_test', '1.5', 'eval.num_test=1.5: expected int'),
    ('netG', 'unet_64', 'netG=unet_64: the checkpoint was trained with netG='),
    ('lambda_A', '5', 'lambda_A=5: the checkpoint was trained with lambda_A=10.0'),
    ('data.input_nc', '1', 'data.input_nc=1: the checkpoint was trained with data.input_nc=3'),
    (
      'eval.num_tests',
      '1',
      r'unknown config key --config.eval.num_tests \(did you mean eval.num_test',
    ),
  ],
)
def test_bad_overrides_name_the_key(key, value, message):
  with pytest.raises(ConfigError, match=message):
    config_overrides.apply(cyclegan_shapes.get_config('tiny'), [(key, value)])
