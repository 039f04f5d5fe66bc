"""Official PyTorch weights <-> Flax variables (see `jaxgan.port.pytorch`)."""

from jaxgan.port.pytorch import (
  build_from_meta,
  clean_state_dict,
  from_flax,
  load_state_dict,
  save_npz,
  to_flax,
)

__all__ = [
  'build_from_meta',
  'clean_state_dict',
  'from_flax',
  'load_state_dict',
  'save_npz',
  'to_flax',
]
