"""Tests run on CPU JAX with 8 fake devices, so sharding is exercised everywhere."""

import os

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import pathlib  # noqa: E402

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _shared_dir(env, default):
  return pathlib.Path(os.environ.get(env, ROOT.parent / 'shared' / default))


@pytest.fixture(scope='session')
def parity_dir():
  path = _shared_dir('JAXGAN_PARITY_DIR', 'parity')
  if not path.is_dir():
    pytest.skip(f'no parity fixtures at {path} (set JAXGAN_PARITY_DIR)')
  return path


@pytest.fixture(scope='session')
def shared_data_dir():
  path = _shared_dir('JAXGAN_SHARED_DATA', 'data')
  if not path.is_dir():
    pytest.skip(f'no shared test images at {path} (set JAXGAN_SHARED_DATA)')
  return path


# How pytest-xdist hands out the tests (`pytest_xdist_make_scheduler` below): in units, the
# longest first, each unit to the next free worker. A unit is a whole file (its tests share
# module fixtures), but in SPREAD_FILES each test is its own unit (they share nothing costly)
# unless GROUPS ties it to the tests that share its compiled step. (xdist's own --dist loadgroup
# cannot do this with pytest 9.2: it renames the tests' nodeids, which pytest 9.2 no longer
# allows, so its groups are silently ignored.)
SPREAD_FILES = {
  'test_benchmark.py',
  'test_bfloat16.py',
  'test_bicyclegan.py',
  'test_bicyclegan_end_to_end.py',
  'test_cli_errors.py',
  'test_cut.py',
  'test_eval.py',
  'test_export.py',
  'test_learning.py',
  'test_models.py',
  'test_munit.py',
  'test_official_steps.py',
  'test_train.py',
}
GROUPS = {
  # tests/test_models.py's `compiled` fixture: one model's steps, compiled once per worker.
  'test_models.py::test_eight_devices_give_what_one_device_gives[pix2pix]': 'models_pix2pix',
  'test_models.py::test_donated_state_is_consumed': 'models_pix2pix',
  'test_models.py::test_pix2pix_learns_the_fixed_batch': 'models_pix2pix',
  'test_models.py::test_pix2pix_translate_keeps_train_mode_unless_eval_mode': 'models_pix2pix',
  'test_models.py::test_eight_devices_give_what_one_device_gives[cyclegan]': 'models_cyclegan',
  'test_models.py::test_cyclegan_cycle_loss_drops': 'models_cyclegan',
  # tests/test_bicyclegan.py's `default_run` fixture.
  'test_bicyclegan.py::test_step_losses_and_updates': 'bicycle_default_run',
  'test_bicyclegan.py::test_half_batch_split': 'bicycle_default_run',
  'test_bicyclegan.py::test_learns_the_fixed_batch': 'bicycle_default_run',
}

# Seconds each long unit takes on 2 cores (two xdist workers; the slowest tests' durations
# are printed at the end of every run): a file, a group, or a test (every parameter of it).
LONG_UNITS = {
  # the opt-in long proofs (-m learning, -m mutations), alone on a worker
  'test_learning.py::test_munit_covers_more_styles_than_a_style_blind_decoder': 475,
  'test_learning.py::test_cut_moves_toward_the_target_domain': 300,
  'test_learning.py::test_cyclegan_paints_each_domains_colours': 170,
  'test_learning.py::test_bicyclegan_covers_more_modes_than_pix2pix_noise': 140,
  'test_learning.py::test_pix2pix_beats_the_identity_and_the_mean_target': 125,
  'test_official_steps.py::test_a_changed_setting_fails': 45,
  'test_metrics_real_weights.py': 110,
  'test_train_distributed.py': 85,
  'models_cyclegan': 85,
  'test_munit_end_to_end.py': 75,
  'test_bfloat16.py::test_bfloat16_steps_stay_close_to_float32': 70,
  'test_benchmark.py::test_benchmark_cli_times_step_input_and_loop': 50,
  'test_train.py::test_pix2pix_end_to_end_then_resume': 125,
  'test_official_steps.py::test_two_steps_equal_the_official_steps': 35,
  'test_official_steps.py::test_pix2pix_step_equals_the_official_update': 25,
  'models_pix2pix': 65,
  'test_bicyclegan_end_to_end.py::test_end_to_end': 65,
  'test_parity.py': 60,
  'test_munit.py::test_eight_devices_give_what_one_device_gives': 60,
  'test_train.py::test_cyclegan_end_to_end': 55,
  'test_cut.py::test_eight_devices_give_what_one_device_gives_and_the_losses_fall': 50,
  'test_cut.py::test_two_steps_equal_the_official_steps': 38,
  'test_train.py::test_sigterm_saves_and_exits_cleanly_then_resumes': 40,
  'test_models.py::test_g_update_leaves_d_untouched_in_variants': 37,
  'bicycle_default_run': 55,
  'test_munit.py::test_learns_the_fixed_batch': 32,
  'test_eval.py::test_a_folder_of_any_sizes_through_eval_py': 18,
  'test_export.py::test_multimodal_programs_take_the_code': 14,
  'test_export.py::test_export_py_end_to_end': 12,
  'test_export.py::test_cyclegan_program_equals_the_live_generator_and_eval': 11,
  'test_munit.py::test_each_generator_loss_term': 26,
  'test_munit.py::test_translation_uses_the_other_decoder_and_the_style': 22,
  'test_eval.py::test_eval_py_on_a_workdir': 20,
  'test_bicyclegan.py::test_latent_loss_leaves_E_gradient_zero': 17,
  'test_eval.py::test_eval_py_with_official_weights_and_a_folder': 17,
  'test_cli_errors.py::test_missing_dataset_folder_says_how_to_get_it': 13,
  'test_reliability.py': 25,
  'test_configs.py': 20,
  'test_hostile_files.py': 15,
  'test_data_synthetic.py': 15,
}


def _unit(nodeid):
  """(the unit a test belongs to, the name LONG_UNITS knows the unit's time by)."""
  path, _, name = nodeid.partition('::')
  file = path.rsplit('/', 1)[-1]
  group = GROUPS.get(f'{file}::{name}')
  if group:
    return group, group
  if file in SPREAD_FILES:
    return nodeid, f'{file}::{name.split("[")[0]}'
  return file, file


def pytest_collection_modifyitems(items):
  """Sorts the units longest first (ties: in collection order); a unit's tests keep their
  order."""
  first_seen, key = {}, {}
  for i, item in enumerate(items):
    unit, name = _unit(item.nodeid)
    first_seen.setdefault(unit, i)
    key[item.nodeid] = (-LONG_UNITS.get(name, 0), first_seen[unit])
  items.sort(key=lambda item: key[item.nodeid])


_ANNOUNCED = []


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
  """One line before the first dot, which the longest tests (first) keep away for minutes."""
  if _ANNOUNCED:
    return
  _ANNOUNCED.append(True)
  longest = max(LONG_UNITS.get(_unit(i)[1], 0) for i in ids)
  writer = node.config.get_terminal_writer()
  writer.line(
    f'{len(ids)} tests, the longest first: the first dots come after a minute or two '
    f'(the longest unit takes about {longest} s on 2 cores)'
  )


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which `-p no:xdist` leaves out
def pytest_xdist_make_scheduler(config, log):
  """xdist's scope scheduler (a scope's tests go to one worker, scopes in collection order,
  with --no-loadscope-reorder) with this file's units as the scopes."""
  from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415

  class UnitScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid):
      return _unit(nodeid)[0]

  return UnitScheduling(config, log)
