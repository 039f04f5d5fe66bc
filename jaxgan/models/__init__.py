"""Models by name: `get('pix2pix')` returns the module that implements the Models contract.

Adding a model is a file here and a line in `_MODELS`; modules are imported on first use. Each
module names its default config (`DEFAULT_CONFIG`, a file in configs/).
"""

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

from jaxgan.errors import ConfigError

_MODELS = {
  'pix2pix': 'jaxgan.models.pix2pix',
  'cyclegan': 'jaxgan.models.cyclegan',
  'cycle_gan': 'jaxgan.models.cyclegan',  # the official --model name
  'bicyclegan': 'jaxgan.models.bicyclegan',
  'munit': 'jaxgan.models.munit',
  'cut': 'jaxgan.models.cut',
}


class Inference(NamedTuple):
  """A model's translation in one direction, as a function of the images alone (and a code).

  Attributes:
    net: the net whose input the images are (its `size_multiple` governs the padding).
    code_size: the length of the code each image takes (BicycleGAN's z, MUNIT's style); 0 for
      none.
    apply: apply(images [N, H, W, C], codes [N, code_size] | None, rng) -> [N, H, W, C'],
      in train or eval mode as config.eval.eval_mode says (rng keys the dropout).
  """

  net: str
  code_size: int
  apply: Callable


def names() -> tuple[str, ...]:
  """The known model names."""
  return tuple(_MODELS)


def default_config(name: str) -> str:
  """The file in configs/ that `--model=name` runs without --config (the paper's settings)."""
  return get(name).DEFAULT_CONFIG


def get(name: str) -> ModuleType:
  """The model module called `name` (see DEVELOPERS.md, 'Models'); ConfigError if unknown."""
  if name not in _MODELS:
    raise ConfigError(f'unknown model {name!r}; known: {", ".join(_MODELS)}')
  return importlib.import_module(_MODELS[name])
