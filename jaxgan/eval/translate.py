"""One translation per input (pix2pix, CycleGAN; BicycleGAN on a folder): PNGs, an HTML page,
metrics.

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
"""

import pathlib

import jax
import numpy as np

from jaxgan import errors, models, visualize
from jaxgan.data import synthetic
from jaxgan.eval import core
from jaxgan.metrics import ground_truth


def translator(model, direction):
  """jit(state, images, keys) -> outputs, translating each image on its own (see module doc)."""

  def one(state, image, key):
    return model.translate(state, image[None], direction, rng=key)[0]

  return jax.jit(jax.vmap(one, in_axes=(None, 0, 0)))


def translate_all(
  config, state, out_dir, *, num_test=None, folder=None, direction='AtoB', output_only=False
):
  """One translation per image and direction (pix2pix, CycleGAN, BicycleGAN on a folder).

  Arguments as `jaxgan.eval.evaluate`.

  Returns:
    {direction: {'model': {'mae', 'psnr'}, 'identity': ..., 'mean_image': ...,
    'num_images': n}} for the built-in synthetic sets, else {}.
  """
  model = models.get(config.model)
  out_dir = pathlib.Path(out_dir)
  num_test = config.eval.num_test if num_test is None else num_test
  gens = core.directions(model, state)
  if folder is not None:
    if direction not in gens:
      raise errors.ConfigError(f'{config.model} has no {direction} generator')
    config = core.folder_config(config, folder, direction)
    passes = {direction: ('A', None)}
    batch_size = 1  # folders hold images of any size: one a batch, as the official test
  else:
    paired = config.data.dataset_mode == 'aligned' or config.data.source == 'synthetic'
    passes = {'AtoB': ('A', 'B' if paired else None)}
    if 'BtoA' in gens:
      passes['BtoA'] = ('B', 'A' if paired else None)
    batch_size = core.eval_batch_size(config, config.eval.batch_size)

  dataset = core.dataset(config, batch_size)
  page = visualize.HtmlPage(f'{config.name} ({config.model}): {folder or config.eval.split}')
  results = {}
  measure = config.data.source == 'synthetic' and folder is None and not output_only
  bucket = config.eval.get('size_bucket', 0)
  with core.page_kept_on_interrupt(out_dir, None if output_only else page):
    for d, (source, target) in passes.items():
      out_name, in_name = ('fake_B', 'real_A') if source == 'A' else ('fake_A', 'real_B')
      target_name = {'A': 'real_A', 'B': 'real_B'}.get(target)
      translate = core.sized(translator(model, d), core.size_multiple(state, gens[d]), bucket)
      base_key = core.stream_key(config, d)
      image_dir = out_dir / 'images' / d
      page.add_header(f'{d[0]} -> {d[-1]} ({gens[d]})')
      inputs, outputs, targets, count = [], [], [], 0
      bar = core.progress_bar(f'translating {d}')
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
          name = core.image_name(paths[i], count)
          count += 1
          bar.update()
          if output_only:
            path = core.output_path(out_dir, name, d if len(passes) > 1 else None)
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
      bar.close()
      if count == 0:
        raise errors.InputError(
          f'no images to translate in {folder or f"split {config.eval.split!r}"}'
        )
      if measure:
        # The test split's targets are the true ones; baselines on the same images.
        task = config if d == 'AtoB' else core.reverse_config(config)
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
  core.save_results(out_dir, page, results)
  return results
