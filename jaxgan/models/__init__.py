"""Models by name: `get('pix2pix')` returns the module that implements the Models contract.

Adding a model is a file here and a line in `_MODELS`; modules are imported on first use.
"""

import importlib
from types import ModuleType

from jaxgan.errors import ConfigError

_MODELS = {
  'pix2pix': 'jaxgan.models.pix2pix',
  'cyclegan': 'jaxgan.models.cyclegan',
  'cycle_gan': 'jaxgan.models.cyclegan',  # the official --model name
  'bicyclegan': 'jaxgan.models.bicyclegan',
  'munit': 'jaxgan.models.munit',
}


def names() -> tuple[str, ...]:
  """The known model names."""
  return tuple(_MODELS)


def get(name: str) -> ModuleType:
  """The model module called `name` (see DEVELOPERS.md, 'Models'); ConfigError if unknown."""
  if name not in _MODELS:
    raise ConfigError(f'unknown model {name!r}; known: {", ".join(_MODELS)}')
  return importlib.import_module(_MODELS[name])
