"""The correction below the CSF null (``below_null_correction``): which prompts it acts on, and that
grown from the shipped demo it leaves every other prompt's style exactly as the demo's."""

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


def test_grown_from_the_demo_it_changes_only_prompts_below_the_null():
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model import create_model, load_pretrained
    from napari_evai2i.model.generator import adds_below_null_correction, load_adding_below_null_correction

    demo, _ = load_pretrained(demo_checkpoint_path(), "cpu")
    demo = demo.float().eval()
    config = dataclasses.replace(demo.config, generator=dataclasses.replace(demo.config.generator,
                                                                             below_null_correction=True))
    assert adds_below_null_correction(demo.config.generator, config.generator)
    grown = create_model(config, seed=0).eval()
    grown.dclip.load_state_dict(demo.dclip.state_dict())
    load_adding_below_null_correction(grown.generator, demo.generator.state_dict())
    kept = [preset(k).prompt("axial") for k in ("T1w", "T2w", "PDw", "FLAIR", "STIR", "MPRAGE")]
    below = [FLAIR.replace(ti=ti).prompt("axial") for ti in (1700.0, 1950.0)]
    with torch.no_grad():
        before = demo.prompt_styles(kept + below, "cpu")
        assert torch.equal(grown.prompt_styles(kept + below, "cpu"), before)
        torch.manual_seed(0)
        torch.nn.init.normal_(grown.generator.below_null_correction[-1].weight, std=0.5)   # as if fitted
        after = grown.prompt_styles(kept + below, "cpu")
        assert torch.equal(after[:len(kept)], before[:len(kept)])                        # bit for bit
        moved = (after[len(kept):] - before[len(kept):]).norm(dim=1)
    assert (moved > 1e-3).all() and moved[0] > moved[1]      # further below the null, a larger correction
    with pytest.raises(ValueError, match="cannot add the below-null correction"):
        load_adding_below_null_correction(grown.generator, {})


def test_the_correction_needs_the_number_network():
    from napari_evai2i.model import get_preset

    with pytest.raises(ValueError, match="below_null_correction reads what the number network reads"):
        dataclasses.replace(get_preset("tiny").generator, below_null_correction=True)
