"""MUNIT on SYNTHIA -> Cityscapes: the official synthia2cityscape_folder.yaml.

Data: ./datasets/synthia2cityscape/{trainA,trainB,testA,testB} (not distributed by the official
repo: SYNTHIA and Cityscapes need their own registration). The explicit cycle loss
(recon_x_cyc_w 10) and the VGG perceptual loss (vgg_w 1, official caffe VGG16 weights: see
jaxgan/nets/vgg16.py) are on; 512 x 512 crops.

The official loader resizes the shorter side to new_size 512, then crops 512 x 512; jaxgan's
nearest option scales the width to load_size (1024 for Cityscapes' 2:1 frames gives the same
1024 x 512; SYNTHIA's 1280 x 760 becomes 1024 x 608 instead of 862 x 512), then crops.
"""

from configs import common, munit_edges2shoes, tiny


def get_config(arg=None):
  config = munit_edges2shoes.munit_defaults(common.get_config())
  munit_edges2shoes.dataset(config, 'synthia2cityscape')
  config.recon_x_cyc_w = 10.0
  config.vgg_w = 1.0
  config.data.preprocess = 'scale_width_and_crop'
  config.data.load_size = 1024
  config.data.crop_size = 512
  if tiny.parse_arg(arg):
    munit_edges2shoes.shrink(config)
    config.vgg_w = 0.0  # no VGG16 weights in tests
  return config
