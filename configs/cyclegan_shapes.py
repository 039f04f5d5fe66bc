"""CycleGAN on the built-in unpaired shapes task (32 px, no download).

  python train.py --model=cyclegan --config=configs/cyclegan_shapes.py --workdir=runs/cyclegan_demo
  python eval.py --workdir=runs/cyclegan_demo   # both directions, against the true targets

The official CycleGAN objective (lsgan, cycle 10 + 10, identity 0.5, pools of 50) and nets
(resnet generator, instance norm, no dropout, 3-layer PatchGAN), narrowed to 32 px and a few
minutes on 2 CPU cores; the lr decays linearly over the second half.
"""

from configs import common, cyclegan_horse2zebra, tiny


def get_config(arg=None):
  config = cyclegan_horse2zebra.get_config()
  config.name = 'shapes_cyclegan'
  config.netG = 'resnet_6blocks'
  config.ngf = 16
  config.ndf = 16
  config.batch_size = 8
  # 1024 images / 8 = 128 steps an epoch; 6 + 6 epochs = 1536 steps.
  config.n_epochs = 6
  config.n_epochs_decay = 6

  config.data = common.get_data_config()
  data = config.data
  data.source = 'synthetic'
  data.synthetic = 'shapes_unpaired'
  data.dataset_mode = 'unaligned'
  data.synthetic_size = 32
  data.preprocess = 'none'
  data.load_size = 32
  data.crop_size = 32

  config.log_every = 50
  config.sample_every = 256
  config.checkpoint_every = 512
  config.num_samples = 8
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
