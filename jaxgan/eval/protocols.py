"""The papers' evaluation protocols by name: `eval.py --protocol=<name>`.

A protocol fixes what eval.py translates (split, how many images, codes per input), how it is
scored (FID's images and options, LPIPS's net and version) and which number the paper reports,
so that a score is comparable with the paper's. docs/reproduce.md lists, for each paper result,
the commands that train and score it.
"""

import dataclasses

from jaxgan import errors


@dataclasses.dataclass(frozen=True)
class Protocol:
  """One paper's evaluation.

  Attributes:
    models: the models it scores.
    what: what is computed, in a line.
    source: where the protocol is stated.
    overrides: config keys set (dotted) before translating.
    fid: whether FID/KID of the saved translations are computed (pytorch-fid's preprocessing,
      from as few images as the test split has, as pytorch-fid computes it).
    report: the score the paper's tables give, as a key path of metrics.json.
  """

  models: tuple[str, ...]
  what: str
  source: str
  overrides: dict
  fid: bool
  report: str


# The CycleGAN / CUT FID protocol: every test image of A translated at the test resolution by
# the official test.py (load_size = crop_size, no --eval), `python -m pytorch_fid testB
# fake_B`. CUT's Table 1 scores CycleGAN and CUT so (horse2zebra: 77.2 and 45.5).
_FID = dict(
  what='FID (pytorch-fid) of all of testA translated, against all of testB, at the test size',
  overrides={'eval.split': 'test', 'eval.num_test': 0, 'eval.eval_mode': False},
  fid=True,
  report='fid_kid.AtoB.fid',
)
# The diversity protocol of BicycleGAN (Sec. 4.2) and MUNIT (Sec. 5.2): 100 inputs, 20 random
# codes each, the mean LPIPS (AlexNet, v0.0 heads) over the 19 consecutive pairs of each input.
_LPIPS = {
  'eval.split': 'test',
  'eval.num_test': 100,
  'eval.lpips_diversity': True,
  'eval.lpips_net': 'alex',
  'eval.lpips_version': '0.0',
}

PROTOCOLS = {
  'cut_fid': Protocol(
    models=('cut',),
    source='Park et al. 2020 (CUT), Table 1; the official README: test.py, then pytorch_fid',
    **_FID,
  ),
  'cyclegan_fid': Protocol(
    models=('cyclegan',),
    source='CUT Table 1 scores CycleGAN this way (horse2zebra 77.2); mmagic re-scores the '
    'released model at 62.1',
    **_FID,
  ),
  'pix2pix_fid': Protocol(
    models=('pix2pix',),
    what='FID (pytorch-fid) of all test inputs translated, against their targets; pix2pix '
    'itself reported FCN scores and AMT studies, which cannot be recomputed here',
    source="mmagic's re-scoring of the released pix2pix models (facades 119.1, edges2shoes 75.8)",
    overrides=_FID['overrides'],
    fid=True,
    report='fid_kid.AtoB.fid',
  ),
  'bicyclegan_lpips': Protocol(
    models=('bicyclegan',),
    what='LPIPS diversity (AlexNet, v0.0): 100 test inputs, 20 random z each, 19 pairs each',
    source='Zhu et al. 2017 (BicycleGAN), Sec. 4.2 and Table 1',
    overrides={**_LPIPS, 'eval.n_samples': 20, 'eval.sync': False, 'eval.eval_mode': True},
    fid=False,
    report='AtoB.diversity.lpips_diversity',
  ),
  'munit_lpips': Protocol(
    models=('munit',),
    what='LPIPS diversity (AlexNet, v0.0): 100 test inputs, 20 random styles each, 19 pairs',
    source='Huang et al. 2018 (MUNIT), Sec. 5.2 and Table 1',
    overrides={**_LPIPS, 'eval.num_styles': 20, 'eval.synchronized': False},
    fid=False,
    report='AtoB.diversity.lpips_diversity',
  ),
}


def get(name: str, model: str) -> Protocol:
  """The protocol `name` for a run of `model`; ConfigError naming the ones that exist."""
  if name not in PROTOCOLS:
    raise errors.ConfigError(f'--protocol={name}: unknown; one of {", ".join(PROTOCOLS)}')
  protocol = PROTOCOLS[name]
  if model not in protocol.models:
    fitting = [n for n, p in PROTOCOLS.items() if model in p.models]
    raise errors.ConfigError(
      f'--protocol={name} scores {"/".join(protocol.models)}, not {model}'
      + (f'; for {model}: {", ".join(fitting)}' if fitting else '')
    )
  return protocol


def apply(protocol: Protocol, config) -> None:
  """Sets the protocol's keys in `config` (those the config has)."""
  for dotted, value in protocol.overrides.items():
    *parents, key = dotted.split('.')
    holder = config
    for parent in parents:
      holder = holder[parent]
    if key in holder:
      holder[key] = value


def reported(protocol: Protocol, results: dict):
  """The paper's number as the results hold it (None where absent)."""
  value = results
  for part in protocol.report.split('.'):
    if not isinstance(value, dict) or part not in value:
      return None
    value = value[part]
  return value
