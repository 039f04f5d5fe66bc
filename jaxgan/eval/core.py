"""What every evaluation shares: restoring a run, sizing images for the generator, naming and
keying images, the LPIPS diversity score.

Any image size: with data.preprocess 'none' each image is translated at its own size. A side
the generator cannot take (a U-Net needs multiples of 2**depth, the ResNet of 4) is padded by
reflection to the next multiple of max(the net's, config.eval.size_bucket) and the output
cropped back, so outputs have their input's exact size, and a folder of mixed sizes compiles
once per bucket, not once per image.
"""

import contextlib
import copy
import json
import os
import pathlib
import sys

import jax
import numpy as np

from jaxgan import checkpoint, data, errors, models
from jaxgan.port import states


def size_multiple(state, net):
  """Image sides net `net` of a state maps to the same size: multiples of this."""
  return int(getattr(state.nets.get(net), 'size_multiple', 1))


def padding(shape, multiple, bucket=0):
  """(top, bottom, left, right) reflect padding of an [..., H, W, C] shape for a generator.

  Each side grows to the next multiple of `multiple` (what the net needs), rounded up to a
  multiple of `bucket` too when bucket > 0, so that nearby sizes share one compiled program.
  The padding is split evenly, so the image stays centred in the net's view.
  """
  step = multiple * max(1, -(-int(bucket) // multiple))
  pads = []
  for size in shape[-3:-1]:
    total = -size % step
    pads += [total // 2, total - total // 2]
  return tuple(pads)


def pad(images, pads):
  """Reflect-pads [..., H, W, C] images by `padding`'s (top, bottom, left, right)."""
  images = np.asarray(images)
  if not any(pads):
    return images
  widths = [(0, 0)] * (images.ndim - 3) + [tuple(pads[:2]), tuple(pads[2:]), (0, 0)]
  return np.pad(images, widths, mode='reflect' if min(images.shape[-3:-1]) > 1 else 'edge')


def crop(images, pads):
  """Undoes `pad` on outputs [..., H', W', C]."""
  images = np.asarray(images)
  top, bottom, left, right = pads
  height, width = images.shape[-3:-1]
  return images[..., top : height - bottom, left : width - right, :]


def sized(translate, multiple, bucket):
  """`translate(state, images, *args)` for images of any size: padded in, cropped out."""

  def run(state, images, *args):
    pads = padding(np.shape(images), multiple, bucket)
    return crop(translate(state, pad(images, pads), *args), pads)

  return run


def folder_config(config, folder, direction):
  """The config that reads every image of `folder` as the input of `direction` ('single')."""
  config = copy.deepcopy(config)
  if direction == 'BtoA':
    config.data.input_nc = config.data.output_nc
  config.data.source, config.data.dataroot, config.data.dataset_mode = 'folder', folder, 'single'
  config.data.direction = 'AtoB'  # the folder is the input domain either way
  return config


def eval_batch_size(config, default):
  """Batches of `default` images, or of 1 where the images keep their own (mixed) sizes."""
  from jaxgan.data import transforms  # noqa: PLC0415

  fixed = transforms.output_shape(config.data)[0] or config.data.source == 'synthetic'
  return default if fixed else 1


def output_path(out_dir, name, direction=None):
  """Where --output_only writes the translation of input `name`."""
  out_dir = pathlib.Path(out_dir)
  return (out_dir / direction if direction else out_dir) / f'{name}.png'


# Eval's random streams: each direction's translations, and BicycleGAN's random z.
_STREAMS = {'AtoB': 1, 'BtoA': 2, 'z': 3}


def stream_key(config, stream):
  """The key of one of eval's random streams ('AtoB', 'BtoA', 'z'); image i of the stream
  draws from fold_in(key, i), so results do not depend on the batch size."""
  return jax.random.fold_in(jax.random.PRNGKey(config.seed), _STREAMS[stream])


def directions(model, state):
  """{direction: the net whose input the images are}, for the directions the model translates
  (pix2pix and BicycleGAN: AtoB by G; CycleGAN G_A and G_B; MUNIT gen_a and gen_b)."""
  out = {}
  for direction in _STREAMS:
    if direction == 'z':
      continue
    try:
      out[direction] = model.inference(state, direction).net
    except errors.ConfigError:
      continue
  return out


def _create(config):
  model = models.get(config.model)
  return lambda: model.create(config, jax.random.PRNGKey(config.seed), 1)


def _restore_best(workdir, config):
  """(state, step) of the run's best-scoring state (config.keep_best, jaxgan.train_eval)."""
  record = checkpoint.read_best(workdir)
  if record is None:
    raise errors.InputError(
      f'--step=best: {pathlib.Path(workdir) / checkpoint.BEST_DIR / checkpoint.BEST_FILE} '
      'not found; a run keeps its best state with --config.eval_every=N '
      '--config.keep_best=<score>'
    )
  with checkpoint.Checkpointer(
    workdir, keep=None, read_only=True, subdir=checkpoint.BEST_DIR
  ) as ckpt:
    state = ckpt.restore(jax.eval_shape(_create(config)), record['step'])
  print(f'best {record["metric"]} {record["value"]:.4g}: step {record["step"]}', flush=True)
  return state, record['step']


def restore(workdir, defaults=None, step=None, overrides=()):
  """(config, state, step) of a checkpoint of a training workdir (default: the newest).

  Args:
    workdir: the training run's directory.
    defaults: fills the options the stored config lacks (`checkpoint.load_config`).
    step: the checkpoint's step; None for the newest; 'best' for the best-scoring state
      (config.keep_best).
    overrides: [(key, value text)] applied to the stored config (`config_overrides.apply`):
      data and eval keys; one that would change the nets is refused.

  Raises:
    jaxgan.errors.InputError: no workdir, no config.json, no such checkpoint, or a misfit.
    jaxgan.errors.ConfigError: an unknown or refused override.
  """
  from jaxgan import config_overrides  # noqa: PLC0415

  config = checkpoint.load_config(workdir, defaults)
  config_overrides.apply(config, overrides)
  if step == 'best':
    return (config, *_restore_best(workdir, config))
  with checkpoint.Checkpointer(workdir, keep=None, read_only=True) as ckpt:
    steps = ckpt.all_steps()
    if not steps:
      raise errors.InputError(f'no checkpoint in {ckpt.directory}: train first (train.py)')
    if step is None:
      state, step = ckpt.restore_intact(jax.eval_shape(_create(config)))
      return config, state, step
    if step in ckpt.incomplete_steps():
      raise errors.InputError(
        f'--step={step}: {ckpt.directory / str(step)} is not a complete checkpoint (an '
        f'interrupted copy?); complete steps: {", ".join(map(str, steps))}'
      )
    if step not in steps:
      raise errors.InputError(
        f'--step={step}: no checkpoint of that step in {ckpt.directory}; saved steps: '
        + ', '.join(map(str, steps))
      )
    state = ckpt.restore(jax.eval_shape(_create(config)), step)
  return config, state, step


def load_weights(config, weights):
  """A state whose nets `weights` names ({net: .pth/.npz path}) hold official weights.

  Only the named nets are usable (the others, and the optimizer states, are zeros): enough to
  translate with the generators given.

  Raises:
    jaxgan.errors.WeightsError: a file that is missing, unreadable or does not fit.
  """
  state = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), jax.eval_shape(_create(config)))
  return states.load_into(config, state, weights)


def image_name(path, index):
  """The name outputs of an input take: its file's stem, else its index (5 digits)."""
  path = path.decode() if isinstance(path, bytes) else str(path)
  stem = os.path.splitext(os.path.basename(path))[0]
  return stem or f'{index:05d}'


def reverse_config(config):
  """The config of the B -> A task (direction and channel counts swapped)."""
  config = copy.deepcopy(config)
  d = config.data
  d.direction = 'BtoA' if d.direction == 'AtoB' else 'AtoB'
  d.input_nc, d.output_nc = d.output_nc, d.input_nc
  return config


def dataset(config, batch_size=1):
  """config.eval.split (or the folder of `folder_config`) as eval reads it: in order, on one
  process, every image at its own size under preprocess 'none'."""
  return data.build(
    config,
    config.eval.split,
    train=False,
    process_index=0,
    process_count=1,
    batch_size=batch_size,
    own_size=True,
  )


_quiet = []


@contextlib.contextmanager
def quiet():
  """No progress bars inside the block: an evaluation during training, under its own bar."""
  _quiet.append(True)
  try:
    yield
  finally:
    _quiet.pop()


def progress_bar(desc):
  """A bar on stderr counting the images eval translates ('translating AtoB: 37 images
  [00:05, 7.1 images/s]'), so that no phase of an evaluation is silent."""
  import tqdm  # noqa: PLC0415

  return tqdm.tqdm(
    desc=desc, unit=' images', file=sys.stderr, mininterval=1.0, ncols=100, disable=bool(_quiet)
  )


@contextlib.contextmanager
def page_kept_on_interrupt(out_dir, page):
  """On Ctrl-C inside the block, saves `page` (the rows of what was written so far, marked
  as interrupted) as <out_dir>/index.html before the interrupt goes on: a usable index."""
  try:
    yield
  except KeyboardInterrupt:
    if page is not None:
      page.add_header('interrupted: the rows above are every image written')
      page.save(pathlib.Path(out_dir) / 'index.html')
    raise


def save_results(out_dir, page, results):
  """The page as <out_dir>/index.html and, when there are any, the scores as metrics.json."""
  out_dir = pathlib.Path(out_dir)
  page.save(out_dir / 'index.html')
  if results:
    (out_dir / 'metrics.json').write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')


def sample_diversity(config, samples):
  """`diversity` of a list of per-input sample stacks [M, H, W, C], which must share a size."""
  if len({s.shape for s in samples}) != 1:
    return {'skipped': 'inputs of different sizes (data.preprocess none)'}
  return diversity(config, np.stack(samples))


def diversity(config, samples):
  """The LPIPS diversity of a multimodal model's samples, as its papers measure it.

  Args:
    config: the run's config (eval.lpips_diversity, eval.lpips_net, eval.lpips_version).
    samples: [N, M, H, W, C] in [-1, 1]: M samples (codes) for each of N inputs; 1-channel
      images are compared as grey RGB.

  Returns:
    metrics.lpips.diversity's dict plus 'net' and 'version'; {'skipped': why} where it is off,
    the weights cannot be found, or the images are too small for the backbone.
  """
  from jaxgan.metrics import lpips  # noqa: PLC0415 - its weights load only when asked for

  e = config.eval
  if not e.get('lpips_diversity', True):
    return {'skipped': 'eval.lpips_diversity is off'}
  samples = np.asarray(samples, np.float32)
  if samples.shape[1] < 2:
    return {'skipped': 'fewer than 2 samples per input'}
  if samples.shape[-1] == 1:
    samples = np.repeat(samples, 3, axis=-1)
  net, version = e.get('lpips_net', 'alex'), e.get('lpips_version', '0.0')
  if min(samples.shape[2:4]) < lpips.MIN_SIZE[net]:
    return {'skipped': f'LPIPS {net} needs images of at least {lpips.MIN_SIZE[net]} px'}
  try:
    model = lpips.load(net, version)
  except errors.WeightsError as error:
    return {'skipped': str(error)}
  return {**lpips.diversity(model, samples), 'net': net, 'version': version}


def format_diversity(result):
  """One line for `diversity`'s result."""
  if 'skipped' in result:
    return f'LPIPS diversity skipped: {result["skipped"]}'
  return (
    f'LPIPS diversity {result["lpips_diversity"]:.4f} +- {result["lpips_diversity_std"]:.4f} '
    f'({result["net"]}, v{result["version"]}, {result["pairs"]} pairs)'
  )
