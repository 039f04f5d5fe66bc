"""MUNIT on the built-in unpaired multimodal shapes task (32 px, no download).

  python train.py --model=munit --config=configs/munit_shapes.py --workdir=runs/munit_demo
  python eval.py --workdir=runs/munit_demo   # random styles, mode coverage, content kept

Domain A: shapes in grey; domain B: the same kind of shapes, all of a scene in one of 4
colours (jaxgan/data/synthetic_munit.py). The official MUNIT objective, optimiser and nets, with
the loss weights of the official summer2winter_yosemite256 yaml (edges2shoes' plus the explicit
style-augmented cycle, recon_x_cyc_w 10, which ties a translation's shapes to its input's),
narrowed to 32 px and 16 channels (the style MLP keeps its 256); the lr is 4x the official
one, halved after 3000 and 6000 of the 8000 steps (the official halves every 100k of 1M), and
the discriminator has 3 layers and 2 scales (3 x 4 layers would pool 32 px away). Time and what
it reaches: docs/munit.md.
"""

from configs import common, munit_edges2shoes, tiny


def get_config(arg=None):
  config = munit_edges2shoes.munit_defaults(common.get_config())
  config.name = 'shapes_munit'
  # mlp_dim as the official yamls: for the same time as 32, the shapes come out truer (content
  # IoU 0.82 to 0.87 against 0.76 to 0.80 over 3 seeds), the colours as well (docs/munit.md).
  config.gen.update(dim=16, mlp_dim=256, style_dim=8, n_downsample=2, n_res=2)
  config.dis.update(dim=16, n_layer=3, num_scales=2)
  config.recon_x_cyc_w = 10.0  # as summer2winter_yosemite256_folder.yaml
  config.lr = 4e-4
  config.num_steps = 8000
  config.step_size = 3000  # 4e-4, 2e-4, then 1e-4 for the last 2000: the halvings sharpen
  config.batch_size = 1

  data = config.data
  data.source = 'synthetic'
  data.synthetic = 'shapes_unpaired_multimodal'
  data.dataset_mode = 'unaligned'
  data.synthetic_size = 32
  data.preprocess = 'none'
  data.load_size = 32
  data.crop_size = 32
  data.no_flip = True  # the task is flip-invariant anyway; keeps the scenes as drawn

  config.log_every = 100
  config.sample_every = 1000
  config.checkpoint_every = 2000
  config.num_samples = 8
  config.eval.num_styles = 8  # random styles per test input
  config.eval.mode_threshold = (
    0.02  # MAE within which a sample is that mode (distinct modes: >= 0.047 apart)
  )
  # The colour alone: per-pixel MAE inside the shapes less their outline (the 4 colours are
  # >= 0.67 apart per pixel; an orange between red and yellow is 0.33 from both).
  config.eval.interior_threshold = 0.1
  if tiny.parse_arg(arg):
    munit_edges2shoes.shrink(config)
    # The tiny run tests the loop, not the objective (tests/test_munit.py checks every loss term,
    # the cycle one included); without the cycle's two extra decodes it compiles a third faster.
    config.recon_x_cyc_w = 0.0
  return config
