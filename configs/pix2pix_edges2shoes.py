"""pix2pix on edges2shoes (UT Zappos50K, HED edges), edges -> photo.

  python train.py --model=pix2pix --config=configs/pix2pix_edges2shoes.py --workdir=runs/shoes

The pix2pix paper (appendix 6.3) trains edges2shoes for 15 epochs with batch size 4; its code
keeps the learning rate constant, hence n_epochs=15 and no decay epochs. The official pretrained
edges2shoes model is a unet_256 run AtoB. Data: ./datasets/edges2shoes (A|B side by side),
from the official `bash ./datasets/download_pix2pix_dataset.sh edges2shoes`, or tfds
pix2pix/edges2shoes. The archive has no test split: eval.py reads val.
"""

from configs import pix2pix_facades, tiny


def get_config(arg=None):
  config = pix2pix_facades.get_config()
  config.name = 'edges2shoes_pix2pix'
  config.batch_size = 4
  config.n_epochs = 15
  config.n_epochs_decay = 0
  config.data.dataroot = './datasets/edges2shoes'
  config.data.tfds_name = 'pix2pix/edges2shoes'  # used with --config.data.source=tfds
  config.eval.split = 'val'  # the archive has train/ and val/ only
  config.data.direction = 'AtoB'
  return tiny.shrink(config) if tiny.parse_arg(arg) else config
