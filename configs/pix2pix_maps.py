"""pix2pix on Google Maps, aerial photo -> map (the official pretrained 'sat2map').

  python train.py --model=pix2pix --config=configs/pix2pix_maps.py --workdir=runs/maps

The pix2pix paper (appendix 6.3): 1096 training images, 200 epochs, batch size 1, random
jitter and mirroring; the official pix2pix defaults otherwise. For map -> photo ('map2sat') add
--config.data.direction=BtoA. Data: ./datasets/maps (A|B pairs side by side), from the official
`bash ./datasets/download_pix2pix_dataset.sh maps`.
"""

from configs import pix2pix_facades, tiny


def get_config(arg=None):
  config = pix2pix_facades.get_config()
  config.name = 'maps_pix2pix'
  config.data.dataroot = './datasets/maps'
  config.data.tfds_name = 'pix2pix/maps'  # used with --config.data.source=tfds
  config.eval.split = 'val'  # the archive has train/ and val/ only
  config.data.direction = 'AtoB'
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
