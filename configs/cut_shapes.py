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

from configs import cut_horse2zebra, cyclegan_shapes


def get_config(arg=None):
  def shapes(config):
    config.name = 'shapes'
    config.netG = 'resnet_6blocks'
    config.ngf = 16
    config.ndf = 32
    config.netF_nc = 64
    # CycleGAN's demo task and loop settings, from its config (one place to change them).
    demo = cyclegan_shapes.get_config()
    config.data = demo.data
    for key in ('log_every', 'sample_every', 'checkpoint_every', 'num_samples'):
      config[key] = demo[key]
    return config

  config = cut_horse2zebra.build(arg, shapes)
  if not cut_horse2zebra.parse_arg(arg)[1]:
    # 1024 images an epoch; 1 + 1 epochs = 2048 steps of batch 1, as CycleGAN's demo.
    config.n_epochs, config.n_epochs_decay = 1, 1
  return config
