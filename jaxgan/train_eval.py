"""Evaluation while training (config.eval_every) and the best checkpoint (config.keep_best).

Every `eval_every` steps the loop translates the run's held-out split with the state it holds
(on the devices it trains on) exactly as eval.py would, into <workdir>/eval/during/<split>_<step>:
the built-in tasks' ground-truth scores, the multimodal models' diversity, and FID/KID of the
saved PNGs against the target domain (real data only; the papers score saved images). The scores
go to the console, loss_log.txt and TensorBoard (`eval/<name>`).

`keep_best` names one score ('AtoB/fid', or 'fid' for its mean over the directions that have
it); the state that scored best is saved as its own checkpoint in <workdir>/best/, outside the
rotation of checkpoints/, with best.json beside it. eval.py and export.py take it with
--step=best. It survives resume (best.json holds the score to beat), SIGTERM and the
divergence stop (a state is evaluated only after every step before it was finite).
Only the newest evaluation folder and the best one's are kept.
"""

import json
import math
import os
import pathlib
import shutil
import sys

import jax
import numpy as np

from jaxgan import checkpoint, errors

BEST_DIR = checkpoint.BEST_DIR
BEST_FILE = checkpoint.BEST_FILE
DURING_DIR = pathlib.Path('eval') / 'during'
# Scores where lower is better (also every MAE: 'mae', 'mae_nearest'); every other one (PSNR,
# colour accuracy, coverage, precision, LPIPS diversity) is better higher.
LOWER_IS_BETTER = ('fid', 'kid')
# Constant baselines, counts, spreads and settings: not scores of the model.
_NOT_SCORES = (
  'identity',
  'mean_image',
  'num_images',
  'num_real',
  'num_fake',
  'n_samples',
  'pairs',
  'threshold',
  'kid_std',
  'kid_subsets',
  'kid_subset_size',
  'lpips_diversity_std',
)


def flatten(results) -> dict[str, float]:
  """{'AtoB/mae': 0.07, 'AtoB/fid': 61.2, ...}: the finite numbers of eval's results.

  The model's own scores lose their 'model' level ('AtoB/model/mae' -> 'AtoB/mae'); FID/KID
  ('fid_kid' -> {direction: ...}) join their direction.
  """
  flat = {}

  def walk(prefix, value):
    if isinstance(value, dict):
      for key, inner in value.items():
        if key in _NOT_SCORES:
          continue
        walk(prefix if key in ('model', 'fid_kid') else [*prefix, key], inner)
    elif isinstance(value, bool | int | float | np.floating | np.integer):
      if math.isfinite(float(value)):
        flat['/'.join(prefix)] = float(value)

  walk([], results)
  return flat


def lower_is_better(name: str) -> bool:
  last = name.rsplit('/', 1)[-1]
  return last in LOWER_IS_BETTER or last.startswith('mae') or last.endswith('mae')


def pick(scores: dict[str, float], name: str) -> float | None:
  """The score `name` of `scores`: a full name, or the last part of several (their mean)."""
  if name in scores:
    return scores[name]
  matches = [v for k, v in scores.items() if k.rsplit('/', 1)[-1] == name]
  return float(np.mean(matches)) if matches else None


def check(config) -> None:
  """ConfigError for eval_every / keep_best values that cannot work, before training starts."""
  every, best = config.get('eval_every', 0), config.get('keep_best', '')
  if every < 0:
    raise errors.ConfigError(f'config.eval_every is {every}; expected 0 (off) or a step count')
  if best and not every:
    raise errors.ConfigError(
      f'config.keep_best={best!r} needs config.eval_every > 0: the best state is found by '
      'evaluating during training'
    )
  if every and jax.process_count() > 1:
    raise errors.ConfigError(
      'config.eval_every evaluates in one process; this run has '
      f'{jax.process_count()}: evaluate its checkpoints with eval.py instead'
    )


class Best:
  """The best-scoring state of a run: <workdir>/best/<step> and best.json."""

  def __init__(self, workdir, name):
    self.workdir, self.name = pathlib.Path(workdir), name
    self.lower = lower_is_better(name)
    self.path = self.workdir / BEST_DIR / BEST_FILE
    try:
      self.record = read(workdir)
    except errors.InputError as e:  # our own file, damaged: the next best state replaces it
      print(f'warning: {e}; it is replaced at the next evaluation', file=sys.stderr, flush=True)
      self.record = None
    if self.record and self.record.get('metric') != name:
      print(
        f'warning: {self.path} holds the best {self.record.get("metric")!r}; this run keeps '
        f'the best {name!r}, which replaces it at the next evaluation',
        file=sys.stderr,
        flush=True,
      )
      self.record = None
    self._ckpt = None

  def better(self, value) -> bool:
    if value is None or not math.isfinite(value):
      return False
    if self.record is None:
      return True
    old = self.record['value']
    return value < old if self.lower else value > old

  def offer(self, step, scores, state) -> bool:
    """Keeps `state` if its score beats the best so far; whether it did."""
    value = pick(scores, self.name)
    if value is None:
      raise errors.ConfigError(
        f'config.keep_best={self.name!r} is not among the scores of this run: '
        + ', '.join(sorted(scores))
      )
    if not self.better(value):
      return False
    if self._ckpt is None:
      # One kept step, written synchronously: best.json names it only once it is whole.
      self._ckpt = checkpoint.Checkpointer(self.workdir, keep=1, async_save=False, subdir=BEST_DIR)
    self._ckpt.save(step, state)
    self._ckpt.wait()
    self.record = {'metric': self.name, 'value': value, 'step': int(step), 'scores': scores}
    if jax.process_index() == 0:
      tmp = self.path.with_suffix('.json.tmp')
      tmp.write_text(json.dumps(self.record, indent=2, sort_keys=True) + '\n')
      os.replace(tmp, self.path)
    return True

  def close(self):
    if self._ckpt is not None:
      self._ckpt.close()


read = checkpoint.read_best


class Evaluator:
  """Evaluates a training state every config.eval_every steps; keeps the best (keep_best)."""

  def __init__(self, config, workdir):
    self.config, self.workdir = config, pathlib.Path(workdir)
    self.every = config.get('eval_every', 0)
    self.best = Best(workdir, config.keep_best) if config.get('keep_best', '') else None
    # The built-in sets are scored against their true targets; FID there only when asked.
    self.fid = config.data.source != 'synthetic' or config.eval.get('fid_on_builtin', False)
    self.fid = self.fid and getattr(_model(config), 'FID_KID', True)
    self._extractor = None
    # What would fail at the first evaluation, hours in, fails now.
    wanted = (config.get('keep_best', '') or '').rsplit('/', 1)[-1]
    if wanted in ('fid', 'kid') and not self.fid:
      raise errors.ConfigError(
        f'config.keep_best={config.keep_best!r}: this run scores no FID/KID (the built-in sets '
        'are scored against their targets: --config.eval.fid_on_builtin=True, or keep the best '
        'AtoB/mae)'
      )
    if self.every and self.fid:
      from jaxgan import metrics  # noqa: PLC0415

      try:
        self._extractor = metrics.inception.FeatureExtractor()
      except errors.WeightsError as e:
        raise errors.ConfigError(
          f'config.eval_every scores FID/KID, whose Inception weights are not found: {e}'
        ) from None

  def due(self, step, total) -> bool:
    return bool(self.every) and (step % self.every == 0 or step == total)

  def __call__(self, state, step) -> tuple[dict[str, float], bool]:
    """(scores, whether this state became the best)."""
    import jaxgan.eval as eval_lib  # noqa: PLC0415 - eval imports the metric nets
    from jaxgan.eval import core  # noqa: PLC0415

    out = self.workdir / DURING_DIR / f'{self.config.eval.split}_{step}'
    with core.quiet():
      results = eval_lib.evaluate(self.config, state, out, num_test=self.config.eval.num_test)
    if self.fid:
      results = {**results, 'fid_kid': self._fid_kid(out)}
    scores = flatten(results)
    kept = self.best.offer(step, scores, state) if self.best else False
    self._prune(out)
    return scores, kept

  def _fid_kid(self, out):
    from jaxgan import metrics  # noqa: PLC0415

    # Held-out splits of a few hundred images (horse2zebra's testA has 120): FID from fewer
    # images than features is biased but comparable from one evaluation to the next, which is
    # what picking the best needs (CUT's protocol computes it so too).
    results = metrics.folders.evaluate_translations(
      out, extractor=self._extractor, progress=False, fid_allow_few=True
    )
    (out / 'fid_kid.json').write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
    return results

  def _prune(self, out):
    """Removes this loop's earlier evaluation folders but the best one's."""
    if jax.process_index() != 0:
      return
    keep = {out.name}
    if self.best and self.best.record:
      keep.add(f'{self.config.eval.split}_{self.best.record["step"]}')
    for folder in out.parent.iterdir():
      split, _, step = folder.name.rpartition('_')
      if folder.is_dir() and step.isdigit() and split and folder.name not in keep:
        shutil.rmtree(folder, ignore_errors=True)

  def close(self):
    if self.best:
      self.best.close()


def _model(config):
  from jaxgan import models  # noqa: PLC0415

  return models.get(config.model)
