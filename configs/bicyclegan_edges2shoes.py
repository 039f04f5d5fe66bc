"""BicycleGAN on edges2shoes, edges -> photo: the official scripts/train_edges2shoes.sh.

  python train.py --model=bicyclegan --workdir=runs/shoes   # this config is BicycleGAN's default
  python eval.py --workdir=runs/shoes --n_samples=10        # encoded + random-z samples, HTML

Holds every BicycleGAN option at the official default (options/base_options.py and
train_options.py); the other bicyclegan_* configs derive from it. The script's settings: 1-channel
input (the edges are gray), no flipping, unet_256 with dropout, 30 + 30 epochs at batch size 2.
Data: ./datasets/edges2shoes (A|B side by side), from the official
`bash ./datasets/download_dataset.sh edges2shoes`, or tfds pix2pix/edges2shoes. The archive has
train/ and val/ only: eval.py reads val.
"""

from configs import common, tiny


def get_config(arg=None):
  config = common.get_config()
  config.model = 'bicyclegan'
  config.name = 'edges2shoes_bicycle_gan'
  config.batch_size = 2  # even: the first half drives both branches, the second is D2's real data

  # Networks (official define_G / define_E / define_D options).
  config.nz = 8
  config.netG = 'unet_256'
  config.where_add = 'all'  # z concatenated to every down block's input ('input': once)
  config.upsample = 'basic'  # basic (transposed conv) | bilinear
  config.nl = 'relu'  # G's up path: relu | lrelu | elu
  config.netE = 'resnet_256'  # resnet_256 | resnet_128 | conv_256 | conv_128 | resnet_N | conv_N
  config.nef = 64
  config.netD = 'basic_256_multi'  # basic_256_multi | basic_128_multi | basic_256 | basic_128
  config.netD2 = 'basic_256_multi'
  config.num_Ds = 2
  config.norm = 'instance'
  config.init_type = 'xavier'
  config.init_gain = 0.02
  config.no_dropout = False  # the script's --use_dropout

  # Objectives.
  config.gan_mode = 'lsgan'
  config.lambda_L1 = 10.0  # |B - G(A, E(B))|
  config.lambda_GAN = 1.0  # D(G(A, E(B)))
  config.lambda_GAN2 = 1.0  # D2(G(A, z_random))
  config.lambda_z = 0.5  # |mu(E(G(A, z_random))) - z_random|
  config.lambda_kl = 0.01  # KL(E(B) || N(0, I)), summed
  config.use_same_D = False
  config.conditional_D = False
  # Not official options: the baselines' switches (see jaxgan/models/bicyclegan.py).
  config.z_from_E = True  # False: the L1 branch draws z ~ N(0, I) (pix2pix+noise)
  config.latent_updates_E = False  # True: the latent regression trains E too (cLR-GAN)

  config.n_epochs = 30  # niter
  config.n_epochs_decay = 30  # niter_decay
  config.lr = 2e-4
  config.beta1 = 0.5

  data = config.data
  data.source = 'folder'
  data.dataroot = './datasets/edges2shoes'
  data.tfds_name = 'pix2pix/edges2shoes'  # used with --config.data.source=tfds
  data.dataset_mode = 'aligned'
  data.direction = 'AtoB'
  data.input_nc = 1
  data.preprocess = 'resize_and_crop'
  data.load_size = 256
  data.crop_size = 256
  data.no_flip = True

  # eval.py, as the official test.py: model.eval() (dropout off), n_samples random z per input
  # after the encoded one, --sync to share the z across inputs.
  config.eval.split = 'val'
  config.eval.eval_mode = True
  config.eval.num_test = 50
  config.eval.n_samples = 5
  config.eval.sync = False
  config.eval.no_encode = False
  return shrink(config) if tiny.parse_arg(arg) else config


def shrink(config):
  """tiny.shrink, then what BicycleGAN needs at 32 px: paired data, a 32 px E, 2-layer Ds."""
  tiny.shrink(config)
  config.data.synthetic = 'shapes_paired'
  config.data.dataset_mode = 'aligned'
  config.data.input_nc = 3
  config.netE = 'resnet_32'
  config.nef = 8
  config.netD = config.netD2 = 'basic_128_multi'  # 3 layers leave nothing of the 16 px scale
  config.eval.split = 'test'
  config.eval.num_test = 2
  config.eval.n_samples = 2
  return config
