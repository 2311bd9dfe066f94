"""The correction below the CSF null (``below_null_correction``): which prompts it acts on, that it
grows onto a model at zero and leaves every other prompt's style exactly as that model's. (Demo v9
was v8 with it; v10 folds it into the network of ``prompt_physics``.)"""

import dataclasses

import pytest
import torch

from napari_evai2i.data._signal import csf_null_ti
from napari_evai2i.data.physics import preset
from napari_evai2i.model.prompt_numbers import BELOW_NULL_FLOOR, below_null_depth

FLAIR = preset("FLAIR")


def test_the_depth_is_how_far_below_the_null_an_inversion_recovery_ti_lies():
    null = csf_null_ti(FLAIR.tr, 1.5)
    texts = [FLAIR.replace(ti=1950.0).prompt("axial"), FLAIR.replace(ti=null + 1).prompt("axial"),
             FLAIR.prompt("axial"), FLAIR.replace(ti=1950.0, field_strength=3.0).prompt("axial"),
             FLAIR.replace(ti=BELOW_NULL_FLOOR * null - 5).prompt("axial"),
             preset("STIR").prompt("axial"), preset("MPRAGE").replace(ti=700.0).prompt("axial"),
             preset("T2w").prompt("axial"), "flair with TI 1950 please"]
    depth = below_null_depth(texts).tolist()
    assert depth[0] == pytest.approx(1 - 1950 / null)
    assert depth[1] == depth[2] == 0                          # at or above the null: nothing
    assert depth[3] == pytest.approx(1 - 1950 / csf_null_ti(FLAIR.tr, 3.0)) and depth[3] > depth[0]
    assert depth[4:] == [0] * 5                               # past the floor, a STIR, an MPRAGE, no TI, free text


KEPT = [preset(k).prompt("axial") for k in ("T1w", "T2w", "PDw", "FLAIR", "STIR", "MPRAGE")]
BELOW = [FLAIR.replace(ti=ti).prompt("axial") for ti in (1700.0, 1950.0)]


def test_grown_from_a_model_without_it_the_correction_starts_at_zero_and_acts_only_below_the_null():
    from napari_evai2i.model import create_model, get_preset
    from napari_evai2i.model.generator import added_zero_start_parts, load_adding_zero_start_parts

    tiny = get_preset("tiny")
    apart = dataclasses.replace(tiny, generator=dataclasses.replace(
        tiny.generator, prompt_numbers=True, prompt_numbers_apart=True, prompt_number_width=32,
        prompt_number_quantities=("repetition_time", "echo_time", "inversion_time", "flip_angle")))
    corrected = dataclasses.replace(apart, generator=dataclasses.replace(apart.generator, below_null_correction=True))
    assert added_zero_start_parts(apart.generator, corrected.generator) == ("below_null_correction",)
    assert added_zero_start_parts(corrected.generator, corrected.generator) == ()
    old = create_model(apart, seed=0).eval()
    torch.manual_seed(0)
    torch.nn.init.normal_(old.generator.prompt_numbers[-1].weight, std=0.5)     # a number network that does something
    grown = create_model(corrected, seed=1).eval()
    grown.dclip.load_state_dict(old.dclip.state_dict())
    load_adding_zero_start_parts(grown.generator, old.generator.state_dict(), ("below_null_correction",))
    with torch.no_grad():
        before = old.prompt_styles(KEPT + BELOW, "cpu")
        assert torch.equal(grown.prompt_styles(KEPT + BELOW, "cpu"), before)
        torch.nn.init.normal_(grown.generator.below_null_correction[-1].weight, std=0.5)   # as if fitted
        after = grown.prompt_styles(KEPT + BELOW, "cpu")
    assert torch.equal(after[:len(KEPT)], before[:len(KEPT)])                        # bit for bit
    moved = (after[len(KEPT):] - before[len(KEPT):]).norm(dim=1)
    assert (moved > 1e-3).all() and moved[0] > moved[1]      # further below the null, a larger correction
    with pytest.raises(ValueError, match="cannot add below_null_correction"):
        load_adding_zero_start_parts(grown.generator, {}, ("below_null_correction",))


def test_the_correction_needs_the_number_network():
    from napari_evai2i.model import get_preset

    with pytest.raises(ValueError, match="below_null_correction reads what the number network reads"):
        dataclasses.replace(get_preset("tiny").generator, below_null_correction=True)
