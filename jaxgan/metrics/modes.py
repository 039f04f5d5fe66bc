"""Mode coverage and precision of a multimodal translator, for tasks whose modes are known.

For each input the model draws M samples; the task knows its K right answers (modes). A mode
is covered when some sample lies within `threshold` mean absolute error of it; a sample is
precise when it lies within `threshold` of some mode. Images are in [-1, 1], so the MAE runs
from 0 to 2.
"""

import numpy as np


def pairwise_mae(samples, modes):
  """MAE between every sample and every mode of each input: [N, M, K].

  Args:
    samples: [N, M, H, W, C].
    modes: [N, K, H, W, C].
  """
  samples = np.asarray(samples, np.float32)
  modes = np.asarray(modes, np.float32)
  if samples.shape[0] != modes.shape[0] or samples.shape[2:] != modes.shape[2:]:
    raise ValueError(f'samples {samples.shape} and modes {modes.shape} do not match')
  n, m = samples.shape[:2]
  k = modes.shape[1]
  s = samples.reshape(n, m, 1, -1)
  t = modes.reshape(n, 1, k, -1)
  # One input at a time keeps the [M, K, pixels] difference small.
  return np.stack([np.abs(s[i] - t[i]).mean(-1) for i in range(n)])


def mode_metrics(samples, modes, threshold):
  """Coverage, precision and nearest-mode error of samples against the known modes.

  Args:
    samples: float [N, M, H, W, C] in [-1, 1], M samples for each of N inputs.
    modes: float [N, K, H, W, C] in [-1, 1], the K right answers for each input.
    threshold: the MAE under which a sample counts as that mode.

  Returns:
    {'coverage': mean over inputs of the fraction of the K modes within threshold of some
    sample, 'precision': fraction of all samples within threshold of some mode,
    'mae_nearest': mean over samples of the MAE to the nearest mode}.
  """
  mae = pairwise_mae(samples, modes)  # [N, M, K]
  hit = mae <= threshold
  return {
    'coverage': float(hit.any(axis=1).mean()),
    'precision': float(hit.any(axis=2).mean()),
    'mae_nearest': float(mae.min(axis=2).mean()),
  }
