"""pix2pix on CMP Facades, labels -> photos: the official scripts/train_pix2pix.sh.

  python train.py --model=pix2pix --workdir=runs/facades   # this config is pix2pix's default

Data: ./datasets/facades (A|B pairs side by side in train/, val/, test/), from the official
`bash ./datasets/download_pix2pix_dataset.sh facades`; point elsewhere with
--config.data.dataroot=DIR. Or through tensorflow-datasets, with jaxgan's pix2pix builder
(jaxgan/data/pix2pix_tfds.py): --config.data.source=tfds (tfds name pix2pix/facades).
"""

from configs import common, tiny


def get_config(arg=None):
  config = common.get_config()
  config.model = 'pix2pix'
  config.name = 'facades_pix2pix'

  # Official pix2pix defaults (Pix2PixModel.modify_commandline_options) and the script's flags.
  config.netG = 'unet_256'
  config.norm = 'batch'
  config.no_dropout = False  # pix2pix keeps dropout in G, its only noise source (paper Sec. 3.1)
  config.gan_mode = 'vanilla'
  config.lambda_L1 = 100.0
  config.pool_size = 0
  config.batch_size = 1
  config.n_epochs = 100
  config.n_epochs_decay = 100

  data = config.data
  data.source = 'folder'
  data.dataroot = './datasets/facades'
  data.tfds_name = 'pix2pix/facades'  # used with --config.data.source=tfds
  data.dataset_mode = 'aligned'
  data.direction = 'BtoA'  # the files hold photo|labels; the task is labels -> photo
  data.preprocess = 'resize_and_crop'
  data.load_size = 286
  data.crop_size = 256
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
