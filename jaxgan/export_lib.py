"""Exporting a trained net: its weights for the official code, or a program that runs alone.

Formats (`export.py --format`):

  npz         the official state_dict (PyTorch names and layouts) as numpy arrays
  pth         the same as torch.save writes it (`jaxgan.torch_file`; no PyTorch needed here),
              loadable with `net.load_state_dict(torch.load(path))` in the official code
  jax         `jax.export` of the translation, serialized: any batch, height and width
  savedmodel  the same program as a TensorFlow SavedModel (through jax2tf), for TF Serving,
              TFLite converters and tf2onnx

The programs take float32 images [N, H, W, C] in [-1, 1] (NHWC) of any size (sides of at least
MIN_SIDE = 16 px), and BicycleGAN's z [N, nz] or MUNIT's target-domain style [N, style_dim] as a
second input; they return the translations [N, H, W, C'] in [-1, 1] at the input's size.
Inside, each image is reflect-padded to a size its generator takes and the output cropped back,
and translated on its own, as eval.py does: batch norm in train mode uses each image's own
statistics, and dropout (pix2pix's U-Net, unless config.eval.eval_mode) draws from the key
eval.py gives the image of that position, so an exported pix2pix or CycleGAN generator returns
what eval.py writes for the same images, in the same order.
"""

import os
import pathlib
import zipfile

import jax
import jax.numpy as jnp
import ml_collections
from flax import traverse_util

from jaxgan import errors, models, outputs, port, torch_file
from jaxgan.eval import core as eval_core
from jaxgan.port import states

FORMATS = ('npz', 'pth', 'jax', 'savedmodel')
PROGRAMS = ('jax', 'savedmodel')


def directions(model, state):
  """{name: direction} of the translations a state can export: by direction and by the net
  whose input the images are (G, G_A, gen_a, ...)."""
  out = {}
  for direction, net in eval_core.directions(model, state).items():
    out[direction] = out[net] = direction
  return out


def check_net(config, state, net, fmt):
  """Raises ConfigError naming the known nets when `net` cannot be exported as `fmt`."""
  if fmt not in FORMATS:
    raise errors.ConfigError(f'unknown --format={fmt!r}; known: {", ".join(FORMATS)}')
  model = models.get(config.model)
  if fmt in PROGRAMS:
    known = directions(model, state)
  else:
    known = {**{n: n for n in model.NETS}, **states.pairs(model)}
  if net not in known:
    raise errors.ConfigError(
      f'--net={net!r} cannot be exported as {fmt} from {config.model}; known: {", ".join(known)}'
    )


def state_dict(config, state, net):
  """The official state_dict of net `net` (for MUNIT's 'gen' / 'dis': {'a': ..., 'b': ...})."""
  pair = states.pairs(models.get(config.model)).get(net)
  if pair:
    return {side: state_dict(config, state, name) for side, name in zip('ab', pair, strict=True)}
  sd = port.from_flax({'params': state.params[net], 'batch_stats': state.batch_stats[net]})
  buffers = getattr(models.get(config.model), 'OFFICIAL_BUFFERS', {}).get(net)
  if buffers:
    sd.update(buffers(state.params[net]))
  sd.update(states.official_buffers(state.nets[net]))
  return sd


def _reflect_index(size, length, start):
  """Source indices of a reflect-padded axis: `length` positions, the image at `start`.

  A triangle wave over the axis, so any padding works (numpy's repeated reflection), with
  symbolic sizes too (jnp.pad's reflect mode needs to prove the padding shorter than the axis).
  """
  i = jnp.arange(length) - start
  period = 2 * (size - 1)
  t = jnp.mod(i, jnp.maximum(period, 1))
  return jnp.where(t < size, t, period - t)


def function(config, state, direction):
  """The translation of `direction` as a pure function of the images (and the code).

  Args:
    config: the run's config (its eval keys govern: eval_mode).
    state: the model's TrainState.
    direction: a name of `directions`.

  Returns:
    (fn, input channels, code size): fn(images) or fn(images, codes) as the module docstring
    says; code size 0 where the model takes no code.
  """
  model = models.get(config.model)
  state = state.replace(config=ml_collections.FrozenConfigDict(config))
  direction = directions(model, state)[direction]
  inference = model.inference(state, direction)
  multiple = eval_core.size_multiple(state, inference.net)
  channels = config.data.input_nc if direction == 'AtoB' else config.data.output_nc
  # The key eval.py gives the image at each position (eval_lib.translate_all).
  base_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1 if direction == 'AtoB' else 2)

  def translate(images, codes=None):
    n, height, width = images.shape[0], images.shape[1], images.shape[2]
    padded_h = multiple * ((height + multiple - 1) // multiple)
    padded_w = multiple * ((width + multiple - 1) // multiple)
    top, left = (padded_h - height) // 2, (padded_w - width) // 2
    x = jnp.take(images, _reflect_index(height, padded_h, top), axis=1)
    x = jnp.take(x, _reflect_index(width, padded_w, left), axis=2)
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(base_key, jnp.arange(n))

    def one(image, code, key):
      return inference.apply(image[None], None if code is None else code[None], key)[0]

    y = jax.vmap(one)(x, codes, keys)
    y = jax.lax.dynamic_slice_in_dim(y, top, height, axis=1)
    return jax.lax.dynamic_slice_in_dim(y, left, width, axis=2)

  if inference.code_size:
    return translate, channels, inference.code_size
  return (lambda images: translate(images)), channels, 0


# The smallest image side a program takes: the nets' inner reflect paddings (up to 3 px at half
# size) must be provably shorter than the axes they pad.
MIN_SIDE = 16


def _specs(channels, code_size):
  scope = jax.export.SymbolicScope([f'h >= {MIN_SIDE}', f'w >= {MIN_SIDE}'])
  image = jax.export.symbolic_shape(f'b, h, w, {channels}', scope=scope)
  specs = [jax.ShapeDtypeStruct(image, jnp.float32)]
  if code_size:
    code = jax.export.symbolic_shape(f'b, {code_size}', scope=scope)
    specs.append(jax.ShapeDtypeStruct(code, jnp.float32))
  return specs


def _save_jax(fn, channels, code_size, path):
  exported = jax.export.export(jax.jit(fn))(*_specs(channels, code_size))
  pathlib.Path(path).write_bytes(exported.serialize())


def _save_savedmodel(fn, channels, code_size, path):
  import tensorflow as tf  # noqa: PLC0415 - only this format needs it
  from jax.experimental import jax2tf  # noqa: PLC0415

  shapes = [f'(b, h, w, {channels})'] + ([f'(b, {code_size})'] if code_size else [])
  converted = jax2tf.convert(
    fn,
    polymorphic_shapes=shapes,
    polymorphic_constraints=(f'h >= {MIN_SIDE}', f'w >= {MIN_SIDE}'),
    with_gradient=False,
  )
  signature = [tf.TensorSpec([None, None, None, channels], tf.float32, name='images')]
  if code_size:
    signature.append(tf.TensorSpec([None, code_size], tf.float32, name='codes'))
  module = tf.Module()
  module.translate = tf.function(converted, autograph=False, input_signature=signature)
  tf.saved_model.save(module, path, signatures={'serving_default': module.translate})
  # SavedModel loaders ignore assets.extra/: the mark that lets a later export replace it.
  mark = pathlib.Path(path) / 'assets.extra' / SAVEDMODEL_MARK
  mark.parent.mkdir(exist_ok=True)
  mark.write_text('written by jaxgan export.py\n')


# What an earlier export carries, so that export replaces its own files and nothing else: the
# zip comment of npz/pth files (loaders ignore it), a file in a SavedModel's assets.extra/.
SAVEDMODEL_MARK = 'jaxgan_export'


def _zip_mark(fmt):
  return f'jaxgan export.py {fmt}'.encode()


def _is_export(path, fmt) -> bool:
  """Whether the existing `path` is what export.py writes as `fmt` (so it may be replaced)."""
  path = pathlib.Path(path)
  if fmt == 'savedmodel':
    return path.is_dir() and (path / 'assets.extra' / SAVEDMODEL_MARK).is_file()
  if not path.is_file() or path.is_symlink():
    return False
  if fmt in ('npz', 'pth'):
    try:
      with zipfile.ZipFile(path) as archive:
        return archive.comment == _zip_mark(fmt)
    except (OSError, zipfile.BadZipFile):
      return False
  try:
    jax.export.deserialize(bytearray(path.read_bytes()))
    return True
  except Exception:  # noqa: BLE001 - anything that does not deserialize is not a jax export
    return False


def official_note(config, net) -> str | None:
  """Why net `net`'s exported weights fit no official class (the model's
  `official_counterpart`), or None."""
  counterpart = getattr(models.get(config.model), 'official_counterpart', None)
  return counterpart(config, net) if counterpart else None


def export(config, state, net, fmt, out):
  """Writes net `net` of a trained state in format `fmt` to `out`; returns the path written.

  `out` is written under a temporary name beside it and renamed when complete. An existing
  `out` is replaced only if it is an earlier export of the same format (see `_is_export`);
  a training workdir, or a path inside one's checkpoints, is refused.

  Raises:
    jaxgan.errors.ConfigError: an unknown format, a net the format cannot export, or an `out`
      that export may not write.
    jaxgan.errors.OutputError: `out` could not be written (a full disk, say).
  """
  check_net(config, state, net, fmt)
  out = os.fspath(out)
  outputs.refuse_run_folders(out)
  if os.path.lexists(out) and not _is_export(out, fmt):
    raise errors.ConfigError(
      f'--out={out} exists and is not a {fmt} export of export.py: it is left as it is; '
      'choose another path'
    )
  outputs.check_writable_parent(out)
  try:
    tmp = outputs.temp_beside(out, folder=fmt == 'savedmodel')
    with outputs.discard_on_error(tmp):
      if fmt in ('npz', 'pth'):
        sd = state_dict(config, state, net)
        if fmt == 'npz':
          with open(tmp, 'wb') as f:
            port.save_npz(f, traverse_util.flatten_dict(sd, sep='.'))
        else:
          torch_file.write(tmp, sd, replace=False)
        with zipfile.ZipFile(tmp, 'a') as archive:
          archive.comment = _zip_mark(fmt)
      else:
        fn, channels, code_size = function(config, state, net)
        (_save_jax if fmt == 'jax' else _save_savedmodel)(fn, channels, code_size, tmp)
      outputs.replace(tmp, out)
  except OSError as e:
    raise errors.OutputError(f'cannot write --out={out}: {e.strerror or e}') from None
  return out


def load_program(path):
  """A `jax` export as a callable (what the README's snippet does, for the tests)."""
  return jax.export.deserialize(bytearray(pathlib.Path(path).read_bytes())).call
