"""The robustness suite: a short run on the shipped demo, and its metrics on known cases."""

import json

import numpy as np
import pytest

from napari_evai2i.train.robustness import (READING_FACTORS, T2_SOURCE_ORDER, TASKS, TISSUE_ORDER, HeldOutCase,
                                            case_anatomy, partial_csf_share, partial_volume_physics, real_anatomy_inputs, real_t1_inputs,
                                            real_t2_inputs, render_fractions, ring_phantom, robustness_report,
                                            t1_tissues, t2_tissues, tissue_dice, tissue_fractions)


def test_tissue_dice_rewards_the_right_contrast_only():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(40, 40))
    image = np.array([0.2, 0.5, 0.9])[labels] + rng.normal(0, 0.02, labels.shape)
    brain = np.ones(labels.shape, bool)
    assert tissue_dice(image, image, brain) == pytest.approx(1.0)
    swapped = np.array([0.5, 0.2, 0.9])[labels]                 # CSF and GM exchanged
    assert tissue_dice(swapped, image, brain) < 0.5


def test_held_out_factors_change_one_thing():
    case = HeldOutCase(0, 160)                                # a whole axial slice at 1 mm
    head = case.render("T1W", "T2W", whole_head=True)
    only = case.render("T1W", "T2W", whole_head=False)
    np.testing.assert_array_equal(head["brain"], only["brain"])            # the same brain
    outside = ~head["brain"]
    assert head["tgt"][outside].sum() > only["tgt"][outside].sum()          # plus a head
    thick = case.render("T1W", "T2W", thickness_mm=5.0)
    np.testing.assert_allclose(thick["tgt"], head["tgt"], atol=1e-6)        # targets stay 1 mm
    crop = case.render("T1W", "T2W", whole_head=True, crop_mm=(80.0, 96.0))
    assert crop["src"].shape == crop["tgt"].shape == crop["brain"].shape == (80, 96)
    for edge in (crop["brain"][0], crop["brain"][-1], crop["brain"][:, 0], crop["brain"][:, -1]):
        assert edge.mean() > 0.5                                            # brain runs to every edge


def test_a_lesion_looks_like_grey_matter_on_t1w_and_stands_out_on_t2w():
    def ratios(kind):
        case = HeldOutCase(0, 160).render(kind, "FLAIR", lesions=True)
        wm = case["src"][case["wm"]].mean()
        return case["src"][case["lesion"]].mean() / wm, case["src"][case["gm"]].mean() / wm

    lesion, gm = ratios("T1W")
    assert lesion < 0.9 and abs(lesion - gm) < 0.15        # darker than WM, as dark as GM: ambiguous
    lesion, gm = ratios("T2W")
    assert lesion > 1.5 and lesion > gm + 0.3                # brighter than GM: visible


def test_real_t1_tissues_are_in_t1_order():
    inputs = real_t1_inputs()
    assert inputs, "nibabel ships anatomical.nii"
    for image, _ in inputs.values():
        tissues = t1_tissues(image)
        means = [float(image[tissues[t]].mean()) for t in ("CSF", "GM", "WM")]
        assert means[0] < means[1] < means[2]


def test_real_t2_tissues_are_in_t2_order_and_apart():
    inputs = real_t2_inputs()
    assert inputs, "dipy ships S0_10slices.nii.gz"
    for image, spacing in inputs.values():
        assert image.shape[0] == 10 and spacing[1:] == (2.0, 2.0)
        tissues = t2_tissues(image)
        means = [float(image[tissues[t]].mean()) for t in ("CSF", "GM", "WM")]
        assert means[0] > means[1] > means[2]
        assert not (tissues["CSF"] & tissues["GM"]).any() and not (tissues["GM"] & tissues["WM"]).any()
        assert all(tissues[t][k].any() for t in ("GM", "WM") for k in range(3, 7))   # every middle slice


def test_t2_tissues_find_the_rings_of_a_t2w_phantom():
    t2, truth = ring_phantom("T2W")
    tissues = t2_tissues(t2)
    # T2w's GM-WM step is small beside CSF's, so the WM mask takes in some of the blurred WM/GM edge
    for tissue, share in (("CSF", 0.95), ("GM", 0.9), ("WM", 0.85)):
        mask = tissues[tissue]
        assert mask.sum() > 50 and (mask & truth[tissue]).sum() >= share * mask.sum(), tissue


def test_partial_volume_physics_finds_what_the_masks_really_hold():
    t1 = ring_phantom("T1W")[0]
    tissues = t1_tissues(t1)
    for kind in TISSUE_ORDER:
        target = ring_phantom(kind)[0]
        truth = target[tissues["CSF"]].mean() / target[tissues["GM"]].mean()
        estimate = partial_volume_physics(t1, tissues, kind)
        assert estimate == pytest.approx(truth, rel=0.03)
    # the masks are not pure: on FLAIR their truth is far from the pure tissues' ratio
    from napari_evai2i.data.physics import PRESETS, tissue_parameters

    pure = PRESETS["FLAIR"].tissue_signals(tissue_parameters(1.5))
    flair = ring_phantom("FLAIR")[0]
    assert flair[tissues["CSF"]].mean() / flair[tissues["GM"]].mean() > 1.3 * pure["CSF"] / pure["GM"]


def test_tissue_fractions_of_a_t1w_phantom_render_its_other_contrasts():
    from scipy import ndimage

    t1, rings = ring_phantom("T1W")
    tissues = t1_tissues(t1)
    fractions = tissue_fractions(t1, tissues, "T1")
    brain = tissues["brain"]
    total = fractions["CSF"] + fractions["GM"] + fractions["WM"]
    assert np.allclose(total[brain], 1) and not total[~brain].any()
    assert all((f >= 0).all() and (f <= 1).all() for f in fractions.values())
    for tissue, mask in rings.items():                  # each ring's core reads as that tissue
        core = ndimage.binary_erosion(mask, iterations=2) & brain
        assert fractions[tissue][core].mean() > 0.9, tissue
    for kind in ("T2W", "FLAIR", "PDW"):                # and renders the phantom of another contrast
        truth = ring_phantom(kind)[0][brain]
        assert np.abs(render_fractions(fractions, kind)[brain] - truth).mean() < 0.03 * truth.mean(), kind


def test_real_anatomy_reaches_the_edges_of_a_crop_and_is_scored_inside_the_brain():
    inputs = real_anatomy_inputs()
    crop = next(v for name, v in inputs.items() if name.startswith("nibabel"))
    spacing, fractions = crop
    tissue = fractions["CSF"] + fractions["GM"] + fractions["WM"]
    assert spacing == (2.0, 2.0, 2.0)
    # nibabel's crop is tissue to its borders, so is its rendered anatomy; scoring keeps off them
    assert (tissue[:, :, 0] > 0.99).mean() > 0.5 and not fractions["brain"][:, :, 0].any()
    assert fractions["brain"].sum() > 10_000 and np.allclose(tissue[fractions["brain"]], 1)
    if any(name.startswith("dipy") for name in inputs):
        small = inputs["dipy t1_coronal_slice.npy (2 mm crop inside the brain)"]
        assert small[0] == (2.0, 2.0) and small[1]["GM"].shape == (40, 48)


@pytest.mark.slow
def test_short_suite_on_the_demo(tmp_path):
    from napari_evai2i.engine import load_model

    report = robustness_report(load_model("demo", "cpu"), cases=1, size=64, figure=tmp_path / "real_t1.png")
    json.dumps(report)                                                     # it is JSON
    heads = report["held_out_heads"]
    assert set(TASKS) <= set(heads)
    for task in TASKS:
        for scores in heads[task].values():
            assert 0 <= scores["dice"] <= 1 and -1 <= scores["ssim"] <= 1
    assert set(report["anatomy_oracle"]) == set(TASKS)
    lesions = heads["lesions"]
    assert set(lesions) == {"T1w->T2w", "T1w->FLAIR", "T2w->FLAIR"}
    for entry in lesions.values():
        assert {"lesion_to_wm_source", "gm_to_wm_truth", "relative_error"} <= set(entry)
    for name, entry in report["real_t1"].items():
        if name != "figure":
            for key in ("no source prompt", "source prompt", "source read from the image"):
                assert set(entry[key]) == {"T2W", "FLAIR", "PDW"}
                for kind, scores in entry[key].items():        # the masks' partial volume lies between
                    pure = scores["csf_to_gm_physics"]          # the pure tissues and GM's own level
                    assert min(pure, 1) < scores["csf_to_gm_partial_volume_physics"] < max(pure, 1), kind
    check = report["partial_volume_check"]
    assert set(check) == set(TISSUE_ORDER)
    for entry in check.values():
        assert entry["images"] == 3 and 0 <= entry["translation_within_30pct_of_estimate"] <= 1
    assert (tmp_path / "real_t1.png").stat().st_size > 10_000
    reader = report["contrast_reader"]
    assert set(reader["held_out_heads"]) == set(READING_FACTORS)
    for factor in reader["held_out_heads"].values():
        assert factor["images"] == 6 and 0 <= factor["accuracy"] <= factor["weighting_accuracy"] <= 1
    assert len(reader["real"]) == 3 and all(entry["right"] for entry in reader["real"].values())
    (name, real_t2), = report["real_t2"].items()
    assert name.startswith("dipy S0_10slices") and real_t2["prompt read from the image"]      # read as T2w
    for key in ("no source prompt", "source prompt", "source read from the image"):
        assert set(real_t2[key]) == set(T2_SOURCE_ORDER)
        assert all(isinstance(scores["order_ok"], bool) for scores in real_t2[key].values())
    for entry in report["real_t2_mask_check"].values():
        assert entry["images"] == 1 and {"truth", "no source prompt", "source prompt"} < set(entry)
    anatomy = report["real_anatomy"]
    assert len(anatomy) == 4
    for name, entry in anatomy.items():
        for task in TASKS:
            assert {"no source prompt", "source prompt", "source read from the image", "histogram_matching"} < set(entry[task])
    dipy_slice = next(e for n, e in anatomy.items() if n.startswith("dipy t1_coronal_slice.npy (skull"))
    # histogram matching keeps the T1's order, so it cannot make a T2w: the model must beat it there
    assert dipy_slice["T1w->T2w"]["no source prompt"]["ssim"] > dipy_slice["T1w->T2w"]["histogram_matching"]["ssim"] + 0.3
    off = report["off_template"]
    assert set(off) == {"T1W->T2W", "T1W->FLAIR", "T1W->PDW", "T2W->T1W", "T2W->FLAIR", "T2W->PDW"}
    for task, entry in off.items():
        assert entry["truth"]["order_ok"], task                 # the rings hold the orders physics demands
        assert {"no source prompt", "source prompt"} < set(entry)


def test_the_lesion_suite_runs_alone_from_the_command_line(tmp_path):
    from napari_evai2i.train.evaluate import main

    out = tmp_path / "lesions.json"
    assert main(["--suite", "lesions", "--model", "demo", "--device", "cpu", "--cases", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"model", "lesions", "first_case"}        # nothing else was run
    assert set(report["lesions"]) == {"T1w->T2w", "T1w->FLAIR", "T2w->FLAIR"}   # every key a task
    t2w_flair = report["lesions"]["T2w->FLAIR"]
    assert t2w_flair["cases"] == 1 and t2w_flair["lesion_to_wm_source"] > 1.5
    assert report["first_case"] == 0
    later = tmp_path / "lesions_later.json"                          # a later block: other heads
    assert main(["--suite", "lesions", "--model", "demo", "--device", "cpu", "--cases", "1",
                 "--first-case", "7", "--json", str(later)]) == 0
    later_report = json.loads(later.read_text())
    moved = later_report["lesions"]
    assert later_report["first_case"] == 7 and moved["T2w->FLAIR"]["cases"] == 1
    assert moved["T2w->FLAIR"]["lesion_to_wm_truth"] != t2w_flair["lesion_to_wm_truth"]


def test_the_anatomy_oracle_changes_the_tissue_values_only():
    from napari_evai2i.train.robustness import anatomy_oracle

    case = HeldOutCase(1, 96)
    truth = case.render("T1W", "FLAIR")
    textbook = case.render("T1W", "FLAIR", textbook_target=True)
    for key in ("src", "tgt", "brain"):                                    # the case is untouched
        np.testing.assert_array_equal(textbook[key], truth[key])
    assert "tgt_textbook" not in truth
    assert not np.allclose(textbook["tgt_textbook"], truth["tgt"])       # the subject's own values differ
    scores = anatomy_oracle(cases=1, size=96)
    assert set(scores) == set(TASKS)
    for entry in scores.values():
        assert 0.8 < entry["ssim"] < 1 and 0 < entry["dice"] <= 1


def test_the_coarse_factor_renders_the_same_head_on_a_2_mm_grid():
    fine = HeldOutCase(1, 160).render("T1W", "T2W", whole_head=True)
    coarse = HeldOutCase(1, 160).render("T1W", "T2W", whole_head=True, pixel_mm=2.0)
    assert fine["pixel_mm"] == 1.0 and coarse["pixel_mm"] == 2.0
    assert coarse["src"].shape == fine["src"].shape                     # the same pixels, twice the field
    assert 3.0 < fine["brain"].sum() / coarse["brain"].sum() < 5.0       # a quarter of the brain pixels
    crop = HeldOutCase(1, 160).render("T1W", "T2W", whole_head=True, crop_mm=(80.0, 96.0), pixel_mm=2.0)
    assert crop["src"].shape == (40, 48)                                # nibabel's crop is 41 x 33 pixels


def test_the_partial_csf_share_counts_csf_mixed_into_tissue_inside_the_scored_brain():
    from napari_evai2i.data.head import ALL_TISSUE_NAMES

    fractions = np.zeros((len(ALL_TISSUE_NAMES), 2, 4))
    fractions[ALL_TISSUE_NAMES.index("CSF")] = [[0.0, 0.1, 0.3, 0.5], [0.7, 1.0, 0.4, 0.4]]
    brain = np.array([[True, True, True, True], [True, True, False, False]])
    assert partial_csf_share(fractions, brain) == 2 / 6        # 0.3 and 0.5; pure fluid, none and outside do not count
    anatomy = case_anatomy(cases=2, size=160, first_case=485)
    case = HeldOutCase(485, 160).render("T1W", "FLAIR", whole_head=True)
    shares = anatomy["partial_csf_share"]
    assert shares[0] == round(partial_csf_share(case["fractions"], case["brain"]), 4)
    assert anatomy["plane"] == ["sagittal", "axial"] == [case["plane"], "axial"]
    assert shares[0] > 0.3 > shares[1]                    # case 485 cuts the template's midline fissure
