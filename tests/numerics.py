"""Float32 tolerances that follow from the computation, not from what one machine printed.

float32 rounds each operation to a relative 2**-24 (the unit roundoff U). The comparisons of
1 and 8 devices see the same arithmetic in another order: each batch reduction (batch norm's
statistics, the gradient of a weight: a sum over batch x height x width, n up to 8 * 32 * 32 =
8192 terms here) becomes 8 partial sums and a sum of those. Two orders of a sum of n terms
differ by at most 2 (n - 1) U sum|x| (Higham, Accuracy and Stability of Numerical Algorithms,
Eq. 4.3) and, with rounding errors of either sign, by about 2 sqrt(n) U sum|x| (Higham and
Mary, SIAM J. Sci. Comput. 2019): 2 * 90 * 6e-8 = 1.1e-5 for n = 8192. Through a train step
such errors add over a few dozen layers and two updates, which gives REORDERING = 1e-4 for
norm-wise relative differences (all elements together, so that one element near zero, whose
relative error is unbounded, cannot decide). A real difference between 1 and 8 devices
(per-device batch statistics, styles or noise drawn per device, gradients summed instead of
averaged) changes these quantities by 1e-2 or more: the tolerance sits between the two.

NETWORK bounds two correct float32 evaluations of one network (PyTorch's and jaxgan's, a live
function and its exported program, oneDNN and Eigen kernels, with or without fused
multiply-adds): each layer's output is a sum of K <= 3 * 3 * 64 = 576 products, which two
orders round differently by about 2 sqrt(K) U = 3e-6 of its scale, and over the ~20 layers of the
deepest fixture such differences add to ~6e-5 of the output's scale; a structural difference
(padding, layout, a concatenation's order) is off by 1e-2 or more.

Norm-wise comparisons use float64, so that the comparison adds no rounding of its own.
"""

import jax
import numpy as np

U = 2.0**-24
REORDERING = 1e-4
NETWORK = 1e-4


def norm(tree) -> float:
  """The 2-norm of all the leaves of a pytree together."""
  squares = (np.sum(np.square(np.asarray(x, np.float64))) for x in jax.tree.leaves(tree))
  return float(np.sqrt(sum(squares)))


def difference(a, b) -> float:
  """norm(a - b), leaf by leaf, in float64."""
  return norm(jax.tree.map(lambda x, y: np.subtract(x, y, dtype=np.float64), a, b))


def relative_difference(a, b, scale=None) -> float:
  """norm(a - b) / norm(scale) (default norm(b))."""
  return difference(a, b) / norm(b if scale is None else scale)


def floats(tree) -> list:
  """The floating-point leaves of a pytree (an optimizer's moments without its step counts)."""
  return [x for x in jax.tree.leaves(tree) if np.issubdtype(np.asarray(x).dtype, np.floating)]
