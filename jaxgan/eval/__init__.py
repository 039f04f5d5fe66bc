"""Evaluation: translating a split or a folder with a trained model; pages, PNGs, metrics.

Layers: core (restoring a run, image sizes, names, keys, diversity) <- translate (one output per
input), sampling (BicycleGAN's random-z page), styles (MUNIT's styles) <- this module, which picks
one by the model's `EVALUATION` ('translate' unless the model says 'sampling' or 'styles'), and
tables (the printouts). Models know nothing of evaluation: they declare EVALUATION, FID_KID and
their `inference`, and eval reads them.
"""

import ml_collections

from jaxgan import config_checks, errors, models
from jaxgan.eval import sampling, styles, tables
from jaxgan.eval.core import (
  crop,
  directions,
  diversity,
  eval_batch_size,
  folder_config,
  format_diversity,
  image_name,
  load_weights,
  output_path,
  pad,
  padding,
  restore,
  reverse_config,
  size_multiple,
  sized,
  stream_key,
)
from jaxgan.eval.translate import translate_all, translator

__all__ = [
  'crop',
  'directions',
  'diversity',
  'eval_batch_size',
  'evaluate',
  'folder_config',
  'format_diversity',
  'format_table',
  'image_name',
  'load_weights',
  'output_path',
  'pad',
  'padding',
  'restore',
  'reverse_config',
  'size_multiple',
  'sized',
  'stream_key',
  'translate_all',
  'translator',
]


def evaluate(
  config, state, out_dir, *, num_test=None, folder=None, direction='AtoB', output_only=False
):
  """Translates config.eval.split (or every image of `folder`) and writes the outputs.

  Args:
    config: the run's config (its eval keys govern, e.g. eval_mode).
    state: the model's TrainState (only the generators are used).
    out_dir: where the page, images and metrics go.
    num_test: images per direction (default config.eval.num_test; 0 = all).
    folder: translate the images of this folder instead (the official 'single' mode), as the
      input of `direction`.
    direction: for `folder` only: 'AtoB' or 'BtoA' (CycleGAN's G_B, MUNIT's gen_b).
    output_only: write only the translations, named as their inputs.

  Returns:
    The metrics of the built-in sets (see each evaluation's module), else {}.

  Raises:
    jaxgan.errors.JaxganError: a missing folder or split, an unusable image.
  """
  config_checks.check(config)
  if num_test is not None and num_test < 0:
    raise errors.ConfigError(f'--num_test={num_test}; expected 0 (all images) or a count')
  model = models.get(config.model)
  # The models read config.eval (eval_mode) from the state: this config governs.
  state = state.replace(config=ml_collections.FrozenConfigDict(config))
  kind = getattr(model, 'EVALUATION', 'translate')
  options = dict(num_test=num_test, output_only=output_only)
  if kind == 'styles':
    return styles.evaluate(config, state, out_dir, folder=folder, direction=direction, **options)
  if kind == 'sampling' and folder is None:
    return sampling.evaluate(config, state, out_dir, **options)
  return translate_all(config, state, out_dir, folder=folder, direction=direction, **options)


def format_table(config, results):
  """eval.py's printout of `evaluate`'s metrics for the model of `config`."""
  if getattr(models.get(config.model), 'EVALUATION', 'translate') == 'sampling':
    return tables.sampling_table(results)
  return tables.translation_table(results)
