"""MUNIT on edges2handbags: the official configs/edges2handbags_folder.yaml.

Data: ./datasets/edges2handbags/{trainA,trainB,testA,testB}, split from pix2pix's
edges2handbags as the official scripts/demo_train_edges2handbags.sh does (see
munit_edges2shoes.py). Its settings are edges2shoes' exactly.
"""

from configs import common, munit_edges2shoes, tiny


def get_config(arg=None):
  config = munit_edges2shoes.munit_defaults(common.get_config())
  munit_edges2shoes.dataset(config, 'edges2handbags')
  return munit_edges2shoes.shrink(config) if tiny.parse_arg(arg) else config
