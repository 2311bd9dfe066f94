"""The volume suite's metrics and its held-out volumes (small sizes; the real run is a recipe)."""

import numpy as np

from napari_evai2i.engine import load_model
from napari_evai2i.train import volume_quality as vq


def test_metrics_are_perfect_on_the_truth_and_see_stripes():
    case = vq.held_out_volume(0, "T1W", "T2W", size=48, depth_mm=24)
    assert case["src"].shape == case["tgt"].shape == case["brain"].shape == (23, 48, 48)
    assert case["brain"].mean() > 0.3
    perfect = vq.volume_scores(case["tgt"], case["tgt"], case["brain"])
    assert perfect["through_plane_gradient_error"] == 0 and perfect["ssim"] > 0.999
    assert all(perfect[f"dice_class{k}"] == 1 for k in range(3))
    gains = np.random.default_rng(0).uniform(0.8, 1.2, size=(23, 1, 1)).astype(np.float32)
    striped = vq.volume_scores(case["tgt"] * gains, case["tgt"], case["brain"])    # a gain per slice
    assert striped["through_plane_gradient_error"] > 0.01 and striped["reformatted_ssim"] < perfect["reformatted_ssim"]


def test_thick_slices_average_slabs_and_keep_the_truth_at_their_centres():
    case = vq.held_out_volume(1, "T1W", "T2W", size=48, depth_mm=24)
    thick = vq.thick_slices(case, 5)
    assert thick["src"].shape == (4, 48, 48) and np.allclose(thick["src"][0], case["src"][:5].mean(0), atol=1e-5)
    assert np.array_equal(thick["tgt"][1], case["tgt"][7])


def test_uncertainty_scores_reward_a_map_that_tracks_the_error():
    rng = np.random.default_rng(0)
    error = rng.random((16, 16, 16)).astype(np.float32)
    brain = np.ones(error.shape, bool)
    good = vq.uncertainty_scores(error + 0.1 * rng.random(error.shape), error, brain)
    blind = vq.uncertainty_scores(rng.random(error.shape), error, brain)
    assert good["spearman_voxel"] > 0.9 and abs(blind["spearman_voxel"]) < 0.1
    assert good["error_top_decile"] > 1.5 * good["error_rest"]


def test_the_suite_runs_end_to_end_on_a_tiny_model():
    report = vq.volume_report(load_model("tiny-random", "cpu"), cases=1, size=48, depth_mm=24,
                              tasks=("T1w->T2w",), uncertainty_passes=3)
    entry = report["tasks"]["T1w->T2w"]
    assert set(entry["1 x 1 x 1 mm"]) == set(vq.VARIANTS)
    assert entry["1 x 1 x 1 mm"]["2-D (axis 0)"]["time_vs_2d"] == 1.0
    assert "skipped" in entry["plane_plans"]["1 x 1 x 5 mm"]
    assert set(entry["uncertainty"]) == {"3 passes, planes 1", "3 passes, planes 3"}
    assert {"TE", "TR"} <= set(report["tag_effects"]["T2W"]) and "TI" in report["tag_effects"]["FLAIR"]
    assert "CSF change (signal equation)" in report["tag_effects"]["TE 60 -> 120 ms, spin echo"]
    assert report["real_t1_stripe_index"]


def test_stripe_index_is_one_for_the_input_and_rises_with_per_slice_gains():
    case = vq.held_out_volume(0, "T1W", "T2W", size=48, depth_mm=24)
    assert vq.stripe_index(case["tgt"], case["tgt"], case["brain"]) == 1.0
    gains = np.random.default_rng(1).uniform(0.8, 1.2, size=(23, 1, 1)).astype(np.float32)
    assert vq.stripe_index(case["tgt"] * gains, case["tgt"], case["brain"]) > 1.5
