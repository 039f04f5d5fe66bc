"""Loading the reference fixtures of ../shared/parity (see its README), for all parity tests."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Families whose networks are not in jaxgan yet: their fixtures skip with this reason.
PENDING_FAMILIES = {}


# The small-width fixtures every clone carries (tools/make_parity_fixtures.py --set=small).
COMMITTED_DIR = ROOT / 'tests' / 'data' / 'parity'


def parity_dir() -> pathlib.Path:
  """The full-width fixture folder: $JAXGAN_PARITY_DIR, else <repo>/../shared/parity."""
  return pathlib.Path(os.environ.get('JAXGAN_PARITY_DIR', ROOT.parent / 'shared' / 'parity'))


def fixture_paths() -> list[pathlib.Path]:
  """Every *.npz fixture of parity_dir(), sorted; empty if the folder is absent."""
  folder = parity_dir()
  return sorted(folder.glob('*.npz')) if folder.is_dir() else []


def committed_paths() -> list[pathlib.Path]:
  """The committed small fixtures, sorted."""
  return sorted(COMMITTED_DIR.glob('*.npz'))


@dataclasses.dataclass
class Fixture:
  """One fixture: `meta` (dict), `sd` (state_dict, float32), `inputs`/`outputs` (NCHW)."""

  name: str
  meta: dict
  sd: dict[str, np.ndarray]
  inputs: dict[str, np.ndarray]
  outputs: dict[str, np.ndarray]


def read_meta(path: pathlib.Path) -> dict:
  """Only the fixture's `meta`, without reading its (sometimes large) arrays."""
  with np.load(path, allow_pickle=False) as data:
    return json.loads(str(data['meta']))


def load_fixture(path: pathlib.Path) -> Fixture:
  """Reads a fixture, casting the float16 weights to float32."""
  with np.load(path, allow_pickle=False) as data:
    meta = json.loads(str(data['meta']))
    groups = {'sd': {}, 'in': {}, 'out': {}}
    for key in data.files:
      group, _, name = key.partition('/')
      if group in groups:
        value = data[key]
        if np.issubdtype(value.dtype, np.floating):
          value = value.astype(np.float32)
        groups[group][name] = value
  return Fixture(path.stem, meta, groups['sd'], groups['in'], groups['out'])


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
  return np.transpose(x, (0, 2, 3, 1)) if x.ndim == 4 else x


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
  return np.transpose(x, (0, 3, 1, 2)) if x.ndim == 4 else x


def max_error(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
  """(max |got - ref|, the output's scale max(1, max |ref|))."""
  got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
  assert got.shape == ref.shape, f'shape {got.shape}, reference {ref.shape}'
  return float(np.max(np.abs(got - ref))), max(1.0, float(np.max(np.abs(ref))))
