"""The history of generated images that CycleGAN's discriminators train on (Zhu et al. Sec. 4).

Shrivastava et al. (2017) update D with a buffer of earlier fakes rather than only the latest
generator's, which damps oscillation. The official `util/image_pool.ImagePool` keeps 50 images;
here the pool is a pytree (`{'images': [pool_size, H, W, C], 'count': int32}`) and `query` a pure
function of it and a key, so it lives in the TrainState and runs inside the jitted step.
"""

import jax
import jax.numpy as jnp


def init(pool_size: int, image_shape, dtype=jnp.float32) -> dict:
  """An empty pool for `pool_size` images of `image_shape` (H, W, C); size 0 passes through."""
  return {
    'images': jnp.zeros((pool_size, *image_shape), dtype),
    'count': jnp.zeros((), jnp.int32),
  }


def pool_size(pool: dict) -> int:
  """How many images the pool holds when full (static: the buffer's leading dimension)."""
  return pool['images'].shape[0]


def query(pool: dict, images: jax.Array, rng: jax.Array) -> tuple[dict, jax.Array]:
  """Returns (new pool, images for D), drawing each image of the batch in turn as the official.

  While the pool is not full, each image is stored and returned. Once full, with probability
  1/2 a uniformly chosen stored image is returned and the new one stored in its place, else the
  new image is returned. The images are detached: D's loss must not reach the generator.

  Args:
    pool: from `init`.
    images: [N, H, W, C], the latest fakes.
    rng: a key; the same key and pool give the same result, on any number of devices.

  Returns:
    The updated pool and [N, H, W, C] images, in the pool's dtype.
  """
  images = jax.lax.stop_gradient(images).astype(pool['images'].dtype)
  size = pool_size(pool)
  if size == 0:
    return pool, images

  # The draws for every image up front: the loop itself is then only indexing.
  key_p, key_id = jax.random.split(rng)
  swaps = jax.random.uniform(key_p, (images.shape[0],)) > 0.5
  random_ids = jax.random.randint(key_id, (images.shape[0],), 0, size)

  def draw(carry, inputs):
    buffer, count = carry
    image, swap, random_id = inputs
    not_full = count < size
    slot = jnp.where(not_full, count, random_id)
    stored = buffer[slot]
    returned = jnp.where(not_full | ~swap, image, stored)
    # Fill the next free slot, or replace the returned image; else leave the slot as it was.
    buffer = buffer.at[slot].set(jnp.where(not_full | swap, image, stored))
    return (buffer, count + not_full.astype(count.dtype)), returned

  (buffer, count), returned = jax.lax.scan(
    draw, (pool['images'], pool['count']), (images, swaps, random_ids)
  )
  return {'images': buffer, 'count': count}, returned
