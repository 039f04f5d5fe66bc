"""Input pipelines: image folders, tfds builders and built-in synthetic sets (see DEVELOPERS.md).

`build(config, split, train=...)` returns a `Dataset` whose `batches()` yields numpy dicts
{'A': [n, H, W, input_nc], 'B': [n, H, W, output_nc]} in [-1, 1]. TensorFlow is imported only
when a pipeline is built, so `jaxgan.data.synthetic` stays light.
"""


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
  """This process's input pipeline for one split; see `jaxgan.data.pipeline.build`."""
  from jaxgan.data import pipeline

  return pipeline.build(
    config,
    split,
    train=train,
    process_index=process_index,
    process_count=process_count,
    seed=seed,
    batch_size=batch_size,
    own_size=own_size,
  )
