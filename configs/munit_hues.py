"""MUNIT on the built-in unpaired task with a continuous style (32 px, no download).

  python train.py --model=munit --config=configs/munit_hues.py --workdir=runs/munit_hues
  python eval.py --workdir=runs/munit_hues --nofid --nolpips

`configs/munit_shapes.py` with domain B's colour drawn from a continuous family (hue 0 to 240
degrees, HSV value 0.5 to 1; jaxgan/data/synthetic_munit.py, 'shapes_unpaired_hues') instead of
4 colours: A -> B is scored on 6 bins of the family, as BicycleGAN's shapes_hues
(docs/munit.md).
"""

from configs import munit_shapes


def get_config(arg=None):
  config = munit_shapes.get_config(arg)
  config.name = config.name.replace('shapes_munit', 'hues_munit')
  config.data.synthetic = 'shapes_unpaired_hues'
  # As strict as shapes_hues' 0.05 on these smaller shapes (16 % of the image against 13 to
  # 44 %): flat fills of saturation 0.7 pass 62 % of the time (72 % there), 0.5 25 % (29 %).
  config.eval.mode_threshold = 0.03
  return config
