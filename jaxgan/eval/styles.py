"""MUNIT's evaluation: several random styles per input, example-guided translation, both ways.

As the official test.py: each input's content code is decoded with `num_styles` styles drawn
from the prior (or, with `style`, with the style code of an example image of the target
domain); with config.eval.synchronized every input gets the same styles (the official
test_batch.py --synchronized). A split is translated both ways; a folder one way (its
`direction`). Outputs, under `out_dir`:

  index.html                             per input: input | the translations | target if known
  images/<direction>/<name>_real_A.png   the input (real_B for BtoA)
  images/<direction>/<name>_fake_B.png   the first style's output (what FID/KID compare)
  images/<direction>/<name>_fake_B_s<k>.png   style k's output
  metrics.json                           on the built-in multimodal tasks: mode coverage and
                                         precision, content preservation (jaxgan.metrics)

With `output_only` only the translations: `<name>.png` (the first style) and `<name>_s<k>.png`,
under `<direction>/` when both directions are translated.

core.evaluate hands MUNIT runs over to `evaluate` here.
"""

import pathlib

import jax
import numpy as np

from jaxgan import errors, visualize
from jaxgan.data import synthetic
from jaxgan.eval import core
from jaxgan.metrics import ground_truth, modes
from jaxgan.metrics import munit as munit_metrics
from jaxgan.models import munit

DOMAINS = {'AtoB': ('A', 'B'), 'BtoA': ('B', 'A')}
# Every image is written as the official test.py writes its outputs: save_image(normalize=True).
_pixels = visualize.to_uint8_normalized


def style_size(config):
  """The shorter side a --style image is resized to: config.eval.style_size, else the official
  new_size (the crop of every official MUNIT yaml; the built-in tasks' image size)."""
  size = int(config.eval.get('style_size', 0))
  if size > 0:
    return size
  return config.data.synthetic_size if config.data.source == 'synthetic' else config.data.crop_size


def load_style_image(path, config, domain):
  """One example image of the target domain as a [1, H, W, C] batch in [-1, 1], resized as the
  official test.py does (torchvision's Resize(new_size): the shorter side to new_size, the
  aspect ratio kept, PIL's bilinear filter)."""
  from PIL import Image  # noqa: PLC0415

  try:
    with Image.open(path) as opened:
      image = opened.convert('RGB')
  except (OSError, ValueError, Image.DecompressionBombError) as e:
    raise errors.InputError(f'cannot read --style image {path}: {e}'.splitlines()[0]) from None
  size, (width, height) = style_size(config), image.size
  if min(width, height) != size:
    if width <= height:
      width, height = size, int(size * height / width)
    else:
      width, height = int(size * width / height), size
    image = image.resize((width, height), Image.BILINEAR)
  channels = config.data.output_nc if domain == 'B' else config.data.input_nc
  return synthetic.to_model(np.asarray(image, np.uint8)[None], channels)


def _translator(direction):
  """jit(state, images [N, ...], styles [N, S, 1, 1, d]) -> [N, S, H, W, C]."""
  source, target = munit._DIRECTIONS[direction]

  def run(state, images, styles):
    content, _ = munit.encode(state, source, images)

    def one_style(style):
      return munit.decode(state, target, content, style)

    return jax.vmap(one_style, in_axes=1, out_axes=1)(styles)

  return jax.jit(run)


def evaluate(
  config,
  state,
  out_dir,
  *,
  num_test=None,
  folder=None,
  direction='AtoB',
  output_only=False,
  style=None,
):
  """Translates config.eval.split both ways (or `folder` one way) with several styles.

  Args:
    config: the run's config.
    state: a MUNIT TrainState.
    out_dir: where the page, images and metrics go.
    num_test: inputs per direction (default config.eval.num_test; 0 = all).
    folder: translate every image of this folder, as domain `direction`'s source, instead of
      the split.
    direction: with `folder`: 'AtoB' (the folder holds domain A) or 'BtoA'.
    output_only: write only the translations (module docstring).
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
  out_dir = pathlib.Path(out_dir)
  num_test = config.eval.num_test if num_test is None else num_test
  num_styles = int(config.eval.get('num_styles', 10))
  synchronized = bool(config.eval.get('synchronized', False))
  style = style or config.eval.get('style', '')
  style_domain = config.eval.get('style_domain', 'B')
  if direction not in DOMAINS:
    raise errors.ConfigError(f'unknown direction {direction!r}; known: AtoB, BtoA')
  directions, run_config = dict(DOMAINS), config
  if folder is not None:
    config = core.folder_config(config, folder, direction)
    directions = {direction: ('A', DOMAINS[direction][1])}
  dataset = core.dataset(config)
  batches = list(dataset.batches())
  bucket = config.eval.get('size_bucket', 0)
  page = visualize.HtmlPage(f'{config.name} (munit): {folder or config.eval.split}')
  scored = folder is None and config.data.source == 'synthetic'
  paired = config.data.source == 'synthetic' and folder is None
  results = {}
  with core.page_kept_on_interrupt(out_dir, None if output_only else page):
    for d, (source, target) in directions.items():
      domain = DOMAINS[d][1]  # the target domain, whatever the folder's key
      source_net = munit._DIRECTIONS[d][0]
      translate = core.sized(_translator(d), core.size_multiple(state, source_net), bucket)
      key = core.stream_key(config, d)
      guided = bool(style) and style_domain == domain
      if guided:
        example = load_style_image(style, run_config, domain)
        guide = np.asarray(munit.style_of(state, example, domain))
      shared = munit.random_style(config, key, num_styles)[None]  # [1, S, 1, 1, d]
      page.add_header(f'{d[0]} -> {d[-1]}' + (f' (style of {style})' if guided else ''))
      inputs, outputs, targets, count = [], [], [], 0
      bar = core.progress_bar(f'translating {d}')
      for index, batch in enumerate(batches):
        paths = batch[f'{source}_paths']
        if not paths[0] or (num_test and count >= num_test):
          continue
        image = batch[source]
        if guided:
          styles = np.broadcast_to(guide[:, None], (1, 1, *guide.shape[1:]))
        elif synchronized:
          styles = shared
        else:
          styles = munit.random_style(config, jax.random.fold_in(key, index), num_styles)[None]
        fakes = translate(state, image, styles)[0]
        name = core.image_name(paths[0], count)
        count += 1
        bar.update()
        in_name, out_name = f'real_{DOMAINS[d][0]}', f'fake_{domain}'
        if output_only:
          base = core.output_path(out_dir, name, d if len(directions) > 1 else None)
          for k, fake in enumerate(fakes):
            path = base if k == 0 else base.with_name(f'{name}_s{k}.png')
            visualize.save_png(path, _pixels(fake))
          continue
        files = [f'images/{d}/{name}_{in_name}.png']
        captions = [f'{in_name} (input)']
        visualize.save_png(out_dir / files[0], _pixels(image[0]))
        for k, fake in enumerate(fakes):
          file = f'images/{d}/{name}_{out_name}' + ('' if k == 0 else f'_s{k}') + '.png'
          visualize.save_png(out_dir / file, _pixels(fake))
          files.append(file)
          captions.append('example style' if guided else f'style {k}')
        if paired:
          file = f'images/{d}/{name}_real_{target}.png'
          visualize.save_png(out_dir / file, _pixels(batch[target][0]))
          files.append(file)
          captions.append(f'real_{target} (target)')
          targets.append(batch[target][0])
        page.add_header(name)
        page.add_images(files, captions, width=128)
        inputs.append(image[0])
        outputs.append(fakes)
      bar.close()
      if count == 0:
        raise errors.InputError(
          f'no images to translate in {folder or f"split {config.eval.split!r}"}'
        )
      if output_only:
        continue
      scores = {}
      truth = synthetic.mode_truth(config, config.eval.split, d) if scored else None
      if truth is not None:
        scores = _scores(config, d, np.stack(inputs), np.stack(outputs), np.stack(targets), truth)
      if not guided:  # one example's style gives one output per input: nothing to diversify
        scores['diversity'] = core.sample_diversity(config, outputs)
      if scores:
        results[d] = scores
  if output_only:
    return {}
  core.save_results(out_dir, page, results)
  return results


def _scores(config, d, inputs, outputs, targets, truth=None):
  """The style, content and whole-image scores of samples [n, S, ...] of the test inputs."""
  n = len(inputs)
  truth = truth or synthetic.mode_truth(config, 'test', d)
  threshold = float(config.eval.get('mode_threshold', truth.threshold))
  interior_threshold = float(config.eval.get('interior_threshold', 0.1))
  truth = truth.first(n)
  # Style is scored on the shapes, content by their masks: the samples are compared with the
  # modes on the input's foreground only (background set to the background colour), so that
  # blurred edges count against content preservation, not against the colour's mode.
  on_shapes = munit_metrics.keep_foreground(outputs, inputs[:, None])

  def score(samples, inside=None, limit=threshold):
    """Against the truth; per pixel under `inside` when given, else over the whole image."""
    return modes.score(samples, truth, limit, inside)

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
    task = core.reverse_config(config)
  train_targets = synthetic.ground_truth(task, 'train')['B']
  return {
    'model': ground_truth.evaluate(outputs[:, 0], targets),
    **ground_truth.baselines(inputs, targets, train_targets),
    'modes': scores,
    'num_images': n,
  }
