"""Forward + backward time of the layers CycleGAN and pix2pix are made of, and of alternatives.

A developer's probe for the speed work (docs/performance.md): each case is a function of
(params, x) built from jaxgan.layers, timed as one jitted program computing its value and its
gradients with respect to params and x, on device-resident random inputs. Prints one line per
case: ms per call, TFLOP/s (XLA's count of the traced program), and writes JSON.

  python tools/layer_bench.py --batch 16 --dtypes float32,bfloat16 --out layers.json
  python tools/layer_bench.py --check   # the alternatives equal the baselines (CPU, small)
"""

import argparse
import functools
import json
import statistics

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import benchmark, image_pool, layers
from jaxgan.nets import generators


def conv_transpose_phases(x, kernel, stride, padding, output_padding):
  """torch's ConvTranspose2d as one stride-1 conv giving stride**2 phases, then depth-to-space.

  kernel is the (kh, kw, out, in) kernel of `layers.conv_transpose2d` (transpose_kernel=True).
  Output phase a of each axis takes taps k = a + padding - stride * t at inputs m + t.
  """
  k = kernel.shape[0]
  s, p = stride, padding
  n, h, w, _ = x.shape
  out_h = (h - 1) * s - 2 * p + k + output_padding
  out_w = (w - 1) * s - 2 * p + k + output_padding
  taps = {a: [t for t in range(-k, k + 1) if 0 <= a + p - s * t < k] for a in range(s)}
  t_min = min(min(v) for v in taps.values())
  t_max = max(max(v) for v in taps.values())
  c_out, c_in = kernel.shape[2], kernel.shape[3]
  # Phase kernel: [size, size, in, s*s*out], tap (ti, tj) of phase (a, b) = kernel[ka, kb].
  w_t = jnp.transpose(kernel, (0, 1, 3, 2))  # (kh, kw, in, out): torch's weight[in, out, kh, kw]
  blocks = []
  for a in range(s):
    for b in range(s):
      rows = []
      for ti in range(t_min, t_max + 1):
        cols = []
        for tj in range(t_min, t_max + 1):
          ka, kb = a + p - s * ti, b + p - s * tj
          if 0 <= ka < k and 0 <= kb < k:
            cols.append(w_t[ka, kb])
          else:
            cols.append(jnp.zeros((c_in, c_out), kernel.dtype))
        rows.append(jnp.stack(cols))
      blocks.append(jnp.stack(rows))  # [size, size, in, out]
  phase_kernel = jnp.concatenate(blocks, axis=-1)
  m_h, m_w = -(-out_h // s), -(-out_w // s)
  pad_h = (-t_min, max(0, m_h - 1 + t_max - (h - 1)))
  pad_w = (-t_min, max(0, m_w - 1 + t_max - (w - 1)))
  xp = jnp.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))
  y = jax.lax.conv_general_dilated(
    xp, phase_kernel.astype(x.dtype), (1, 1), 'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  y = y[:, :m_h, :m_w]
  y = y.reshape(n, m_h, m_w, s, s, c_out).transpose(0, 1, 3, 2, 4, 5)
  y = y.reshape(n, m_h * s, m_w * s, c_out)
  return y[:, :out_h, :out_w]


class ConvTPhases(nn.Module):
  features: int
  kernel_size: int
  stride: int
  padding: int
  output_padding: int
  dtype: object = jnp.float32

  @nn.compact
  def __call__(self, x):
    c_in = x.shape[-1]
    kernel = self.param(
      'kernel', nn.initializers.normal(0.02), (self.kernel_size,) * 2 + (self.features, c_in)
    )
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    k = kernel.astype(self.dtype)
    y = conv_transpose_phases(
      x.astype(self.dtype), k, self.stride, self.padding, self.output_padding
    )
    return y + bias.astype(self.dtype)


class PadChannels(nn.Module):
  """conv2d whose input (pad_in) or output (pad_out) channels are zero-padded to a multiple."""

  features: int
  kernel_size: int
  stride: int = 1
  padding: int = 0
  pad_in: int = 0
  pad_out: int = 0
  dtype: object = jnp.float32

  @nn.compact
  def __call__(self, x):
    c_in = x.shape[-1]
    kernel = self.param(
      'kernel', nn.initializers.normal(0.02), (self.kernel_size,) * 2 + (c_in, self.features)
    )
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    k = kernel.astype(self.dtype)
    x = x.astype(self.dtype)
    if self.pad_in:
      extra = -c_in % self.pad_in
      x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, extra)))
      k = jnp.pad(k, ((0, 0), (0, 0), (0, extra), (0, 0)))
    if self.pad_out:
      k = jnp.pad(k, ((0, 0), (0, 0), (0, 0), (0, -self.features % self.pad_out)))
    p = self.padding
    y = jax.lax.conv_general_dilated(
      x, k, (self.stride,) * 2, ((p, p), (p, p)), dimension_numbers=('NHWC', 'HWIO', 'NHWC')
    )
    return y[..., : self.features] + bias.astype(self.dtype)


def seq(*parts):
  return layers.Sequential(tuple(parts))


def cases(dtype):
  """name -> (module, input shape without the batch)."""
  inorm = layers.get_norm_layer('instance', train=True, dtype=dtype)
  init = dict(dtype=dtype)
  pad3 = layers.pad_layer(3)
  return {
    'c7in': (seq(pad3, layers.conv2d(64, 7, **init), inorm, layers.relu), (256, 256, 3)),
    'c7in_pad8': (
      seq(pad3, functools.partial(PadChannels, 64, 7, pad_in=8, dtype=dtype), inorm, layers.relu),
      (256, 256, 3),
    ),
    'c7out': (seq(pad3, layers.conv2d(3, 7, **init), layers.tanh), (256, 256, 64)),
    'c7out_pad8': (
      seq(pad3, functools.partial(PadChannels, 3, 7, pad_out=8, dtype=dtype), layers.tanh),
      (256, 256, 64),
    ),
    'c7out_pad16': (
      seq(pad3, functools.partial(PadChannels, 3, 7, pad_out=16, dtype=dtype), layers.tanh),
      (256, 256, 64),
    ),
    'down64': (seq(layers.conv2d(128, 3, 2, 1, **init), inorm, layers.relu), (256, 256, 64)),
    'down128': (seq(layers.conv2d(256, 3, 2, 1, **init), inorm, layers.relu), (128, 128, 128)),
    'resblock': (
      functools.partial(generators.ResnetBlock, 256, 'reflect', inorm, False, True, dtype=dtype),
      (64, 64, 256),
    ),
    'conv3_valid': (seq(layers.conv2d(256, 3, **init)), (66, 66, 256)),
    'conv3_zero': (seq(layers.conv2d(256, 3, 1, 1, **init)), (64, 64, 256)),
    'reflect_conv3': (seq(layers.pad_layer(1), layers.conv2d(256, 3, **init)), (64, 64, 256)),
    'inorm_relu': (seq(inorm, layers.relu), (64, 64, 256)),
    'inorm_relu_256px': (seq(inorm, layers.relu), (256, 256, 64)),
    'reflect_pad1': (seq(layers.pad_layer(1)), (64, 64, 256)),
    'convT128': (
      seq(layers.conv_transpose2d(128, 3, 2, 1, 1, **init), inorm, layers.relu),
      (64, 64, 256),
    ),
    'convT128_phases': (
      seq(functools.partial(ConvTPhases, 128, 3, 2, 1, 1, dtype=dtype), inorm, layers.relu),
      (64, 64, 256),
    ),
    'convT64': (
      seq(layers.conv_transpose2d(64, 3, 2, 1, 1, **init), inorm, layers.relu),
      (128, 128, 128),
    ),
    'convT64_phases': (
      seq(functools.partial(ConvTPhases, 64, 3, 2, 1, 1, dtype=dtype), inorm, layers.relu),
      (128, 128, 128),
    ),
    'unet_up4': (
      seq(layers.relu, layers.conv_transpose2d(64, 4, 2, 1, **init), inorm),
      (64, 64, 256),
    ),
    'unet_up4_phases': (
      seq(layers.relu, functools.partial(ConvTPhases, 64, 4, 2, 1, 0, dtype=dtype), inorm),
      (64, 64, 256),
    ),
    'd_first': (seq(layers.conv2d(64, 4, 2, 1, **init), layers.leaky_relu), (256, 256, 3)),
    'd_mid': (seq(layers.conv2d(256, 4, 2, 1, **init), inorm, layers.leaky_relu), (64, 64, 128)),
    'd_last': (seq(layers.conv2d(1, 4, 1, 1, **init)), (31, 31, 512)),
    'd_last_pad8': (
      seq(functools.partial(PadChannels, 1, 4, 1, 1, pad_out=8, dtype=dtype)),
      (31, 31, 512),
    ),
  }


def build(module_factory, shape, batch, dtype, seed=0):
  module = module_factory if isinstance(module_factory, nn.Module) else module_factory()
  x = jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)), jnp.float32)
  params = module.init(jax.random.PRNGKey(seed), x)

  def loss(params, x):
    y = module.apply(params, x).astype(jnp.float32)
    return jnp.mean(y * jnp.cos(y))  # a cotangent that depends on y, as a real loss's does

  fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
  return fn, params, x


def bench(fn, args, min_s=0.3, blocks=5):
  """Median seconds per call of fn(*args), as jaxgan.benchmark times a train step."""

  def run(n):
    for _ in range(n):
      out = fn(*args)
    jax.block_until_ready(out)

  times, _ = benchmark.time_blocks(run, warmup=1, blocks=blocks, min_block_s=min_s)
  return statistics.median(times)


def prepare(batch, dtypes, names=None):
  """Compiles every case first; returns [(name, dtype, compiled, args, flops)]."""
  ready = []
  for dtype_name in dtypes:
    dtype = layers.get_dtype(dtype_name)
    for name, (factory, shape) in cases(dtype).items():
      if names and name not in names:
        continue
      fn, params, x = build(factory, shape, batch, dtype)
      flops = benchmark.jaxpr_flops(jax.make_jaxpr(fn)(params, x).jaxpr)
      ready.append((name, dtype_name, fn.lower(params, x).compile(), (params, x), flops))
  return ready


def pool_case(batch):
  pool = image_pool.init(50, (256, 256, 3))
  pool = {'images': jnp.ones_like(pool['images']), 'count': jnp.int32(50)}
  images = jnp.zeros((batch, 256, 256, 3))
  fn = jax.jit(image_pool.query, donate_argnums=0)
  box = {'pool': pool}

  def run(images, key):
    box['pool'], out = fn(box['pool'], images, key)
    return out

  return run, (images, jax.random.PRNGKey(0))


def check():
  """The alternatives compute what the baselines compute (small shapes, float32)."""
  rng = np.random.default_rng(0)
  for k, s, p, op, c_in, c_out in ((3, 2, 1, 1, 5, 4), (4, 2, 1, 0, 6, 3)):
    base = layers.conv_transpose2d(c_out, k, s, p, op)()
    x = jnp.asarray(rng.normal(size=(2, 7, 5, c_in)), jnp.float32)
    v = base.init(jax.random.PRNGKey(1), x)
    want = base.apply(v, x)
    got = conv_transpose_phases(x, v['params']['kernel'], s, p, op) + v['params']['bias']
    err = float(jnp.max(jnp.abs(got - want)))
    print(f'convT k{k} s{s} p{p} op{op}: shape {got.shape} vs {want.shape}, max err {err:.2e}')
    assert got.shape == want.shape and err < 1e-5
  x = jnp.asarray(rng.normal(size=(2, 9, 9, 3)), jnp.float32)
  alt = PadChannels(4, 3, pad_in=8, pad_out=8)
  v = alt.init(jax.random.PRNGKey(2), x)
  base = layers.conv2d(4, 3)()
  want = base.apply({'params': v['params']}, x)
  err = float(jnp.max(jnp.abs(alt.apply(v, x) - want)))
  print(f'padded channels: max err {err:.2e}')
  assert err < 1e-5


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--batch', type=int, default=16)
  ap.add_argument('--dtypes', default='float32,bfloat16')
  ap.add_argument('--names', default='')
  ap.add_argument('--out', default='')
  ap.add_argument('--check', action='store_true')
  args = ap.parse_args()
  if args.check:
    check()
    return
  ready = prepare(args.batch, args.dtypes.split(','), set(filter(None, args.names.split(','))))
  results = []
  for name, dtype_name, compiled, fn_args, flops in ready:
    s = bench(compiled, fn_args)
    results.append(
      {
        'case': name,
        'dtype': dtype_name,
        'batch': args.batch,
        'ms': s * 1e3,
        'gflop': flops / 1e9,
        'tflops': flops / s / 1e12,
      }
    )
    r = results[-1]
    print(
      f'{name:18s} {dtype_name:9s} {r["ms"]:9.3f} ms {r["gflop"]:9.2f} GFLOP '
      f'{r["tflops"]:7.1f} TFLOP/s',
      flush=True,
    )
  run, pool_args = pool_case(args.batch)
  s = bench(run, pool_args)
  results.append({'case': 'image_pool', 'batch': args.batch, 'ms': s * 1e3})
  print(f'{"image_pool":18s} {"":9s} {s * 1e3:9.3f} ms', flush=True)
  if args.out:
    with open(args.out, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  main()
