"""Checkpoint round trips, retention, resume-from-latest and atomicity, on a stand-in state."""

import json

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgan import checkpoint, errors


class _State(flax.struct.PyTreeNode):
  """Shaped like the models' TrainState: every kind of leaf a real one holds."""

  step: jax.Array
  rng: jax.Array
  params: dict
  batch_stats: dict
  opt_state: dict
  pools: dict
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)


def _make_state(seed=0):
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  params = {
    'G': {'conv': {'kernel': jax.random.normal(k1, (3, 3, 2, 4)), 'bias': jnp.zeros(4)}},
    'D': {'dense': {'kernel': jax.random.normal(k2, (4, 1))}},
  }
  tx = optax.adam(2e-4, b1=0.5)
  opt_state = {'G': tx.init(params['G']), 'D': tx.init(params['D'])}
  return _State(
    step=jnp.asarray(0, jnp.int32),
    rng=k3,
    params=params,
    batch_stats={'G': {'bn': {'mean': jnp.zeros(4), 'var': jnp.ones(4)}}, 'D': {}},
    opt_state=opt_state,
    pools={'fake_B': {'images': jnp.zeros((2, 4, 4, 3)), 'count': jnp.asarray(0)}},
    tx=tx,
  )


def _advance(state, n=1):
  """A few fake optimizer steps so every leaf (opt moments, counts, rng) moves."""
  for _ in range(n):
    rng, sub = jax.random.split(state.rng)
    grads = jax.tree.map(lambda p, k=sub: jax.random.normal(k, p.shape), state.params)
    params, opt_state = {}, {}
    for net in state.params:
      updates, opt_state[net] = state.tx.update(grads[net], state.opt_state[net], state.params[net])
      params[net] = optax.apply_updates(state.params[net], updates)
    pools = {'fake_B': {'images': state.pools['fake_B']['images'] + 1.0, 'count': state.step + 1}}
    state = state.replace(
      step=state.step + 1, rng=rng, params=params, opt_state=opt_state, pools=pools
    )
  return state


def _assert_equal_states(a, b):
  la, lb = (jax.tree_util.tree_flatten_with_path(t)[0] for t in (a, b))
  assert [p for p, _ in la] == [p for p, _ in lb]
  for (_, x), (_, y) in zip(la, lb, strict=True):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      assert jax.dtypes.issubdtype(y.dtype, jax.dtypes.prng_key)
      x, y = jax.random.key_data(x), jax.random.key_data(y)
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_every_leaf(tmp_path):
  state = _advance(_make_state(), 3)
  with checkpoint.Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(3, state)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    assert ckpt.latest_step() == 3
    restored = ckpt.restore(_make_state(seed=1))
  _assert_equal_states(state, restored)
  # The restored rng is a typed key that continues the same stream.
  np.testing.assert_array_equal(
    jax.random.normal(restored.rng, (3,)), jax.random.normal(state.rng, (3,))
  )


def test_restore_into_abstract_template_with_sharding(tmp_path):
  state = _advance(_make_state(), 2)
  mesh = jax.sharding.Mesh(np.array(jax.devices()), ('data',))
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(2, state)
    ckpt.wait()
    template = jax.eval_shape(_make_state)
    template = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated), template
    )
    restored = ckpt.restore(template)
  _assert_equal_states(state, restored)
  assert restored.params['G']['conv']['kernel'].sharding == replicated
  assert restored.rng.sharding.is_fully_replicated


def test_keeps_newest_n_and_resumes_from_latest(tmp_path):
  state = _make_state()
  saved = {}
  with checkpoint.Checkpointer(tmp_path, keep=2) as ckpt:
    for step in (1, 2, 3, 4):
      state = _advance(state)
      saved[step] = state
      ckpt.save(step, state)
    ckpt.wait()
    assert ckpt.all_steps() == [3, 4]
  with checkpoint.Checkpointer(tmp_path, keep=2) as ckpt:
    assert ckpt.latest_step() == 4
    restored = ckpt.restore(_make_state())
    _assert_equal_states(saved[4], restored)
    _assert_equal_states(saved[3], ckpt.restore(_make_state(), step=3))


def test_half_written_checkpoint_is_ignored(tmp_path):
  state = _advance(_make_state(), 2)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(2, state)
  # What a save killed half-way leaves: orbax's temporary directory for a newer step, with
  # some files in it.
  partial = tmp_path / 'checkpoints' / '7.orbax-checkpoint-tmp-1234567'
  (partial / 'default').mkdir(parents=True)
  (partial / 'default' / 'garbage').write_bytes(b'\0' * 16)
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    assert ckpt.latest_step() == 2
    _assert_equal_states(state, ckpt.restore(_make_state()))
  assert not partial.exists()  # cleaned up when the directory was opened


def test_restore_without_checkpoint_or_with_misfit_template(tmp_path):
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    with pytest.raises(errors.InputError, match='no checkpoint'):
      ckpt.restore(_make_state())
    ckpt.save(1, _make_state())
    ckpt.wait()
    other = _make_state().replace(params={'G': {'other': jnp.zeros(3)}})
    with pytest.raises(errors.InputError, match='does not fit'):
      ckpt.restore(other)


def test_config_round_trip(tmp_path):
  config = ml_collections.ConfigDict({'model': 'cyclegan', 'lr': 2e-4, 'data': {'load_size': 286}})
  checkpoint.save_config(tmp_path, config)
  assert json.loads((tmp_path / 'config.json').read_text())['data']['load_size'] == 286
  loaded = checkpoint.load_config(tmp_path)
  assert loaded.to_dict() == config.to_dict()
  # Options added since the run was trained read as their defaults; stored values stay.
  defaults = ml_collections.ConfigDict({'lr': 1.0, 'data': {'load_size': 1, 'autotune': False}})
  loaded = checkpoint.load_config(tmp_path, defaults)
  assert loaded.lr == 2e-4 and loaded.data.load_size == 286 and loaded.data.autotune is False
  with pytest.raises(errors.InputError, match='no workdir'):
    checkpoint.load_config(tmp_path / 'absent')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(errors.InputError, match='config.json is missing'):
    checkpoint.load_config(tmp_path / 'empty')


def test_read_only_creates_and_cleans_nothing(tmp_path):
  with checkpoint.Checkpointer(tmp_path / 'absent', read_only=True) as ckpt:
    assert ckpt.latest_step() is None
  assert not (tmp_path / 'absent').exists()
  state = _make_state()
  with checkpoint.Checkpointer(tmp_path) as ckpt:
    ckpt.save(1, state)
  in_progress = tmp_path / 'checkpoints' / '2.orbax-checkpoint-tmp-99'  # a trainer saving now
  in_progress.mkdir()
  with checkpoint.Checkpointer(tmp_path, read_only=True) as ckpt:
    assert ckpt.latest_step() == 1
    _assert_equal_states(state, ckpt.restore(_make_state()))
  assert in_progress.exists()


def _damage(step_dir, how):
  """Garbage in the manifests, or every data file cut to half its length."""
  if how == 'manifest':
    for path in step_dir.rglob('manifest.ocdbt'):
      path.write_bytes(b'garbage')
    for path in step_dir.rglob('_METADATA'):
      path.write_text('{not json')
  else:
    for path in step_dir.rglob('d/*'):
      data = path.read_bytes()
      path.write_bytes(data[: len(data) // 2])


# orbax's reader of a truncated file leaves an unawaited callback on its closed event loop.
@pytest.mark.filterwarnings('ignore::pytest.PytestUnraisableExceptionWarning')
@pytest.mark.parametrize('how', ['manifest', 'truncated'])
def test_a_damaged_newest_checkpoint_falls_back_to_the_newest_intact(tmp_path, capsys, how):
  state = {'w': np.arange(4, dtype=np.float32), 'b': np.ones((2, 3), np.float32)}
  with checkpoint.Checkpointer(tmp_path, async_save=False) as ckpt:
    for step in (2, 4):
      ckpt.save(step, jax.tree.map(lambda x, s=step: x * s, state))
  _damage(tmp_path / 'checkpoints' / '4', how)
  with checkpoint.Checkpointer(tmp_path, read_only=True) as ckpt:  # eval.py: leave it in place
    restored, step = ckpt.restore_intact(state)
  assert step == 2 and (tmp_path / 'checkpoints' / '4').exists()
  np.testing.assert_array_equal(restored['w'], state['w'] * 2)
  assert 'damaged checkpoint(s) 4 (' in capsys.readouterr().err
  with checkpoint.Checkpointer(tmp_path) as ckpt:  # training: set it aside, write step 4 again
    _, step = ckpt.restore_intact(state, set_aside=True)
    assert step == 2 and ckpt.all_steps() == [2]
    ckpt.save(4, state)
    ckpt.wait()
    assert ckpt.all_steps() == [2, 4]
  assert len(list((tmp_path / 'damaged_checkpoints').iterdir())) == 1


def test_no_intact_checkpoint_is_one_line(tmp_path):
  state = {'w': np.arange(4, dtype=np.float32)}
  with checkpoint.Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(2, state)
  _damage(tmp_path / 'checkpoints' / '2', 'manifest')
  with checkpoint.Checkpointer(tmp_path, read_only=True) as ckpt:
    with pytest.raises(errors.InputError, match=r'no checkpoint in .* restores: 2 \('):
      ckpt.restore_intact(state)
