"""Error against the true target, for tasks that have one (the built-in synthetic sets).

Images are NHWC in [-1, 1], as everywhere in the library. MAE is measured on that scale (so 2
is the largest possible error); PSNR on the [0, 1] scale with data range 1, per image, then
averaged over images (the usual way papers report it). An image reproduced exactly would have
infinite PSNR; the MSE is floored at 1e-10, capping PSNR at 100 dB.

The baselines say what "good" means: 'identity' outputs the input unchanged, 'mean_image'
outputs the mean of the train split's targets for every input. A model that has learnt the
task beats both clearly.
"""

import numpy as np

from jaxgan.data import pixels, synthetic

MSE_FLOOR = 1e-10


def per_image(pred, target):
  """MAE and PSNR of each image.

  Args:
    pred: [n, H, W, C] in [-1, 1] (numpy or jax arrays).
    target: same shape.

  Returns:
    dict(mae=float64 [n], psnr=float64 [n]).
  """
  pred = np.asarray(pred, np.float64)
  target = np.asarray(target, np.float64)
  if pred.shape != target.shape:
    raise ValueError(f'prediction {pred.shape} and target {target.shape} differ in shape')
  axes = tuple(range(1, pred.ndim))
  mae = np.abs(pred - target).mean(axis=axes)
  # On [0, 1]: (x + 1) / 2, so squared errors shrink by 4.
  mse = (((pred - target) / 2) ** 2).mean(axis=axes)
  psnr = 10 * np.log10(1.0 / np.maximum(mse, MSE_FLOOR))
  return dict(mae=mae, psnr=psnr)


def evaluate(pred, target):
  """Mean MAE ([-1, 1] scale) and mean PSNR (dB, [0, 1] scale) over the images."""
  return {k: float(v.mean()) for k, v in per_image(pred, target).items()}


def baselines(inputs, targets, train_targets):
  """The trivial predictors' scores on (inputs -> targets).

  Args:
    inputs: [n, H, W, Ci] in [-1, 1], the model's inputs.
    targets: [n, H, W, Co], their true outputs.
    train_targets: [m, H, W, Co], the train split's targets (their mean is the 'mean_image').

  Returns:
    {'identity': dict(mae=, psnr=), 'mean_image': dict(mae=, psnr=)}.
  """
  inputs = np.asarray(inputs, np.float32)
  targets = np.asarray(targets, np.float32)
  identity = _match_channels(inputs, targets.shape[-1])
  mean = np.asarray(train_targets, np.float64).mean(axis=0, keepdims=True)
  mean = np.broadcast_to(mean, targets.shape)
  return {'identity': evaluate(identity, targets), 'mean_image': evaluate(mean, targets)}


def colour_accuracy(outputs, targets, palette, background):
  """The fraction of the targets' shape pixels whose output is nearest to the right colour.

  For tasks whose shapes are painted from a small palette ('shapes_recolour'): it says whether
  the model found the right colour for each shape, apart from how cleanly it paints.

  Args:
    outputs: [n, H, W, 3] in [-1, 1].
    targets: the same shape; every pixel is `background` or a colour of `palette`.
    palette: [k, 3] uint8 colours the outputs are told apart by (the targets' among them).
    background: the uint8 RGB background.

  Returns:
    A float in [0, 1].
  """
  colours = pixels.normalize(palette)
  outputs, targets = np.asarray(outputs, np.float32), np.asarray(targets, np.float32)
  shapes = np.abs(targets - pixels.normalize(background)).sum(-1) > 0.05
  nearest = lambda x: np.argmin(((x[..., None, :] - colours) ** 2).sum(-1), -1)  # noqa: E731
  return float((nearest(outputs[shapes]) == nearest(targets[shapes])).mean())


def synthetic_baselines(config, split='test'):
  """`baselines` of the built-in task of `config.data` (direction and channels applied)."""
  truth = synthetic.ground_truth(config, split)
  train = synthetic.ground_truth(config, 'train')
  return baselines(truth['A'], truth['B'], train['B'])


def _match_channels(images, channels):
  """Gray <-> RGB so that the identity is defined between domains of different depth."""
  if images.shape[-1] == channels:
    return images
  if channels == 3:
    return np.repeat(images, 3, axis=-1)
  # RGB -> gray with the ITU-R 601-2 weights PIL uses.
  return (images @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
