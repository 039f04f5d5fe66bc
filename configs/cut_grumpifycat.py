"""CUT on grumpifycat, the official demo (Russian Blue -> Grumpy Cat, Fig. 8 of the paper).

  python train.py --model=cut --config=configs/cut_grumpifycat.py --workdir=runs/grumpycat_CUT
  python eval.py --workdir=runs/grumpycat_CUT --config.eval.split=train   # no test split

Data: `bash ./datasets/download_cut_dataset.sh grumpifycat` in a clone of the official repo,
then ./datasets/grumpifycat/trainA and trainB (88 and 214 images). The set has no test split,
so the official test command translates the train split (--phase train), as eval.py does with
--config.eval.split=train. Variants: 'fastcut', 'tiny', 'fastcut,tiny'.
"""

from configs import cut_horse2zebra


def get_config(arg=None):
  def grumpifycat(config):
    config.name = 'grumpycat'
    config.data.source = 'folder'
    config.data.dataroot = './datasets/grumpifycat'
    config.eval.split = 'train'  # the official test_commands: --phase train
    return config

  return cut_horse2zebra.build(arg, grumpifycat)
