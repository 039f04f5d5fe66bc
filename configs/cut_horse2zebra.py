"""CUT on horse2zebra: the official defaults (taesungp/contrastive-unpaired-translation).

  python train.py --model=cut --workdir=runs/h2z_cut        # this config is cut's default
  python train.py --model=cut --config=configs/cut_horse2zebra.py:fastcut --workdir=runs/h2z_fastcut

Variants after the colon: 'fastcut' (the official --CUT_mode FastCUT), 'tiny', 'fastcut,tiny'.
Data: ./datasets/horse2zebra as for CycleGAN (the official
`bash ./datasets/download_cyclegan_dataset.sh horse2zebra`). docs/cut.md says how to score a run
as the paper does (FID of all of testA translated against testB).
"""

from configs import common, cyclegan_horse2zebra, tiny

MODES = ('cut', 'fastcut')


def mode(config, name):
  """The official --CUT_mode defaults: 'cut' or 'fastcut' (Sec. 4 of the paper)."""
  if name == 'cut':
    config.nce_idt = True
    config.lambda_NCE = 1.0
    config.flip_equivariance = False
    config.n_epochs, config.n_epochs_decay = 200, 200
  else:  # FastCUT: no identity PatchNCE, a heavier PatchNCE, flip-equivariance, shorter
    config.nce_idt = False
    config.lambda_NCE = 10.0
    config.flip_equivariance = True
    config.n_epochs, config.n_epochs_decay = 150, 50
  config.name = f'{config.name}_{name}'
  return config


def parse_arg(arg):
  """(mode, tiny) of a variant: '', 'fastcut', 'tiny' or 'fastcut,tiny'."""
  parts = [p.strip() for p in (arg or '').split(',') if p.strip()]
  modes = [p for p in parts if p in MODES]
  rest = [p for p in parts if p not in MODES]
  if len(modes) > 1 or len(rest) > 1:
    raise ValueError(f"unknown config variant {arg!r}; known: fastcut, tiny, 'fastcut,tiny'")
  return (modes or ['cut'])[0], tiny.parse_arg(rest[0] if rest else None)


def get_base():
  """The official CUT options (base, train and CUTModel's), before a mode and a dataset."""
  config = common.get_config()
  config.model = 'cut'
  config.netG = 'resnet_9blocks'  # resnet_9blocks | resnet_6blocks | resnet_4blocks (taps)
  config.netD = 'basic'  # basic | n_layers | pixel
  config.n_layers_D = 3
  config.normG = 'instance'  # G's norm: instance | batch | none
  config.normD = 'instance'  # D's norm: instance | batch | none
  config.init_type = 'xavier'  # CUT's default, where CycleGAN's is 'normal'
  config.init_gain = 0.02
  config.no_dropout = True
  # Anti-aliased down- and upsampling (Zhang 2019) in G and D, CUT's default:
  config.no_antialias = False  # True: stride-2 convolutions instead of conv + blur pooling
  config.no_antialias_up = False  # True: transposed convolutions instead of blur upsampling
  config.gan_mode = 'lsgan'
  config.lambda_GAN = 1.0  # weight of the GAN loss GAN(G(X))
  config.lambda_NCE = 1.0  # weight of PatchNCE(G(X), X); FastCUT: 10
  config.nce_idt = True  # also PatchNCE(G(Y), Y), the identity term (CUT; not FastCUT)
  # Layers of G whose features PatchNCE compares: the official indices into its layer list (0:
  # the padded input, 4 and 8: the downsampling convolutions, 12 and 16: residual blocks).
  config.nce_layers = '0,4,8,12,16'
  # Negatives from every image of the batch, not just the query's own (single-image CUT).
  config.nce_includes_all_negatives_from_minibatch = False
  config.netF = 'mlp_sample'  # PatchSampleF: mlp_sample (a 2-layer MLP per layer) | sample
  config.netF_nc = 256  # width of PatchSampleF's MLPs
  config.nce_T = 0.07  # PatchNCE's temperature tau
  config.num_patches = 256  # positions sampled per layer and image
  config.flip_equivariance = False  # FastCUT: mirror the inputs of a step at random
  config.pool_size = 0  # CUT keeps no image pool
  config.batch_size = 1
  config.lr = 2e-4
  config.beta1, config.beta2 = 0.5, 0.999
  data = config.data
  data.dataset_mode = 'unaligned'
  data.direction = 'AtoB'
  data.preprocess = 'resize_and_crop'
  data.load_size = 286
  data.crop_size = 256
  return config


def shrink(config):
  """The tiny variant (tiny.shrink) with PatchNCE's sampling narrowed too."""
  tiny.shrink(config)
  config.num_patches = 16
  config.netF_nc = 8
  return config


def build(arg, dataset):
  """A CUT config for `dataset(config)`, in the variant `arg`."""
  name, is_tiny = parse_arg(arg)
  config = dataset(get_base())
  mode(config, name)
  return shrink(config) if is_tiny else config


def get_config(arg=None):
  def horse2zebra(config):
    cyclegan_horse2zebra.dataset(config, 'horse2zebra')
    config.name = 'horse2zebra'
    return config

  return build(arg, horse2zebra)
