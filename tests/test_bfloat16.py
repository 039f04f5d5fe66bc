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
STEPS = 2


def _run(name, dtype):
  config = importlib.import_module(f'configs.{TINY[name]}').get_config('tiny')
  config.compute_dtype = dtype
  model = models.get(config.model)
  state = jax.jit(lambda: model.create(config, jax.random.PRNGKey(0), 100))()
  batch = benchmark.synthetic_batch(config, config.batch_size)
  step = jax.jit(model.train_step)
  history = []
  for _ in range(STEPS):
    state, metrics = step(state, batch)
    history.append(jax.device_get(metrics))
  jaxpr = jax.make_jaxpr(model.train_step)(state, batch).jaxpr
  return state, history, jaxpr


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


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(TINY))
def test_bfloat16_steps_stay_close_to_float32(name):
  state32, losses32, _ = _run(name, 'float32')
  state16, losses16, jaxpr16 = _run(name, 'bfloat16')
  # The nets compute in bfloat16 (convolutions and matmuls), the state stays float32.
  assert jnp.dtype(jnp.bfloat16) in _dtypes_of_convolutions(jaxpr16)
  for leaf in jax.tree.leaves(state16.params):
    assert leaf.dtype == jnp.float32
  for step, (l32, l16) in enumerate(zip(losses32, losses16, strict=True)):
    for key, value in l32.items():
      assert np.isfinite(l16[key]), (step, key)
      # bfloat16 keeps 8 bits: losses agree to a few percent (or a few thousandths near 0).
      assert abs(l16[key] - value) <= 0.05 * abs(value) + 5e-3, (step, key, value, l16[key])
  # After the steps the nets translate alike (Adam's first steps move each parameter by about
  # +-lr whatever its gradient's size, so the parameters themselves are no measure).
  model = models.get(state32.config.model)
  batch = benchmark.synthetic_batch(state32.config, state32.config.batch_size, seed=1)
  out32 = jax.device_get(model.sample(state32, batch))
  out16 = jax.device_get(model.sample(state16, batch))
  gaps = {k: float(np.mean(np.abs(out16[k] - out32[k]))) for k in out32 if not k.startswith('real')}
  assert max(gaps.values()) < 0.03, gaps
