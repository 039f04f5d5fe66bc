"""What a person looks at: sample grids as PNG, HTML pages of them, TensorBoard logs.

Training samples go to `<workdir>/web/images/epochEEE_stepSSSSSSSS.png`, one grid per sample
step (rows = examples, columns = the model's VISUALS), and `<workdir>/web/index.html` shows them
newest first, as the official `web/index.html` does. The page is rebuilt from the files on
disk, so a resumed run keeps the rows of the runs before it.
"""

import html
import os
import pathlib
import re

import numpy as np
import tensorboardX
from PIL import Image

_SAMPLE_RE = re.compile(r'^epoch(\d+)_step(\d+)\.png$')


def to_uint8(images):
  """Maps images in [-1, 1] to uint8 RGB as the official tensor2im does (pix2pix, CycleGAN and
  BicycleGAN's util.py): (x + 1) / 2 * 255 in float32, truncated, so that where the nets agree
  the PNGs are the official ones byte for byte.

  Args:
    images: [..., H, W, C] floats in [-1, 1], C in (1, 3); one channel is shown as gray.

  Returns:
    [..., H, W, 3] uint8.
  """
  images = _rgb(images)
  # The clip only guards values a tanh cannot give (tensor2im would wrap them).
  scaled = (images + np.float32(1)) / np.float32(2) * np.float32(255)
  return np.clip(scaled, 0, 255).astype(np.uint8)


def to_uint8_normalized(image):
  """One image in [-1, 1] to uint8 RGB as the official MUNIT test.py saves its outputs:
  torchvision's save_image(normalize=True) of (x + 1) / 2, which stretches the image's own
  minimum and maximum to 0 and 255, then rounds.

  Args:
    image: [H, W, C] floats, C in (1, 3).
  """
  image = (_rgb(image) + np.float32(1)) / np.float32(2)
  low, high = image.min(), image.max()
  # torchvision takes the range as Python floats and divides by it as a float32 scalar.
  scale = np.float32(max(float(high) - float(low), 1e-5))
  image = (np.clip(image, low, high) - low) / scale
  return np.clip(image * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)


def _rgb(images):
  images = np.asarray(images, np.float32)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  if images.shape[-1] != 3:
    raise ValueError(f'cannot show images with {images.shape[-1]} channels')
  return images


def make_grid(visuals, names=None, num=None):
  """Tiles a batch of visuals: row i is example i, column j the visual `names[j]`.

  Args:
    visuals: dict name -> [N, H, W, C] images in [-1, 1] (all the same H and W).
    names: the columns, in order (default: the dict's order).
    num: show at most this many examples.

  Returns:
    [rows * H, len(names) * W, 3] uint8.
  """
  names = list(visuals) if names is None else list(names)
  columns = [to_uint8(np.asarray(visuals[name])[:num]) for name in names]
  rows = [np.concatenate(row, axis=1) for row in zip(*columns, strict=True)]
  return np.concatenate(rows, axis=0)


def save_png(path, image):
  """Writes a uint8 [H, W, 3] (or [H, W]) array as PNG, creating the directory."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name('.' + path.name + '.tmp')
  Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format='PNG')
  os.replace(tmp, path)  # a reader (a browser on index.html) never sees half a file


class HtmlPage:
  """A page of headed rows of captioned images, like the official util/html.py.

  Args:
    title: the page's title, shown on top.
    refresh: seconds between browser reloads (0: never).
  """

  def __init__(self, title, refresh=0):
    self.title = title
    self.refresh = refresh
    self._body = []

  def add_header(self, text):
    self._body.append(f'<h3>{html.escape(text)}</h3>')

  def add_images(self, images, captions, width=256):
    """Adds one row: `images` (paths relative to the page) with `captions` under them."""
    cells = []
    for src, caption in zip(images, captions, strict=True):
      src = html.escape(str(src), quote=True)
      cells.append(
        '<td style="word-wrap: break-word;" valign="top">'
        f'<a href="{src}"><img src="{src}" style="width:{width}px"></a>'
        f'<p>{html.escape(caption)}</p></td>'
      )
    self._body.append('<table border="1" style="table-layout: fixed;"><tr>')
    self._body.extend(cells)
    self._body.append('</tr></table>')

  def add_grid(self, image, columns, column_width=256):
    """Adds one grid image with its column names above it (one heading per column)."""
    src = html.escape(str(image), quote=True)
    heads = ''.join(f'<th style="width:{column_width}px">{html.escape(c)}</th>' for c in columns)
    self._body.append(
      '<table border="1" style="table-layout: fixed;">'
      f'<tr>{heads}</tr><tr><td colspan="{len(columns)}">'
      f'<a href="{src}"><img src="{src}" style="width:{column_width * len(columns)}px"></a>'
      '</td></tr></table>'
    )

  def render(self):
    head = f'<meta http-equiv="refresh" content="{self.refresh}">' if self.refresh else ''
    return (
      '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
      f'<title>{html.escape(self.title)}</title>{head}</head>\n<body>\n'
      f'<h2>{html.escape(self.title)}</h2>\n' + '\n'.join(self._body) + '\n</body></html>\n'
    )

  def save(self, path):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name('.' + path.name + '.tmp')
    tmp.write_text(self.render())
    os.replace(tmp, path)


def sample_name(epoch, step):
  return f'epoch{epoch:03d}_step{step:08d}.png'


def save_training_sample(web_dir, grid, *, epoch, step, columns, title, column_width=256):
  """Writes a training sample grid and rebuilds `web_dir/index.html`, newest step first.

  Args:
    web_dir: the page's directory; grids go to its `images/`.
    grid: the uint8 grid from `make_grid`.
    epoch, step: shown as the row's title and encoded in the file name.
    columns: the visuals' names, one per grid column.
    title: the page's title (the experiment's name).
    column_width: display width of one grid column, pixels.

  Returns:
    The path of the PNG written.
  """
  web_dir = pathlib.Path(web_dir)
  path = web_dir / 'images' / sample_name(epoch, step)
  save_png(path, grid)
  samples = []
  for file in (web_dir / 'images').iterdir():
    match = _SAMPLE_RE.match(file.name)
    if match:
      samples.append((int(match[2]), int(match[1]), file.name))
  page = HtmlPage(title)
  for s, e, name in sorted(samples, reverse=True):
    page.add_header(f'epoch {e}, step {s}')
    page.add_grid(f'images/{name}', columns, column_width)
  page.save(web_dir / 'index.html')
  return path


class Writer:
  """TensorBoard scalars and images (tensorboardX); a no-op unless `enabled`.

  Args:
    logdir: the event files' directory.
    enabled: False on every process but process 0.
  """

  def __init__(self, logdir, enabled=True):
    self._writer = None
    if enabled:
      self._writer = tensorboardX.SummaryWriter(str(logdir))

  def scalars(self, step, values):
    if self._writer:
      for name, value in values.items():
        self._writer.add_scalar(name, float(value), step)

  def image(self, step, tag, image):
    """Logs a uint8 [H, W, 3] image."""
    if self._writer:
      self._writer.add_image(tag, np.asarray(image), step, dataformats='HWC')

  def flush(self):
    if self._writer:
      self._writer.flush()

  def close(self):
    if self._writer:
      self._writer.close()
