"""BicycleGAN and its baselines on the built-in multimodal task (32 px, no download).

  python train.py --model=bicyclegan --config=configs/bicyclegan_shapes.py --workdir=runs/bicycle
  python eval.py --workdir=runs/bicycle --n_samples=8   # samples, HTML, mode coverage/precision

`shapes_multimodal` (jaxgan/data/synthetic_multimodal.py): a shape's silhouette -> the shape in
one of 4 colours, drawn at random per image. The variant is the config's arg:

  configs/bicyclegan_shapes.py                  BicycleGAN (cVAE-GAN + cLR-GAN)
  configs/bicyclegan_shapes.py:pix2pix_noise    pix2pix+noise: z ~ N(0, I) in G, GAN + L1, no E
  configs/bicyclegan_shapes.py:cvae_gan         cVAE-GAN: the encoded branch only
  configs/bicyclegan_shapes.py:clr_gan          cLR-GAN: the random-z branch only, E trained on it
  configs/bicyclegan_shapes.py:tiny             (and <variant>,tiny): for tests

The official objective and options, scaled to 32 px: unet_32 (5 downsamplings, z in every
block), resnet_32 E, 2-scale basic_128_multi Ds, instance norm, lsgan; batch 8 (halves of 4)
and 10x the official lr, so that the 4 variants train in CPU minutes with the same step budget.

nz 2, not the official 8: the task has one latent factor with 4 values, and E's posterior uses
one or two of the entries (the others stay at the prior, mu 0, sigma 1). The latent regression
|mu(E(G(A, z))) - z| still asks G to make every entry of z recoverable from its output, and
with 4 valid outputs G can only do that by hiding z in textures: at nz 8, random-z samples
carry them on the grey background (precision 0.45 to 0.50 in three runs at 2048 steps); at
nz 2, 0.42 to 0.75 over three seeds at 2048 steps and 0.46 to 0.90 at 4096
(docs/bicyclegan.md). The official authors advise a smaller nz for such artifacts
(junyanz/BicycleGAN#64).
"""

from configs import bicyclegan_edges2shoes, tiny

VARIANTS = {
  'bicyclegan': {},
  'pix2pix_noise': dict(z_from_E=False, lambda_kl=0.0, lambda_GAN2=0.0, lambda_z=0.0),
  'cvae_gan': dict(lambda_GAN2=0.0, lambda_z=0.0),
  'clr_gan': dict(lambda_GAN=0.0, lambda_L1=0.0, lambda_kl=0.0, latent_updates_E=True),
}


def get_config(arg=None):
  parts = [p for p in (arg or '').split(',') if p]
  variant = next((p for p in parts if p in VARIANTS), 'bicyclegan')
  rest = [p for p in parts if p not in VARIANTS]
  if len(rest) > 1:
    raise ValueError(f'unknown config variant {arg!r}; known: {", ".join(VARIANTS)}, tiny')
  small = tiny.parse_arg(rest[0] if rest else None)

  config = bicyclegan_edges2shoes.get_config()
  config.name = f'shapes_{variant}'
  config.nz = 2  # see the docstring
  config.netG = 'unet_32'
  config.ngf = 16
  config.netE = 'resnet_32'
  config.nef = 16
  config.netD = config.netD2 = 'basic_128_multi'
  config.ndf = 16
  config.no_dropout = True
  config.batch_size = 8
  config.lr = 2e-3
  # 1024 images / 8 = 128 steps an epoch; 16 + 16 epochs = 4096 steps (better precision than
  # 2048 in all three seeds measured: docs/bicyclegan.md).
  config.n_epochs = 16
  config.n_epochs_decay = 16
  config.update(VARIANTS[variant])

  data = config.data
  data.source = 'synthetic'
  data.synthetic = 'shapes_multimodal'
  data.dataset_mode = 'aligned'
  data.direction = 'AtoB'
  data.input_nc = 3
  data.synthetic_size = 32
  data.preprocess = 'none'
  data.load_size = 32
  data.crop_size = 32
  data.no_flip = False

  config.log_every = 64
  config.sample_every = 512
  config.checkpoint_every = 1024
  config.num_samples = 8
  config.eval.split = 'test'
  config.eval.num_test = 0
  config.eval.n_samples = 8
  if small:
    bicyclegan_edges2shoes.shrink(config)
    config.data.synthetic = 'shapes_multimodal'
  return config
