"""Our tfds builder `pix2pix` under tfds' own builder test, on a fake extracted archive."""

import tempfile

import pytest
import tensorflow_datasets as tfds
from data_fixtures import SPLITS, write_pix2pix_archive

from jaxgan.data import pix2pix_tfds

pytest.importorskip('dill', reason='tfds.testing needs dill (pip install dill)')


class Pix2pixBuilderTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = pix2pix_tfds.Pix2pix
  BUILDER_CONFIG_NAMES_TO_TEST = ['facades']
  SPLITS = SPLITS
  SKIP_CHECKSUMS = True  # the archives' checksums cannot be recorded offline

  def test_session(self, *args, **kwargs):
    return super().test_session(*args, **kwargs)

  # tf.test.TestCase's session helper (tfds uses it) is named like a test: not one for pytest,
  # which would list it as a skip from inside TensorFlow.
  test_session.__test__ = False

  @classmethod
  def setUpClass(cls):
    cls._example_dir = tempfile.TemporaryDirectory()
    cls.EXAMPLE_DIR = str(write_pix2pix_archive(tfds.core.Path(cls._example_dir.name)))
    super().setUpClass()

  @classmethod
  def tearDownClass(cls):
    super().tearDownClass()
    cls._example_dir.cleanup()
