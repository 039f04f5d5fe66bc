"""MUNIT on summer2winter_yosemite (256 px): the official summer2winter_yosemite256_folder.yaml.

Data: ./datasets/summer2winter_yosemite256/summer2winter_yosemite/{trainA,trainB,testA,testB}
(the official scripts/demo_train_summer2winter_yosemite256.sh; CycleGAN's
summer2winter_yosemite set). Differs from edges2shoes in the explicit cycle loss
(recon_x_cyc_w 10) and logging every iteration, samples every 100.
"""

from configs import common, munit_edges2shoes, tiny


def get_config(arg=None):
  config = munit_edges2shoes.munit_defaults(common.get_config())
  munit_edges2shoes.dataset(config, 'summer2winter_yosemite256')
  config.data.dataroot = './datasets/summer2winter_yosemite256/summer2winter_yosemite'
  config.recon_x_cyc_w = 10.0
  config.log_every = 1  # log_iter
  return munit_edges2shoes.shrink(config) if tiny.parse_arg(arg) else config
