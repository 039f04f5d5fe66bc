"""CycleGAN on summer2winter_yosemite (Flickr photos of Yosemite), official defaults.

  python train.py --model=cyclegan --config=configs/cyclegan_summer2winter_yosemite.py \
    --workdir=runs/s2w

Data: ./datasets/summer2winter_yosemite from the official
`bash ./datasets/download_cyclegan_dataset.sh summer2winter_yosemite`, or tfds
cycle_gan/summer2winter_yosemite.
"""

from configs import cyclegan_horse2zebra, tiny


def get_config(arg=None):
  config = cyclegan_horse2zebra.dataset(cyclegan_horse2zebra.get_config(), 'summer2winter_yosemite')
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
