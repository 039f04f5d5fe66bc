"""What hostile or unlucky conditions did to jaxgan, replayed so it stays fixed: link loops and
broken links in a dataset, incomplete and damaged checkpoints, a reader racing a trainer's
rotation, a full disk, files that are not configs, out-of-range numbers, exports aimed at a run,
Ctrl-C in the middle of an evaluation. Each ends in one line (or the right result), nothing lost.
(The hostile weight files: test_hostile_files.py.)"""

import contextlib
import os
import pathlib
import subprocess
import sys
import types
import uuid

import jax
import numpy as np
import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))  # configs/ is a directory of the repo, not of the package

from test_eval import _state  # noqa: E402

import jaxgan.eval as eval_lib  # noqa: E402
from configs import common, cyclegan_shapes, pix2pix_shapes  # noqa: E402
from jaxgan import checkpoint, config_checks, errors, export_lib, train_lib, visualize  # noqa: E402
from jaxgan import data as jdata  # noqa: E402
from jaxgan.data import folders  # noqa: E402

STATE = {'w': np.arange(64, dtype=np.float32), 'b': np.ones((2, 3), np.float32)}


def _saved(workdir, steps=(2, 4)):
  with checkpoint.Checkpointer(workdir, async_save=False) as ckpt:
    for step in steps:
      ckpt.save(step, jax.tree.map(lambda x, s=step: x * s, STATE))


# ------------------------------------------------------------------------------------------
# Dataset folders.


def test_a_link_loop_in_a_dataset_is_not_followed(tmp_path):
  """The official loaders' os.walk does not enter linked folders: a loop cannot hang."""
  Image.new('RGB', (8, 8)).save(tmp_path / 'a.png')
  (tmp_path / 'sub').mkdir()
  Image.new('RGB', (8, 8)).save(tmp_path / 'sub' / 'b.png')
  os.symlink(tmp_path, tmp_path / 'sub' / 'loop')  # sub/loop -> the root: a cycle
  os.symlink(tmp_path / 'a.png', tmp_path / 'linked.png')  # a link to a file is a file
  paths = folders.make_dataset(str(tmp_path), 0, 'single')
  assert [os.path.relpath(p, tmp_path) for p in paths] == ['a.png', 'linked.png', 'sub/b.png']


def test_a_broken_link_named_as_an_image_is_one_line(tmp_path):
  Image.new('RGB', (8, 8)).save(tmp_path / 'a.png')
  os.symlink(tmp_path / 'gone.png', tmp_path / 'b.jpg')
  with pytest.raises(errors.InputError, match=r'b\.jpg: a broken link \(its target .*gone\.png'):
    folders.make_dataset(str(tmp_path), 0, 'single')


def test_a_training_image_too_small_for_the_crop_is_found_while_loading(tmp_path):
  """The held set is checked as it is loaded, not when a step draws the image hours later."""
  for i, size in enumerate([(40, 40), (40, 40), (12, 40)]):
    Image.new('RGB', size[::-1]).save(tmp_path / f'{i}.png')
  config = common.get_config()
  config.data.update(
    source='folder', dataroot=str(tmp_path), dataset_mode='single', preprocess='crop',
    crop_size=16, num_parallel_calls=1,
  )  # fmt: skip
  with pytest.raises(errors.InputError, match=r'2\.png: image is 12x40 after preprocess crop'):
    jdata.build(config, 'train', train=True, process_index=0, process_count=1)


# ------------------------------------------------------------------------------------------
# Checkpoints.


def test_an_empty_step_folder_is_skipped_and_the_intact_ones_restore(tmp_path, capsys):
  _saved(tmp_path)
  (tmp_path / 'checkpoints' / '6').mkdir()  # an interrupted copy or sync
  with checkpoint.Checkpointer(tmp_path, read_only=True) as ckpt:
    assert ckpt.all_steps() == [2, 4] and ckpt.latest_step() == 4
    restored, step = ckpt.restore_intact(STATE)
    assert step == 4
    np.testing.assert_array_equal(restored['w'], STATE['w'] * 4)
    with pytest.raises(errors.InputError, match=r'checkpoints/6 is incomplete'):
      ckpt.restore(STATE, 6)
  err = capsys.readouterr().err
  assert err.count('checkpoints/6 is not a complete checkpoint') == 1
  assert 'Traceback' not in err and 'Metadata file' not in err
  with checkpoint.Checkpointer(tmp_path) as ckpt:  # a training run sets it aside, then writes 6
    _, step = ckpt.restore_intact(STATE, set_aside=True)
    ckpt.save(6, STATE)
    ckpt.wait()
    assert ckpt.all_steps() == [2, 4, 6] and step == 4


def test_step_flag_on_an_incomplete_or_damaged_checkpoint_is_one_line(tmp_path):
  config = pix2pix_shapes.get_config('tiny')
  state = _state(config)
  checkpoint.save_config(tmp_path, config)
  with checkpoint.Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(2, state)
    ckpt.save(4, state)
  (tmp_path / 'checkpoints' / '6').mkdir()
  for path in (tmp_path / 'checkpoints' / '4').rglob('manifest.ocdbt'):
    path.write_bytes(b'garbage')
  defaults = common.get_config()
  with pytest.raises(errors.InputError, match=r'--step=6: .*not a complete checkpoint'):
    eval_lib.restore(tmp_path, defaults=defaults, step=6)
  with pytest.raises(errors.InputError, match=r'checkpoints/4 cannot be restored \(damaged'):
    eval_lib.restore(tmp_path, defaults=defaults, step=4)
  assert eval_lib.restore(tmp_path, defaults=defaults)[2] == 2  # the newest intact one


def test_a_reader_losing_the_race_with_rotation_lists_again(tmp_path, capsys, monkeypatch):
  """The trainer removes the newest step the reader picked (rotation, a set-aside): the reader
  takes the next newest without calling it damaged."""
  _saved(tmp_path, steps=(2, 4, 6))
  original = checkpoint.Checkpointer.restore

  def racing(self, template, step=None):
    if step == 6:
      import shutil  # noqa: PLC0415

      shutil.rmtree(self.directory / '6')  # gone between listing and reading
    return original(self, template, step)

  monkeypatch.setattr(checkpoint.Checkpointer, 'restore', racing)
  with checkpoint.Checkpointer(tmp_path, read_only=True) as ckpt:
    restored, step = ckpt.restore_intact(STATE)
  assert step == 4
  np.testing.assert_array_equal(restored['w'], STATE['w'] * 4)
  assert 'damaged' not in capsys.readouterr().err


def test_a_damaged_checkpoint_leaves_no_orbax_tracebacks(tmp_path, capfd):
  """tensorstore's reads still in flight after a failed restore called back into orbax's
  closed event loop, printing tracebacks around the one line (1 restore in 3 or so)."""
  _saved(tmp_path)
  for path in (tmp_path / 'checkpoints' / '4').rglob('d/*'):
    path.write_bytes(path.read_bytes()[:5])
  for _ in range(6):
    with checkpoint.Checkpointer(tmp_path, read_only=True) as ckpt:
      assert ckpt.restore_intact(STATE)[1] == 2
  lines = capfd.readouterr().err.strip().splitlines()
  assert len(lines) == 6 and all(x.startswith('warning: damaged checkpoint(s) 4 (') for x in lines)
  # Under pytest those callbacks become warnings, not output: check the filter itself too.
  closed = RuntimeError('Event loop is closed')
  args = types.SimpleNamespace(exc_type=RuntimeError, exc_value=closed, exc_traceback=None)
  sys.unraisablehook(args)
  assert getattr(sys.unraisablehook, 'jaxgan_filter', False) and not capfd.readouterr().err


@contextlib.contextmanager
def _small_disk(tmp_path, size='600k'):
  """A tmpfs of `size` (root and a kernel that allows mounts), else the test is skipped."""
  mount = tmp_path / f'disk-{uuid.uuid4().hex[:6]}'
  mount.mkdir()
  result = subprocess.run(
    ['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(mount)], capture_output=True
  )
  if result.returncode:
    pytest.skip('cannot mount a small tmpfs here (not root, or no mount permission)')
  try:
    yield mount
  finally:
    subprocess.run(['umount', '-l', str(mount)], capture_output=True)


def test_a_full_disk_during_a_save_is_one_line_and_keeps_the_checkpoints(tmp_path):
  with _small_disk(tmp_path) as disk:
    small = {'w': np.zeros(1000, np.float32)}
    ckpt = checkpoint.Checkpointer(disk, async_save=False, keep=None)
    train_lib._save(ckpt, 1, small)
    big = {'w': np.random.default_rng(0).normal(size=(400_000,)).astype(np.float32)}
    with pytest.raises(errors.InputError) as error:
      train_lib._save(ckpt, 2, big)
    message = str(error.value)
    assert '\n' not in message and 'cannot write checkpoint 2' in message
    assert 'no space left' in message.lower() and '(1) are intact' in message
    assert ckpt.all_steps() == [1]
    np.testing.assert_array_equal(ckpt.restore(small, 1)['w'], small['w'])


def test_export_to_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
  config = cyclegan_shapes.get_config('tiny')
  config.ngf = 64  # a generator of ~8 MB: more than the disk holds
  state = _state(config)
  with _small_disk(tmp_path) as disk:
    with pytest.raises(errors.OutputError, match=r'cannot write --out=.*G_A\.pth: No space left'):
      export_lib.export(config, state, 'G_A', 'pth', disk / 'G_A.pth')
    assert os.listdir(disk) == []  # no half file, no temporary


# ------------------------------------------------------------------------------------------
# Configs and numbers.


@pytest.mark.parametrize(
  ('text', 'match'),
  [
    ('[]', r'is not a jaxgan config \(expected an object with a "model"\)'),
    ('{"model": "pix2pix", "data": 3}', r'not a jaxgan config: data is a number, expected a sec'),
    ('{"model": "pix2pix", "batch_size": "8"}', r'batch_size is a string, expected a number'),
    ('{"model": "pix2pix", "data": {"crop_size": [256]}}', r'data.crop_size is a list'),
  ],
)
def test_a_config_json_that_is_not_a_config_is_named(tmp_path, text, match):
  (tmp_path / 'config.json').write_text(text)
  with pytest.raises(errors.InputError, match=match):
    checkpoint.load_config(tmp_path, common.get_config())


@pytest.mark.parametrize(
  ('key', 'value'),
  [
    ('seed', -1),
    ('seed', 2**64),
    ('data.num_parallel_calls', 0),
    ('data.crop_width', -5),
    ('eval.size_bucket', -1),
    ('eval.num_test', -3),
    ('batch_size', 0),
  ],
)
def test_numbers_out_of_range_are_named_up_front(key, value):
  config = common.get_config()
  section, _, name = key.rpartition('.')
  (config[section] if section else config)[name] = value
  with pytest.raises(errors.ConfigError, match=rf'^config\.{key} is {value}; expected '):
    config_checks.check(config)


def test_num_test_below_zero_is_refused(tmp_path):
  config = pix2pix_shapes.get_config('tiny')
  with pytest.raises(errors.ConfigError, match=r'--num_test=-3; expected 0'):
    eval_lib.evaluate(config, None, tmp_path, num_test=-3)


# ------------------------------------------------------------------------------------------
# Outputs.


def test_export_never_replaces_what_it_did_not_write(tmp_path):
  config = cyclegan_shapes.get_config('tiny')
  state = _state(config)
  run = tmp_path / 'run'
  checkpoint.save_config(run, config)
  (run / 'checkpoints' / '2').mkdir(parents=True)
  before = sorted(str(p) for p in run.rglob('*'))
  with pytest.raises(errors.ConfigError, match=r'is a training workdir'):
    export_lib.export(config, state, 'G_A', 'savedmodel', run)
  with pytest.raises(errors.ConfigError, match=r'inside the checkpoints of the run'):
    export_lib.export(config, state, 'G_A', 'pth', run / 'checkpoints' / 'G_A.pth')
  assert sorted(str(p) for p in run.rglob('*')) == before
  photos = tmp_path / 'photos'
  photos.mkdir()
  (photos / 'a.png').write_bytes(b'mine')
  mine = tmp_path / 'notes.pth'
  mine.write_bytes(b'mine')
  for fmt, out in (('savedmodel', photos), ('pth', mine), ('jax', mine), ('npz', photos)):
    with pytest.raises(errors.ConfigError, match=rf'exists and is not a {fmt} export'):
      export_lib.export(config, state, 'G_A' if fmt in ('pth', 'npz') else 'AtoB', fmt, out)
  assert (photos / 'a.png').read_bytes() == b'mine' and mine.read_bytes() == b'mine'
  # Weights that look official but were not written by export.py are refused too.
  official = tmp_path / 'latest_net_G_A.pth'
  export_lib.torch_file.write(official, export_lib.state_dict(config, state, 'G_A'))
  with pytest.raises(errors.ConfigError, match=r'exists and is not a pth export'):
    export_lib.export(config, state, 'G_A', 'pth', official)
  # An earlier export of the same kind is replaced, and no temporary is left beside it.
  for fmt in ('pth', 'npz', 'jax'):
    path = tmp_path / f'G_A.{fmt}'
    net = 'AtoB' if fmt == 'jax' else 'G_A'
    export_lib.export(config, state, net, fmt, path)
    first = path.stat().st_mtime_ns
    export_lib.export(config, state.replace(params=state.params), net, fmt, path)
    assert path.stat().st_mtime_ns >= first
  assert not [p for p in tmp_path.iterdir() if p.name.endswith('.tmp')]


def test_a_savedmodel_export_is_replaced_whole(tmp_path):
  """outputs.replace swaps folders: the old one goes only once the new one is in place."""
  from jaxgan import outputs  # noqa: PLC0415

  out = tmp_path / 'model'
  (out / 'assets.extra').mkdir(parents=True)
  (out / 'assets.extra' / export_lib.SAVEDMODEL_MARK).write_text('x')
  (out / 'old_file').write_text('old')
  assert export_lib._is_export(out, 'savedmodel') and not export_lib._is_export(tmp_path, 'jax')
  new = outputs.temp_beside(out, folder=True)
  pathlib.Path(new, 'new_file').write_text('new')
  outputs.replace(new, out)
  assert sorted(p.name for p in out.iterdir()) == ['new_file']
  assert sorted(p.name for p in tmp_path.iterdir()) == ['model']


def test_ctrl_c_in_an_evaluation_leaves_a_usable_page(tmp_path, monkeypatch):
  config = pix2pix_shapes.get_config('tiny')
  state = _state(config)
  original, calls = visualize.save_png, []

  def interrupted_at_the_tenth(path, image):
    calls.append(path)
    if len(calls) == 10:
      raise KeyboardInterrupt
    original(path, image)

  monkeypatch.setattr(visualize, 'save_png', interrupted_at_the_tenth)
  with pytest.raises(KeyboardInterrupt):
    eval_lib.evaluate(config, state, tmp_path)
  page = (tmp_path / 'index.html').read_text()
  assert 'interrupted' in page
  for i in range(3):  # three images of three visuals each were written and are on the page
    for visual in ('real_A', 'fake_B', 'real_B'):
      assert f'images/AtoB/{i:05d}_{visual}.png' in page
      assert (tmp_path / f'images/AtoB/{i:05d}_{visual}.png').is_file()
  assert '00003_' not in page
