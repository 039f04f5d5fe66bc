"""bfloat16 compute for every model: a few steps stay close to float32, params stay float32."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import benchmark, models

TINY = {
  'pix2pix': 'pix2pix_shapes',
  'cyclegan': 'cyclegan_shapes',
  'bicyclegan': 'bicyclegan_shapes',
  'munit': 'munit_shapes',
}
STEPS = 3  # the later steps' losses are of the nets the earlier steps updated


def _run(name, dtype, initial=None):
  """STEPS steps of the model's tiny config in `dtype` from `initial`'s values (or fresh)."""
  config = importlib.import_module(f'configs.{TINY[name]}').get_config('tiny')
  # Fewer ops to compile on 2 CPU cores; every kind of layer stays (transposed convolutions,
  # instance and batch norm, AdaIN, the encoders).
  if name == 'bicyclegan':
    config.update(where_add='input', num_Ds=1)
  if name == 'munit':
    config.dis.num_scales = 1
  config.compute_dtype = dtype
  model = models.get(config.model)
  create = lambda: model.create(config, jax.random.PRNGKey(0), 100)  # noqa: E731
  if initial is None:
    state = jax.jit(create)()
  else:  # the same values; the dtype lives in the static nets and config
    state = jax.tree.unflatten(jax.tree.structure(jax.eval_shape(create)), initial)
  initial_values = jax.tree.leaves(state)
  batch = benchmark.synthetic_batch(config, config.batch_size)
  traced = jax.jit(model.train_step).trace(state, batch)  # traced once: run and inspected
  step = traced.lower().compile()
  history = []
  for _ in range(STEPS):
    state, metrics = step(state, batch)
    history.append(jax.device_get(metrics))
  return state, history, traced.jaxpr.jaxpr, initial_values


def _dtypes_of_convolutions(jaxpr):
  found = set()
  for eqn in jaxpr.eqns:
    if eqn.primitive.name in ('conv_general_dilated', 'dot_general'):
      found.add(eqn.invars[0].aval.dtype)
    for value in eqn.params.values():
      for sub in value if isinstance(value, list | tuple) else (value,):
        inner = getattr(sub, 'jaxpr', sub)
        if hasattr(inner, 'eqns'):
          found |= _dtypes_of_convolutions(inner)
  return found


@pytest.mark.long
@pytest.mark.parametrize('name', sorted(TINY))
def test_bfloat16_steps_stay_close_to_float32(name):
  _, losses32, _, initial = _run(name, 'float32')
  state16, losses16, jaxpr16, _ = _run(name, 'bfloat16', initial)
  # The nets compute in bfloat16 (convolutions and matmuls), the state stays float32.
  assert jnp.dtype(jnp.bfloat16) in _dtypes_of_convolutions(jaxpr16)
  for leaf in jax.tree.leaves(state16.params):
    assert leaf.dtype == jnp.float32
  for step, (l32, l16) in enumerate(zip(losses32, losses16, strict=True)):
    for key, value in l32.items():
      assert np.isfinite(l16[key]), (step, key)
      # bfloat16 keeps 8 bits: losses agree to a few percent (or a few thousandths near 0).
      assert abs(l16[key] - value) <= 0.05 * abs(value) + 5e-3, (step, key, value, l16[key])
