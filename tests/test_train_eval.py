"""Evaluation during training: the scores' names, which is better, the kept best state."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import checkpoint, errors, train_eval

RESULTS = {  # eval's results for a CycleGAN run on real data, as metrics.json holds them
  'AtoB': {
    'model': {'mae': 0.2, 'psnr': 15.0},
    'identity': {'mae': 0.1, 'psnr': 13.0},
    'mean_image': {'mae': 0.3, 'psnr': 12.0},
    'colour_accuracy': 0.5,
    'num_images': 64,
  },
  'fid_kid': {
    'AtoB': {'fid': 60.0, 'kid': 0.02, 'kid_std': 0.001, 'num_real': 9, 'notes': ['x']},
    'BtoA': {'fid': 80.0, 'kid': 0.03, 'kid_subset_size': 9, 'fid_weights': 'cache'},
  },
}


def test_flatten_keeps_the_model_scores_under_their_direction():
  assert train_eval.flatten(RESULTS) == {
    'AtoB/mae': 0.2,
    'AtoB/psnr': 15.0,
    'AtoB/colour_accuracy': 0.5,
    'AtoB/fid': 60.0,
    'AtoB/kid': 0.02,
    'BtoA/fid': 80.0,
    'BtoA/kid': 0.03,
  }
  assert train_eval.flatten({'AtoB': {'fid': None, 'mae': float('nan')}}) == {}


def test_a_short_name_is_the_mean_over_directions_and_lower_is_better_where_it_should_be():
  scores = train_eval.flatten(RESULTS)
  assert train_eval.pick(scores, 'fid') == 70.0
  assert train_eval.pick(scores, 'AtoB/fid') == 60.0
  assert train_eval.pick(scores, 'lpips') is None
  assert train_eval.lower_is_better('AtoB/fid') and train_eval.lower_is_better('mae')
  assert not train_eval.lower_is_better('AtoB/psnr')
  assert not train_eval.lower_is_better('AtoB/lpips_diversity')
  assert train_eval.lower_is_better('AtoB/modes/mae_nearest')


def test_a_multimodal_models_scores_leave_out_counts_and_spreads():
  results = {  # eval's results for BicycleGAN on a built-in set
    'AtoB': {
      'diversity': {
        'lpips_diversity': 0.1,
        'lpips_diversity_std': 0.01,
        'pairs': 76,
        'net': 'alex',
      },
      'modes': {'coverage': 0.5, 'precision': 0.6, 'mae_nearest': 0.2, 'threshold': 0.08},
      'random': {'mae': 0.23, 'psnr': 12.7},
      'n_samples': 20,
    }
  }
  assert train_eval.flatten(results) == {
    'AtoB/diversity/lpips_diversity': 0.1,
    'AtoB/modes/coverage': 0.5,
    'AtoB/modes/precision': 0.6,
    'AtoB/modes/mae_nearest': 0.2,
    'AtoB/random/mae': 0.23,
    'AtoB/random/psnr': 12.7,
  }


def _state(value):
  return {'w': jnp.full((3,), value, jnp.float32)}


def test_best_keeps_only_better_states_and_survives_a_restart(tmp_path):
  best = train_eval.Best(tmp_path, 'fid')
  assert best.offer(10, {'AtoB/fid': 50.0, 'BtoA/fid': 70.0}, _state(1.0))  # 60
  assert not best.offer(20, {'AtoB/fid': 65.0, 'BtoA/fid': 70.0}, _state(2.0))  # 67.5
  best.close()
  again = train_eval.Best(tmp_path, 'fid')  # a resumed run reads the score to beat
  assert again.record['value'] == 60.0 and again.record['step'] == 10
  assert not again.offer(30, {'AtoB/fid': 61.0, 'BtoA/fid': 61.0}, _state(3.0))
  assert again.offer(40, {'AtoB/fid': 40.0, 'BtoA/fid': 60.0}, _state(4.0))  # 50
  again.close()
  record = json.loads((tmp_path / 'best' / 'best.json').read_text())
  assert record['step'] == 40 and record['value'] == 50.0
  with checkpoint.Checkpointer(tmp_path, read_only=True, subdir='best') as ckpt:
    assert ckpt.all_steps() == [40]  # one state kept; never one of checkpoints/
    np.testing.assert_array_equal(ckpt.restore(_state(0.0))['w'], [4.0, 4.0, 4.0])
  assert not (tmp_path / 'checkpoints').exists()


def test_higher_is_better_for_psnr_and_a_non_finite_score_never_wins(tmp_path):
  best = train_eval.Best(tmp_path, 'AtoB/psnr')
  assert not best.offer(1, {'AtoB/psnr': float('nan')}, _state(0.0))
  assert best.offer(2, {'AtoB/psnr': 20.0}, _state(0.0))
  assert not best.offer(3, {'AtoB/psnr': 19.0}, _state(0.0))
  assert best.offer(4, {'AtoB/psnr': 21.0}, _state(0.0))
  best.close()


def test_a_score_the_run_does_not_have_is_one_line(tmp_path):
  best = train_eval.Best(tmp_path, 'AtoB/fid')
  with pytest.raises(errors.ConfigError, match=r"keep_best='AtoB/fid' is not among .*AtoB/mae"):
    best.offer(1, {'AtoB/mae': 0.1, 'AtoB/psnr': 20.0}, _state(0.0))


def test_a_changed_keep_best_starts_over_with_a_warning(tmp_path, capsys):
  best = train_eval.Best(tmp_path, 'AtoB/mae')
  best.offer(1, {'AtoB/mae': 0.1, 'AtoB/psnr': 20.0}, _state(0.0))
  best.close()
  other = train_eval.Best(tmp_path, 'AtoB/psnr')
  assert other.record is None
  assert "holds the best 'AtoB/mae'" in capsys.readouterr().err
  other.close()


@pytest.mark.parametrize(
  ('every', 'best', 'message'),
  [(-1, '', 'eval_every is -1'), (0, 'fid', 'needs config.eval_every > 0')],
)
def test_bad_options_are_one_line(every, best, message):
  from configs import pix2pix_shapes  # noqa: PLC0415

  config = pix2pix_shapes.get_config('tiny')
  config.eval_every, config.keep_best = every, best
  with pytest.raises(errors.ConfigError, match=message):
    train_eval.check(config)


def test_several_processes_are_refused_in_one_line(monkeypatch):
  # Evaluation translates the split in one process; a multi-process run scores its
  # checkpoints with eval.py instead.
  from configs import pix2pix_shapes  # noqa: PLC0415

  config = pix2pix_shapes.get_config('tiny')
  config.eval_every = 2
  monkeypatch.setattr(train_eval.jax, 'process_count', lambda: 2)
  with pytest.raises(errors.ConfigError, match='evaluates in one process; this run has 2'):
    train_eval.check(config)


def test_what_would_fail_at_the_first_evaluation_fails_at_the_start(tmp_path, monkeypatch):
  from configs import pix2pix_shapes  # noqa: PLC0415
  from jaxgan import metrics  # noqa: PLC0415

  config = pix2pix_shapes.get_config('tiny')
  config.eval_every, config.keep_best = 2, 'fid'
  with pytest.raises(errors.ConfigError, match="keep_best='fid': this run scores no FID/KID"):
    train_eval.Evaluator(config, tmp_path)

  def missing(**kwargs):
    raise errors.WeightsError('no FID Inception weights (pt_inception-2015-12-05)')

  monkeypatch.setattr(metrics.inception, 'FeatureExtractor', missing)
  config.data.source, config.keep_best = 'folder', 'AtoB/fid'
  with pytest.raises(errors.ConfigError, match='Inception weights are not found: no FID'):
    train_eval.Evaluator(config, tmp_path)


@pytest.mark.parametrize(
  'text',
  [
    'not json',
    '{"metric": "fid", "value": 1.0, "step": "../../checkpoints"}',
    '{"metric": "fid", "value": "1", "step": 3}',
    '{"metric": "fid", "value": 1.0, "step": -1}',
    '[1, 2]',
    '\udcff',
  ],
)
def test_a_hostile_best_record_is_one_line_and_nothing_is_deleted(tmp_path, capsys, text):
  (tmp_path / 'best').mkdir()
  path = tmp_path / 'best' / 'best.json'
  path.write_bytes(text.encode('utf-8', 'surrogateescape'))
  bystander = tmp_path / 'checkpoints' / '3'
  bystander.mkdir(parents=True)
  with pytest.raises(errors.InputError, match='best.json is not a best-state record'):
    checkpoint.read_best(tmp_path)
  best = train_eval.Best(tmp_path, 'fid')  # a resumed run: a warning, and it starts over
  assert best.record is None and 'not a best-state record' in capsys.readouterr().err
  assert bystander.is_dir() and path.read_bytes() == text.encode('utf-8', 'surrogateescape')
