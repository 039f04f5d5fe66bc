"""`build`: config -> a tf.data pipeline of numpy batches, as the official data loaders.

Stages: a source yields raw examples (uint8 images and their names) in the order the official
DataLoader would visit them; `_process` applies the direction, the channel counts and the
official transforms; batching and prefetch happen on the host.
"""

import collections
import dataclasses
import math
import re
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from jaxgan import errors
from jaxgan.data import folders, synthetic, transforms

# TF must not grab accelerators that JAX owns.
try:
  tf.config.set_visible_devices([], 'GPU')
except RuntimeError:  # already initialised by someone else; nothing to hide then
  pass

SOURCES = ('folder', 'tfds', 'synthetic')
DATASET_MODES = ('aligned', 'unaligned', 'single')
DIRECTIONS = ('AtoB', 'BtoA')
# The map functions use Python control flow on static values only: skipping AutoGraph's
# conversion halves the time to build a pipeline.
plain = tf.autograph.experimental.do_not_convert
_ERROR = re.compile(re.escape(transforms.ERROR_OPEN) + '(.*?)' + re.escape(transforms.ERROR_CLOSE))


@dataclasses.dataclass(frozen=True)
class Dataset:
  """One process's share of a split, batched.

  Attributes:
    num_examples: images in the split over all processes (for 'unaligned', max(|A|, |B|):
      the official epoch length).
    steps_per_epoch: ceil(num_examples / global batch size), the official number of iterations
      per epoch (its last, smaller batch counted). Training streams run on across epochs, so
      every batch is full; evaluation yields exactly steps_per_epoch batches on every process.
    batch_size: images per batch of this process (global batch size / process count).
    keys: the keys of each batch.
    in_memory: the images are held decoded and resized in memory (`_in_memory`).
  """

  num_examples: int
  steps_per_epoch: int
  batch_size: int
  keys: tuple[str, ...]
  in_memory: bool
  _make: Callable[[], tf.data.Dataset] = dataclasses.field(repr=False)

  def as_tf_dataset(self, start: int = 0) -> tf.data.Dataset:
    """The batched tf.data.Dataset behind `batches(start)`, built afresh."""
    return self._make(start)

  def batches(self, start: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """A fresh iterator of numpy batches; the same seed gives the same stream.

    Args:
      start: batches of the stream to pass over first (a resumed run's steps done). Folders and
        the built-in sets jump there without loading an image; tfds streams read and drop them.

    Raises:
      InputError: an image that cannot be read or does not fit the preprocessing.
    """
    iterator = self._make(start).as_numpy_iterator()
    while True:
      try:
        batch = next(iterator)
      except StopIteration:
        return
      except tf.errors.OpError as error:
        failure = _input_error(error)
      else:
        yield batch
        continue
      # Close the failed iterator before raising: kept alive by the traceback until the
      # interpreter exits, its destructor then waits forever on tf.data's map threads.
      del iterator
      raise failure


def _input_error(error):
  """An InputError for a failed tf.data op, or the op's error if it is not about input."""
  message = error.message.replace("\\'", "'")
  found = _ERROR.search(message)
  if found:
    return errors.InputError(found.group(1))
  if 'Cannot batch tensors' in message or 'Cannot add tensor to the batch' in message:
    shapes = re.findall(r'\[\d+(?:,\s*\d+)*\]', message)[:2]
    return errors.InputError(
      f'images of different sizes ({" and ".join(shapes)}) cannot share a batch: use a '
      'data.preprocess that crops, or batch_size 1 per process'
    )
  return error


def build(
  config,
  split,
  *,
  train,
  process_index=None,
  process_count=None,
  seed=None,
  batch_size=None,
  own_size=False,
):
  """Builds this process's input pipeline for one split.

  Batches are dicts of numpy arrays: 'A' [n, H, W, input_nc] and 'B' [n, H, W, output_nc],
  float32 in [-1, 1], with `config.data.direction` applied ('A' is the model's input).
  'single' mode has only 'A'. With train=False batches also carry 'A_paths' (and 'B_paths'):
  the image names as bytes.

  train=True: shuffled (a fresh permutation per epoch, as the official DataLoader; in order
  with serial_batches), repeated forever, random crops and flips, full batches only.
  train=False: in order, every image once, no flip, centred crops, load_size replaced by
  data.test_load_size (0: crop_size, as the official test options); the last batches are padded
  to full size with repeats whose paths are b'' (skip those when saving), so that every
  process yields steps_per_epoch batches of static shape. For 'unaligned', both domains are
  visited in order, the shorter one padded the same way.

  Each process reads a disjoint part of the images: every process_count-th file (folders and
  synthetic sets) or an even slice (tfds).

  Args:
    config: the full config (reads config.data and config.batch_size).
    split: 'train', 'test', 'val', ... as the dataset has them.
    train: training stream or evaluation pass.
    process_index, process_count: this process and how many there are; default from JAX.
    seed: for shuffling and augmentation; default config.seed.
    batch_size: global batch size; default config.batch_size.
    own_size: with train=False and preprocess 'none', every image at its own size (eval.py,
      which pads it for the generator), not rounded to multiples of 4 as the official test.

  Returns:
    a `Dataset`.

  Raises:
    ConfigError: an unknown or inconsistent option.
    InputError: a missing folder, an empty split, an unusable image.
  """
  if process_index is None or process_count is None:
    import jax

    process_index = jax.process_index() if process_index is None else process_index
    process_count = jax.process_count() if process_count is None else process_count
  seed = config.seed if seed is None else seed
  global_batch = config.batch_size if batch_size is None else batch_size
  data = config.data
  _check(data, global_batch, process_count)
  local_batch = global_batch // process_count
  # Independent streams for the order, the random B of 'unaligned' and the augmentation.
  seeds = np.random.SeedSequence([seed, process_index]).generate_state(6).reshape(3, 2)
  seeds = [tf.constant(s.astype(np.int64)) for s in seeds]
  shard = (process_index, process_count)

  in_memory = False
  if data.source == 'tfds':
    from jaxgan.data import tfds_sources

    raw, mode, num_examples = tfds_sources.raw_examples(
      config, split, train=train, shard=shard, seeds=seeds, local_batch=local_batch
    )
  else:
    tables, mode = _tables(config, split)
    num_examples = max(t.size for t in tables.values())
    if train and data.source == 'folder' and data.cache_mb > 0:
      tables, in_memory = _in_memory(tables, data, mode, data.load_size)
    raw = _table_stream(
      tables,
      mode,
      train=train,
      serial=data.serial_batches,
      shard=shard,
      seeds=seeds,
      steps=math.ceil(num_examples / global_batch),
      local_batch=local_batch,
    )

  load_size = data.load_size if train else (data.test_load_size or data.crop_size)
  keys = ('A',) if mode == 'single' else ('A', 'B')
  if not train:
    keys += tuple(k + '_paths' for k in keys)
  own_size = own_size and not train and data.preprocess == 'none'
  process = lambda ex: _process(
    ex, data, mode, train, load_size, seeds[2], keys, in_memory, own_size
  )
  parallel = tf.data.AUTOTUNE if data.num_parallel_calls < 0 else data.num_parallel_calls

  def make(start):
    # A shuffle buffer (tfds) has no position to jump to: its used batches are read and dropped.
    jumps = data.source != 'tfds'
    ds = raw(start * local_batch) if jumps else raw()
    ds = ds.map(plain(process), num_parallel_calls=parallel, deterministic=True)
    ds = ds.batch(local_batch, drop_remainder=True)
    ds = (ds if jumps else ds.skip(start)).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = data.autotune
    return ds.with_options(options)

  return Dataset(
    num_examples=num_examples,
    steps_per_epoch=max(1, math.ceil(num_examples / global_batch)),
    batch_size=local_batch,
    keys=keys,
    in_memory=in_memory,
    _make=make,
  )


def _check(data, global_batch, process_count):
  """ConfigErrors for unknown names and impossible combinations, before any file is read."""
  for key, known in (
    ('source', SOURCES),
    ('dataset_mode', DATASET_MODES),
    ('direction', DIRECTIONS),
  ):
    if data[key] not in known:
      raise errors.ConfigError(
        f'data.{key} {data[key]!r} is unknown; expected one of {", ".join(known)}'
      )
  for key in ('input_nc', 'output_nc'):
    if data[key] not in (1, 3):
      raise errors.ConfigError(f'data.{key} is {data[key]}; expected 1 (gray) or 3 (RGB)')
  transforms.check(data)
  if global_batch < 1 or global_batch % process_count:
    raise errors.ConfigError(
      f'batch_size {global_batch} is not a positive multiple of the process count '
      f'{process_count}; each process loads batch_size / process_count images'
    )
  if data.source == 'synthetic':
    synthetic.check(data)


@dataclasses.dataclass(frozen=True)
class _Table:
  """Random-access images: `load(index)` -> dict of images and names (some of A, B, *_paths)."""

  size: int
  load: Callable[[tf.Tensor], dict]


def _tables(config, split):
  """Tables for 'folder' and 'synthetic': {'AB': pairs} or {'A': ..., 'B': ...}, and the mode."""
  data = config.data
  mode = data.dataset_mode
  if data.source == 'folder':
    dirs = folders.split_dirs(data, split)
    paths = {k: folders.make_dataset(d, data.max_dataset_size, mode) for k, d in dirs.items()}
    if 'AB' in paths:
      return {'AB': _aligned_folder_table(paths['AB'])}, mode
    return {k: _folder_table(k, p) for k, p in paths.items()}, mode

  images = synthetic.images(config, split)
  if mode == 'aligned' and not synthetic.is_paired(data.synthetic):
    raise errors.ConfigError(
      f'data.synthetic {data.synthetic!r} has no pairs to train on; use dataset_mode '
      "'unaligned' (or the paired task 'shapes_paired')"
    )
  if data.max_dataset_size > 0:
    images = {k: v[: data.max_dataset_size] for k, v in images.items()}
  prefix = f'{data.synthetic}/{split}'
  if mode == 'aligned':
    a, b = (tf.constant(images[k]) for k in 'AB')

    def load_pair(i):
      name = tf.strings.join([prefix, '/', tf.strings.as_string(i, width=5, fill='0')])
      return {'A': tf.gather(a, i), 'B': tf.gather(b, i), 'A_paths': name, 'B_paths': name}

    return {'AB': _Table(len(images['A']), load_pair)}, mode
  if mode == 'single':
    # Only the model's input domain, which the direction picks (as for tfds sources).
    domain = 'B' if data.direction == 'BtoA' else 'A'
    return {'A': _array_table('A', images[domain], f'{prefix}{domain}')}, mode
  return {k: _array_table(k, images[k], f'{prefix}{k}') for k in 'AB'}, mode


def _array_table(key, array, prefix):
  array = tf.constant(array)

  def load(i):
    name = tf.strings.join([prefix, '/', tf.strings.as_string(i, width=5, fill='0')])
    return {key: tf.gather(array, i), key + '_paths': name}

  return _Table(int(array.shape[0]), load)


def _folder_table(key, paths):
  paths_t = tf.constant(paths)

  def load(i):
    path = tf.gather(paths_t, i)
    return {key: folders.load(path), key + '_paths': path}

  return _Table(len(paths), load)


def _aligned_folder_table(paths):
  paths_t = tf.constant(paths)

  def load(i):
    path = tf.gather(paths_t, i)
    ab = folders.load(path)
    half = tf.shape(ab)[1] // 2  # official int(w / 2): A gets the left half
    return {'A': ab[:, :half], 'B': ab[:, half:], 'A_paths': path, 'B_paths': path}

  return _Table(len(paths), load)


def _table_stream(tables, mode, *, train, serial, shard, seeds, steps, local_batch):
  """A function making the raw example stream of this process's shard of the tables."""
  index, count = shard
  # Global indices of this process's images: every count-th, starting at index.
  shards = {k: np.arange(index, t.size, count, dtype=np.int64) for k, t in tables.items()}
  for k, s in shards.items():
    if len(s) == 0 and train:
      raise errors.InputError(
        f'the split has {tables[k].size} images in {k}, fewer than the {count} processes'
      )
  sizes = {k: len(s) for k, s in shards.items()}
  length = max(sizes.values())
  order_seed, b_seed, _ = seeds

  def indices(position, counter):
    """Table index per key, and whether it is a real image (not padding)."""
    out = {}
    for k in tables:
      n = max(sizes[k], 1)
      if k == 'B' and mode == 'unaligned' and train and not serial:
        # Official UnalignedDataset: B drawn at random, independently of A.
        seed = tf.random.experimental.stateless_fold_in(b_seed, counter)
        i = tf.random.stateless_uniform([], seed, minval=0, maxval=n, dtype=tf.int64)
      else:
        i = position % n
      out[k] = (i, position < sizes[k])
    return out

  def load(position, counter):
    example = {}
    for k, (i, valid) in indices(position, counter).items():
      shard_k = tf.constant(shards[k] if sizes[k] else np.zeros(1, np.int64))
      loaded = tables[k].load(tf.gather(shard_k, i))
      for name, value in loaded.items():
        if name.endswith('_paths'):
          value = tf.where(valid, value, tf.constant(b''))
        example[name] = value
    example['k'] = counter
    return example

  def make(start=0):
    """The stream from example `start` on: positions are skipped before any image is loaded."""
    if train:

      def epoch(e):
        positions = tf.range(length, dtype=tf.int64)
        if not serial:
          seed = tf.random.experimental.stateless_fold_in(order_seed, e)
          positions = tf.random.experimental.stateless_shuffle(positions, seed)
        return tf.data.Dataset.from_tensor_slices(positions)

      positions = tf.data.Dataset.counter().flat_map(plain(epoch))
    else:
      positions = tf.data.Dataset.range(steps * local_batch)
    # Every random draw keys on the example's counter, so a stream started late continues the
    # stream started at 0 exactly.
    positions = positions.skip(start).enumerate(start=start)
    return positions.map(plain(lambda counter, p: load(p, counter)))

  return make


def _to_channels(image, key, data):
  """RGB, then gray where the model's domain `key` ('A' input, 'B' output) has 1 channel."""
  image = transforms.to_rgb(image, name=f'{data.source} {key}')
  channels = data.input_nc if key == 'A' else data.output_nc
  return transforms.grayscale(image) if channels == 1 else image


def _prepare(example, data, mode, load_size):
  """The deterministic part of `_process`: channels and the resize (no crop, no flip)."""
  out = {}
  for key, value in example.items():
    if key.endswith('_paths'):
      out[key] = value
      continue
    final = _swap(key) if data.direction == 'BtoA' and mode != 'single' else key
    image = _to_channels(value, final, data)
    height, width = transforms.resized_size(tf.shape(image)[0], tf.shape(image)[1], data, load_size)
    out[key] = image if data.preprocess == 'crop' else transforms.resize(image, height, width)
  return out


def _in_memory(tables, data, mode, load_size):
  """Tables holding every image decoded, channel-converted and resized, when they fit.

  The paper datasets are small (400 to 50k images): decoding and resizing them once, in
  parallel, leaves only the random crop and flip for each step (on 2 cores 8.9x the images/s;
  docs/performance.md). Returns (tables, whether in memory); the same tables when the images
  would take more than data.cache_mb (estimated from the first one).
  """
  budget = data.cache_mb * 2**20
  prepared = {}
  for name, table in tables.items():
    ds = tf.data.Dataset.range(table.size).map(
      plain(lambda i, table=table: _prepare(table.load(i), data, mode, load_size)),
      num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True,
    )
    columns = collections.defaultdict(list)
    try:
      for i, example in enumerate(ds.as_numpy_iterator()):
        for key, value in example.items():
          columns[key].append(value)
        if i == 0:
          first = sum(v.nbytes for k, v in example.items() if not k.endswith('_paths'))
          if first * sum(t.size for t in tables.values()) > budget:
            return tables, False
    except tf.errors.OpError as error:
      raise _input_error(error) from None
    _check_crops(columns, data)
    prepared[name] = _memory_table(dict(columns), table.size)
  return prepared, True


def _check_crops(columns, data):
  """InputError naming the first held image smaller than the crop: found while loading, not
  when a training step happens to draw it hours later."""
  if 'crop' not in data.preprocess:
    return
  crop_h, crop_w = transforms.crop_shape(data)
  paths = next((v for k, v in columns.items() if k.endswith('_paths')), None)
  for key, images in columns.items():
    if key.endswith('_paths'):
      continue
    for i, image in enumerate(images):
      if image.shape[0] < crop_h or image.shape[1] < crop_w:
        where = columns.get(f'{key}_paths', paths)
        name = where[i].decode() if where is not None else f'image {i}'
        raise errors.InputError(
          f'{name}: image is {image.shape[0]}x{image.shape[1]} after preprocess '
          f'{data.preprocess}, smaller than the crop {crop_h}x{crop_w}'
        )


def _memory_table(columns, size):
  names = sorted(k for k in columns if not k.endswith('_paths'))
  images = [columns[k] for k in names]
  paths = {k: tf.constant(v) for k, v in columns.items() if k.endswith('_paths')}
  channels = [c[0].shape[-1] for c in images]

  def load(i):
    # A numpy index into the held arrays: the GIL is held for a copy of one image only.
    got = tf.numpy_function(
      lambda i: [column[i] for column in images], [i], [tf.uint8] * len(names), stateful=False
    )
    shapes = zip(names, got, channels, strict=True)
    out = {k: tf.ensure_shape(v, [None, None, c]) for k, v, c in shapes}
    out.update({k: tf.gather(v, i) for k, v in paths.items()})
    return out

  return _Table(size, load)


def _process(
  example, data, mode, train, load_size, aug_seed, keys, in_memory=False, own_size=False
):
  """Direction, channels, official transforms and scaling of one raw example.

  in_memory: the example's images went through `_prepare` already (the resize in
  `transforms.transform` then keeps them as they are: their size is the resized one).
  """
  if data.direction == 'BtoA' and mode != 'single':
    example = {_swap(k): v for k, v in example.items()}
  seed = tf.random.experimental.stateless_fold_in(aug_seed, example['k'])
  seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  out = {}
  params = None
  for key in keys:
    if key.endswith('_paths'):
      out[key] = example[key]
      continue
    image = example[key] if in_memory else _to_channels(example[key], key, data)
    if own_size:
      # eval.py at the image's own size (the official test rounds it to a multiple of 4);
      # jaxgan.eval pads each image to a size the generator takes and crops the output back.
      out[key] = transforms.normalize(image)
      continue
    if params is None or mode != 'aligned':
      # Aligned pairs share the crop and the flip (official get_params on A, used for both).
      shape = tf.shape(image)
      height, width = transforms.resized_size(shape[0], shape[1], data, load_size)
      params = transforms.get_params(seed_a if key == 'A' else seed_b, height, width, data, train)
    name = example.get(key + '_paths', tf.constant(key))
    image = transforms.transform(image, params, data, load_size, name)
    out[key] = transforms.normalize(image)
  return out


def _swap(key):
  return {'A': 'B', 'B': 'A'}.get(key[0], key[0]) + key[1:] if key[0] in 'AB' else key
