"""Mode coverage and precision of multimodal translations, for tasks whose valid outputs are known.

For each input the model gives M samples (e.g. M random latent codes) and the task knows its K
valid outputs (modes). A sample reaches a mode when their mean absolute error (on [-1, 1]) is at
most `threshold`:

- coverage: per input, the fraction of its K modes that some sample reaches; averaged over inputs.
  A model that ignores its code (all M samples alike) covers at most 1/K.
- precision: the fraction of all samples that reach some mode (outputs that are valid at all).
- mae_nearest: the mean over samples of the MAE to the nearest mode.

`fill_metrics` scores tasks whose valid outputs are one mask filled with any colour of a
continuous family (`shapes_hues`): a dense grid of colours stands for the family, and coverage
counts bins of it (each sample in the bin of its nearest grid colour) instead of single modes.
"""

import numpy as np


def mode_metrics(samples, modes, threshold, chunk=16, mask=None) -> dict:
  """Coverage, precision and nearest-mode MAE of samples against the valid outputs.

  Args:
    samples: float [N, M, H, W, C], M outputs per input, in [-1, 1].
    modes: float [N, K, H, W, C], the K valid targets of each input.
    threshold: MAE (on [-1, 1]) within which a sample counts as reaching a mode.
    chunk: inputs compared at a time (memory stays at chunk x M x K x H x W x C floats).
    mask: optional bool [N, H, W]: the MAE is then the mean over each input's masked pixels
      only (a per-pixel error, whatever the mask's size), not over the whole image.

  Returns:
    {'coverage': float, 'precision': float, 'mae_nearest': float}.
  """
  n, m = samples.shape[:2]
  if modes.shape[0] != n or modes.shape[2:] != samples.shape[2:]:
    raise ValueError(f'samples {samples.shape} and modes {modes.shape} do not match')
  if mask is not None and np.shape(mask) != (n, *samples.shape[2:4]):
    raise ValueError(f'mask {np.shape(mask)} does not match samples {samples.shape}')
  k = modes.shape[1]
  covered, reached, nearest = [], [], []
  for start in range(0, n, chunk):
    s = np.asarray(samples[start : start + chunk], np.float32)[:, :, None]
    t = np.asarray(modes[start : start + chunk], np.float32)[:, None]
    if mask is None:
      mae = np.abs(s - t).mean(axis=(3, 4, 5))  # [chunk, M, K]
    else:
      weight = np.asarray(mask[start : start + chunk], np.float32)[:, None, None, :, :, None]
      pixels = np.maximum(weight.sum(axis=(3, 4, 5)) * s.shape[-1], 1)
      mae = (np.abs(s - t) * weight).sum(axis=(3, 4, 5)) / pixels
    hit = mae <= threshold
    covered.append(hit.any(axis=1).sum(axis=1) / k)
    reached.append(hit.any(axis=2).reshape(-1))
    nearest.append(mae.min(axis=2).reshape(-1))
  return {
    'coverage': float(np.concatenate(covered).mean()),
    'precision': float(np.concatenate(reached).mean()),
    'mae_nearest': float(np.concatenate(nearest).mean()),
  }


def fill_metrics(
  samples, masks, background, colours, bins, num_bins, threshold, per_pixel=False
) -> dict:
  """Coverage (of bins), precision and nearest-fill MAE of samples of a fill task.

  A valid output of input i is the background outside masks[i] and one colour of `colours`
  inside it; the MAE of a sample to each of them needs only its pixels under the mask once per
  colour, not a whole image per colour.

  Args:
    samples: float [N, M, H, W, C], M outputs per input, in [-1, 1].
    masks: bool [N, H, W], where each input's fill goes.
    background: float [C], the colour outside the masks.
    colours: float [G, C], the valid fills (a grid dense enough for `threshold`).
    bins: int [G], each colour's coverage bin, in [0, num_bins).
    num_bins: how many bins coverage counts.
    threshold: MAE (on [-1, 1]) within which a sample counts as valid.
    per_pixel: judge only the pixels under the masks, by their mean error (the colour alone,
      whatever the mask's size), instead of the whole image's.

  Returns:
    {'coverage': float, 'precision': float, 'mae_nearest': float, 'num_bins': int}.
  """
  samples = np.asarray(samples, np.float32)
  n, m, h, w, c = samples.shape
  if masks.shape != (n, h, w) or colours.shape[1:] != (c,) or background.shape != (c,):
    raise ValueError(
      f'samples {samples.shape}, masks {masks.shape}, colours {colours.shape} and background '
      f'{background.shape} do not match'
    )
  colours = np.asarray(colours, np.float32)
  covered, reached, nearest = [], [], []
  for i in range(n):
    inside = samples[i][:, masks[i]]  # [M, P, C]
    outside = np.abs(samples[i][:, ~masks[i]] - background).sum(axis=(1, 2))  # [M]
    fill = np.zeros((m, len(colours)), np.float32)
    for ch in range(c):  # one channel at a time keeps memory at M x P x G
      fill += np.abs(inside[:, :, ch, None] - colours[None, None, :, ch]).sum(axis=1)
    if per_pixel:
      mae = fill / max(inside.shape[1] * c, 1)  # [M, G]
    else:
      mae = (outside[:, None] + fill) / (h * w * c)
    best = mae.argmin(axis=1)
    lowest = mae[np.arange(m), best]
    hit = lowest <= threshold
    covered.append(len(np.unique(bins[best[hit]])) / num_bins)
    reached.append(hit)
    nearest.append(lowest)
  return {
    'coverage': float(np.mean(covered)),
    'precision': float(np.concatenate(reached).mean()),
    'mae_nearest': float(np.concatenate(nearest).mean()),
    'num_bins': int(num_bins),
  }


def score(samples, truth, threshold=None, inside=None) -> dict:
  """Coverage and precision of samples against a task's right outputs, whatever their kind.

  Args:
    samples: float32 [n, S, H, W, C], S samples per input, in [-1, 1].
    truth: a `jaxgan.data.synthetic_common.ModeTruth` (kind 'modes' or 'fill', its arrays).
    threshold: MAE within which a sample reaches a mode (default truth.threshold).
    inside: optional bool [n, H, W]: score per pixel under it instead of over whole images.

  Returns:
    `mode_metrics`' or `fill_metrics`' dict.
  """
  threshold = truth.threshold if threshold is None else threshold
  if truth.kind == 'fill':
    arrays = {**truth.arrays, 'masks': truth.arrays['masks'] if inside is None else inside}
    return fill_metrics(samples, **arrays, threshold=threshold, per_pixel=inside is not None)
  return mode_metrics(samples, truth.arrays['modes'], threshold, mask=inside)
