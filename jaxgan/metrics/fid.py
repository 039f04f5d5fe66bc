"""Fréchet Inception Distance (Heusel et al. 2017) from features, as pytorch-fid computes it.

FID = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)), from the mean and covariance of
the 2048-d pool3 features of two image sets. Statistics are float64 on the host (np.cov,
unbiased). The matrix square root follows pytorch-fid: if scipy's sqrtm of S1 S2 is not
finite (a singular product), retry with eps added to both diagonals; a complex result is
accepted only if the imaginary part of its diagonal is below 1e-3, and its real part is kept.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from jaxgan.errors import InputError, JaxganError

EPS = 1e-6
IMAGINARY_ATOL = 1e-3


class FIDError(JaxganError):
  """The covariance product has no usable real square root (too few or degenerate images)."""


def statistics(features: np.ndarray, what: str = 'features') -> tuple[np.ndarray, np.ndarray]:
  """(mean, covariance) of [N, D] features in float64, as pytorch-fid (np.cov, unbiased)."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise InputError(
      f'FID needs at least 2 images per set for a covariance; {what} has {len(features)}'
    )
  return features.mean(axis=0), np.cov(features, rowvar=False)


def _sqrtm(a: np.ndarray) -> np.ndarray:
  # Module-level so that tests can make it fail. scipy warns on (nearly) singular input;
  # the finiteness check below decides, as in pytorch-fid.
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    return linalg.sqrtm(a)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = EPS) -> float:
  """FID between two Gaussians (float64), with pytorch-fid's handling of the square root.

  Args:
    mu1, sigma1: mean [D] and covariance [D, D] of the first set.
    mu2, sigma2: those of the second set.
    eps: added to both diagonals when the square root of the product is not finite.

  Returns:
    The distance (a float).

  Raises:
    InputError: the statistics' shapes disagree.
    FIDError: the square root has a significant imaginary part (its magnitude is named).
  """
  mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
  sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
    raise InputError(
      f'FID statistics differ in shape: mean {mu1.shape} vs {mu2.shape}, '
      f'covariance {sigma1.shape} vs {sigma2.shape}'
    )
  diff = mu1 - mu2
  covmean = _sqrtm(sigma1 @ sigma2)
  if not np.isfinite(covmean).all():
    offset = np.eye(len(sigma1)) * eps
    covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
  if np.iscomplexobj(covmean):
    if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAGINARY_ATOL):
      raise FIDError(
        f'FID: the square root of the covariance product has an imaginary component '
        f'{np.max(np.abs(covmean.imag)):.3g} (degenerate features; use more images, or KID)'
      )
    covmean = covmean.real
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def few_images_message(n: int, dims: int, what: str) -> str:
  return (
    f'FID needs more images than its {dims} features, {what} has {n}: the covariance is '
    'singular and FID strongly biased; use KID (unbiased for any number of images), or '
    'allow it anyway (allow_few / --fid_allow_few)'
  )


def fid_from_features(
  features1: np.ndarray,
  features2: np.ndarray,
  *,
  allow_few: bool = False,
  names: tuple[str, str] = ('the first set', 'the second set'),
) -> float:
  """FID between two [N, D] feature sets.

  Args:
    features1, features2: pool3 features (any N each, same D).
    allow_few: compute it even with N <= D, where it is biased (reported papers' small test
      sets sometimes do; say so when you report it).
    names: the sets, for messages (folders, say).

  Raises:
    InputError: fewer images than features (unless allow_few), fewer than 2, or D differs.
  """
  for features, name in zip((features1, features2), names, strict=True):
    n, dims = np.shape(features)[0], np.shape(features)[-1]
    if not allow_few and n <= dims:
      raise InputError(few_images_message(n, dims, name))
  mu1, sigma1 = statistics(features1, names[0])
  mu2, sigma2 = statistics(features2, names[1])
  return frechet_distance(mu1, sigma1, mu2, sigma2)
