"""BicycleGAN on edges2handbags, edges -> photo (official scripts/train.sh, 'edges2handbags').

  python train.py --model=bicyclegan --config=configs/bicyclegan_edges2handbags.py \
    --workdir=runs/bags

As edges2shoes (1-channel edges, load 256) but 15 + 15 epochs and flipping on. Data:
./datasets/edges2handbags from `bash ./datasets/download_dataset.sh edges2handbags`; eval.py reads
val.
"""

from configs import bicyclegan_edges2shoes, tiny


def get_config(arg=None):
  config = bicyclegan_edges2shoes.get_config()
  config.name = 'edges2handbags_bicycle_gan'
  config.n_epochs = 15
  config.n_epochs_decay = 15
  config.data.dataroot = './datasets/edges2handbags'
  config.data.tfds_name = 'pix2pix/edges2handbags'
  config.data.no_flip = False
  return bicyclegan_edges2shoes.shrink(config) if tiny.parse_arg(arg) else config
