"""Mode coverage and precision of multimodal translations, for tasks whose valid outputs are known.

For each input the model gives M samples (e.g. M random latent codes) and the task knows its K
valid outputs (modes). A sample reaches a mode when their mean absolute error (on [-1, 1]) is at
most `threshold`:

- coverage: per input, the fraction of its K modes that some sample reaches; averaged over inputs.
  A model that ignores its code (all M samples alike) covers at most 1/K.
- precision: the fraction of all samples that reach some mode (outputs that are valid at all).
- mae_nearest: the mean over samples of the MAE to the nearest mode.
"""

import numpy as np


def mode_metrics(samples, modes, threshold, chunk=16) -> dict:
  """Coverage, precision and nearest-mode MAE of samples against the valid outputs.

  Args:
    samples: float [N, M, H, W, C], M outputs per input, in [-1, 1].
    modes: float [N, K, H, W, C], the K valid targets of each input.
    threshold: MAE (on [-1, 1]) within which a sample counts as reaching a mode.
    chunk: inputs compared at a time (memory stays at chunk x M x K x H x W x C floats).

  Returns:
    {'coverage': float, 'precision': float, 'mae_nearest': float}.
  """
  n, m = samples.shape[:2]
  if modes.shape[0] != n or modes.shape[2:] != samples.shape[2:]:
    raise ValueError(f'samples {samples.shape} and modes {modes.shape} do not match')
  k = modes.shape[1]
  covered, reached, nearest = [], [], []
  for start in range(0, n, chunk):
    s = np.asarray(samples[start : start + chunk], np.float32)[:, :, None]
    t = np.asarray(modes[start : start + chunk], np.float32)[:, None]
    mae = np.abs(s - t).mean(axis=(3, 4, 5))  # [chunk, M, K]
    hit = mae <= threshold
    covered.append(hit.any(axis=1).sum(axis=1) / k)
    reached.append(hit.any(axis=2).reshape(-1))
    nearest.append(mae.min(axis=2).reshape(-1))
  return {
    'coverage': float(np.concatenate(covered).mean()),
    'precision': float(np.concatenate(reached).mean()),
    'mae_nearest': float(np.concatenate(nearest).mean()),
  }
