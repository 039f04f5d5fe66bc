"""The 'tiny' variant every config offers (`--config=configs/<name>.py:tiny`): not a config.

Same model, objective and options as the full config, shrunk for tests: the built-in synthetic
set at 32 px, nets 4-8 channels wide, a few steps, frequent logs/samples/checkpoints.
"""


def shrink(config):
  """Shrinks `config` in place and returns it."""
  config.name = f'{config.name}_tiny'
  paired = config.model == 'pix2pix'
  data = config.data
  data.source = 'synthetic'
  data.synthetic = 'shapes_paired' if paired else 'shapes_unpaired'
  data.dataset_mode = 'aligned' if paired else 'unaligned'
  data.synthetic_size = 32
  data.synthetic_train = 16
  data.synthetic_test = 4
  data.preprocess = 'none'
  data.load_size = 32
  data.crop_size = 32
  data.shuffle_buffer = 16
  data.prefetch = 1
  if config.netG.startswith('unet_'):
    config.netG = 'unet_32'  # 5 downsamplings: 32 px down to 1 x 1, as unet_256 does at 256
  config.ngf = 8
  config.ndf = 4
  config.n_layers_D = 2
  config.batch_size = 2
  config.num_steps = 4
  config.log_every = 2
  config.sample_every = 2
  config.checkpoint_every = 2
  config.num_samples = 2
  config.eval.batch_size = 2
  config.eval.split = 'test'
  return config


def parse_arg(arg):
  """The variant named by get_config's arg: None / '' (full) or 'tiny'; ValueError otherwise."""
  if arg in (None, '', 'full'):
    return False
  if arg == 'tiny':
    return True
  raise ValueError(f"unknown config variant {arg!r}; known: 'tiny'")
