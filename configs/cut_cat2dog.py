"""CUT on cat2dog (the paper's AFHQ Cat -> Dog): the official defaults.

  python train.py --model=cut --config=configs/cut_cat2dog.py --workdir=runs/cat2dog_cut
  python train.py --model=cut --config=configs/cut_cat2dog.py:fastcut --workdir=runs/cat2dog_fastcut

Data: AFHQ (clovaai/stargan-v2, `bash download.sh afhq-dataset`), arranged as the official CUT
README does: ./datasets/afhq/cat2dog/trainA = afhq/train/cat, trainB = afhq/train/dog, testA =
afhq/test/cat, testB = afhq/test/dog (links work). Variants: 'fastcut', 'tiny', 'fastcut,tiny'.
"""

from configs import cut_horse2zebra


def get_config(arg=None):
  def cat2dog(config):
    config.name = 'cat2dog'
    config.data.source = 'folder'
    config.data.dataroot = './datasets/afhq/cat2dog'
    return config

  return cut_horse2zebra.build(arg, cat2dog)
