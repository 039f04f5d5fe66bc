"""CycleGAN on the built-in unpaired shapes task (32 px, no download).

  python train.py --model=cyclegan --config=configs/cyclegan_shapes.py --workdir=runs/cyclegan_demo
  python eval.py --workdir=runs/cyclegan_demo --nofid   # both directions, against the true targets

`shapes_recolour` (jaxgan/data/synthetic.py): A paints circles red, squares green, triangles blue;
B paints them yellow, cyan, magenta; the two domains' scenes are drawn independently. Which of the
6 colour swaps is right shows only in each domain's pairing of kind and colour, so the
discriminators must teach it. The official CycleGAN objective (lsgan, cycle 10 + 10, identity 0.5,
pools of 50), batch size 1 and nets (instance norm, no dropout, 70x70 PatchGAN), narrowed to 32 px
(16 generator and 32 discriminator channels), with one switch: a U-Net generator (unet_32: the
official U-Net class at depth 5) instead of resnet_6blocks. The discriminators' width decides
whether they teach the pairing: with 16 channels, seeds 0 to 3 all settled on a wrong colour
swap (0.0002 to 0.45 of the shape pixels right; seed 0 had found the right one only before the
inputs were rounded as the official ToTensor rounds them, a 1e-7 change); with 32, seeds 0, 1
and 2 find the right one (0.997 or more) and seed 3 a wrong one (0.25). README.md has the
current seeds' figures (tools/readme_results.py). Measured on the sparse outline images of
'shapes_unpaired' (80 % flat grey background), the ResNet generator could not even learn the
identity in 1500 Adam steps, official PyTorch and jaxgan alike (its L1 stayed at that of
predicting the background), where the U-Net's skip connections carry the shapes through.
"""

from configs import common, cyclegan_horse2zebra, tiny


def get_config(arg=None):
  config = cyclegan_horse2zebra.get_config()
  config.name = 'shapes_cyclegan'
  config.netG = 'unet_32'
  config.ngf = 16
  config.ndf = 32  # see the docstring: with 16 every seed tried found a wrong colour swap
  # Batch 1 as the paper: for the same compute, 4x the updates of batch 8 on 2 CPU cores.
  config.batch_size = 1
  # 1024 images an epoch; 1 + 1 epochs = 2048 steps (README.md: the measured time).
  config.n_epochs = 1
  config.n_epochs_decay = 1

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
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
