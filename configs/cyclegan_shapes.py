"""CycleGAN on the built-in unpaired shapes task (32 px, no download).

  python train.py --model=cyclegan --config=configs/cyclegan_shapes.py --workdir=runs/cyclegan_demo
  python eval.py --workdir=runs/cyclegan_demo   # both directions, against the true targets

The official CycleGAN objective (lsgan, cycle 10 + 10, identity 0.5, pools of 50), batch size 1
and nets (resnet generator, instance norm, no dropout, 3-layer PatchGAN), narrowed to 32 px and
8 generator channels so that it runs in about 10 minutes on 2 CPU cores; the lr decays linearly
over the second half. That budget shows the whole pipeline, not a converged model: measured,
its outputs do not yet beat the identity baseline on the test metrics.
"""

from configs import common, cyclegan_horse2zebra, tiny


def get_config(arg=None):
  config = cyclegan_horse2zebra.get_config()
  config.name = 'shapes_cyclegan'
  config.netG = 'resnet_6blocks'
  config.ngf = 8
  config.ndf = 16
  # Batch 1 as the paper: for the same compute, 4x the updates of batch 8 on 2 CPU cores.
  config.batch_size = 1
  # 1024 images an epoch; 3 + 3 epochs = 6144 steps.
  config.n_epochs = 3
  config.n_epochs_decay = 3

  config.data = common.get_data_config()
  data = config.data
  data.source = 'synthetic'
  data.synthetic = 'shapes_unpaired'
  data.dataset_mode = 'unaligned'
  data.synthetic_size = 32
  data.preprocess = 'none'
  data.load_size = 32
  data.crop_size = 32

  config.log_every = 100
  config.sample_every = 1024
  config.checkpoint_every = 2048
  config.num_samples = 8
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
