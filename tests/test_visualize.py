"""Sample grids, the HTML page and the TensorBoard writer."""

import numpy as np
from PIL import Image

from jaxgan import visualize


def test_to_uint8_truncates_as_the_official_tensor2im():
  """(x + 1) / 2 * 255 in float32, then truncated (not rounded): 0 -> 127.5 -> 127."""
  x = np.array([-1.0, -0.99, 0.0, 0.5, 1.0, 2.0]).reshape(1, 6, 1, 1)
  out = visualize.to_uint8(x)
  assert out.dtype == np.uint8 and out.shape == (1, 6, 1, 3)
  np.testing.assert_array_equal(out[0, :, 0, 0], [0, 1, 127, 191, 255, 255])
  assert (out[..., 0] == out[..., 2]).all()  # gray: one value in all three channels
  rs = np.random.RandomState(0)
  x = rs.uniform(-1, 1, (64, 64, 3)).astype(np.float32)
  official = ((x + 1) / 2.0 * 255.0).astype(np.uint8)  # util.tensor2im, float32 throughout
  np.testing.assert_array_equal(visualize.to_uint8(x), official)


def test_to_uint8_normalized_as_munit_save_image():
  """MUNIT's test.py: save_image(normalize=True) stretches min..max to 0..255 and rounds."""
  x = np.array([-0.5, 0.0, 0.5, 0.1]).reshape(1, 4, 1)
  out = visualize.to_uint8_normalized(x)
  # (x + 1) / 2 = .25 .5 .75 .55 -> (. - .25) / .5 = 0 .5 1 .6 -> * 255 + .5, truncated
  np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255, 153])
  flat = visualize.to_uint8_normalized(np.full((2, 2, 3), 0.3))  # no range: 1e-5 floor
  assert (flat == 0).all()


def test_grid_rows_are_examples_columns_are_visuals():
  n, h, w = 3, 4, 5
  real_a = np.full((n, h, w, 1), -1.0)  # black, one channel
  fake_b = np.zeros((n, h, w, 3))
  fake_b[1] = 1.0  # white second example
  real_b = np.stack([np.full((h, w, 3), v) for v in (-1.0, 0.0, 1.0)])
  grid = visualize.make_grid(
    {'real_B': real_b, 'fake_B': fake_b, 'real_A': real_a}, names=['real_A', 'fake_B', 'real_B']
  )
  assert grid.shape == (n * h, 3 * w, 3) and grid.dtype == np.uint8
  assert (grid[:, :w] == 0).all()  # column 0: real_A
  assert (grid[h : 2 * h, w : 2 * w] == 255).all()  # row 1, column 1: fake_B[1]
  assert (grid[:h, w : 2 * w] == 127).all()  # 0 -> 127.5, truncated as tensor2im
  assert (grid[2 * h :, 2 * w :] == 255).all() and (grid[:h, 2 * w :] == 0).all()
  assert visualize.make_grid({'x': real_b}, num=2).shape == (2 * h, w, 3)


def test_training_page_lists_samples_newest_first(tmp_path):
  grid = visualize.make_grid({'real_A': np.zeros((2, 8, 8, 3)), 'fake_B': np.ones((2, 8, 8, 3))})
  for epoch, step in ((1, 100), (1, 200), (2, 300)):
    path = visualize.save_training_sample(
      tmp_path, grid, epoch=epoch, step=step, columns=['real_A', 'fake_B'], title='exp'
    )
  assert path == tmp_path / 'images' / 'epoch002_step00000300.png'
  png = np.asarray(Image.open(path))
  np.testing.assert_array_equal(png, grid)
  page = (tmp_path / 'index.html').read_text()
  names = ['epoch002_step00000300.png', 'epoch001_step00000200.png', 'epoch001_step00000100.png']
  positions = [page.index(f'images/{n}') for n in names]
  assert positions == sorted(positions)
  assert 'epoch 2, step 300' in page and 'real_A' in page and 'fake_B' in page
  assert '<title>exp</title>' in page


def test_html_page_rows_escape_text(tmp_path):
  page = visualize.HtmlPage('a <b>')
  page.add_header('x&y')
  page.add_images(['images/1.png', 'images/2.png'], ['input', 'output'], width=64)
  page.save(tmp_path / 'index.html')
  text = (tmp_path / 'index.html').read_text()
  assert 'a &lt;b&gt;' in text and 'x&amp;y' in text
  assert text.count('<img ') == 2 and 'style="width:64px"' in text


def test_writer_writes_events_only_when_enabled(tmp_path):
  writer = visualize.Writer(tmp_path / 'tb')
  writer.scalars(1, {'loss_G': np.float32(0.5), 'lr': 2e-4})
  writer.image(1, 'samples', np.zeros((4, 6, 3), np.uint8))
  writer.close()
  assert list((tmp_path / 'tb').glob('events.out.tfevents.*'))
  off = visualize.Writer(tmp_path / 'off', enabled=False)
  off.scalars(1, {'loss_G': 1.0})
  off.close()
  assert not (tmp_path / 'off').exists()
