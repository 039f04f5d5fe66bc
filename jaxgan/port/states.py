"""Weight files into the nets of a model's TrainState: eval.py --weights and config.init_from.

A spec names nets and files, 'G_A=horse2zebra.pth,G_B=zebra2horse.pth': official PyTorch
state_dicts (.pth/.pt, read without PyTorch) or .npz (as export.py writes them). MUNIT also takes
its official pair files: the trainer saves `gen_<iter>.pt` = {'a': gen_a.state_dict(), 'b':
gen_b.state_dict()} and `dis_<iter>.pt` likewise, read as 'gen=gen_00800000.pt' (their keys come
flattened as 'a.enc_style.model.0...' and 'b.dec.model...'; an .npz of those keys works too).
"""

from jaxgan import errors, models
from jaxgan.port import pytorch


def pairs(model) -> dict:
  """The model's official files holding two nets: {'gen': ('gen_a', 'gen_b'), ...}."""
  return {name: (f'{name}_a', f'{name}_b') for name in getattr(model, 'WEIGHT_FILES', ())}


def split_pair(state_dict, path='the file') -> dict:
  """{'a.<key>': ..., 'b.<key>': ...} -> {'a': {<key>: ...}, 'b': {<key>: ...}}."""
  pair = {'a': {}, 'b': {}}
  for key, value in state_dict.items():
    head, _, rest = key.partition('.')
    if head not in pair or not rest:
      raise errors.WeightsError(f"{path} is not an official MUNIT pair {{'a', 'b'}}: key {key}")
    pair[head][rest] = value
  if not pair['a'] or not pair['b']:
    raise errors.WeightsError(f"{path} lacks the 'a' or the 'b' network")
  return pair


def parse(specs, model, option='--weights') -> dict:
  """{net: path} from ['G=path.pth', 'G_A=a.npz,G_B=b.npz', ...].

  For CycleGAN, 'G' names G_A, the AtoB generator (the official test model's single G).

  Raises:
    jaxgan.errors.ConfigError: a spec that is not NET=PATH, or an unknown net.
  """
  if isinstance(specs, str):
    specs = [specs]
  known = (*model.NETS, *pairs(model))
  weights = {}
  for spec in (s.strip() for item in specs for s in item.split(',') if s.strip()):
    name, sep, path = spec.partition('=')
    if not sep or not path:
      raise errors.ConfigError(f'{option}={spec}: expected NET=PATH, e.g. G=latest_net_G.pth')
    if name == 'G' and 'G' not in known and 'G_A' in known:
      name = 'G_A'
    if name not in known:
      raise errors.ConfigError(f'{option}: unknown net {name!r}; known: {", ".join(known)}')
    weights[name] = path
  return weights


def load_into(config, state, weights):
  """`state` with the nets `weights` names ({net: path}) holding the files' weights.

  Raises:
    jaxgan.errors.WeightsError: a file that is missing, unreadable or does not fit.
  """
  model = models.get(config.model)
  files = pairs(model)
  params, stats = dict(state.params), dict(state.batch_stats)
  for name, path in weights.items():
    if name in files:
      pair = split_pair(pytorch.load_state_dict(path), path)
      state_dicts = dict(zip(files[name], (pair['a'], pair['b']), strict=True))
    else:
      state_dicts = {name: pytorch.load_state_dict(path)}
    for net, state_dict in state_dicts.items():
      converted = pytorch.to_flax(
        state_dict,
        {'params': params[net], 'batch_stats': stats[net]},
        name=f'{net} from {path}',
        buffers=official_buffers(state.nets[net]),
      )
      params[net] = converted['params']
      stats[net] = converted.get('batch_stats', {})
  return state.replace(params=params, batch_stats=stats)


def official_buffers(module) -> dict:
  """The constant buffers of a net's official state_dict that jaxgan computes (CUT's filters)."""
  buffers = getattr(module, 'official_buffers', None)
  return buffers() if buffers else {}
