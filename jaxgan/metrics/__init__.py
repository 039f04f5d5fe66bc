"""Evaluation metrics: FID, KID and LPIPS as the reference tools compute them, and the
ground-truth metrics of the built-in synthetic sets.

The entry points (imported lazily, so that `jaxgan.metrics.ground_truth` stays light):

- `evaluate_folders(real_dir, fake_dir, ...) -> dict`: FID and KID of two image folders.
- `evaluate_arrays(real, fake, ...) -> dict`: the same for images in memory (the eval loop).
- `FeatureExtractor(...)`: pool3 features of the FID Inception, sharded over devices.
- `fid_from_features`, `frechet_distance`, `kid_from_features`: the statistics alone.
- `load_lpips(net, version) -> LPIPSModel` and `lpips_diversity(model, samples) -> dict`.

See docs/metrics.md.
"""

import importlib

_EXPORTS = {
  'evaluate_folders': ('folders', 'evaluate_folders'),
  'evaluate_arrays': ('folders', 'evaluate_arrays'),
  'evaluate_features': ('folders', 'evaluate_features'),
  'FeatureExtractor': ('inception', 'FeatureExtractor'),
  'fid_from_features': ('fid', 'fid_from_features'),
  'frechet_distance': ('fid', 'frechet_distance'),
  'kid_from_features': ('kid', 'kid_from_features'),
  'load_lpips': ('lpips', 'load'),
  'lpips_diversity': ('lpips', 'diversity'),
}


_SUBMODULES = ('fid', 'folders', 'ground_truth', 'inception', 'kid', 'lpips', 'weights')


def __getattr__(name):
  if name in _SUBMODULES:
    return importlib.import_module(f'{__name__}.{name}')
  if name not in _EXPORTS:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  module, attr = _EXPORTS[name]
  return getattr(importlib.import_module(f'{__name__}.{module}'), attr)


__all__ = sorted(_EXPORTS)
