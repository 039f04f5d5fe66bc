"""Official MUNIT checkpoints -> a jaxgan MUNIT TrainState.

The official trainer saves `gen_<iter>.pt` = {'a': gen_a.state_dict(), 'b': gen_b.state_dict()}
and `dis_<iter>.pt` likewise for the discriminators. Read without PyTorch (see
`jaxgan.torch_file.read`), their keys come flattened as 'a.enc_style.model.0...'
and 'b.dec.model...'; an .npz holding those keys works as well. A single network's state_dict
(e.g. a parity fixture) loads as one named net.
"""

import jax
import numpy as np

from jaxgan import port
from jaxgan.errors import WeightsError

# The weight files eval.py's --weights takes for MUNIT, besides the single nets.
FILES = {'gen': ('gen_a', 'gen_b'), 'dis': ('dis_a', 'dis_b')}


def read(path) -> dict:
  """Any weight file (.pt/.pth read without PyTorch, .npz) -> flat state_dict."""
  from jaxgan.metrics import weights as weights_lib  # noqa: PLC0415

  return weights_lib.read_state_dict(path)


def split_pair(state_dict, path='the file') -> dict:
  """{'a.<key>': ..., 'b.<key>': ...} -> {'a': {<key>: ...}, 'b': {<key>: ...}}."""
  pair = {'a': {}, 'b': {}}
  for key, value in state_dict.items():
    head, _, rest = key.partition('.')
    if head not in pair or not rest:
      raise WeightsError(f"{path} is not an official MUNIT pair {{'a', 'b'}}: key {key}")
    pair[head][rest] = value
  if not pair['a'] or not pair['b']:
    raise WeightsError(f"{path} lacks the 'a' or the 'b' network")
  return pair


def load_weights(config, weights: dict):
  """A MUNIT state whose nets hold official weights; the others (and optimizers) are zeros.

  Args:
    config: the run's config (the nets' options must be those the weights were trained with).
    weights: {'gen' | 'dis': path of an official gen_*.pt / dis_*.pt} and/or
      {'gen_a' | 'gen_b' | 'dis_a' | 'dis_b': path of one network's state_dict}.

  Raises:
    WeightsError: a file that is missing, unreadable or does not fit.
  """
  from jaxgan.models import munit  # noqa: PLC0415

  shapes = jax.eval_shape(lambda: munit.create(config, jax.random.PRNGKey(0)))
  state = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), shapes)
  params, stats = dict(state.params), dict(state.batch_stats)
  for name, path in weights.items():
    sds = {}
    if name in FILES:
      pair = split_pair(port.clean_state_dict(read(path)), path)
      sds = dict(zip(FILES[name], (pair['a'], pair['b']), strict=True))
    else:
      sds = {name: read(path)}
    for net, sd in sds.items():
      converted = port.to_flax(
        sd, {'params': params[net], 'batch_stats': stats[net]}, name=f'{net} from {path}'
      )
      params[net] = converted['params']
      stats[net] = converted.get('batch_stats', {})
  return state.replace(params=params, batch_stats=stats)
