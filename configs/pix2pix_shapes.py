"""pix2pix on the built-in paired shapes task (32 px, no download): the README's demo.

  python train.py --model=pix2pix --config=configs/pix2pix_shapes.py --workdir=runs/demo
  python eval.py --workdir=runs/demo    # MAE / PSNR against the true targets

The official pix2pix objective and nets, scaled to 32 px: unet_32 (5 downsamplings, as unet_256
has 8 at 256 px), batch norm, dropout, vanilla GAN + 100 L1, a 3-layer PatchGAN. Sized to
finish in minutes on 2 CPU cores; the lr decays linearly over the second half.
"""

from configs import common, tiny


def get_config(arg=None):
  config = common.get_config()
  config.model = 'pix2pix'
  config.name = 'shapes_pix2pix'
  config.netG = 'unet_32'
  config.ngf = 16
  config.ndf = 16
  config.norm = 'batch'
  config.no_dropout = False
  config.gan_mode = 'vanilla'
  config.lambda_L1 = 100.0
  config.pool_size = 0
  config.batch_size = 16
  # 1024 images / 16 = 64 steps an epoch; 15 + 15 epochs = 1920 steps.
  config.n_epochs = 15
  config.n_epochs_decay = 15

  data = config.data
  data.source = 'synthetic'
  data.synthetic = 'shapes_paired'
  data.dataset_mode = 'aligned'
  data.synthetic_size = 32
  data.preprocess = 'none'
  data.load_size = 32
  data.crop_size = 32

  config.log_every = 50
  config.sample_every = 320
  config.checkpoint_every = 640
  config.num_samples = 8
  # Batch norm trained on batches of 16: test with its running averages (the official --eval),
  # not with each test image's own statistics as the official batch-size-1 runs do.
  config.eval.eval_mode = True
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
