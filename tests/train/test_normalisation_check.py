"""The engine fits a volume's level on the whole volume and a lone slice's on that slice alone:
on a held-out volume the first lies near the training level and the second spreads about it."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src_training" / "prepare"))
from normalisation_check import volume_and_slice_levels  # noqa: E402


def test_a_whole_volume_keeps_the_training_level_and_lone_slices_cut_from_it_spread():
    whole, lone = volume_and_slice_levels(0, "T2W")          # T2w: bright CSF moves a slice's core most
    assert abs(np.log(whole)) < 0.05                          # rendered at the training level
    assert len(lone) > 30
    spread = float(np.std(np.log(lone)))
    assert spread > 0.04 and spread > 2 * abs(np.log(whole))
    assert min(lone) < 0.92 and max(lone) > 1.08
