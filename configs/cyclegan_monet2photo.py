"""CycleGAN on monet2photo (Monet paintings <-> Flickr landscape photos), official defaults.

  python train.py --model=cyclegan --config=configs/cyclegan_monet2photo.py --workdir=runs/m2p

The identity loss (lambda_identity 0.5, the default) is what the paper uses for painting ->
photo to keep the colours. Data: ./datasets/monet2photo from the official
`bash ./datasets/download_cyclegan_dataset.sh monet2photo`, or tfds cycle_gan/monet2photo.
"""

from configs import cyclegan_horse2zebra, tiny


def get_config(arg=None):
  config = cyclegan_horse2zebra.dataset(cyclegan_horse2zebra.get_config(), 'monet2photo')
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
