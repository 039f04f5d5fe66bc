"""tensorflow-datasets builder `pix2pix`: the official pix2pix datasets, A and B split.

Importing this module registers the builder:

  import tensorflow_datasets as tfds
  import jaxgan.data.pix2pix_tfds  # noqa: F401
  tfds.builder('pix2pix/facades').download_and_prepare()

or build through the pipeline with `--config.data.source=tfds
--config.data.tfds_name=pix2pix/facades`. Configs: the archives the official
datasets/download_pix2pix_dataset.sh fetches, except cityscapes (its licence forbids
redistribution; the official script sends users to cityscapes-dataset.com).

Each archive holds <name>/<split>/*.jpg with A (left half) and B (right half) side by side; the
builder splits them as the official AlignedDataset does (A gets the left int(w / 2) columns) and
stores both halves as PNG, losslessly, so pixels equal PIL's decoding of the original JPEG.
Splits are those the archive has (train and val; facades and night2day also test). An archive
already on disk (e.g. on an offline machine) can be given as `manual_dir/<name>.tar.gz`.
"""

import io

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

_URL = 'http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz'
_SPLITS = ('train', 'val', 'test')
_IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')
NAMES = {
  'facades': 'CMP Facades: architectural labels <-> photos (400 train, 100 val, 106 test).',
  'maps': 'Google Maps: map tiles <-> aerial photos around New York (1096 train, 1098 val).',
  'edges2shoes': 'UT Zappos50K shoes: HED edges <-> photos (49825 train, 200 val).',
  'edges2handbags': 'Amazon handbags (iGAN): HED edges <-> photos (138567 train, 200 val).',
  'night2day': 'Transient Attributes webcams: night <-> day (17823 train, 10 val, 2287 test).',
}

_CITATION = """\
@inproceedings{isola2017image,
  title={Image-to-Image Translation with Conditional Adversarial Networks},
  author={Isola, Phillip and Zhu, Jun-Yan and Zhou, Tinghui and Efros, Alexei A},
  booktitle={Computer Vision and Pattern Recognition (CVPR)},
  year={2017}
}
"""


class Pix2pix(tfds.core.GeneratorBasedBuilder):
  """The pix2pix paired datasets: features A, B (uint8 RGB) and file_name."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release: A and B split from the side-by-side images.'}
  BUILDER_CONFIGS = [
    tfds.core.BuilderConfig(name=name, description=text) for name, text in NAMES.items()
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
    'Optional: place the official <name>.tar.gz in manual_dir to skip the download.'
  )

  def _info(self):
    return self.dataset_info_from_configs(
      description='Paired image-to-image translation datasets of pix2pix (Isola et al. 2017).',
      features=tfds.features.FeaturesDict(
        {
          'A': tfds.features.Image(shape=(None, None, 3), encoding_format='png'),
          'B': tfds.features.Image(shape=(None, None, 3), encoding_format='png'),
          'file_name': tfds.features.Text(),
        }
      ),
      supervised_keys=('A', 'B'),
      homepage='https://phillipi.github.io/pix2pix/',
      citation=_CITATION,
    )

  def _split_generators(self, dl_manager):
    name = self.builder_config.name
    root = self._archive(dl_manager, name) / name
    splits = {s: self._generate_examples(root / s, s) for s in _SPLITS if (root / s).is_dir()}
    if not splits:
      raise ValueError(f'{root}: none of the folders {", ".join(_SPLITS)} in the archive')
    return splits

  def _archive(self, dl_manager, name):
    """The extracted archive: from manual_dir when it holds it, else downloaded."""
    try:
      local = dl_manager.manual_dir / f'{name}.tar.gz'
      if local.exists():
        return dl_manager.extract(local)
    except AssertionError:  # tfds: no manual_dir, or an empty one
      pass
    return dl_manager.download_and_extract(_URL.format(name=name))

  def _generate_examples(self, directory, split):
    name = self.builder_config.name
    for path in sorted(directory.iterdir()):
      if path.suffix.lower() not in _IMAGE_SUFFIXES:
        continue
      with path.open('rb') as f:
        ab = np.asarray(Image.open(io.BytesIO(f.read())).convert('RGB'))
      half = ab.shape[1] // 2  # official int(w / 2): A is the left half
      yield (
        path.name,
        {
          'A': ab[:, :half],
          'B': ab[:, half:],
          'file_name': f'{name}/{split}/{path.name}',
        },
      )
