"""MUNIT on edges2shoes: the official configs/edges2shoes_folder.yaml.

  python train.py --model=munit --workdir=runs/e2s   # this config is munit's default

Data: ./datasets/edges2shoes with trainA/ (edges), trainB/ (shoes), testA/, testB/, made as the
official scripts/demo_train_edges2shoes.sh does: download pix2pix's edges2shoes.tar.gz
(https://people.eecs.berkeley.edu/~tinghuiz/projects/pix2pix/datasets/edges2shoes.tar.gz), then
split each train/ and val/ image into its left half (A) and right half (B). Without it, run on
the built-in data: --config=configs/munit_shapes.py.

The yaml's keys keep their names (gen.*, dis.*, gan_w, recon_x_w, max_iter as num_steps,
log_iter as log_every, image_save_iter as sample_every, snapshot_save_iter as
checkpoint_every, display_size as num_samples).
"""

import ml_collections

from configs import common, tiny


def munit_defaults(config):
  """The official MUNIT hyper-parameters every yaml shares (edges2shoes_folder.yaml's)."""
  config.model = 'munit'
  config.num_steps = 1_000_000  # max_iter
  config.batch_size = 1
  config.weight_decay = 1e-4
  config.beta1 = 0.5
  config.beta2 = 0.999
  config.init = 'kaiming'  # generators; discriminators are always N(0, 0.02)
  config.lr = 1e-4
  config.lr_policy = 'step'  # step | constant, stepped every iteration
  config.step_size = 100_000
  config.gamma = 0.5
  config.gan_w = 1.0
  config.recon_x_w = 10.0
  config.recon_s_w = 1.0
  config.recon_c_w = 1.0
  config.recon_x_cyc_w = 0.0
  config.vgg_w = 0.0
  # VGG16 of the perceptual loss (vgg_w > 0), see jaxgan/nets/vgg16.py: 'caffe' is the
  # official model (the caffe VGG16 converted to vgg16.weight, BGR 0-255 mean-subtracted
  # input); 'torchvision' is torchvision's vgg16 (as lpips ships it) with its ImageNet
  # normalisation. vgg_weights: a weight file; '' looks in the cache, as jaxgan.metrics does.
  config.vgg_model = 'caffe'
  config.vgg_weights = ''
  config.gen = ml_collections.ConfigDict(
    dict(
      dim=64, mlp_dim=256, style_dim=8, activ='relu', n_downsample=2, n_res=4, pad_type='reflect'
    )
  )
  config.dis = ml_collections.ConfigDict(
    dict(
      dim=64,
      norm='none',
      activ='lrelu',
      n_layer=4,
      gan_type='lsgan',
      num_scales=3,
      pad_type='reflect',
    )
  )
  config.log_every = 10  # log_iter
  config.sample_every = 10_000  # image_save_iter
  config.checkpoint_every = 10_000  # snapshot_save_iter
  config.num_samples = 16  # display_size
  config.pool_size = 0
  # eval.py: the official test.py's styles per input; --style for example-guided translation.
  config.eval.num_styles = 10
  config.eval.style = ''
  config.eval.style_domain = 'B'
  config.eval.synchronized = False  # the same random styles for every input (official test_batch)
  config.eval.mode_threshold = 0.02  # the built-in multimodal task only
  config.eval.batch_size = 1

  data = config.data
  data.source = 'folder'
  data.dataset_mode = 'unaligned'
  data.direction = 'AtoB'
  data.input_nc = 3  # input_dim_a
  data.output_nc = 3  # input_dim_b
  # new_size 256 then a random 256 crop and a random flip; at 256 x 256 the official resize of
  # the shorter side and jaxgan's square resize agree.
  data.preprocess = 'resize_and_crop'
  data.load_size = 256
  data.crop_size = 256
  data.no_flip = False
  return config


def shrink(config):
  """The tiny variant: tiny.shrink, and MUNIT's nets at 4-8 channels for 32 px."""
  tiny.shrink(config)
  config.data.synthetic = 'shapes_unpaired_multimodal'  # MUNIT's built-in task
  config.gen.update(dim=4, mlp_dim=8, n_res=1, n_downsample=1)
  config.dis.update(dim=4, n_layer=2, num_scales=2)
  return config


def dataset(config, name):
  """Points `config` at the unpaired folders ./datasets/<name>/{train,test}{A,B}."""
  config.name = f'{name}_munit'
  config.data.dataroot = f'./datasets/{name}'
  return config


def get_config(arg=None):
  config = munit_defaults(common.get_config())
  dataset(config, 'edges2shoes')
  return shrink(config) if tiny.parse_arg(arg) else config
