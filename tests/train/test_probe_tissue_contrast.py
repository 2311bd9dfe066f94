"""The tissue-contrast probe's source classes: three levels of a source inside the brain, named by
the source's own contrast."""

import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_tissue_contrast.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_tissue_contrast import pure_means, ratios, source_masks  # noqa: E402


def _case() -> dict:
    rng = np.random.default_rng(0)
    source = np.repeat([0.2, 0.5, 0.8], 300).reshape(30, 30) + rng.normal(0, 0.05, (30, 30))
    brain = np.ones((30, 30), bool)
    brain[:, :2] = False                       # outside the brain: never in a class
    return {"src": source.astype(np.float32), "brain": brain}


def test_a_t1w_source_is_dark_csf_grey_and_bright_white():
    case = _case()
    masks = source_masks(case, "T1W")
    assert masks["CSF"][:10, 2:].mean() > 0.98 and masks["GM"][10:20, 2:].mean() > 0.98
    assert masks["WM"][20:, 2:].mean() > 0.98
    assert not any(m[:, :2].any() for m in masks.values())
    assert sum(m.sum() for m in masks.values()) == case["brain"].sum()


def test_a_t2w_source_is_named_the_other_way_round_and_ratios_follow_the_image():
    case = _case()
    masks = source_masks(case, "T2W")
    assert masks["WM"][:10, 2:].mean() > 0.98 and masks["CSF"][20:, 2:].mean() > 0.98
    means = pure_means(case["src"], case, masks)
    assert ratios(means)["CSF/GM"] > 1 and ratios(means)["GM/WM"] > 1        # on T2w: CSF > GM > WM
