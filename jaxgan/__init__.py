"""jaxgan: pix2pix, CycleGAN, BicycleGAN and MUNIT in JAX/Flax."""

__version__ = '0.1.0'
