"""Kernel Inception Distance (Bińkowski et al. 2018), as torch-fidelity computes it.

KID is the unbiased estimate of the squared MMD between the pool3 features of two sets, with
the cubic polynomial kernel k(x, y) = (x.y / D + 1)^3. Like torch-fidelity, it is averaged over
random subsets (100 of 1000 images each by default, drawn without replacement from a
`np.random.RandomState(seed)`, first from set 1 then from set 2, subset after subset), and the
mean and standard deviation over subsets are reported. Unlike FID it is unbiased for any
number of images, so it suits small test sets.
"""

from __future__ import annotations

import numpy as np

from jaxgan.errors import InputError

SUBSETS = 100
SUBSET_SIZE = 1000
SEED = 2020  # torch-fidelity's default rng_seed.


def polynomial_kernel(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1.0):
  """(gamma x.y + coef0)^degree for all pairs of rows; gamma defaults to 1 / D."""
  gamma = 1.0 / x.shape[1] if gamma is None else gamma
  return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
  """Unbiased MMD^2 from kernel matrices of two m-sample sets (Eq. 3 of Gretton et al. 2012):
  the within-set means exclude the diagonal, the cross term keeps it."""
  m = k_xx.shape[0]
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2.0 * k_xy.sum() / (m * m))


def kid_from_features(
  features1: np.ndarray,
  features2: np.ndarray,
  *,
  subsets: int = SUBSETS,
  subset_size: int | None = SUBSET_SIZE,
  seed: int = SEED,
  names: tuple[str, str] = ('the first set', 'the second set'),
) -> dict[str, float]:
  """KID between two [N, D] feature sets, in float64.

  Args:
    features1, features2: pool3 features.
    subsets: number of random subsets.
    subset_size: images per subset; None takes min(1000, N1, N2), so that small test sets
      work (record it beside the value: KID's variance, not its mean, depends on it).
    seed: the RandomState seed of the subset draws.
    names: the sets, for messages.

  Returns:
    {'kid': mean, 'kid_std': std over subsets, 'kid_subset_size': ..., 'kid_subsets': ...}.
    Where a subset would hold every image of both sets, every subset is the same: one is
    computed, and 'kid_std' is None (there is no spread to report).

  Raises:
    InputError: a subset larger than a set, or fewer than 2 images.
  """
  x = np.asarray(features1, np.float64)
  y = np.asarray(features2, np.float64)
  if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
    raise InputError(f'KID features differ in shape: {x.shape} vs {y.shape}')
  if subset_size is None:
    subset_size = min(SUBSET_SIZE, len(x), len(y))
  for n, name in zip((len(x), len(y)), names, strict=True):
    if n < subset_size:
      raise InputError(
        f'KID subset size {subset_size} is larger than {name} ({n} images); '
        f'pass kid_subset_size <= {n} (--kid_subset_size)'
      )
  if subset_size < 2:
    raise InputError(f'KID needs at least 2 images per subset; got {subset_size}')
  whole = subset_size == len(x) == len(y)
  if whole:
    subsets = 1  # every subset would be both whole sets: the same value each time
  rng = np.random.RandomState(seed)
  values = np.empty(subsets)
  for i in range(subsets):
    a = x[rng.choice(len(x), subset_size, replace=False)]
    b = y[rng.choice(len(y), subset_size, replace=False)]
    values[i] = mmd2_unbiased(
      polynomial_kernel(a, a), polynomial_kernel(a, b), polynomial_kernel(b, b)
    )
  return {
    'kid': float(values.mean()),
    'kid_std': None if whole else float(values.std()),
    'kid_subset_size': int(subset_size),
    'kid_subsets': int(subsets),
  }
