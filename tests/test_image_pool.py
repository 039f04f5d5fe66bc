"""The image pool's semantics: filling, the 1/2 swaps once full, pass-through, keys, jit, shards."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import image_pool, parallel

# One compiled query per shape for the whole module; eager scans recompile at every call.
QUERY = jax.jit(image_pool.query)


def _images(ids):
  # Image i is the constant i: which image came back is readable from any pixel.
  return jnp.asarray(ids, jnp.float32).reshape(-1, 1, 1, 1) * jnp.ones((1, 2, 2, 1))


def _ids(images):
  return np.asarray(images[:, 0, 0, 0]).round().astype(int).tolist()


def test_pool_size_zero_passes_through():
  pool = image_pool.init(0, (2, 2, 1))
  images = _images([1, 2, 3])
  new_pool, out = QUERY(pool, images, jax.random.PRNGKey(0))
  assert _ids(out) == [1, 2, 3]
  assert new_pool['images'].shape == (0, 2, 2, 1)


def test_filling_returns_and_stores_each_image():
  pool = image_pool.init(4, (2, 2, 1))
  pool, out = QUERY(pool, _images([1, 2, 3]), jax.random.PRNGKey(0))
  assert _ids(out) == [1, 2, 3]
  assert int(pool['count']) == 3
  assert _ids(pool['images']) == [1, 2, 3, 0]
  # The 4th image fills the last slot and comes back as it is; the 5th and 6th meet a full pool.
  pool, out = QUERY(pool, _images([4, 5, 6]), jax.random.PRNGKey(1))
  assert int(pool['count']) == 4
  assert _ids(out)[0] == 4
  assert _ids(pool['images'])[3] in (4, 5, 6)
  # Nothing is lost or duplicated: stored + returned = previously stored + inputs.
  assert sorted(_ids(pool['images']) + _ids(out)) == [1, 2, 3, 4, 4, 5, 6]


def test_full_pool_swaps_half_the_time_uniformly():
  size, n = 5, 4000
  pool = image_pool.init(size, (2, 2, 1))
  pool, _ = QUERY(pool, _images(range(1, size + 1)), jax.random.PRNGKey(0))
  before = _ids(pool['images'])
  ids = list(range(100, 100 + n))
  pool, out = QUERY(pool, _images(ids), jax.random.PRNGKey(1))
  returned = _ids(out)
  swapped = [r != i for r, i in zip(returned, ids, strict=True)]
  # Binomial(4000, 1/2): std 0.008, so 0.46..0.54 is 5 std either side.
  assert 0.46 < np.mean(swapped) < 0.54
  # Conservation over the whole run: every image is stored or returned, exactly once.
  assert sorted(_ids(pool['images']) + returned) == sorted(before + ids)
  # Replay the official loop: a swap must return an image in the pool at that moment, and
  # take its slot; the slots chosen must be uniform (Binomial(~2000, 1/5): ~400 +- 18 each).
  slots, chosen = list(before), collections.Counter()
  for r, i, s in zip(returned, ids, swapped, strict=True):
    if s:
      assert r in slots
      slot = slots.index(r)
      slots[slot] = i
      chosen[slot] += 1
  assert slots == _ids(pool['images'])
  assert all(300 < chosen[slot] < 500 for slot in range(size)), chosen


def test_same_key_same_result_other_key_other_result():
  pool = image_pool.init(3, (2, 2, 1))
  pool, _ = QUERY(pool, _images([1, 2, 3]), jax.random.PRNGKey(0))
  images = _images(range(10, 30))
  a = QUERY(pool, images, jax.random.PRNGKey(7))
  b = QUERY(pool, images, jax.random.PRNGKey(7))
  c = QUERY(pool, images, jax.random.PRNGKey(8))
  assert _ids(a[1]) == _ids(b[1]) and _ids(a[0]['images']) == _ids(b[0]['images'])
  assert _ids(a[1]) != _ids(c[1])


def test_query_sharded_over_8_devices_matches_one_device():
  mesh = parallel.make_mesh()
  assert mesh.devices.size == 8
  pool = image_pool.init(6, (2, 2, 1))
  pool, _ = QUERY(pool, _images(range(1, 7)), jax.random.PRNGKey(0))
  images = _images(range(10, 26))  # 16 images, 2 per device
  key = jax.random.PRNGKey(5)
  expected_pool, expected = QUERY(pool, images, key)

  query = jax.jit(
    image_pool.query,
    in_shardings=(parallel.replicated(mesh), parallel.batch_sharding(mesh), None),
    out_shardings=(parallel.replicated(mesh), parallel.batch_sharding(mesh)),
  )
  sharded = jax.device_put(images, parallel.batch_sharding(mesh))
  new_pool, out = query(pool, sharded, key)
  assert len(out.sharding.device_set) == 8
  assert _ids(out) == _ids(expected)
  assert _ids(new_pool['images']) == _ids(expected_pool['images'])
  assert int(new_pool['count']) == 6


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_images_are_detached_and_cast_to_the_pool_dtype(dtype):
  pool = image_pool.init(2, (2, 2, 1))

  def total(x):
    return jnp.sum(QUERY(pool, x, jax.random.PRNGKey(0))[1])

  grad = jax.grad(total)(_images([1.0, 2.0]))
  np.testing.assert_array_equal(grad, 0.0)  # the official stores image.data
  _, out = QUERY(pool, _images([1.0]).astype(dtype), jax.random.PRNGKey(0))
  assert out.dtype == jnp.float32
