"""BicycleGAN and its baselines on the built-in continuous multimodal task (32 px, no download).

  python train.py --model=bicyclegan --config=configs/bicyclegan_hues.py --workdir=runs/hues
  python eval.py --workdir=runs/hues --nofid --nolpips   # samples, HTML, coverage/precision

`shapes_hues` (jaxgan/data/synthetic_multimodal.py): a shape's silhouette -> the shape filled in
any fully saturated colour of hue 0 to 240 degrees and value 0.5 to 1, drawn per image. Two
continuous latent factors, as nz = 2 codes them, where `bicyclegan_shapes.py`'s 4 colours are
one discrete one. Everything else is `configs/bicyclegan_shapes.py`, variants included:

  configs/bicyclegan_hues.py:pix2pix_noise   (and :cvae_gan, :clr_gan, :tiny, :<variant>,tiny)
"""

from configs import bicyclegan_shapes


def get_config(arg=None):
  config = bicyclegan_shapes.get_config(arg)
  config.name = config.name.replace('shapes_', 'hues_')
  config.data.synthetic = 'shapes_hues'
  return config
