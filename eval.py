"""Evaluates a model: translates a split or a folder; the work is in jaxgan/eval_lib.py.

  python eval.py --workdir=runs/demo                       # the run's config, newest checkpoint
  python eval.py --workdir=runs/demo --num_test=16 --out=/tmp/eval
  python eval.py --workdir=runs/h2z --folder=photos/ --direction=AtoB
  python eval.py --model=pix2pix --weights=G=latest_net_G.pth --out=results/facades
  python eval.py --config=configs/cyclegan_horse2zebra.py --weights=G_A=a.npz,G_B=b.npz \
      --out=results/h2z

With --workdir the run is rebuilt from its config.json and newest checkpoint; outputs go to
<workdir>/eval/<split>_<step>/ unless --out is given. With --weights (official PyTorch
state_dicts, .pth with PyTorch installed, or .npz) the nets are built from --config or --model's
default config, as train.py does, and --out is required. Writes PNGs and index.html (input |
output | target per image; both directions for CycleGAN), and for the built-in synthetic sets
metrics.json with MAE / PSNR against the true targets beside the identity and mean-image
baselines, printed as a table. Bad input: a one-line `error: ...` on stderr, exit status 2.
"""

from absl import app, flags
from ml_collections import config_flags

from jaxgan import cli, errors, models

flags.DEFINE_string('workdir', None, 'a training workdir: its config and newest checkpoint')
flags.DEFINE_string('model', None, f'with --weights: {" | ".join(models.names())}')
config_flags.DEFINE_config_file('config', None, 'with --weights: configs/<name>.py[:arg]')
flags.DEFINE_multi_string('weights', [], 'NET=PATH of official weights (.pth/.npz), e.g. G=x.pth')
flags.DEFINE_string('out', None, 'output directory')
flags.DEFINE_integer('num_test', None, 'images per direction (default config.eval.num_test)')
flags.DEFINE_string('split', None, 'the split to translate (default config.eval.split)')
flags.DEFINE_string('folder', None, 'translate every image of this folder instead of a split')
flags.DEFINE_enum('direction', 'AtoB', ['AtoB', 'BtoA'], 'with --folder: which generator')
FLAGS = flags.FLAGS


def main(argv):
  cli.quiet_logging()
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
  if bool(FLAGS.workdir) == bool(FLAGS.weights):
    cli.fail('give --workdir=DIR (a training run) or --weights=NET=PATH (official weights)')
  if FLAGS.weights and FLAGS.config is None:
    cli.fail('--weights needs --model or --config to build the nets')
  if FLAGS.weights and not FLAGS.out:
    cli.fail('--weights needs --out=DIR for the results')
  cli.quiet_environment()
  from jaxgan import eval_lib  # noqa: PLC0415 - imports JAX and TensorFlow: after the flags

  try:
    if FLAGS.workdir:
      config, state, step = eval_lib.restore(FLAGS.workdir)
    else:
      config = FLAGS.config
      cli.check_model(FLAGS.model, config)
      weights = eval_lib.parse_weights(FLAGS.weights, models.get(config.model))
      state, step = eval_lib.load_weights(config, weights), None
    if FLAGS.split:
      config.eval.split = FLAGS.split
    out = FLAGS.out or f'{FLAGS.workdir}/eval/{config.eval.split}_{step}'
    results = eval_lib.evaluate(
      config, state, out, num_test=FLAGS.num_test, folder=FLAGS.folder, direction=FLAGS.direction
    )
  except errors.JaxganError as e:
    cli.fail(e)
  if results:
    print(eval_lib.format_table(results))
  print(f'results: {out}/index.html' + (f', {out}/metrics.json' if results else ''))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
