"""The official preprocessing (`get_params` / `get_transform`) as TensorFlow ops.

Every op works eagerly and inside `tf.data` (graph mode, unknown image sizes), on uint8 images
[h, w, c]; randomness is stateless, from a per-example seed, so a stream is reproducible
whatever the parallelism.

Resizing follows PIL's BICUBIC, which the official code uses: PIL resamples the width first,
then the height, storing the intermediate as uint8, and its kernel widens when shrinking
(antialiasing). `resize` does the same with `tf.image.resize(method='bicubic', antialias=True)`
per axis, rounding and clipping between the passes. Measured against Pillow 13.0 on the 34 real
JPEGs of `shared/data/demo_edges2handbags` (256x256; to 286x286, 143x143, 100x177, 300x411):
max difference 2 levels of 255, mean 0.0005 levels (99.95% of values identical). A single
`tf.image.resize` call instead differs by up to 29 levels near sharp edges (mean 0.13), because
PIL clips the overshoot of the first pass; without antialias, shrinking differs by up to 174.
Pillow 13 (unlike 12 and before) resamples the height first when the height shrinks and the
width grows or shrinks much less; there the difference reaches about 20 levels (mean 0.4).
Resizes that keep the aspect ratio, as the official datasets' options do, are not affected.
"""

import tensorflow as tf

from jaxgan import errors

PREPROCESS = ('resize_and_crop', 'crop', 'scale_width', 'scale_width_and_crop', 'none')
ERROR_OPEN, ERROR_CLOSE = '<<jaxgan-input-error>>', '<</jaxgan-input-error>>'


def check(data):
  """Raises ConfigError for preprocessing options the ops cannot honour."""
  if data.preprocess not in PREPROCESS:
    raise errors.ConfigError(
      f'data.preprocess {data.preprocess!r} is unknown; expected one of {", ".join(PREPROCESS)}'
    )
  crop_h, crop_w = crop_shape(data)
  if min(data.load_size, crop_h, crop_w) < 1:
    raise errors.ConfigError('data.load_size, data.crop_size and data.crop_width must be > 0')
  if data.preprocess == 'resize_and_crop' and data.load_size < max(crop_h, crop_w):
    raise errors.ConfigError(
      f'data.load_size {data.load_size} is smaller than the crop {crop_h}x{crop_w}; '
      "preprocess 'resize_and_crop' needs load_size >= crop_size (and >= crop_width)"
    )
  if data.preprocess == 'scale_width_and_crop' and data.load_size < crop_w:
    raise errors.ConfigError(
      f'data.load_size {data.load_size} is smaller than the crop width {crop_w}; '
      "preprocess 'scale_width_and_crop' needs load_size >= the crop width"
    )


def crop_shape(data):
  """(height, width) of the crops: crop_size square unless crop_width > 0."""
  return data.crop_size, (data.crop_width if data.crop_width > 0 else data.crop_size)


def output_shape(data):
  """Static (height, width) after preprocessing, None where it depends on the image."""
  if 'crop' in data.preprocess:
    return crop_shape(data)
  return None, None


def input_error(*parts):
  """A string tensor that `pipeline` turns into an InputError when an op fails with it."""
  return tf.strings.join([ERROR_OPEN, *parts, ERROR_CLOSE])


def assert_input(condition, message_parts):
  """An op that fails with `input_error(*message_parts())` where `condition` is false.

  The message is built only then, inside the failing branch: tf.debugging.Assert computes its
  string data on every call, which cost the built-in sets' pipeline 30 % of its images/s.
  """

  def fail():
    message = input_error(*message_parts())
    with tf.control_dependencies([tf.debugging.Assert(False, [message])]):
      return tf.identity(condition)

  return tf.cond(condition, lambda: condition, fail)


def to_rgb(image, name):
  """Any 8-bit image -> 3 channels, as PIL's convert('RGB') does: gray is repeated, alpha dropped.

  Args:
    image: uint8 [h, w, c] with a static c.
    name: what to call the image's source in an error.
  """
  channels = image.shape[-1]
  if channels == 3:
    return image
  if channels in (1, 2):
    return tf.repeat(image[..., :1], 3, axis=-1)
  if channels == 4:
    return image[..., :3]
  raise errors.InputError(
    f'{name}: images have {channels} channels; expected 1 (gray), 2 (gray+alpha), 3 (RGB) '
    'or 4 (RGBA)'
  )


def grayscale(image):
  """RGB uint8 -> [h, w, 1] uint8, exactly as PIL's convert('L') (the official Grayscale(1))."""
  rgb = tf.cast(image, tf.int32)
  luma = rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000
  return tf.cast(tf.bitwise.right_shift(luma, 16), tf.uint8)[..., None]


def resize(image, height, width):
  """PIL's BICUBIC resize of a uint8 image to [height, width] (see the module docstring)."""
  image = tf.convert_to_tensor(image)
  shape = tf.shape(image)

  def resample(x, size):
    x = tf.image.resize(x, size, method='bicubic', antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(x), 0, 255), tf.uint8)

  # PIL skips a pass whose size does not change; so do we (it would be the identity anyway).
  x = tf.cond(
    tf.equal(shape[1], width),
    lambda: image,
    lambda: resample(tf.cast(image, tf.float32), tf.stack([shape[0], width])),
  )
  x = tf.cond(
    tf.equal(shape[0], height),
    lambda: x,
    lambda: resample(tf.cast(x, tf.float32), tf.stack([height, width])),
  )
  return tf.ensure_shape(x, [None, None, image.shape[-1]])


def resized_size(height, width, data, load_size):
  """Size after the resize step of `data.preprocess` (before cropping), as int32 tensors."""
  height = tf.cast(height, tf.int32)
  width = tf.cast(width, tf.int32)
  crop_h, _ = crop_shape(data)
  if 'resize' in data.preprocess:
    return tf.constant(load_size), tf.constant(load_size)
  if 'scale_width' in data.preprocess:
    # Official __scale_width: keep when already load_size wide and tall enough, else width ->
    # load_size and height -> int(max(load_size * h / w, crop_size)).
    keep = tf.logical_and(tf.equal(width, load_size), height >= crop_h)
    scaled = tf.cast(load_size, tf.float64) * tf.cast(height, tf.float64)
    scaled = tf.cast(tf.maximum(scaled / tf.cast(width, tf.float64), crop_h), tf.int32)
    return tf.where(keep, height, scaled), tf.where(keep, width, load_size)
  if data.preprocess == 'none':
    # Official __make_power_2 with base 4; tf.round rounds half to even like Python's round.
    return _round4(height), _round4(width)
  return height, width


def _round4(n):
  return tf.cast(tf.round(tf.cast(n, tf.float64) / 4) * 4, tf.int32)


def get_params(seed, height, width, data, train):
  """Crop position and flip for an image of [height, width] after resizing.

  As the official get_params: the crop's top-left corner uniform over every position that fits
  (inclusive), flip with probability 1/2. Evaluation (train=False) centres the crop and never
  flips, as the official test options set no_flip.

  Args:
    seed: int32/int64 [2], a stateless seed.
    height, width: scalar int tensors, the size after `resized_size`.
    data: the data config.
    train: whether to draw random parameters.

  Returns:
    dict(y=, x=, flip=) scalar tensors.
  """
  crop_h, crop_w = crop_shape(data)
  room_y = tf.maximum(height - crop_h, 0)
  room_x = tf.maximum(width - crop_w, 0)
  if not train:
    return dict(y=room_y // 2, x=room_x // 2, flip=tf.constant(False))
  seeds = tf.random.experimental.stateless_split(seed, 3)
  y = tf.random.stateless_uniform([], seeds[0], minval=0, maxval=room_y + 1, dtype=tf.int32)
  x = tf.random.stateless_uniform([], seeds[1], minval=0, maxval=room_x + 1, dtype=tf.int32)
  flip = tf.random.stateless_uniform([], seeds[2]) > 0.5
  if data.no_flip:
    flip = tf.constant(False)
  return dict(y=y, x=x, flip=flip)


def transform(image, params, data, load_size, name):
  """Resize, crop and flip a uint8 image as the official get_transform does.

  Args:
    image: uint8 [h, w, c].
    params: from `get_params`, computed on the `resized_size` of this image or of its pair
      (aligned pairs share them).
    data: the data config.
    load_size: the load size in effect (`data.load_size` when training).
    name: string tensor naming the image in errors.

  Returns:
    uint8 [h', w', c]; static h', w' wherever the preprocessing fixes them.
  """
  shape = tf.shape(image)
  height, width = resized_size(shape[0], shape[1], data, load_size)
  if data.preprocess == 'none':  # sides round to multiples of 4: 1 px would round to nothing
    big_enough = assert_input(
      tf.minimum(height, width) > 0,
      lambda: (
        name,
        ': image is ',
        tf.strings.as_string(shape[0]),
        'x',
        tf.strings.as_string(shape[1]),
        '; preprocess none rounds its sides to multiples of 4, so they must be at least 2 px',
      ),
    )
    with tf.control_dependencies([big_enough]):
      height, width = tf.identity(height), tf.identity(width)
  if data.preprocess != 'crop':
    image = resize(image, height, width)
  if 'crop' in data.preprocess:
    crop_h, crop_w = crop_shape(data)
    fits = assert_input(
      tf.logical_and(height >= crop_h, width >= crop_w),
      lambda: (
        name,
        ': image is ',
        tf.strings.as_string(height),
        'x',
        tf.strings.as_string(width),
        f' after preprocess {data.preprocess}, smaller than the crop {crop_h}x{crop_w}',
      ),
    )
    with tf.control_dependencies([fits]):
      image = tf.image.crop_to_bounding_box(image, params['y'], params['x'], crop_h, crop_w)
  image = tf.cond(params['flip'], lambda: tf.reverse(image, axis=[1]), lambda: image)
  out_h, out_w = output_shape(data)
  return tf.ensure_shape(image, [out_h, out_w, image.shape[-1]])


def normalize(image):
  """uint8 -> float32 in [-1, 1], exactly as the official ToTensor then Normalize(0.5, 0.5):
  (x / 255 - 0.5) / 0.5, each step rounded to float32 (`pixels.OFFICIAL_NORMALIZED`).

  TensorFlow's graph optimiser rewrites x / 255 in float32 as x * (1 / 255), which rounds half
  of the 256 values one unit differently. The quotient is taken in float64 instead: rewritten
  or not, rounded to float32 it is the official one (double rounding through 53 bits is
  harmless for a 24-bit division), and the steps after it round the same under any
  reassociation. A table lookup would be exact too, but costs the pipeline 3 times as much.
  """
  quotient = tf.cast(tf.cast(image, tf.float64) / 255.0, tf.float32)
  return (quotient - 0.5) / 0.5
