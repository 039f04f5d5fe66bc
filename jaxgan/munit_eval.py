"""MUNIT's evaluation: several random styles per input, example-guided translation, both ways.

As the official test.py: each input's content code is decoded with `num_styles` styles drawn
from the prior (or, with `style`, with the style code of an example image of the target
domain). Outputs, under `out_dir`:

  index.html                             per input: input | the translations | target if known
  images/<direction>/<name>_real_A.png   the input (real_B for BtoA)
  images/<direction>/<name>_fake_B.png   the first style's output (what FID/KID compare)
  images/<direction>/<name>_fake_B_s<k>.png   style k's output
  metrics.json                           on the built-in multimodal tasks: mode coverage and
                                         precision, content preservation (jaxgan.metrics)

eval_lib.evaluate hands MUNIT runs over to `evaluate` here.
"""

import json
import pathlib

import jax
import numpy as np

from jaxgan import data, errors, eval_lib, visualize
from jaxgan.data import synthetic, synthetic_munit
from jaxgan.metrics import ground_truth, modes
from jaxgan.metrics import munit as munit_metrics
from jaxgan.models import munit

DOMAINS = {'AtoB': ('A', 'B'), 'BtoA': ('B', 'A')}


def load_style_image(path, config, domain):
  """One example image of the target domain as a [1, H, W, C] batch in [-1, 1]."""
  from PIL import Image  # noqa: PLC0415

  try:
    image = Image.open(path).convert('RGB')
  except (OSError, ValueError) as e:
    raise errors.InputError(f'cannot read --style image {path}: {e}') from None
  size = config.data.crop_size if config.data.source != 'synthetic' else config.data.synthetic_size
  image = image.resize((int(size), int(size)), Image.BICUBIC)
  channels = config.data.output_nc if domain == 'B' else config.data.input_nc
  return synthetic.to_model(np.asarray(image, np.uint8)[None], channels)


def _translator():
  """jit(state, images [N, ...], styles [N, S, 1, 1, d], direction) -> [N, S, H, W, C]."""

  def run(state, images, styles, direction):
    source, target = munit._DIRECTIONS[direction]
    content, _ = munit.encode(state, source, images)

    def one_style(style):
      return munit.decode(state, target, content, style)

    return jax.vmap(one_style, in_axes=1, out_axes=1)(styles)

  return jax.jit(run, static_argnames='direction')


def evaluate(config, state, out_dir, *, num_test=None, folder=None, direction='AtoB', style=None):
  """Translates config.eval.split both ways with config.eval.num_styles random styles.

  Args:
    config: the run's config.
    state: a MUNIT TrainState.
    out_dir: where the page, images and metrics go.
    num_test: inputs per direction (default config.eval.num_test; 0 = all).
    folder: unsupported for MUNIT (ConfigError): translate a split.
    direction: unused (both directions are evaluated).
    style: a path to an example image of the target domain: every input of the direction
      whose target domain it is uses its style code (example-guided translation); the
      other direction keeps random styles. Default config.eval.style ('' = none).

  Returns:
    {direction: {'model', 'identity', 'mean_image' (MAE/PSNR of the first style against the
    test target), 'modes': {'coverage', 'precision', 'mae_nearest', 'content_iou',
    'threshold', 'num_styles', the same '*_interior' (the colour inside the shapes, per
    pixel) with 'interior_threshold'}, 'num_images'}} on the built-in multimodal tasks,
    else {}.
  """
  del direction
  if folder is not None:
    raise errors.ConfigError('MUNIT evaluates a split (both directions); drop --folder')
  out_dir = pathlib.Path(out_dir)
  num_test = config.eval.num_test if num_test is None else num_test
  num_styles = int(config.eval.get('num_styles', 10))
  style = style or config.eval.get('style', '')
  style_domain = config.eval.get('style_domain', 'B')
  dataset = data.build(
    config, config.eval.split, train=False, process_index=0, process_count=1, batch_size=1
  )
  batches = list(dataset.batches())
  translate = _translator()
  page = visualize.HtmlPage(f'{config.name} (munit): {config.eval.split}')
  multimodal = config.data.source == 'synthetic' and config.data.synthetic in (
    synthetic_munit.NAME,
    synthetic_munit.NAME_HUES,
  )
  paired = config.data.source == 'synthetic'
  results = {}
  for d, (source, target) in DOMAINS.items():
    key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1 if d == 'AtoB' else 2)
    guided = bool(style) and style_domain == target
    if guided:
      example = load_style_image(style, config, target)
      guide = np.asarray(munit.style_of(state, example, target))
    page.add_header(f'{source} -> {target}' + (f' (style of {style})' if guided else ''))
    inputs, outputs, targets, count = [], [], [], 0
    for index, batch in enumerate(batches):
      paths = batch[f'{source}_paths']
      if not paths[0] or (num_test and count >= num_test):
        continue
      image = batch[source]
      if guided:
        styles = np.broadcast_to(guide[:, None], (1, 1, *guide.shape[1:]))
      else:
        styles = munit.random_style(config, jax.random.fold_in(key, index), num_styles)[
          None
        ]  # [1, S, 1, 1, d]
      fakes = np.asarray(translate(state, image, styles, direction=d))[0]
      name = _name(paths[0], count)
      in_name, out_name = f'real_{source}', f'fake_{target}'
      files = [f'images/{d}/{name}_{in_name}.png']
      captions = [f'{in_name} (input)']
      visualize.save_png(out_dir / files[0], visualize.to_uint8(image[0]))
      for k, fake in enumerate(fakes):
        file = f'images/{d}/{name}_{out_name}' + ('' if k == 0 else f'_s{k}') + '.png'
        visualize.save_png(out_dir / file, visualize.to_uint8(fake))
        files.append(file)
        captions.append('example style' if guided else f'style {k}')
      if paired:
        file = f'images/{d}/{name}_real_{target}.png'
        visualize.save_png(out_dir / file, visualize.to_uint8(batch[target][0]))
        files.append(file)
        captions.append(f'real_{target} (target)')
        targets.append(batch[target][0])
      page.add_header(name)
      page.add_images(files, captions, width=128)
      inputs.append(image[0])
      outputs.append(fakes)
      count += 1
    if count == 0:
      raise errors.InputError(f'no images to translate in split {config.eval.split!r}')
    scores = {}
    if multimodal and config.eval.split == 'test':
      scores = _scores(config, d, np.stack(inputs), np.stack(outputs), np.stack(targets))
    if not guided:  # one example's style gives one output per input: nothing to diversify
      scores['diversity'] = eval_lib.diversity(config, np.stack(outputs))
    if scores:
      results[d] = scores
  page.save(out_dir / 'index.html')
  if results:
    (out_dir / 'metrics.json').write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
  return results


def _scores(config, d, inputs, outputs, targets):
  n = len(inputs)
  threshold = float(config.eval.get('mode_threshold', 0.02))
  interior_threshold = float(config.eval.get('interior_threshold', 0.1))
  # Style is scored on the shapes, content by their masks: the samples are compared with the
  # modes on the input's foreground only (background set to the background colour), so that
  # blurred edges count against content preservation, not against the colour's mode.
  on_shapes = munit_metrics.keep_foreground(outputs, inputs[:, None])
  hues = d == 'AtoB' and config.data.synthetic == synthetic_munit.NAME_HUES
  if hues:  # a continuous family of right colours: bins of it, as BicycleGAN's shapes_hues
    truth = synthetic_munit.fill_truth(config)
    truth['masks'] = truth['masks'][:n]
  else:
    truth = synthetic_munit.modes(config, d)[:n]

  def score(samples, inside=None, limit=threshold):
    """Against the truth; per pixel under `inside` when given, else over the whole image."""
    if hues:
      masks = truth['masks'] if inside is None else inside
      return modes.fill_metrics(
        samples, **{**truth, 'masks': masks}, threshold=limit, per_pixel=inside is not None
      )
    return modes.mode_metrics(samples, truth, limit, mask=inside)

  scores = score(on_shapes)
  # The colour alone, per pixel, on the shapes less their outline: a right colour whose
  # edges land a pixel off still reaches its mode here (content IoU counts the edges).
  inner = score(outputs, munit_metrics.interior(inputs), interior_threshold)
  scores.update({f'{k}_interior': v for k, v in inner.items() if k != 'num_bins'})
  scores['interior_threshold'] = interior_threshold
  scores['content_iou'] = munit_metrics.content_preservation(outputs, inputs[:, None])
  whole = score(outputs)
  scores.update({f'{k}_whole_image': v for k, v in whole.items()})
  scores.update(threshold=threshold, num_styles=int(outputs.shape[1]))
  task = config
  if d == 'BtoA':
    task = eval_lib._reverse(config)
  train_targets = synthetic.ground_truth(task, 'train')['B']
  return {
    'model': ground_truth.evaluate(outputs[:, 0], targets),
    **ground_truth.baselines(inputs, targets, train_targets),
    'modes': scores,
    'num_images': n,
  }


def _name(path, index):
  path = path.decode() if isinstance(path, bytes) else str(path)
  stem = pathlib.Path(path).stem
  return stem or f'{index:05d}'
