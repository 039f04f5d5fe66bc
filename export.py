r"""Exports a trained net; the work is in jaxgan/export_lib.py.

  python export.py --workdir=runs/h2z --net=G_A --format=pth --out=latest_net_G_A.pth
  python export.py --workdir=runs/h2z --net=G_A --format=jax --out=G_A.jax --step=20000
  python export.py --workdir=runs/h2z --net=G_B --format=savedmodel --out=G_B_savedmodel
  python export.py --workdir=runs/edges2shoes_munit --net=AtoB --format=jax --out=munit_ab.jax

--format: npz / pth (the official state_dict, for the official PyTorch code; any net, MUNIT's
'gen' / 'dis' pairs too), jax (jax.export, any batch and image size; load it with
`jax.export.deserialize(open(path, 'rb').read()).call(images)`) or savedmodel (TensorFlow,
through jax2tf). --net names a net (G, G_A, G_B, D, E, gen_a, ...) or, for jax/savedmodel, a
direction (AtoB, BtoA); MUNIT's and BicycleGAN's programs take the style / z as a second input.
`--config.<key>=<value>` overrides the run's eval keys as in eval.py (e.g.
--config.eval.eval_mode=true). Bad input: a one-line `error: ...` on stderr, exit status 2.
"""

from absl import app, flags

from jaxgan import cli, errors

FORMATS = ('npz', 'pth', 'jax', 'savedmodel')  # jaxgan.export_lib.FORMATS, without importing JAX

flags.DEFINE_string('workdir', None, 'a training workdir: its config and newest checkpoint')
flags.DEFINE_string('step', None, "the checkpoint of this step, or 'best' (default newest)")
flags.DEFINE_string('net', None, 'the net (G, G_A, gen_a, D, ...) or direction (AtoB, BtoA)')
flags.DEFINE_string('format', None, f'one of {", ".join(FORMATS)}')
flags.DEFINE_string('out', None, 'the file (or SavedModel directory) to write')
FLAGS = flags.FLAGS


def main(argv):
  cli.quiet_logging()
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
  for name in ('workdir', 'net', 'format', 'out'):
    if not FLAGS[name].value:
      cli.fail(f'--{name} is required (python export.py --help)')
  if FLAGS.format not in FORMATS:
    cli.fail(f'unknown --format={FLAGS.format!r}; known: {", ".join(FORMATS)}')
  cli.quiet_environment()
  cli.starting('export.py', f'{FLAGS.net} of {FLAGS.workdir} as {FLAGS.format}')
  import jaxgan.eval as eval_lib  # noqa: PLC0415 - imports JAX: after the flags
  from configs import common  # noqa: PLC0415 - the options a run older than them lacks
  from jaxgan import export_lib  # noqa: PLC0415

  try:
    config, state, step = eval_lib.restore(
      FLAGS.workdir,
      defaults=common.get_config(),
      step=cli.checkpoint_step(FLAGS.step),
      overrides=cli.WORKDIR_OVERRIDES,
    )
    path = export_lib.export(config, state, FLAGS.net, FLAGS.format, FLAGS.out)
  except errors.JaxganError as e:
    cli.fail(e)
  print(f'exported {FLAGS.net} of {FLAGS.workdir} (step {step}) as {FLAGS.format}: {path}')
  note = export_lib.official_note(config, FLAGS.net) if FLAGS.format in ('npz', 'pth') else None
  if note:
    print(f'note: {note}')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_workdir_flags)
