"""Mesh, shardings, shard_batch, prefetch and the compiled step on 8 fake CPU devices."""

import threading
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import parallel
from jaxgan.errors import ConfigError


def _batch(n=8):
  rs = np.random.RandomState(0)
  return {
    'A': rs.uniform(-1, 1, (n, 4, 4, 3)).astype(np.float32),
    'B': rs.uniform(-1, 1, (n, 4, 4, 1)).astype(np.float32),
    'A_paths': np.asarray([f'{i}.png'.encode() for i in range(n)]),
  }


def test_mesh_spans_all_devices_on_one_data_axis():
  mesh = parallel.make_mesh()
  assert mesh.axis_names == ('data',)
  assert mesh.devices.size == jax.device_count() == 8
  assert parallel.make_mesh(jax.devices()[:1]).devices.size == 1


def test_shard_batch_splits_numeric_arrays_and_keeps_paths_on_the_host():
  mesh = parallel.make_mesh()
  batch = _batch()
  sharded = parallel.shard_batch(batch, mesh)
  assert sharded['A'].sharding == parallel.batch_sharding(mesh)
  assert [s.data.shape for s in sharded['A'].addressable_shards] == [(1, 4, 4, 3)] * 8
  np.testing.assert_array_equal(sharded['B'], batch['B'])
  assert sharded['A_paths'] is batch['A_paths']


def test_batch_not_divisible_by_devices_is_a_one_line_config_error():
  with pytest.raises(ConfigError, match='batch_size 6 .* 8 devices') as error:
    parallel.shard_batch(_batch(6), parallel.make_mesh())
  assert '\n' not in str(error.value)


def test_prefetch_yields_every_batch_in_order_on_device():
  mesh = parallel.make_mesh()
  batches = [{'A': np.full((8, 1), i, np.float32)} for i in range(5)]
  for size in (0, 2):
    out = list(parallel.prefetch_to_device(iter(batches), size, mesh))
    assert [int(b['A'][0, 0]) for b in out] == [0, 1, 2, 3, 4]
    assert all(isinstance(b['A'], jax.Array) and b['A'].sharding.num_devices == 8 for b in out)


def test_prefetch_raises_the_iterators_error_in_the_consumer():
  def broken():
    yield {'A': np.zeros((8, 1), np.float32)}
    raise ValueError('bad image')

  it = parallel.prefetch_to_device(broken(), 2, parallel.make_mesh())
  next(it)
  with pytest.raises(ValueError, match='bad image'):
    next(it)


def test_compiled_step_is_global_donated_and_replicated():
  mesh = parallel.make_mesh()

  def train_step(state, batch):
    # A batch statistic: it must be the global mean, whatever the sharding.
    mean = jnp.mean(batch['A'])
    return {'w': state['w'] - mean, 'n': state['n'] + 1}, {'mean': mean}

  state = parallel.replicate({'w': jnp.ones((3,)), 'n': jnp.zeros((), jnp.int32)}, mesh)
  step = parallel.compile_train_step(train_step, state, mesh)
  batch = parallel.shard_batch(_batch(), mesh)
  batch = {k: v for k, v in batch.items() if k != 'A_paths'}
  with warnings.catch_warnings():
    warnings.simplefilter('error')  # e.g. "Some donated buffers were not usable"
    new_state, metrics = step(state, batch)
  expected = float(np.mean(_batch()['A']))
  np.testing.assert_allclose(metrics['mean'], expected, rtol=1e-6)
  np.testing.assert_allclose(new_state['w'], 1.0 - expected, rtol=1e-6)
  assert (
    new_state['w'].sharding.is_fully_replicated and metrics['mean'].sharding.is_fully_replicated
  )
  assert state['w'].is_deleted()  # donated: the step reused its buffers


def test_init_distributed_is_a_no_op_without_a_multi_process_launch(monkeypatch):
  for var in ('JAX_COORDINATOR_ADDRESS', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_SIZE'):
    monkeypatch.delenv(var, raising=False)
  monkeypatch.setenv('SLURM_NTASKS', '1')  # a single-task SLURM job is not distributed
  assert parallel.init_distributed() is False
  assert jax.process_count() == 1


def test_prefetch_thread_stops_when_the_consumer_closes():
  batches = ({'A': np.zeros((8, 1), np.float32)} for _ in range(100))
  it = parallel.prefetch_to_device(batches, 1, parallel.make_mesh())
  next(it)
  it.close()
  threads = [t for t in threading.enumerate() if t.name == 'prefetch_to_device']
  for thread in threads:
    thread.join(timeout=5)
  assert not any(t.is_alive() for t in threads)
