"""Evaluation: translate a split or a folder with a trained model; PNGs, an HTML page, metrics.

As the official test.py: every image is translated on its own (batch norm in train mode sees
that image only, and dropout draws from a key of the image's index), so results do not depend
on the batch size; config.eval.eval_mode switches to the running statistics and no dropout
(the official --eval). Outputs, under `out_dir`:

  index.html                     one row per image: input | output | target (when known)
  images/<direction>/<name>_<visual>.png   e.g. images/AtoB/00003_fake_B.png
  metrics.json                   built-in synthetic sets only: MAE / PSNR against the true
                                 target, beside the identity and mean-image baselines

CycleGAN is evaluated in both directions (G_A: A -> B, G_B: B -> A), one section each.
With `output_only`, only the translations are written: `<out_dir>/<input name>.png`, one per
input (under `<out_dir>/<direction>/` when both directions are translated), no page, no metrics.

Any image size: with data.preprocess 'none' each image is translated at its own size. A side
the generator cannot take (a U-Net needs multiples of 2**depth, the ResNet of 4) is padded by
reflection to the next multiple of max(the net's, config.eval.size_bucket) and the output
cropped back, so outputs have their input's exact size, and a folder of mixed sizes compiles
once per bucket, not once per image.
"""

import copy
import json
import os
import pathlib

import jax
import ml_collections
import numpy as np

from jaxgan import checkpoint, data, errors, models, visualize
from jaxgan.data import synthetic
from jaxgan.metrics import ground_truth
from jaxgan.port import states


def generators(model):
  """{direction: generator net} of a model: pix2pix G (AtoB); CycleGAN G_A and G_B."""
  if 'G' in model.NETS:
    return {'AtoB': 'G'}
  return {'AtoB': 'G_A', 'BtoA': 'G_B'}


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


def _create(config):
  model = models.get(config.model)
  return lambda: model.create(config, jax.random.PRNGKey(config.seed), 1)


def restore(workdir, defaults=None, step=None, overrides=()):
  """(config, state, step) of a checkpoint of a training workdir (default: the newest).

  Args:
    workdir: the training run's directory.
    defaults: fills the options the stored config lacks (`checkpoint.load_config`).
    step: the checkpoint's step; None for the newest.
    overrides: [(key, value text)] applied to the stored config (`config_overrides.apply`):
      data and eval keys; one that would change the nets is refused.

  Raises:
    jaxgan.errors.InputError: no workdir, no config.json, no such checkpoint, or a misfit.
    jaxgan.errors.ConfigError: an unknown or refused override.
  """
  from jaxgan import config_overrides  # noqa: PLC0415

  config = checkpoint.load_config(workdir, defaults)
  config_overrides.apply(config, overrides)
  with checkpoint.Checkpointer(workdir, keep=None, read_only=True) as ckpt:
    steps = ckpt.all_steps()
    if not steps:
      raise errors.InputError(f'no checkpoint in {ckpt.directory}: train first (train.py)')
    if step is None:
      step = steps[-1]
    elif step not in steps:
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


def _translator(model, direction):
  """jit(state, images, keys) -> outputs, translating each image on its own (see module doc)."""

  def one(state, image, key):
    return model.translate(state, image[None], direction, rng=key)[0]

  return jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))


def _name(path, index):
  path = path.decode() if isinstance(path, bytes) else str(path)
  stem = os.path.splitext(os.path.basename(path))[0]
  return stem or f'{index:05d}'


def _reverse(config):
  """The config of the B -> A task (direction and channel counts swapped)."""
  config = copy.deepcopy(config)
  d = config.data
  d.direction = 'BtoA' if d.direction == 'AtoB' else 'AtoB'
  d.input_nc, d.output_nc = d.output_nc, d.input_nc
  return config


def evaluate(
  config, state, out_dir, *, num_test=None, folder=None, direction='AtoB', output_only=False
):
  """Translates config.eval.split (or every image of `folder`) and writes the outputs.

  Args:
    config: the run's config.
    state: the model's TrainState (only the generators are used).
    out_dir: where the page, images and metrics go.
    num_test: images per direction (default config.eval.num_test; 0 = all).
    folder: translate the images of this folder instead (the official 'single' mode), with
      the generator of `direction`.
    direction: for `folder` only: 'AtoB', or 'BtoA' (CycleGAN's G_B).
    output_only: write only the translations, named as their inputs (module docstring).

  Returns:
    {direction: {'model': {'mae', 'psnr'}, 'identity': ..., 'mean_image': ...,
    'num_images': n}} for the built-in synthetic sets, else {}.

  Raises:
    jaxgan.errors.JaxganError: a missing folder or split, an unusable image.
  """
  model = models.get(config.model)
  # The models read config.eval (eval_mode) from the state: this config governs.
  state = state.replace(config=ml_collections.FrozenConfigDict(config))
  # A multimodal model samples several outputs per input: its own page and metrics.
  own = getattr(model, 'evaluate', translate_all)
  return own(
    config,
    state,
    out_dir,
    num_test=num_test,
    folder=folder,
    direction=direction,
    output_only=output_only,
  )


def translate_all(
  config, state, out_dir, *, num_test=None, folder=None, direction='AtoB', output_only=False
):
  """`evaluate` for a model with one output per input (pix2pix, CycleGAN, and BicycleGAN on a
  folder): one translation per image and direction. Arguments and result as `evaluate`."""
  model = models.get(config.model)
  out_dir = pathlib.Path(out_dir)
  num_test = config.eval.num_test if num_test is None else num_test
  gens = generators(model)
  if folder is not None:
    if direction not in gens:
      raise errors.ConfigError(f'{config.model} has no {direction} generator')
    config = folder_config(config, folder, direction)
    passes = {direction: ('A', None)}
    batch_size = 1  # folders hold images of any size: one a batch, as the official test
  else:
    paired = config.data.dataset_mode == 'aligned' or config.data.source == 'synthetic'
    passes = {'AtoB': ('A', 'B' if paired else None)}
    if 'BtoA' in gens:
      passes['BtoA'] = ('B', 'A' if paired else None)
    batch_size = eval_batch_size(config, config.eval.batch_size)

  dataset = data.build(
    config,
    config.eval.split,
    train=False,
    process_index=0,
    process_count=1,
    batch_size=batch_size,
  )
  page = visualize.HtmlPage(f'{config.name} ({config.model}): {folder or config.eval.split}')
  results = {}
  measure = config.data.source == 'synthetic' and folder is None and not output_only
  bucket = config.eval.get('size_bucket', 0)
  for d, (source, target) in passes.items():
    out_name, in_name = ('fake_B', 'real_A') if source == 'A' else ('fake_A', 'real_B')
    target_name = {'A': 'real_A', 'B': 'real_B'}.get(target)
    translate = sized(_translator(model, d), size_multiple(state, gens[d]), bucket)
    base_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1 if d == 'AtoB' else 2)
    image_dir = out_dir / 'images' / d
    page.add_header(f'{d[0]} -> {d[-1]} ({gens[d]})')
    inputs, outputs, targets, count = [], [], [], 0
    for batch in dataset.batches():
      paths = batch[f'{source}_paths']
      keep = np.array([bool(p) for p in paths])  # b'' marks the padding of the last batch
      if num_test:
        keep &= np.cumsum(keep) <= num_test - count
      if not keep.any():
        if num_test and count >= num_test:
          break
        continue
      indices = np.arange(count, count + len(paths))
      keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(base_key, indices)
      fake = translate(state, batch[source], keys)
      for i in np.flatnonzero(keep):
        name = _name(paths[i], count)
        count += 1
        if output_only:
          path = output_path(out_dir, name, d if len(passes) > 1 else None)
          visualize.save_png(path, visualize.to_uint8(fake[i]))
          continue
        visuals = {in_name: batch[source][i], out_name: fake[i]}
        if target:
          visuals[target_name] = batch[target][i]
        files = []
        for visual, image in visuals.items():
          visualize.save_png(image_dir / f'{name}_{visual}.png', visualize.to_uint8(image))
          files.append(f'images/{d}/{name}_{visual}.png')
        roles = ('input', 'output', 'target')[: len(visuals)]
        captions = [f'{v} ({role})' for v, role in zip(visuals, roles, strict=True)]
        page.add_header(name)
        page.add_images(files, captions, width=256)
        if measure:
          inputs.append(batch[source][i])
          outputs.append(fake[i])
          targets.append(batch[target][i])
    if count == 0:
      raise errors.InputError(
        f'no images to translate in {folder or f"split {config.eval.split!r}"}'
      )
    if measure:
      # The test split's targets are the true ones; baselines on the same images.
      task = config if d == 'AtoB' else _reverse(config)
      inputs, outputs, targets = (np.stack(x) for x in (inputs, outputs, targets))
      train_targets = synthetic.ground_truth(task, 'train')['B']
      results[d] = {
        'model': ground_truth.evaluate(outputs, targets),
        **ground_truth.baselines(inputs, targets, train_targets),
        'num_images': count,
      }
      palette = synthetic.palette(config.data.synthetic)
      if palette is not None and outputs.shape[-1] == 3:
        results[d]['colour_accuracy'] = ground_truth.colour_accuracy(
          outputs, targets, palette, synthetic.BACKGROUND
        )
  if output_only:
    return {}
  page.save(out_dir / 'index.html')
  if results:
    (out_dir / 'metrics.json').write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
  return results


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


def format_table(results):
  """The metrics as a text table, one row per direction and predictor."""
  lines = [f'{"direction":<10} {"predictor":<11} {"MAE":>8} {"PSNR (dB)":>10}']
  for d, scores in results.items():
    for predictor in ('model', 'identity', 'mean_image'):
      if predictor in scores:
        s = scores[predictor]
        lines.append(f'{d:<10} {predictor:<11} {s["mae"]:>8.4f} {s["psnr"]:>10.2f}')
    if 'colour_accuracy' in scores:  # shapes_recolour
      lines.append(f'{d:<10} shape pixels in the right colour: {scores["colour_accuracy"]:.4f}')
    if 'diversity' in scores:
      lines.append(f'{d:<10} {format_diversity(scores["diversity"])}')
    if 'modes' in scores:  # MUNIT on the multimodal task
      m = scores['modes']
      of = f' of {m["num_bins"]} bins' if 'num_bins' in m else ''
      lines.append(
        f'{d:<10} modes: coverage {m["coverage"]:.3f}{of}, precision {m["precision"]:.3f} '
        f'(MAE <= {m["threshold"]}, {m["num_styles"]} styles), content IoU {m["content_iou"]:.3f}'
      )
      if 'coverage_interior' in m:
        lines.append(
          f'{d:<10} colour inside the shapes: coverage {m["coverage_interior"]:.3f}, '
          f'precision {m["precision_interior"]:.3f} (per-pixel MAE <= {m["interior_threshold"]})'
        )
  return '\n'.join(lines)
