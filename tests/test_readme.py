"""The README's figures are the code's: the baselines of the built-in results (which need no
training) recomputed, the block written by tools/readme_results.py intact."""

import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from configs import cyclegan_shapes, pix2pix_shapes  # noqa: E402
from jaxgan.data import synthetic  # noqa: E402
from jaxgan.eval import core  # noqa: E402
from jaxgan.metrics import ground_truth  # noqa: E402

README = (ROOT / 'README.md').read_text()


def _block():
  start, end = README.index('<!-- readme_results -->'), README.index('<!-- /readme_results -->')
  return README[start:end]


def _rows():
  """{(run, predictor): (mae, psnr)} of the block's table; a blank run cell is the row above's."""
  rows, run = {}, None
  for line in _block().splitlines():
    cells = [c.strip().strip('*') for c in line.strip().strip('|').split('|')]
    if len(cells) != 4 or cells[2] in ('MAE', '---'):
      continue
    run = cells[0] or run
    rows[run, cells[1].split(' (')[0]] = (cells[2], cells[3])
  return rows


@pytest.mark.parametrize(
  ('module', 'direction', 'run'),
  [
    (pix2pix_shapes, 'AtoB', 'pix2pix, `shapes_paired` A->B'),
    (cyclegan_shapes, 'AtoB', 'CycleGAN, `shapes_recolour` A->B'),
    (cyclegan_shapes, 'BtoA', 'CycleGAN, `shapes_recolour` B->A'),
  ],
)
def test_readme_baselines_are_what_the_built_in_data_gives(module, direction, run):
  """The identity and mean-image rows, recomputed at the printed precision."""
  config = module.get_config()
  task = config if direction == 'AtoB' else core.reverse_config(config)
  test = synthetic.ground_truth(task, 'test')
  scores = ground_truth.baselines(test['A'], test['B'], synthetic.ground_truth(task, 'train')['B'])
  rows = _rows()
  for predictor, key in (('identity', 'identity'), ('mean training target', 'mean_image')):
    mae, psnr = rows[run, predictor]
    assert (mae, psnr) == (f'{scores[key]["mae"]:.3f}', f'{scores[key]["psnr"]:.1f}'), predictor


def test_readme_results_block_names_real_commands():
  """Every command of the block is one the tool ran: existing configs, the demo workdirs."""
  block = _block()
  assert 'tools/readme_results.py' in block
  for config in re.findall(r'--config=(configs/\S+\.py)', block):
    assert (ROOT / config).is_file(), config
  assert re.search(r'\d+\.\d{4} A -> B and \d+\.\d{4} B -> A', block)
