r"""Evaluates a model: translates a split or a folder; the work is in jaxgan/eval/.

  python eval.py --workdir=runs/demo                       # the run's config, newest checkpoint
  python eval.py --workdir=runs/demo --num_test=16 --out=/tmp/eval --step=2000
  python eval.py --workdir=runs/h2z --folder=photos/ --direction=AtoB
  python eval.py --workdir=runs/h2z --folder=frames/ --config.data.preprocess=none \
      --output_only --out=frames_out         # each image at its own size, named as its input
  python eval.py --model=pix2pix --weights=G=latest_net_G.pth --out=results/facades
  python eval.py --config=configs/cyclegan_horse2zebra.py --weights=G_A=a.npz,G_B=b.npz \
      --out=results/h2z
  python eval.py --real=datasets/facades/testB --fake=results/facades/fake_B   # FID, KID

With --workdir the run is rebuilt from its config.json and newest checkpoint (--step=N picks
another); `--config.<key>=<value>` overrides its data.* and eval.* keys (a key that would change
the nets is refused); outputs go to <workdir>/eval/<split>_<step>/ unless --out is given.
With --weights (official PyTorch state_dicts, .pth or .npz) the nets are built from --config or
--model's default config, as train.py does, and --out is required. Writes PNGs and index.html
(input | output | target per image; both directions for CycleGAN), and for the built-in sets
metrics.json with MAE / PSNR against the true targets beside the identity and mean-image
baselines, printed as a table. FID and KID (docs/metrics.md) of each direction's outputs
against the real images of their domain (the targets, or CycleGAN's other-direction inputs)
go to metrics.json under 'fid_kid' (--nofid to skip; a rerun with --nofid keeps the earlier
ones). --output_only writes only the translations, named as their inputs. --real/--fake compare
two folders
instead, without a model. Bad input: a one-line `error: ...` on stderr, exit status 2.
"""

import json
import pathlib
import sys

from absl import app, flags
from ml_collections import config_flags

from jaxgan import cli, errors, models

flags.DEFINE_string('workdir', None, 'a training workdir: its config and newest checkpoint')
flags.DEFINE_string(
  'step', None, "with --workdir: the checkpoint of this step, or 'best' (default newest)"
)
flags.DEFINE_bool('output_only', False, 'write only the translations, <out>/<input name>.png')
flags.DEFINE_string('model', None, f'with --weights: {" | ".join(models.names())}')
config_flags.DEFINE_config_file('config', None, 'with --weights: configs/<name>.py[:arg]')
flags.DEFINE_multi_string('weights', [], 'NET=PATH of official weights (.pth/.npz), e.g. G=x.pth')
flags.DEFINE_string('out', None, 'output directory')
flags.DEFINE_integer('num_test', None, 'images per direction (default config.eval.num_test)')
flags.DEFINE_string('split', None, 'the split to translate (default config.eval.split)')
flags.DEFINE_string('folder', None, 'translate every image of this folder instead of a split')
flags.DEFINE_enum('direction', 'AtoB', ['AtoB', 'BtoA'], 'with --folder: which generator')
flags.DEFINE_bool(
  'eval_mode',
  None,
  'batch norm running averages, no dropout (the official --eval); default: config.eval.eval_mode',
)
flags.DEFINE_integer('n_samples', None, 'BicycleGAN: random-z samples per input')
flags.DEFINE_bool(
  'sync', None, 'the same random codes for every input (BicycleGAN: z; MUNIT: styles)'
)
flags.DEFINE_bool('no_encode', None, 'BicycleGAN: no encoded output (z = mu of E(B))')
flags.DEFINE_integer('num_styles', None, 'MUNIT: random styles per input (config.eval.num_styles)')
flags.DEFINE_string('style', None, 'MUNIT: an example image whose style every translation takes')
flags.DEFINE_enum('style_domain', 'B', ['A', 'B'], 'MUNIT: the domain of the --style image')
flags.DEFINE_alias('synchronized', 'sync')  # the official MUNIT test_batch.py's spelling
flags.DEFINE_bool(
  'lpips', None, 'multimodal models: LPIPS diversity of the samples (config.eval.lpips_diversity)'
)
flags.DEFINE_string(
  'protocol',
  None,
  "a paper's evaluation by name (docs/reproduce.md): cut_fid | cyclegan_fid | pix2pix_fid | "
  'bicyclegan_lpips | munit_lpips',
)
flags.DEFINE_string('real', None, 'with --fake: FID and KID of two image folders, no model')
flags.DEFINE_string('fake', None, 'with --real: the generated images')
flags.DEFINE_bool(
  'fid', True, 'FID and KID of the outputs against real images of their domain (built-in sets: off)'
)
flags.DEFINE_string('fid_weights', None, 'FID Inception weights (default: cache, download, pkgs)')
flags.DEFINE_enum('fid_preprocess', 'pytorch-fid', ['pytorch-fid', 'clean'], 'FID resize')
flags.DEFINE_bool('fid_allow_few', False, 'FID even from fewer images than features (biased)')
flags.DEFINE_integer('kid_subset_size', None, 'KID subset size (default min(1000, images))')
FLAGS = flags.FLAGS


def _metric_options(protocol=None):
  return dict(
    weights=FLAGS.fid_weights,
    preprocess='pytorch-fid' if protocol else FLAGS.fid_preprocess,
    # pytorch-fid computes FID from as few images as a test split has (horse2zebra: 120).
    fid_allow_few=FLAGS.fid_allow_few or protocol is not None,
    kid_subset_size=FLAGS.kid_subset_size,
  )


def _write_metrics(out, results):
  path = pathlib.Path(out) / 'metrics.json'
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(results, indent=2, sort_keys=True) + '\n')
  return path


def _earlier_fid(out):
  """The FID/KID a previous evaluation left in out/metrics.json (same step and split), if any."""
  try:
    return json.loads((pathlib.Path(out) / 'metrics.json').read_text()).get('fid_kid')
  except (OSError, ValueError, AttributeError):
    return None


def _given(key):
  """Whether --config.<key> was given on the command line (with --workdir or --config)."""
  return any(arg.startswith(f'--config.{key}=') or arg == f'--config.{key}' for arg in sys.argv)


def _folder_size(config):
  """At what size a folder's images are translated, in words."""
  from jaxgan.data import transforms  # noqa: PLC0415

  data = config.data
  if data.preprocess == 'none':
    return "at each image's own size (padded for the net where needed, cropped back)"
  height, width = transforms.output_shape(data)
  size = f'at {height}x{width}' if height else 'resized'
  return (
    f'{size} (data.preprocess {data.preprocess}, as the official test.py; '
    "--config.data.preprocess=none keeps each image's size)"
  )


def _check_out(out):
  """--out may not be a training workdir, its checkpoints, or the --folder being translated."""
  from jaxgan import outputs  # noqa: PLC0415

  outputs.refuse_run_folders(out)
  if FLAGS.folder and pathlib.Path(out).resolve() == pathlib.Path(FLAGS.folder).resolve():
    raise errors.ConfigError(
      f'--out={out} is the --folder being translated: the outputs would overwrite the inputs'
    )
  if pathlib.Path(out).exists() and not pathlib.Path(out).is_dir():
    raise errors.ConfigError(f'--out={out} is a file; expected a folder for the results')
  outputs.check_writable_parent(pathlib.Path(out) / 'index.html')


def compare_folders():
  """--real/--fake: FID and KID of two folders; metrics.json in --out (default: --fake)."""
  if not (FLAGS.real and FLAGS.fake):
    cli.fail('--real and --fake go together: the two image folders to compare')
  if FLAGS.workdir or FLAGS.weights:
    cli.fail('--real/--fake compare folders without a model: drop --workdir/--weights')
  cli.quiet_environment()
  from jaxgan import metrics  # noqa: PLC0415 - imports JAX: after the flags

  try:
    results = metrics.evaluate_folders(FLAGS.real, FLAGS.fake, **_metric_options())
  except errors.JaxganError as e:
    cli.fail(e)
  print(metrics.folders.format_table(results))
  print(f'results: {_write_metrics(FLAGS.out or FLAGS.fake, results)}')


def main(argv):
  cli.quiet_logging()
  if len(argv) > 1:
    cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
  if FLAGS.real or FLAGS.fake:
    return compare_folders()
  if bool(FLAGS.workdir) == bool(FLAGS.weights):
    cli.fail('give --workdir=DIR (a training run) or --weights=NET=PATH (official weights)')
  if FLAGS.workdir and (FLAGS.config is not None or FLAGS.model):
    given = '--model' if FLAGS.model else '--config'
    cli.fail(
      f'{given} would be ignored with --workdir (its config.json governs): drop it; override '
      'keys as --config.<key>=<value>'
    )
  if FLAGS.step is not None and not FLAGS.workdir:
    cli.fail('--step picks a checkpoint of a --workdir')
  if FLAGS.weights and FLAGS.config is None:
    cli.fail('--weights needs --model or --config to build the nets')
  if FLAGS.weights and not FLAGS.out:
    cli.fail('--weights needs --out=DIR for the results')
  cli.quiet_environment()
  source = FLAGS.workdir or ', '.join(FLAGS.weights)
  cli.starting('eval.py', f'{source} -> {FLAGS.folder or "its test split"}')
  import jaxgan.eval as eval_lib  # noqa: PLC0415 - imports JAX and TensorFlow: after flags
  from jaxgan import metrics  # noqa: PLC0415
  from jaxgan.port import states  # noqa: PLC0415

  out = FLAGS.out
  try:
    if FLAGS.workdir:
      from configs import common  # noqa: PLC0415 - the options a run older than them lacks

      config, state, step = eval_lib.restore(
        FLAGS.workdir,
        defaults=common.get_config(),
        step=cli.checkpoint_step(FLAGS.step),
        overrides=cli.WORKDIR_OVERRIDES,
      )
      print(f'restored step {step} of {FLAGS.workdir} ({config.model} {config.name!r})', flush=True)
    else:
      config = FLAGS.config
      cli.check_model(FLAGS.model, config)
      weights = states.parse(FLAGS.weights, models.get(config.model))
      state, step = eval_lib.load_weights(config, weights), None
    if FLAGS.split:
      config.eval.split = FLAGS.split
    if FLAGS.eval_mode is not None:
      config.eval.eval_mode = FLAGS.eval_mode
    for option in ('n_samples', 'no_encode'):
      if FLAGS[option].value is not None:
        config.eval[option] = FLAGS[option].value
    if FLAGS.sync is not None:  # one flag, the key each model's sampling reads
      styles = getattr(models.get(config.model), 'EVALUATION', '') == 'styles'
      config.eval['synchronized' if styles else 'sync'] = FLAGS.sync
    if FLAGS.lpips is not None:
      config.eval.lpips_diversity = FLAGS.lpips
    model = models.get(config.model)
    for key in ('num_styles', 'style', 'style_domain'):  # MUNIT's sampling
      if FLAGS[key].present:
        config.eval[key] = FLAGS[key].value
    protocol = None
    if FLAGS.protocol:
      from jaxgan.eval import protocols  # noqa: PLC0415

      if FLAGS.folder or FLAGS.output_only or FLAGS.num_test is not None:
        raise errors.ConfigError(
          f'--protocol={FLAGS.protocol} fixes what is translated: drop --folder, '
          '--output_only and --num_test'
        )
      protocol = protocols.get(FLAGS.protocol, config.model)
      protocols.apply(protocol, config)
      print(f'protocol {FLAGS.protocol}: {protocol.what} ({protocol.source})', flush=True)
    if FLAGS.folder and FLAGS.output_only and not _given('data.preprocess'):
      config.data.preprocess = 'none'  # translations for use: each image keeps its size
    if FLAGS.folder:
      print(f'translating {FLAGS.folder} {_folder_size(config)}', flush=True)
    out = FLAGS.out or f'{FLAGS.workdir}/eval/{config.eval.split}_{step}'
    _check_out(out)
    earlier = _earlier_fid(out)
    results = eval_lib.evaluate(
      config,
      state,
      out,
      num_test=FLAGS.num_test,
      folder=FLAGS.folder,
      direction=FLAGS.direction,
      output_only=FLAGS.output_only,
    )
    # The built-in sets are scored against their true targets; FID/KID of a few dozen 32 px
    # images is not worth the Inception passes unless asked for (--fid).
    builtin = config.data.source == 'synthetic' and not FLAGS['fid'].present
    fid = FLAGS.fid and not (FLAGS.folder or FLAGS.output_only or builtin)
    if protocol is not None:
      fid = protocol.fid
    if builtin and not (FLAGS.folder or FLAGS.output_only) and getattr(model, 'FID_KID', True):
      print('FID/KID: skipped on a built-in set, measured against its true targets (--fid: run)')
    if not fid and earlier and not FLAGS.output_only:
      results = {**results, 'fid_kid': earlier}  # a rerun with --nofid keeps what it had
      _write_metrics(out, results)
    elif fid and getattr(model, 'FID_KID', True):
      try:
        fid_kid = metrics.folders.evaluate_translations(out, **_metric_options(protocol))
      except errors.WeightsError as e:
        if FLAGS.fid_weights or protocol is not None:
          raise
        fid_kid = {}
        print(f'FID/KID skipped (--nofid to silence): {e}', file=sys.stderr)
      if fid_kid:
        results = {**results, 'fid_kid': fid_kid}
        _write_metrics(out, results)
  except errors.JaxganError as e:
    cli.fail(e)
  except OSError as e:  # a full disk, a folder that vanished: nothing but this line
    cli.fail(f'cannot write --out={out}: {e.strerror or e}')
  except KeyboardInterrupt:
    written = out and pathlib.Path(out).is_dir()
    where = out if FLAGS.output_only else f'{out}/index.html'
    print(
      f'interrupted: what was written so far is in {where}' if written else 'interrupted',
      file=sys.stderr,
      flush=True,
    )
    sys.exit(130)
  if FLAGS.output_only:
    print(f'translations: {out}')
    return
  if protocol is not None:
    value = protocols.reported(protocol, results)
    results = {**results, 'protocol': {'name': FLAGS.protocol, 'what': protocol.what,
                                        'source': protocol.source, 'reported': protocol.report,
                                        'value': value}}  # fmt: skip
    _write_metrics(out, results)
  if results:
    table = {k: v for k, v in results.items() if k not in ('fid_kid', 'protocol')}
    if table:
      print(eval_lib.format_table(config, table))
    for direction, scores in results.get('fid_kid', {}).items():
      print(f'{direction}:')
      print(metrics.folders.format_table(scores))
  if protocol is not None:
    value = results['protocol']['value']
    shown = 'not computed' if value is None else f'{value:.4g}'
    print(f'{FLAGS.protocol}: {protocol.report} = {shown}')
  print(f'results: {out}/index.html' + (f', {out}/metrics.json' if results else ''))


if __name__ == '__main__':
  app.run(main, flags_parser=cli.parse_workdir_flags)
