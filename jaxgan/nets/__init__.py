"""Networks by name: `define_G(config, input_nc, output_nc)`, `define_D(config, input_nc)`."""

from jaxgan.nets.discriminators import DISCRIMINATORS, define_D
from jaxgan.nets.generators import GENERATORS, define_G

__all__ = ['DISCRIMINATORS', 'GENERATORS', 'define_D', 'define_G']
