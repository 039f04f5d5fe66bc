"""What eval.size_bucket costs in exactness: one image translated at its own size (the net takes
it) and padded to the bucket, by the committed parity fixtures' ResNet generators (the official
networks' seeded init); prints the PNG levels by which the two differ.

  python tools/size_bucket_cost.py [--height=64 --width=100 --bucket=32]
"""

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tests')]

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from parity_utils import load_fixture  # noqa: E402

from jaxgan import port, visualize  # noqa: E402
from jaxgan.eval import core  # noqa: E402

NETS = ('G_resnet_9blocks_instance', 'G_resnet_6blocks_batch')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--height', type=int, default=64)
  parser.add_argument('--width', type=int, default=100)
  parser.add_argument('--bucket', type=int, default=32)
  args = parser.parse_args()
  rs = np.random.RandomState(0)
  x = np.clip(rs.normal(0, 0.5, (1, args.height, args.width, 3)), -1, 1).astype(np.float32)
  for name in NETS:
    fixture = load_fixture(ROOT / 'tests' / 'data' / 'parity' / f'{name}.npz')
    module = port.build_from_meta(fixture.meta)
    template = jax.eval_shape(lambda m=module: m.init(jax.random.key(0), jnp.asarray(x)))
    variables = port.to_flax(fixture.sd, template, fixture.meta['net'])

    def run(state, images, module=module, variables=variables):
      del state
      return module.apply(variables, jnp.asarray(images), mutable=['batch_stats'])[0]

    exact = visualize.to_uint8(core.sized(run, 4, 0)(None, x))
    bucketed = visualize.to_uint8(core.sized(run, 4, args.bucket)(None, x))
    diff = np.abs(exact.astype(int) - bucketed.astype(int))
    print(
      f'{name}: {args.height}x{args.width}, size_bucket {args.bucket} against 0: '
      f'max {diff.max()} levels, mean {diff.mean():.1f}'
    )


if __name__ == '__main__':
  main()
