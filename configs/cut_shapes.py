"""CUT on the built-in unpaired task, CycleGAN's demo task (32 px, no download).

  python train.py --model=cut --config=configs/cut_shapes.py --workdir=runs/cut
  python eval.py --workdir=runs/cut --nofid   # against the true targets

`shapes_recolour` (jaxgan/data/synthetic.py, configs/cyclegan_shapes.py): A paints circles,
squares and triangles red, green and blue, B yellow, cyan and magenta. The official CUT objective
and nets (anti-aliased resnet generator and PatchGAN, PatchNCE on layers 0,4,8,12,16 with 256
patches, nce_idt), narrowed to 32 px: resnet_6blocks with 16 channels, a 32-channel D, and
PatchNCE's MLP 64 wide. Variants: 'fastcut', 'tiny', 'fastcut,tiny'. docs/cut.md gives the
measured errors beside the identity and CycleGAN.
"""

from configs import common, cut_horse2zebra


def get_config(arg=None):
  def shapes(config):
    config.name = 'shapes'
    config.netG = 'resnet_6blocks'
    config.ngf = 16
    config.ndf = 32
    config.netF_nc = 64
    config.data = common.get_data_config()
    data = config.data
    data.source = 'synthetic'
    data.synthetic = 'shapes_recolour'
    data.dataset_mode = 'unaligned'
    data.synthetic_size = 32
    data.preprocess = 'none'
    data.load_size = 32
    data.crop_size = 32
    config.log_every = 100
    config.sample_every = 512
    config.checkpoint_every = 1024
    config.num_samples = 8
    return config

  config = cut_horse2zebra.build(arg, shapes)
  if not cut_horse2zebra.parse_arg(arg)[1]:
    # 1024 images an epoch; 1 + 1 epochs = 2048 steps of batch 1, as CycleGAN's demo.
    config.n_epochs, config.n_epochs_decay = 1, 1
  return config
