"""A recipe can widen one protocol range (``protocol_ranges``) and nothing else changes."""

import numpy as np
import pytest

from napari_evai2i.data.physics import SAMPLING_RANGES, Protocol, check_protocol_ranges, csf_null_ti, sampling_spec
from napari_evai2i.data.simulated_dataset import SimulatedDataConfig, SimulatedPairs
from napari_evai2i.train.config import load_train_config

WIDE_TI = {"FLAIR": {"ti_factor_of_csf_null": (0.88, 1.3)}}


def _flair_factors(ranges, n=300):
    rng = np.random.default_rng(3)
    protocols = [Protocol.sample(rng, "FLAIR", ranges=ranges) for _ in range(n)]
    return np.array([p.ti / csf_null_ti(p.tr, p.field_strength) for p in protocols])


def test_widened_flair_inversion_times_reach_the_clinical_preset():
    default, wide = _flair_factors(None), _flair_factors(WIDE_TI)
    preset_factor = 2500 / csf_null_ti(9000, 1.5)           # the FLAIR preset: TI 2500 ms, TR 9000 ms
    assert default.max() < preset_factor < wide.max() <= 1.3 + 0.01   # rounding to 10 ms
    assert wide.min() >= 0.88 - 0.01


def test_no_override_draws_exactly_the_table():
    a = [Protocol.sample(np.random.default_rng(5), "FLAIR") for _ in range(1)]
    b = [Protocol.sample(np.random.default_rng(5), "FLAIR", ranges={}) for _ in range(1)]
    assert a == b
    assert sampling_spec("FLAIR") == dict(SAMPLING_RANGES["FLAIR"])
    items = [SimulatedPairs(SimulatedDataConfig(protocol_ranges=r)).draw_protocols(np.random.default_rng(7), 10**6)
             for r in ({}, {"T2W": {"te": (40, 140)}})]       # the table's own range again
    assert items[0] == items[1]


def test_the_dataset_draws_from_the_recipe_ranges():
    pairs = SimulatedPairs(SimulatedDataConfig(protocol_ranges=WIDE_TI))
    factors = [p.ti / csf_null_ti(p.tr, p.field_strength) for i in range(300)
               for p in pairs.draw_protocols(np.random.default_rng(i), 10**6) if p.sequence_type == "IR"]
    assert max(factors) > 1.15


@pytest.mark.parametrize("ranges, message", [
    ({"FLAIRX": {"te": [80, 140]}}, "names 'FLAIRX'"),
    ({"FLAIR": {"ti": [2000, 2500]}}, "'ti' of FLAIR cannot be set"),
    ({"FLAIR": {"te": [140, 80]}}, "low <= high"),
    ({"FLAIR": {"te": "long"}}, "two numbers"),
    ({"FLAIR": [0.9, 1.3]}, "must map a kind"),
])
def test_bad_ranges_name_the_problem(ranges, message):
    with pytest.raises(ValueError, match=message):
        check_protocol_ranges(ranges)


def test_recipe_key_is_checked_when_the_recipe_loads(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("protocol_ranges: {FLAIR: {ti_factor_of_csf_null: [1.3, 0.88]}}\n")
    with pytest.raises(ValueError, match="low <= high"):
        load_train_config(recipe)
    recipe.write_text("protocol_ranges: {FLAIR: {ti_factor_of_csf_null: [0.88, 1.3]}}\n")
    assert load_train_config(recipe).protocol_ranges == {"FLAIR": {"ti_factor_of_csf_null": [0.88, 1.3]}}
