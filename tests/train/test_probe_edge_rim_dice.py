"""The edge probe's scores: a rim drawn darker than the truth shows in the rim's error and not
inside, and the inner Dice leaves that rim out."""

import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_edge_rim_dice.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_edge_rim_dice import edge_scores  # noqa: E402


def _truth():
    rng = np.random.default_rng(0)
    truth = np.zeros((48, 48), np.float32)
    truth[8:40, 8:40] = np.repeat([0.3, 0.6, 0.9], 11)[:32][None, :]    # three tissue bands
    truth[8:40, 8:40] += rng.normal(0, 0.01, (32, 32)).astype(np.float32)
    brain = np.zeros((48, 48), bool)
    brain[8:40, 8:40] = True
    return truth, brain


def test_a_dark_rim_costs_the_rim_and_not_the_inside():
    truth, brain = _truth()
    exact = edge_scores(truth, truth, brain)
    assert exact["dice"] > 0.99 and exact["dice_inner"] > 0.99 and abs(exact["error_rim"]) < 1e-6
    from scipy import ndimage

    rim = brain & ~ndimage.binary_erosion(brain, iterations=2)
    dark_rim = np.where(rim, truth * 0.5, truth)
    scores = edge_scores(dark_rim, truth, brain)
    # both are brain-normalised, so the dark rim lifts the inside a little; it stays far smaller
    assert scores["error_rim"] < -0.05 and abs(scores["error_inner"]) < 0.1 * abs(scores["error_rim"])
    assert scores["dice_inner"] > 0.99 > scores["dice"]
