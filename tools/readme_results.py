"""Measures the README's "Results on the built-in data" and writes them into README.md.

  python tools/readme_results.py [--runs=runs] [--check]

Runs the README's own commands, as a user would: trains the pix2pix and CycleGAN demos
(`train.py ... --workdir=runs/demo`, `runs/cyclegan`; a finished run is reused), evaluates them
with eval.py, and rewrites the part of README.md between the `readme_results` markers: the table
(the models' MAE / PSNR on the test split beside the identity and mean-image baselines), the
commands with their measured wall time, and CycleGAN's colour accuracy (also over --seeds, so
that the demo is shown to learn, not to have been lucky). So no figure there is
older than the code and data that give it. `--check` only compares (exit 1 on a difference).
tests/test_readme.py checks the baselines of the table (they need no training) on every run.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BEGIN, END = '<!-- readme_results -->', '<!-- /readme_results -->'

DEMOS = {
  'pix2pix': dict(config='configs/pix2pix_shapes.py', workdir='demo', eval_args=()),
  'cyclegan': dict(config='configs/cyclegan_shapes.py', workdir='cyclegan', eval_args=()),
}


def _run(args, log):
  start = time.time()
  result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
  log.write_text(result.stdout + result.stderr)
  if result.returncode:
    sys.exit(f'{" ".join(args)} failed (exit {result.returncode}); its output: {log}')
  return time.time() - start, result.stdout


def seed_sweep(runs, seeds):
  """{seed: (colour accuracy A -> B, B -> A)} of the CycleGAN demo trained with other seeds."""
  out = {}
  for seed in seeds:
    workdir = pathlib.Path(runs) / f'cyclegan_seed{seed}'
    config = DEMOS['cyclegan']['config']
    args = ['train.py', '--model=cyclegan', f'--config={config}', f'--workdir={workdir}']
    _run([*args, f'--config.seed={seed}'], pathlib.Path(runs) / f'cyclegan_seed{seed}_train.log')
    _, stdout = _run(['eval.py', f'--workdir={workdir}', '--nofid'], workdir.with_suffix('.log'))
    path = re.search(r'results: (\S+)/index\.html', stdout)[1]
    metrics = json.loads((pathlib.Path(path) / 'metrics.json').read_text())
    out[seed] = tuple(metrics[d]['colour_accuracy'] for d in ('AtoB', 'BtoA'))
  return out


def measure(runs):
  """{model: (metrics.json of its eval, train wall seconds or None when reused, commands)}."""
  out = {}
  for model, demo in DEMOS.items():
    workdir = pathlib.Path(runs) / demo['workdir']
    train = ['train.py', f'--model={model}', f'--config={demo["config"]}', f'--workdir={workdir}']
    wall, stdout = _run(train, pathlib.Path(runs) / f'{model}_train.log')
    timing = workdir / 'readme_results_train_seconds'  # the wall time of the run that trained
    if 'nothing to train' in stdout:
      wall = float(timing.read_text()) if timing.is_file() else None
    else:
      timing.write_text(f'{wall:.0f}\n')
    evaluate = ['eval.py', f'--workdir={workdir}', '--nofid', *demo['eval_args']]
    _, stdout = _run(evaluate, pathlib.Path(runs) / f'{model}_eval.log')
    path = re.search(r'results: (\S+)/index\.html', stdout)[1]
    metrics = json.loads((pathlib.Path(path) / 'metrics.json').read_text())
    step = int(re.search(r'_(\d+)$', path)[1])
    out[model] = dict(metrics=metrics, wall=wall, train=train,
                      evaluate=evaluate, step=step)  # fmt: skip
  return out


def _row(run, predictor, scores, bold=False):
  mae, psnr = f'{scores["mae"]:.3f}', f'{scores["psnr"]:.1f}'
  if bold:
    predictor, mae, psnr = f'**{predictor}**', f'**{mae}**', f'**{psnr}**'
  return f'| {run} | {predictor} | {mae} | {psnr} |'


def render(results, sweep):
  """The README's block between the markers."""
  p2p, cyc = results['pix2pix'], results['cyclegan']
  lines = [
    BEGIN,
    '| run | predictor | MAE | PSNR (dB) |',
    '| --- | --- | --- | --- |',
  ]
  for name, result, directions in (
    ('pix2pix', p2p, (('AtoB', 'shapes_paired'),)),
    ('CycleGAN', cyc, (('AtoB', 'shapes_recolour'), ('BtoA', 'shapes_recolour'))),
  ):
    for i, (d, task) in enumerate(directions):
      scores = result['metrics'][d]
      config = DEMOS[name.lower()]['config']
      label = f'{result["step"]} steps, `{config}`' if i == 0 else "the same run's G_B"
      lines.append(_row(f'{name}, `{task}` {d[0]}->{d[-1]}', f'{name} ({label})',
                        scores['model'], bold=True))  # fmt: skip
      lines.append(_row('', 'identity (output = input)', scores['identity']))
      lines.append(_row('', 'mean training target', scores['mean_image']))
  lines.append('')
  commands = []
  for name, result in (('pix2pix', p2p), ('CycleGAN', cyc)):
    wall = f' ({result["wall"] / 60:.1f} min wall)' if result['wall'] else ''
    commands.append(
      f'{name}: `python {" ".join(result["train"])}`{wall}, then `python '
      f'{" ".join(result["evaluate"])}`'
    )
  lines.append('Commands (measured by `python tools/readme_results.py`, which runs them):')
  lines.append('; '.join(commands) + '.')
  lines.append('')
  a, b = (cyc['metrics'][d]['colour_accuracy'] for d in ('AtoB', 'BtoA'))
  runs = [(a, b), *sweep.values()]
  learned = sum(min(r) >= 0.9 for r in runs)
  headline = (
    '**CycleGAN learns both directions.**'
    if learned == len(runs)
    else f'**CycleGAN learns both directions in {learned} of {len(runs)} seeds.**'
  )
  lines.append(
    f'{headline} Unpaired, it has to find the one colour swap of the 6 possible that keeps '
    "each kind's colour right, which only the discriminators' view of shape and colour together "
    'tells apart; eval.py counts the shape pixels painted nearest to their true colour: with '
    f'the command above (seed 0) {a:.4f} A -> B and {b:.4f} B -> A (the identity scores 0).'
  )
  if sweep:
    low = min(min(v) for v in sweep.values())
    seeds = ', '.join(map(str, sweep))
    if low >= 0.9:
      lines.append(
        f'Trained with seeds {seeds} as well (`--config.seed=N`), it finds the same swap every '
        f'time: at least {low:.4f} of the shape pixels right in both directions.'
      )
    else:
      scores = '; '.join(f'seed {k}: {a:.3f} / {b:.3f}' for k, (a, b) in sweep.items())
      lines.append(f'Trained with seeds {seeds} as well: {scores} (a wrong swap below 0.9).')
  lines.append(END)
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', default='runs')
  parser.add_argument('--check', action='store_true')
  parser.add_argument('--seeds', default='1,2,3', help="CycleGAN's other seeds ('' for none)")
  args = parser.parse_args()
  readme = ROOT / 'README.md'
  text = readme.read_text()
  start, end = text.index(BEGIN), text.index(END) + len(END)
  seeds = [int(x) for x in args.seeds.split(',') if x]
  block = render(measure(args.runs), seed_sweep(args.runs, seeds))
  print(block)
  if args.check:
    sys.exit(0 if text[start:end] == block else 'README.md differs from the measurement')
  readme.write_text(text[:start] + block + text[end:])


if __name__ == '__main__':
  main()
