"""BicycleGAN on CMP Facades, labels -> photo: the official scripts/train_facades.sh.

  python train.py --model=bicyclegan --config=configs/bicyclegan_facades.py --workdir=runs/facades

The files hold photo|labels, hence BtoA; 3-channel input, load 286 and crop 256 with flipping,
200 + 200 epochs. Data: ./datasets/facades from `bash ./datasets/download_dataset.sh facades`.
"""

from configs import bicyclegan_edges2shoes, tiny


def get_config(arg=None):
  config = bicyclegan_edges2shoes.get_config()
  config.name = 'facades_bicycle_gan'
  config.n_epochs = 200
  config.n_epochs_decay = 200
  data = config.data
  data.dataroot = './datasets/facades'
  data.tfds_name = 'pix2pix/facades'
  data.direction = 'BtoA'
  data.input_nc = 3
  data.load_size = 286
  data.crop_size = 256
  data.no_flip = False
  config.eval.split = 'val'  # the official test script reads --phase val
  return bicyclegan_edges2shoes.shrink(config) if tiny.parse_arg(arg) else config
