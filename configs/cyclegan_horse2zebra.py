"""CycleGAN on horse2zebra: the official defaults (scripts/train_cyclegan.sh, CycleGANModel).

  python train.py --model=cyclegan --workdir=runs/h2z   # this config is cyclegan's default

Data: ./datasets/horse2zebra (trainA/, trainB/, testA/, testB/), from the official
`bash ./datasets/download_cyclegan_dataset.sh horse2zebra`, or tensorflow-datasets instead:
--config.data.source=tfds --config.data.tfds_name=cycle_gan/horse2zebra.
"""

from configs import common, tiny


def dataset(config, name):
  """Points `config` at the CycleGAN dataset `name` (folder by default, tfds documented)."""
  config.name = f'{name}_cyclegan'
  data = config.data
  data.source = 'folder'
  data.dataroot = f'./datasets/{name}'
  data.tfds_name = f'cycle_gan/{name}'  # used with --config.data.source=tfds
  return config


def get_config(arg=None):
  config = common.get_config()
  config.model = 'cyclegan'
  # The official base/train option defaults CycleGAN runs with.
  config.netG = 'resnet_9blocks'
  config.netD = 'basic'
  config.n_layers_D = 3
  config.norm = 'instance'
  config.no_dropout = True  # CycleGANModel sets --no_dropout
  config.gan_mode = 'lsgan'
  config.pool_size = 50
  config.lambda_A = 10.0
  config.lambda_B = 10.0
  config.lambda_identity = 0.5
  config.batch_size = 1
  config.n_epochs = 100
  config.n_epochs_decay = 100

  data = config.data
  data.dataset_mode = 'unaligned'
  data.direction = 'AtoB'
  data.preprocess = 'resize_and_crop'
  data.load_size = 286
  data.crop_size = 256
  dataset(config, 'horse2zebra')
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
