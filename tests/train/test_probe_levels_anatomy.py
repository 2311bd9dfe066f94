"""The levels / anatomy split of a translation, on a real held-out case: the truth splits into its
own physics, a change of one tissue's level is levels only, and a shift of the image is anatomy only."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_levels_anatomy.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_levels_anatomy import decompose, main, tissue_design  # noqa: E402


@pytest.fixture(scope="module")
def case():
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase

    return HeldOutCase(6, CASE_SIZE).render("T1W", "FLAIR", whole_head=True)


def test_the_truth_regresses_onto_its_own_tissue_signals(case):
    from napari_evai2i.data.head import ALL_TISSUE_NAMES

    split = decompose(case["tgt"], case["tgt"], case["fractions"], case["brain"])
    assert split["ssim"] == pytest.approx(1.0) and split["ssim_levels_only"] == pytest.approx(1.0)
    assert split["ssim_anatomy_only"] == pytest.approx(1.0)
    # the regressed GM/WM is the ratio of the truth's pure-tissue values where they are pure
    f = case["fractions"]
    pure = {name: (f[ALL_TISSUE_NAMES.index(name)] > 0.95) & case["brain"] for name in ("GM", "WM")}
    assert pure["GM"].sum() > 10 and pure["WM"].sum() > 10
    nearly_pure = case["tgt"][pure["GM"]].mean() / case["tgt"][pure["WM"]].mean()
    assert split["truth GM/WM"] == pytest.approx(nearly_pure, rel=0.03)
    assert split["translation GM/WM"] == pytest.approx(split["truth GM/WM"], rel=1e-6)


def test_a_tissue_drawn_too_dark_is_a_level_error_and_a_shifted_image_an_anatomy_error(case):
    from napari_evai2i.data.head import ALL_TISSUE_NAMES

    brain = case["brain"]
    levels, *_ = np.linalg.lstsq(tissue_design(case["fractions"], brain), case["tgt"][brain], rcond=None)
    gm = case["fractions"][ALL_TISSUE_NAMES.index("GM")]
    darker = case["tgt"] - 0.15 * levels[0] * gm            # grey matter's level 15 % down, anatomy exact
    split = decompose(darker, case["tgt"], case["fractions"], case["brain"])
    assert split["ssim_anatomy_only"] == pytest.approx(1.0, abs=1e-4)
    assert split["ssim_levels_only"] < 0.99
    assert split["translation GM/WM"] == pytest.approx(0.85 * split["truth GM/WM"], rel=0.02)
    shifted = np.roll(case["tgt"], 2, axis=1)               # the right levels, drawn 2 pixels off
    split = decompose(shifted, case["tgt"], case["fractions"], case["brain"])
    assert split["ssim_anatomy_only"] < split["ssim_levels_only"]
    assert tissue_design(case["fractions"], case["brain"]).shape == (case["brain"].sum(), 4)


def test_the_command_reports_both_prompt_settings_for_a_real_checkpoint(tmp_path):
    out = tmp_path / "split.json"
    assert main(["demo", "--first-case", "6", "--cases", "1", "--tasks", "T1w->FLAIR", "--json", str(out)]) == 0
    cells = json.loads(out.read_text())["models"]["demo"]["T1w->FLAIR"]
    assert set(cells) == {"no source prompt", "source prompt"}
    for cell in cells.values():
        assert 0 < cell["ssim"] < 1 and cell["ssim"] <= min(cell["ssim_levels_only"], cell["ssim_anatomy_only"]) + 0.05
    with pytest.raises(SystemExit):
        main(["demo", "--tasks", "T1w->CT"])


def test_the_source_at_its_training_level_is_translated_at_scale_one(tmp_path):
    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.normalization import IntensityScale
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase, _translate, slice_scores

    out = tmp_path / "split.json"        # case 485: a sagittal slice near the midline, its own level 14 % low
    assert main(["demo", "--first-case", "485", "--cases", "1", "--tasks", "T1w->FLAIR", "--json", str(out)]) == 0
    cell = json.loads(out.read_text())["models"]["demo"]["T1w->FLAIR"]["source prompt"]
    translator = load_model("demo", "cpu")
    case = HeldOutCase(485, CASE_SIZE).render("T1W", "FLAIR", whole_head=True)
    fitted = translator.fit_scale(case["src"], "MR", (1.0, 1.0))
    assert cell["per_case"]["engine_scale"] == [round(fitted.scale, 4)] and fitted.scale < 0.9
    np.testing.assert_array_equal(_translate(translator, case, True, scale=fitted), _translate(translator, case, True))
    at_one = _translate(translator, case, True, scale=IntensityScale("MR", 0.0, 1.0, 0.0))
    assert cell["ssim_source_at_training_level"] == round(slice_scores(at_one, case["tgt"], case["brain"])["ssim"], 4)
    assert cell["ssim_source_at_training_level"] > cell["ssim"] + 0.05
