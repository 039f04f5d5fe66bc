"""Data parallelism with jax.jit over one Mesh: state replicated, batch split along 'data'.

jit's global view means batch norm and the losses see the global batch: a step on 8 devices
computes what it computes on 1 device for the same global batch (up to float reordering).
Multi-host: every process feeds its own share of the batch (`shard_batch`), the arrays are
global, and `init_distributed` connects the processes first.
"""

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgan.errors import ConfigError

DATA_AXIS = 'data'


def init_distributed() -> bool:
  """jax.distributed.initialize() when a multi-process launch is configured; else a no-op.

  Configured means JAX_COORDINATOR_ADDRESS is set (with JAX_NUM_PROCESSES / JAX_PROCESS_ID, or
  a cluster JAX detects), or a SLURM / Open MPI launch of more than one task. Call it once,
  before anything touches a device. Returns whether it initialized.
  """

  def more_than_one(var):
    return int(os.environ.get(var, '1') or '1') > 1

  configured = (
    bool(os.environ.get('JAX_COORDINATOR_ADDRESS'))
    or more_than_one('SLURM_NTASKS')
    or more_than_one('OMPI_COMM_WORLD_SIZE')
  )
  if not configured:
    return False
  num_processes = os.environ.get('JAX_NUM_PROCESSES')
  process_id = os.environ.get('JAX_PROCESS_ID')
  jax.distributed.initialize(
    num_processes=int(num_processes) if num_processes else None,
    process_id=int(process_id) if process_id else None,
  )
  return True


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh with axis 'data' over `devices` (default: all devices of all processes)."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  """Every device holds the whole array (the TrainState)."""
  return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """The leading (batch) dimension split over 'data'."""
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(global_batch_size: int, mesh: Mesh) -> None:
  """ConfigError unless the global batch splits evenly over the mesh's devices."""
  n = mesh.devices.size
  if global_batch_size % n:
    raise ConfigError(
      f'batch_size {global_batch_size} is not divisible by the {n} devices; '
      f'set --config.batch_size to a multiple of {n}'
    )


def _is_numeric(x) -> bool:
  return isinstance(x, np.ndarray | jax.Array) and np.dtype(x.dtype).kind in 'biufc'


def shard_batch(batch: dict, mesh: Mesh) -> dict:
  """Global arrays, split along 'data', from this process's numpy share of the batch.

  Non-numeric entries (the eval batches' 'A_paths' bytes) stay on the host, untouched.
  """
  sharding = batch_sharding(mesh)
  out = {}
  for key, value in batch.items():
    if not _is_numeric(value):
      out[key] = value
      continue
    global_size = value.shape[0] * jax.process_count()
    check_batch_size(global_size, mesh)
    out[key] = jax.make_array_from_process_local_data(sharding, np.asarray(value))
  return out


_END = object()


def prefetch_to_device(iterator: Iterable[dict], size: int, mesh: Mesh) -> Iterator[dict]:
  """Yields `shard_batch(b)` for each numpy batch, with up to `size` batches transferred ahead.

  A background thread reads and transfers, so the host pipeline overlaps the device step; an
  exception in the iterator is raised here, in the consumer. size <= 0 transfers on demand.
  """
  if size <= 0:
    for batch in iterator:
      yield shard_batch(batch, mesh)
    return
  buffer = queue.Queue(maxsize=size)
  stop = threading.Event()

  def put(item):
    # Waits for room, but gives up once the consumer has gone (a closed generator).
    while not stop.is_set():
      try:
        buffer.put(item, timeout=0.1)
        return True
      except queue.Full:
        continue
    return False

  def produce():
    try:
      for batch in iterator:
        if not put(shard_batch(batch, mesh)):
          return
      put(_END)
    except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
      put(e)

  thread = threading.Thread(target=produce, daemon=True, name='prefetch_to_device')
  thread.start()
  try:
    while True:
      item = buffer.get()
      if item is _END:
        return
      if isinstance(item, BaseException):
        raise item
      yield item
  finally:
    stop.set()


def compile_train_step(train_step: Callable, state, mesh: Mesh) -> Callable:
  """jax.jit of `train_step(state, batch) -> (state, metrics)` for the mesh.

  The state is replicated and donated (its buffers are reused for the new state, so the caller
  must not use the old one again); the batch is split along 'data'; metrics come back
  replicated. `state` is only used to fix the shardings' structure.
  """
  del state  # One sharding, a pytree prefix, covers every leaf of the state.
  rep = replicated(mesh)
  return jax.jit(
    train_step,
    in_shardings=(rep, batch_sharding(mesh)),
    out_shardings=(rep, rep),
    donate_argnums=0,
  )


def replicate(tree, mesh: Mesh):
  """Puts a host pytree (e.g. a fresh TrainState) on every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))


__all__ = [
  'DATA_AXIS',
  'batch_sharding',
  'check_batch_size',
  'compile_train_step',
  'init_distributed',
  'make_mesh',
  'prefetch_to_device',
  'replicate',
  'replicated',
  'shard_batch',
]
