"""BicycleGAN on night2day, night -> day (official scripts/train.sh, 'day2night' case).

  python train.py --model=bicyclegan --config=configs/bicyclegan_night2day.py --workdir=runs/n2d

AtoB, load 286, crop 256, 50 + 50 epochs. Data: ./datasets/night2day from
`bash ./datasets/download_dataset.sh night2day`.
"""

from configs import bicyclegan_edges2shoes, tiny


def get_config(arg=None):
  config = bicyclegan_edges2shoes.get_config()
  config.name = 'night2day_bicycle_gan'
  config.n_epochs = 50
  config.n_epochs_decay = 50
  data = config.data
  data.dataroot = './datasets/night2day'
  data.tfds_name = 'pix2pix/night2day'
  data.direction = 'AtoB'
  data.input_nc = 3
  data.load_size = 286
  data.crop_size = 256
  data.no_flip = False
  config.eval.split = 'val'
  return bicyclegan_edges2shoes.shrink(config) if tiny.parse_arg(arg) else config
