"""The official transforms as TF ops: against PIL, and the same eagerly and inside tf.data."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from configs import common
from jaxgan import errors
from jaxgan.data import pixels, transforms


def _data(**overrides):
  data = common.get_data_config()
  data.update(overrides)
  return data


def _test_images():
  """Sharp edges (where PIL's clipping between passes matters) and noise, odd sizes."""
  rng = np.random.default_rng(0)
  edges = np.zeros((37, 53, 3), np.uint8)
  edges[8:20, 10:40] = 255
  edges[25:, :, 1] = 200
  noise = rng.integers(0, 256, (41, 29, 3), dtype=np.uint8)
  return [edges, noise]


def _graph(fn, channels=3):
  """fn traced with unknown image sizes, run inside tf.data, as the pipeline runs it."""

  def run(image):
    ds = tf.data.Dataset.from_generator(
      lambda: iter([image]), output_signature=tf.TensorSpec([None, None, channels], tf.uint8)
    )
    return next(iter(ds.map(fn))).numpy()

  return run


# Both axes grow, both shrink, or one stays: Pillow up to 12 always resamples the width first;
# Pillow 13 resamples the height first when it shrinks while the width grows, a case the
# official datasets (square images, square or aspect-keeping resizes) never meet.
SIZES = [(64, 80), (20, 15), (37, 26), (41, 64), (82, 58)]


@pytest.mark.parametrize('height,width', SIZES)
def test_resize_matches_pil_eager_and_in_graph(height, width):
  for image in _test_images():
    want = np.asarray(Image.fromarray(image).resize((width, height), Image.BICUBIC), np.int32)
    eager = transforms.resize(image, height, width).numpy().astype(np.int32)
    graph = _graph(lambda x: transforms.resize(x, height, width))(image).astype(np.int32)
    np.testing.assert_array_equal(eager, graph)
    assert eager.shape == want.shape
    assert np.abs(eager - want).max() <= 2
    assert np.mean(eager != want) < 0.01


def test_resize_matches_pil_on_real_jpegs(shared_data_dir):
  paths = sorted((shared_data_dir / 'demo_edges2handbags' / 'testB').glob('*.jpg'))[:3]
  assert paths
  for path in paths:
    image = Image.open(path).convert('RGB')
    for width, height in [(286, 286), (143, 100)]:
      want = np.asarray(image.resize((width, height), Image.BICUBIC), np.int32)
      got = transforms.resize(np.asarray(image), height, width).numpy().astype(np.int32)
      assert np.abs(got - want).max() <= 2
      assert np.abs(got - want).mean() < 0.01


def test_grayscale_is_pils_luma():
  image = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
  want = np.asarray(Image.fromarray(image).convert('L'))[..., None]
  np.testing.assert_array_equal(transforms.grayscale(image).numpy(), want)
  np.testing.assert_array_equal(_graph(transforms.grayscale)(image), want)


def test_to_rgb_as_pil_convert_and_rejects_odd_channels():
  gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
  np.testing.assert_array_equal(transforms.to_rgb(tf.constant(gray), 'x')[..., 2], gray[..., 0])
  rgba = np.random.default_rng(0).integers(0, 256, (3, 4, 4), dtype=np.uint8)
  want = np.asarray(Image.fromarray(rgba, 'RGBA').convert('RGB'))
  np.testing.assert_array_equal(transforms.to_rgb(tf.constant(rgba), 'x'), want)
  with pytest.raises(errors.InputError, match='tfds A: images have 5 channels'):
    transforms.to_rgb(tf.zeros([3, 4, 5], tf.uint8), 'tfds A')


def _sizes(data, height, width, load_size=None):
  fn = lambda h, w: transforms.resized_size(h, w, data, load_size or data.load_size)
  eager = [int(v) for v in fn(height, width)]
  graph = [int(v) for v in tf.function(fn)(tf.constant(height), tf.constant(width))]
  assert eager == graph
  return tuple(eager)


def test_resized_size_follows_official_options():
  # scale_width: width -> load_size, height int(max(load * h / w, crop_size)).
  assert _sizes(_data(preprocess='scale_width', load_size=24, crop_size=8), 32, 48) == (16, 24)
  assert _sizes(_data(preprocess='scale_width', load_size=24, crop_size=20), 32, 48) == (20, 24)
  # Already load_size wide and tall enough: unchanged (official shortcut).
  assert _sizes(_data(preprocess='scale_width', load_size=48, crop_size=8), 33, 48) == (33, 48)
  assert _sizes(_data(preprocess='resize_and_crop', load_size=40), 10, 70) == (40, 40)
  assert _sizes(_data(preprocess='crop'), 10, 70) == (10, 70)
  # make_power_2 with Python's round: 2.5 -> 2 and 4.5 -> 4 (half to even), 7.25 -> 7.
  assert _sizes(_data(preprocess='none'), 10, 18) == (8, 16)
  assert _sizes(_data(preprocess='none'), 29, 32) == (28, 32)


def test_get_params_cover_every_position_and_flip_half_the_time():
  data = _data(preprocess='crop', crop_size=6, crop_width=4)
  draws = [
    transforms.get_params(tf.constant([3, i], tf.int64), 8, 7, data, train=True) for i in range(200)
  ]
  ys = {int(d['y']) for d in draws}
  xs = {int(d['x']) for d in draws}
  assert ys == {0, 1, 2} and xs == {0, 1, 2, 3}  # inclusive ranges, as random.randint
  flips = np.mean([bool(d['flip']) for d in draws])
  assert 0.35 < flips < 0.65
  centred = transforms.get_params(tf.constant([3, 0], tf.int64), 8, 7, data, train=False)
  assert (int(centred['y']), int(centred['x']), bool(centred['flip'])) == (1, 1, False)
  data.no_flip = True
  assert not any(
    bool(transforms.get_params(tf.constant([3, i], tf.int64), 8, 7, data, True)['flip'])
    for i in range(20)
  )


def test_transform_crops_non_square_and_flips_the_same_eagerly_and_in_graph():
  data = _data(preprocess='resize_and_crop', load_size=20, crop_size=12, crop_width=16)
  image = _test_images()[0]
  params = dict(y=tf.constant(3), x=tf.constant(2), flip=tf.constant(True))
  fn = lambda x: transforms.transform(x, params, data, data.load_size, tf.constant('img'))
  eager = fn(image).numpy()
  graph = _graph(fn)(image)
  assert eager.shape == (12, 16, 3)
  np.testing.assert_array_equal(eager, graph)
  resized = np.asarray(Image.fromarray(image).resize((20, 20), Image.BICUBIC), np.int32)
  want = resized[3:15, 2:18][:, ::-1]
  assert np.abs(eager.astype(np.int32) - want).max() <= 2


def test_transform_in_graph_has_static_crop_shape():
  data = _data(preprocess='crop', crop_size=5, crop_width=3)
  spec = tf.TensorSpec([None, None, 3], tf.uint8)
  params = dict(y=tf.constant(0), x=tf.constant(0), flip=tf.constant(False))
  fn = tf.function(lambda x: transforms.transform(x, params, data, 9, tf.constant('a')))
  assert fn.get_concrete_function(spec).structured_outputs.shape.as_list() == [5, 3, 3]


def test_transform_names_the_image_smaller_than_the_crop():
  data = _data(preprocess='crop', crop_size=50)
  params = dict(y=tf.constant(0), x=tf.constant(0), flip=tf.constant(False))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'some/img.png: image is 37x53'):
    transforms.transform(_test_images()[0], params, data, 9, tf.constant('some/img.png'))


def test_normalize_maps_to_minus_one_one():
  x = transforms.normalize(tf.constant([0, 255, 128], tf.uint8)).numpy()
  np.testing.assert_allclose(x, [-1.0, 1.0, 128 / 127.5 - 1], atol=1e-7)


def test_normalize_is_the_official_totensor_normalize_bit_for_bit():
  """(x / 255 - 0.5) / 0.5 in float32, each step rounded as torch rounds it, for every value,
  eagerly, in tf.data and in a tf.function (the real pipeline is checked against
  pixels.normalize in test_data_tfds.py and test_data_folders.py)."""
  values = np.arange(256, dtype=np.uint8)
  x = values.astype(np.float32)
  official = (x / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
  np.testing.assert_array_equal(pixels.normalize(values), official)
  eager = transforms.normalize(tf.constant(values)).numpy()
  mapped = next(iter(tf.data.Dataset.from_tensors(values).map(transforms.normalize))).numpy()
  traced = tf.function(transforms.normalize)(tf.constant(values)).numpy()  # grappler's rewrites
  for got in (eager, mapped, traced):
    assert got.dtype == np.float32 and np.array_equal(got, official)


@pytest.mark.parametrize(
  'overrides,match',
  [
    (dict(preprocess='resize'), "data.preprocess 'resize' is unknown"),
    (dict(load_size=200, crop_size=256), 'data.load_size 200 is smaller than the crop'),
    (dict(preprocess='scale_width_and_crop', load_size=30, crop_width=40), 'crop width 40'),
  ],
)
def test_check_rejects_bad_options(overrides, match):
  with pytest.raises(errors.ConfigError, match=match):
    transforms.check(_data(**overrides))


def test_preprocess_none_refuses_images_too_small_to_round(tmp_path):
  """Sides round to multiples of 4: a 1 px side would round to nothing (a one-line error)."""
  from PIL import Image  # noqa: PLC0415

  from configs import cyclegan_shapes  # noqa: PLC0415
  from jaxgan import data, errors  # noqa: PLC0415

  for split in ('trainA', 'trainB'):
    (tmp_path / split).mkdir()
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / split / 'dot.png')
  config = cyclegan_shapes.get_config('tiny')
  config.data.update(source='folder', dataroot=str(tmp_path), dataset_mode='unaligned')
  config.data.preprocess, config.data.cache_mb = 'none', 0.0
  dataset = data.build(config, 'train', train=True, process_index=0, process_count=1)
  with pytest.raises(errors.InputError, match=r'dot.png: image is 1x1; preprocess none rounds'):
    next(dataset.batches())
