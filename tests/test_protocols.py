"""The papers' evaluation protocols (eval.py --protocol): what each sets, and refusals."""

import pytest

from configs import bicyclegan_edges2shoes, cut_horse2zebra, munit_edges2shoes
from jaxgan.errors import ConfigError
from jaxgan.eval import protocols


def test_every_protocol_names_its_source_and_the_reported_score():
  for name, protocol in protocols.PROTOCOLS.items():
    assert protocol.source and protocol.what and protocol.models, name
    assert protocol.report.startswith('fid_kid.' if protocol.fid else 'AtoB.diversity.'), name


def test_a_protocol_for_another_model_or_an_unknown_one_is_one_line():
  with pytest.raises(ConfigError, match='scores cut, not cyclegan; for cyclegan: cyclegan_fid'):
    protocols.get('cut_fid', 'cyclegan')
  with pytest.raises(ConfigError, match='unknown; one of cut_fid'):
    protocols.get('fid', 'cut')


def test_fid_protocol_translates_all_of_the_test_split_in_train_mode():
  config = cut_horse2zebra.get_config()
  config.eval.num_test, config.eval.split = 50, 'val'
  protocols.apply(protocols.get('cut_fid', 'cut'), config)
  assert (config.eval.num_test, config.eval.split, config.eval.eval_mode) == (0, 'test', False)


@pytest.mark.parametrize(
  ('name', 'module', 'codes'),
  [
    ('bicyclegan_lpips', bicyclegan_edges2shoes, 'n_samples'),
    ('munit_lpips', munit_edges2shoes, 'num_styles'),
  ],
)
def test_diversity_protocols_take_100_inputs_20_codes_alexnet_v0(name, module, codes):
  config = module.get_config()
  config.eval.lpips_version, config.eval.lpips_net = '0.1', 'vgg'
  protocols.apply(protocols.get(name, config.model), config)
  assert config.eval.num_test == 100 and config.eval[codes] == 20
  assert (config.eval.lpips_net, config.eval.lpips_version) == ('alex', '0.0')


def test_the_reported_value_is_read_from_the_results():
  protocol = protocols.get('cyclegan_fid', 'cyclegan')
  assert protocols.reported(protocol, {'fid_kid': {'AtoB': {'fid': 62.1}}}) == 62.1
  assert protocols.reported(protocol, {'AtoB': {}}) is None
