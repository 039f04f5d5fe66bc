"""eval.py's printout of each evaluation's metrics."""

from jaxgan.eval import core


def translation_table(results):
  """The metrics of `translate` and `styles` as a text table, one row per direction and
  predictor."""
  lines = [f'{"direction":<10} {"predictor":<11} {"MAE":>8} {"PSNR (dB)":>10}']
  for d, scores in results.items():
    for predictor in ('model', 'identity', 'mean_image'):
      if predictor in scores:
        s = scores[predictor]
        lines.append(f'{d:<10} {predictor:<11} {s["mae"]:>8.4f} {s["psnr"]:>10.2f}')
    if 'colour_accuracy' in scores:  # shapes_recolour
      lines.append(f'{d:<10} shape pixels in the right colour: {scores["colour_accuracy"]:.4f}')
    if 'diversity' in scores:
      lines.append(f'{d:<10} {core.format_diversity(scores["diversity"])}')
    if 'modes' in scores:  # MUNIT on the multimodal task
      m = scores['modes']
      of = f' of {m["num_bins"]} bins' if 'num_bins' in m else ''
      lines.append(
        f'{d:<10} modes: coverage {m["coverage"]:.3f}{of}, precision {m["precision"]:.3f} '
        f'(MAE <= {m["threshold"]}, {m["num_styles"]} styles), content IoU {m["content_iou"]:.3f}'
      )
      if 'coverage_interior' in m:
        lines.append(
          f'{d:<10} colour inside the shapes: coverage {m["coverage_interior"]:.3f}, '
          f'precision {m["precision_interior"]:.3f} (per-pixel MAE <= {m["interior_threshold"]})'
        )
  return '\n'.join(lines)


def sampling_table(results):
  """BicycleGAN's sampling metrics (`jaxgan.eval.sampling`) as text lines."""
  lines = []
  for d, s in results.items():
    lines.append(f'{d}: {s["num_images"]} inputs x {s["n_samples"]} random samples')
    for kind in ('encoded', 'random'):
      if kind in s:
        lines.append(f'  {kind:<8} MAE {s[kind]["mae"]:.4f}  PSNR {s[kind]["psnr"]:.2f} dB')
    if 'diversity' in s:
      lines.append(f'  {core.format_diversity(s["diversity"])}')
    if 'modes' in s:
      m = s['modes']
      of = f' of {m["num_bins"]} bins' if 'num_bins' in m else ''
      lines.append(
        f'  modes    coverage {m["coverage"]:.3f}{of}  precision {m["precision"]:.3f}  '
        f'nearest-mode MAE {m["mae_nearest"]:.4f} (threshold {m["threshold"]})'
      )
  return '\n'.join(lines)
