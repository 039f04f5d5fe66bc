r"""Trains a model: the loop is jaxgan/train_lib.py, the settings a Python config.

  python train.py --model=pix2pix --workdir=runs/facades
  python train.py --model=cyclegan --config=configs/cyclegan_shapes.py --workdir=runs/shapes \
      --config.batch_size=4

Without --config, a model trains with the paper's settings: pix2pix with
configs/pix2pix_facades.py, cyclegan with configs/cyclegan_horse2zebra.py, bicyclegan with
configs/bicyclegan_edges2shoes.py, munit with configs/munit_edges2shoes.py, cut with
configs/cut_horse2zebra.py (FastCUT: --config=configs/cut_horse2zebra.py:fastcut). Your own data:
--config.data.dataroot=DIR (the official layouts: DIR/trainA, DIR/trainB for the unpaired
models; DIR/train/ of A|B pairs side by side for the paired ones); the run is then named after
DIR unless --config.name is given. With --config,
--model may be left out; when given it must name the config's model. A config file takes an
argument after a colon (`configs/pix2pix_shapes.py:tiny`); any key can be overridden
(`--config.data.load_size=143`). Re-running the same command resumes from the workdir's
newest checkpoint.

Resuming with settings that change the run (model, nets, data, batch size, objective, lr) is
refused unless --config.allow_config_change=True. A step whose losses or parameters are not
finite stops the run (the official code trains on): no checkpoint of it or later is written, so
the newest one stays the last good state.

Exit status: 0 when training finished; 143 (128 + SIGTERM) when SIGTERM stopped it after saving a
checkpoint, so a scheduler can tell a preempted run from a finished one; 130 when Ctrl-C (SIGINT)
did; 2 with a one-line `error: ...` on stderr for bad input (unknown model, config key or value,
missing dataset, a checkpoint that does not fit, settings changed on resume) and for a run that
diverged.
"""

import signal
import sys

from absl import app, flags
from ml_collections import config_flags

from jaxgan import cli, errors, models

flags.DEFINE_string('model', None, f'the model: {" | ".join(models.names())}')
flags.DEFINE_string('workdir', None, 'directory for checkpoints, samples and logs (resumes)')
config_flags.DEFINE_config_file(
  'config', None, 'a config file, configs/<name>.py[:arg]; its keys: docs/config.md'
)
FLAGS = flags.FLAGS


def main(argv):
  cli.quiet_logging()
  config = cli.run_config(argv, FLAGS.model, FLAGS.config)
  cli.name_after_own_data(config, sys.argv)
  if not FLAGS.workdir:
    cli.fail('give --workdir=DIR, the directory for checkpoints, samples and logs')
  cli.quiet_environment()
  cli.starting('train.py', f'{config.model} {config.name!r} in {FLAGS.workdir}')
  from jaxgan import train_lib  # noqa: PLC0415 - imports JAX and TensorFlow: after the flags

  try:
    outcome = train_lib.train(config, FLAGS.workdir)
  except errors.JaxganError as e:
    cli.fail(e)
  if outcome.signal:  # 128 + the signal's number, as a shell reports a process it stopped
    sys.exit(128 + int(getattr(signal, outcome.signal)))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_flags)
