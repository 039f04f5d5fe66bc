"""BicycleGAN on maps, map -> aerial photo (official scripts/train.sh, 'maps').

  python train.py --model=bicyclegan --config=configs/bicyclegan_maps.py --workdir=runs/maps

The files hold photo|map, hence BtoA; load 600, crop 256, 200 + 200 epochs. The official test
script loads 512 px uncropped and samples without the encoded row (--no_encode): here
--config.data.test_load_size=512 --config.data.crop_size=512 and --no_encode at eval.
Data: ./datasets/maps from `bash ./datasets/download_dataset.sh maps`.
"""

from configs import bicyclegan_edges2shoes, tiny


def get_config(arg=None):
  config = bicyclegan_edges2shoes.get_config()
  config.name = 'maps_bicycle_gan'
  config.n_epochs = 200
  config.n_epochs_decay = 200
  data = config.data
  data.dataroot = './datasets/maps'
  data.tfds_name = 'pix2pix/maps'
  data.direction = 'BtoA'
  data.input_nc = 3
  data.load_size = 600
  data.crop_size = 256
  data.no_flip = False
  config.eval.split = 'val'
  config.eval.no_encode = True
  return bicyclegan_edges2shoes.shrink(config) if tiny.parse_arg(arg) else config
