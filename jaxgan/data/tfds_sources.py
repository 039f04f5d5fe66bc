"""tensorflow-datasets sources: 'cycle_gan/<name>' (shipped by tfds) and 'pix2pix/<name>' (ours).

- cycle_gan/<name>: unpaired, splits trainA/trainB/testA/testB; `split='train'` reads trainA
  and trainB. Its images are the original JPEGs, decoded here with the accurate integer DCT,
  which gives exactly PIL's pixels (TF's default DCT differs by up to 22 levels).
- pix2pix/<name>: paired features A and B, splits train/val[/test] (`pix2pix_tfds.py`).

Order and sharding: each process reads an even slice of each split (`tfds.even_splits`);
training shuffles the files and a `data.shuffle_buffer` of examples, seeded, and repeats;
unaligned training zips two independently shuffled streams (B at random, as the official
UnalignedDataset; in order with serial_batches). Evaluation reads in order.
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from jaxgan import errors

FAMILIES = ('cycle_gan', 'pix2pix')


def raw_examples(config, split, *, train, shard, seeds, local_batch):
  """The raw example stream of a tfds dataset, as `pipeline._table_stream` makes for folders.

  Returns:
    (make, mode, num_examples): make() builds the tf.data.Dataset of dicts with uint8 'A' (and
    'B'), string 'A_paths' (and 'B_paths') and int64 'k', the example's position.
  """
  data = config.data
  builder, family = _builder(data, shard[1])
  mode = data.dataset_mode
  if family == 'cycle_gan' and mode == 'aligned':
    raise errors.ConfigError(
      f"data.tfds_name {data.tfds_name!r} is unpaired; use dataset_mode 'unaligned' (or 'single')"
    )
  # domain key -> (tfds split, feature)
  if family == 'cycle_gan':
    domains = {'A': (f'{split}A', 'image'), 'B': (f'{split}B', 'image')}
  else:
    domains = {'A': (split, 'A'), 'B': (split, 'B')}
  if mode == 'single':
    # Only the model's input domain: the direction picks it.
    key = 'B' if data.direction == 'BtoA' else 'A'
    domains = {'A': domains[key]}
  available = list(builder.info.splits)
  for tfds_split, _ in domains.values():
    if tfds_split not in available:
      raise errors.InputError(
        f'{data.tfds_name}: no split {tfds_split!r}; it has {", ".join(sorted(available))}'
      )

  sizes = {}
  shards = {}
  for key, (tfds_split, _) in domains.items():
    whole = builder.info.splits[tfds_split].num_examples
    if data.max_dataset_size > 0:
      whole = min(whole, data.max_dataset_size)
      tfds_split = f'{tfds_split}[:{whole}]'
    if whole == 0:
      raise errors.InputError(f'{data.tfds_name}: split {tfds_split!r} is empty')
    sizes[key] = whole
    parts = tfds.even_splits(tfds_split, n=shard[1])
    counts = [builder.info.splits[p].num_examples for p in parts]
    if counts[shard[0]] == 0:
      raise errors.InputError(
        f'{data.tfds_name}: split {tfds_split!r} has {whole} images, fewer than the '
        f'{shard[1]} processes'
      )
    # (sub-split, first global index, count) of this process.
    shards[key] = (parts[shard[0]], sum(counts[: shard[0]]), counts[shard[0]])
  num_examples = max(sizes.values())
  paired = mode == 'aligned'
  order_seed = int(np.asarray(seeds[0])[0]) % (2**31)
  steps = math.ceil(num_examples / (local_batch * shard[1]))

  def stream(key, salt):
    tfds_split, offset, count = shards[key]
    tfds_name, feature = domains[key]
    shuffle = train and not data.serial_batches
    ds = builder.as_dataset(
      split=tfds_split,
      shuffle_files=shuffle,
      read_config=tfds.ReadConfig(shuffle_seed=order_seed + salt),
      decoders={f: _decode_like_pil() for f in ('A', 'B', 'image') if f in _features(builder)},
    )
    name = tf.strings.join([data.tfds_name, '/', tfds_name, '/'])

    def select(i, ex):
      path = ex['file_name'] if 'file_name' in ex else _indexed(name, offset + i)
      out = {key: ex[feature], key + '_paths': path}
      if paired:
        out.update(B=ex['B'], B_paths=path)
      return out

    ds = ds.enumerate().map(_plain(select))
    if train:
      if shuffle:
        ds = ds.shuffle(data.shuffle_buffer, seed=order_seed + salt + 1)
      return ds.repeat()
    # Evaluation: in order, padded with repeats (paths b'') to steps * local_batch examples.
    total = steps * local_batch
    padding = ds.repeat().map(_plain(lambda ex: {**ex, key + '_paths': tf.constant(b'')}))
    if paired:
      padding = padding.map(_plain(lambda ex: {**ex, 'B_paths': tf.constant(b'')}))
    return ds.concatenate(padding.take(max(total - count, 0))).take(total)

  def make():
    if paired or mode == 'single':
      ds = stream('A', 0)
    else:
      ds = tf.data.Dataset.zip(stream('A', 0), stream('B', 2)).map(_plain(lambda a, b: {**a, **b}))
    return ds.enumerate().map(_plain(lambda k, ex: {**ex, 'k': k}))

  return make, mode, num_examples


def _builder(data, process_count):
  """The prepared tfds builder for data.tfds_name, and its family."""
  family, _, name = data.tfds_name.partition('/')
  if family not in FAMILIES or not name:
    raise errors.ConfigError(
      f'data.tfds_name {data.tfds_name!r} is not supported; expected cycle_gan/<name> or '
      'pix2pix/<name> (e.g. cycle_gan/horse2zebra, pix2pix/facades)'
    )
  if family == 'pix2pix':
    from jaxgan.data import pix2pix_tfds  # noqa: F401  registers the builder

  try:
    builder = tfds.builder(data.tfds_name, data_dir=data.tfds_data_dir or None)
  except ValueError as error:
    known = tfds.builder_cls(family).builder_configs
    raise errors.ConfigError(
      f'data.tfds_name {data.tfds_name!r} is unknown ({str(error).splitlines()[0][:80]}...); '
      f'{family} has {", ".join(sorted(known))}'
    ) from None
  if not builder.is_prepared():
    if process_count > 1:
      raise errors.InputError(
        f'{data.tfds_name} is not prepared in {builder.data_dir}; prepare it once, from one '
        f'process: python -c "import jaxgan.data.pix2pix_tfds, tensorflow_datasets as tfds; '
        f"tfds.builder('{data.tfds_name}').download_and_prepare()\""
      )
    try:
      builder.download_and_prepare()
    except Exception as error:  # network, disk: say which dataset and where
      message = str(error).splitlines()[0] if str(error) else type(error).__name__
      raise errors.InputError(
        f'{data.tfds_name}: not prepared in {builder.data_dir} and could not be downloaded '
        f'({message[:200]}); or run on built-in data with --config=configs/pix2pix_shapes.py'
      ) from None
  return builder, family


def _features(builder):
  return builder.info.features.keys()


def _decode_like_pil():
  """Image decoder giving PIL's pixels: accurate integer DCT for JPEG, 3 channels always."""

  @tfds.decode.make_decoder()
  def decode(serialized, feature):
    del feature
    jpeg = lambda: tf.io.decode_jpeg(serialized, channels=3, dct_method='INTEGER_ACCURATE')
    other = lambda: tf.io.decode_image(serialized, channels=3, expand_animations=False)
    return tf.ensure_shape(tf.cond(tf.io.is_jpeg(serialized), jpeg, other), [None, None, 3])

  return decode()


def _indexed(prefix, index):
  return tf.strings.join([prefix, tf.strings.as_string(index, width=5, fill='0')])


_plain = tf.autograph.experimental.do_not_convert
