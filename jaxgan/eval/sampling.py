"""Multimodal sampling for eval.py: per input, the encoded output and n_samples random-z outputs.

As the official BicycleGAN test.py: for every input image a row of the input, the ground truth,
the output of z = mu(E(B)) ('encoded', unless config.eval.no_encode) and config.eval.n_samples
outputs of z ~ N(0, I) ('random_sample01', ...). With config.eval.sync the same codes serve every
input (columns then show what each code does across inputs). Outputs, under `out_dir`:

  index.html                      one row per input, like the official results page
  images/<name>_<column>.png      e.g. images/00003_random_sample02.png
  metrics.json                    the LPIPS diversity of the random samples;
                                  on the built-in sets the encoded output's MAE / PSNR against
                                  the ground truth; for 'shapes_multimodal' and 'shapes_hues'
                                  also mode coverage and precision of the random samples
                                  (metrics/modes.py)
"""

import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import errors, models, visualize
from jaxgan.data import synthetic
from jaxgan.eval import core
from jaxgan.metrics import ground_truth, modes


def _sampler(model):
  """jit(state, image, target, zs, key) -> (encoded output or None, random outputs [S, ...])."""

  def run(state, image, target, zs, key, encode):
    images = jnp.broadcast_to(image[None], (zs.shape[0], *image.shape))
    randoms = model.generate(state, images, zs, key)
    if not encode:
      return None, randoms
    mu = model.encode(state, target[None])
    return model.generate(state, image[None], mu, key)[0], randoms

  return jax.jit(run, static_argnums=5)


def evaluate(config, state, out_dir, *, num_test=None, output_only=False):
  """Samples config.eval.split with a multimodal model (BicycleGAN) and writes page and metrics.

  Args:
    config: the run's config, with eval.n_samples, eval.sync, eval.no_encode.
    state: the model's TrainState.
    out_dir: where the page, images and metrics go.
    num_test: inputs to sample (default config.eval.num_test; 0 = all).
    output_only: write only the outputs: <name>.png (the first random sample),
      <name>_s<k>.png (the others) and <name>_encoded.png; no page, no metrics.

  Returns:
    {'AtoB': {...}} metrics for the built-in synthetic sets, else {}.

  Raises:
    jaxgan.errors.JaxganError: a missing split, an encoder-less model asked to encode.
  """
  model = models.get(config.model)
  out_dir = pathlib.Path(out_dir)
  num_test = config.eval.num_test if num_test is None else num_test
  n_samples = int(config.eval.n_samples)
  encode = not config.eval.no_encode
  if encode and 'E' not in state.params:
    raise errors.ConfigError(f'{config.name} has no encoder E: evaluate with --no_encode')
  dataset = core.dataset(config)
  multiple = core.size_multiple(state, 'G')
  bucket = config.eval.get('size_bucket', 0)
  sampler = _sampler(model)
  key = core.stream_key(config, 'z')
  shared_z = model.random_z(key, n_samples, config.nz)
  title = f'{config.name} ({config.model}): {config.eval.split}' + (
    ' sync' if config.eval.sync else ''
  )
  page = visualize.HtmlPage(title)
  inputs, targets, encoded, randoms, count = [], [], [], [], 0
  with core.page_kept_on_interrupt(out_dir, None if output_only else page):
    bar = core.progress_bar('sampling')
    for batch in dataset.batches():
      path = batch['A_paths'][0]
      if not path:
        continue  # the padding of the last batch
      if num_test and count >= num_test:
        break
      image_key = jax.random.fold_in(key, count)
      zs = shared_z if config.eval.sync else model.random_z(image_key, n_samples, config.nz)
      has_b = 'B' in batch
      pads = core.padding(batch['A'].shape, multiple, bucket)
      enc, outs = sampler(
        state,
        core.pad(batch['A'][0], pads),
        core.pad(batch['B'][0] if has_b else batch['A'][0], pads),
        zs,
        image_key,
        encode and has_b,
      )
      enc = None if enc is None else core.crop(enc, pads)
      outs = core.crop(outs, pads)
      path = path.decode() if isinstance(path, bytes) else str(path)
      name = os.path.splitext(os.path.basename(path))[0] or f'{count:05d}'
      if output_only:
        count += 1
        bar.update()
        for k, out in enumerate(outs):
          file = core.output_path(out_dir, name if k == 0 else f'{name}_s{k}')
          visualize.save_png(file, visualize.to_uint8(out))
        if enc is not None:
          visualize.save_png(core.output_path(out_dir, f'{name}_encoded'), visualize.to_uint8(enc))
        continue
      columns = {'input': batch['A'][0]}
      if has_b:
        columns['ground truth'] = batch['B'][0]
      if enc is not None:
        columns['encoded'] = np.asarray(enc)
      outs = np.asarray(outs)
      for s in range(n_samples):
        columns[f'random_sample{s + 1:02d}'] = outs[s]
      files = []
      for column, image in columns.items():
        file = f'images/{name}_{column.replace(" ", "_")}.png'
        visualize.save_png(out_dir / file, visualize.to_uint8(image))
        files.append(file)
      page.add_header(name)
      page.add_images(files, list(columns), width=128)
      inputs.append(batch['A'][0])
      targets.append(batch['B'][0] if has_b else None)
      encoded.append(columns.get('encoded'))
      randoms.append(outs)
      count += 1
      bar.update()
  bar.close()
  if count == 0:
    raise errors.InputError(f'no images to sample in split {config.eval.split!r}')
  if output_only:
    return {}
  scores = {'num_images': count, 'n_samples': n_samples}
  scores['diversity'] = core.sample_diversity(config, randoms)
  results = {'AtoB': scores}
  if config.data.source == 'synthetic':
    if encode:
      scores['encoded'] = ground_truth.evaluate(np.stack(encoded), np.stack(targets))
    scores['random'] = ground_truth.evaluate(
      np.concatenate(randoms), np.repeat(np.stack(targets), n_samples, axis=0)
    )
    truth = synthetic.mode_truth(config, config.eval.split)
    if truth is not None:
      scores['modes'] = modes.score(np.stack(randoms), truth.first(count))
      scores['modes']['threshold'] = truth.threshold
  core.save_results(out_dir, page, results)
  return results
