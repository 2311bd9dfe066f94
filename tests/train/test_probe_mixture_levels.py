"""The mixture probe's calibration table tells a head that regresses to the mean from a sharp one."""

import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_mixture_levels.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_mixture_levels import calibration  # noqa: E402


def _fractions(rng: np.random.Generator, n: int = 6000) -> np.ndarray:
    gm = rng.uniform(0, 1, n)
    wm = (1 - gm) * rng.uniform(0, 1, n)
    return np.stack([gm, wm, 1 - gm - wm])


def test_a_head_that_knows_the_fractions_matches_them_in_every_bin():
    fractions = _fractions(np.random.default_rng(0))
    table = calibration(fractions, fractions)
    for rows in table.values():
        assert all(fraction == probability for fraction, probability, _ in rows)
    assert sum(n for _, _, n in table["GM"]) == fractions.shape[1]


def test_a_head_that_shrinks_toward_the_mean_falls_short_in_the_top_bin():
    fractions = _fractions(np.random.default_rng(1))
    shrunk = 0.6 * fractions + 0.4 * fractions.mean(1, keepdims=True)
    top_fraction, top_probability, _ = calibration(shrunk, fractions)["GM"][-1]
    assert top_fraction > 0.9 and top_probability < top_fraction - 0.1
