"""The source contrast: guessed from names, and which source prompt the engine used."""

import numpy as np
import pytest

from napari_evai2i.engine.source_contrast import describe_source_prompt, guess_kind, known_prompts


@pytest.mark.parametrize("text, kind", [
    ("sub-01_T1w.nii.gz", "T1W"), ("sub-01_acq-mprage_T1w", "MPRAGE"), ("t2_tse_tra", "T2W"),
    ("AX T2 FSE", "T2W"), ("T2_FLAIR_3D", "FLAIR"), ("sub-03_FLAIR.nii", "FLAIR"), ("PD_TSE", "PDW"),
    ("t1_mprage_sag_p2", "MPRAGE"), ("STIR_cor", "STIR"),
    ("anatomical.nii", None), ("scan_0001", None), ("pt123", None),
    ("T2star_gre", None), ("DWI_b1000", None), ("t1_map", None),
])
def test_guess_kind_from_names(text, kind):
    assert guess_kind([text]) == kind


def test_the_first_naming_text_wins():
    assert guess_kind([None, "", "brain", "t2_tse", "T1w"]) == "T2W"


def test_known_prompts_are_the_canonical_preset_prompts():
    prompts = known_prompts()
    assert prompts["T1W"].startswith("A T1-weighted magnetic resonance imaging")
    assert "TR 500 ms, TE 15 ms" in prompts["T1W"]


def test_the_sentence_says_which_source_prompt_or_none():
    assert describe_source_prompt(None, "unknown").startswith("source prompt: none")
    assert "say what the source is" in describe_source_prompt(None, "unknown")         # the remedy
    assert describe_source_prompt("A T1w", "DICOM tags") == "source prompt (DICOM tags): A T1w"


def test_an_empty_source_prompt_means_unknown_even_with_tags(tiny_checkpoint):
    from napari_evai2i.data.physics import PRESETS
    from napari_evai2i.engine.pipeline import VolumeTranslation
    from napari_evai2i.engine.request import TranslationRequest
    from napari_evai2i.io import Volume

    volume = Volume(np.random.default_rng(0).random((2, 16, 16)).astype(np.float32), spacing=(1, 1, 1),
                    tags=PRESETS["T1W"].dicom_tags())
    target = known_prompts()["T2W"]
    from_tags = VolumeTranslation(volume, TranslationRequest(target=target, model=str(tiny_checkpoint)))
    assert from_tags.source_prompt_origin == "DICOM tags" and from_tags.request.source_prompt
    withheld = VolumeTranslation(volume, TranslationRequest(target=target, model=str(tiny_checkpoint),
                                                            source_prompt=""))
    assert withheld.source_prompt_origin == "unknown" and withheld.request.source_prompt is None
    assert withheld.provenance["source_prompt"] is None


# ---------------------------------------------------------------------- the shipped contrast reader
def test_the_shipped_reader_names_real_scans_it_never_saw():
    """Real scans in wheels (never training data): nibabel's and dipy's T1, dipy's b=0 EPI (T2)."""
    from napari_evai2i.engine.source_contrast import read_contrast
    from napari_evai2i.train.robustness import real_contrast_inputs

    inputs = real_contrast_inputs()
    assert any(w == "T2" for *_, w in inputs.values()) and any("nibabel" in name for name in inputs)
    for name, (image, spacing, weighting) in inputs.items():
        reading = read_contrast(image, spacing)
        assert reading.weighting == {"T1": "T1-weighted", "T2": "T2-weighted"}[weighting], (name, reading)
        if name.startswith("dipy"):                         # sure enough to be used on both of dipy's
            assert reading.used, (name, reading)


def test_the_shipped_reader_on_held_out_whole_heads_is_mostly_right_and_never_wrong_when_used():
    from napari_evai2i.engine.source_contrast import read_contrast
    from napari_evai2i.model.contrast_reader import WEIGHTING_OF
    from napari_evai2i.train.robustness import HeldOutCase

    right = 0
    for kind in ("T1W", "T2W", "PDW", "FLAIR"):
        for index in range(3):
            reading = read_contrast(HeldOutCase(index, 160).render(kind, "T2W", whole_head=True)["src"], (1.0, 1.0))
            assert sum(reading.probabilities.values()) == pytest.approx(1, abs=1e-4)
            correct = WEIGHTING_OF[reading.kind] == WEIGHTING_OF[kind]
            assert correct or not reading.used, (kind, index, reading)      # a wrong prompt is never given
            right += correct
    assert right >= 10, right


def test_a_name_comes_before_the_reader_and_an_unsure_reading_is_not_used():
    from napari_evai2i.engine.source_contrast import ContrastReading, untagged_source_prompt
    from napari_evai2i.train.robustness import HeldOutCase

    image = HeldOutCase(2, 160).render("T2W", "T1W")["src"]
    prompt, origin, reading = untagged_source_prompt(image, (1.0, 1.0), 0, [None, "sub-01_FLAIR.nii.gz"])
    assert prompt == known_prompts()["FLAIR"] and reading is None and "guessed from 'sub-01_FLAIR.nii.gz'" in origin
    prompt, origin, reading = untagged_source_prompt(image, (1.0, 1.0), 0, ["scan_0001.nii"])
    assert prompt == known_prompts()["T2W"] and origin.startswith("read from the image: T2W, T2-weighted p ")

    unsure = ContrastReading("PDW", "PD-weighted", 0.55, 0.9, {"PDW": 0.55, "T2W": 0.45}, 5)
    assert not unsure.used
    line = describe_source_prompt(None, unsure.origin())
    assert line.startswith("source prompt: none (the image reads as PD-weighted at p 0.55, below the 0.90")


def test_the_engine_reads_an_untagged_volume_and_records_the_reading(tiny_checkpoint):
    from napari_evai2i.data.samples import sample_volumes
    from napari_evai2i.engine.pipeline import VolumeTranslation
    from napari_evai2i.engine.request import TranslationRequest
    from napari_evai2i.io import Volume

    flair = sample_volumes(2)["FLAIR"]
    untagged = Volume(flair.array, spacing=flair.spacing, direction=flair.direction)
    request = TranslationRequest(target=known_prompts()["T1W"], model=str(tiny_checkpoint))
    read = VolumeTranslation(untagged, request)
    assert read.source_prompt_origin.startswith("read from the image: FLAIR")
    assert read.request.source_prompt == known_prompts()["FLAIR"]
    assert read.provenance["source_contrast_reading"]["kind"] == "FLAIR"
    none = VolumeTranslation(untagged, TranslationRequest(target=known_prompts()["T1W"], model=str(tiny_checkpoint),
                                                          source_prompt=""))
    assert none.request.source_prompt is None and "source_contrast_reading" not in none.provenance


def test_the_reading_is_decided_per_weighting_not_by_the_single_likeliest_contrast():
    from napari_evai2i.engine.source_contrast import likeliest_weighting
    from napari_evai2i.model.contrast_reader import WEIGHTING_OF

    spread_over_t1 = {"T1W": 0.15, "T2W": 0.03, "PDW": 0.03, "FLAIR": 0.29, "FLASH": 0.22, "MPRAGE": 0.28}
    kind, weighting, probability = likeliest_weighting(spread_over_t1, WEIGHTING_OF)
    assert (kind, weighting) == ("MPRAGE", "T1-weighted") and probability == pytest.approx(0.65)
    assert likeliest_weighting({**spread_over_t1, "FLAIR": 0.5, "MPRAGE": 0.07}, WEIGHTING_OF)[:2] == (
        "FLAIR", "FLAIR")


def test_a_slice_smaller_than_the_readers_training_images_is_centred_on_background():
    import torch

    from napari_evai2i.engine.source_contrast import on_canvas

    crop = torch.rand(1, 1, 33, 41) + 0.5
    placed = on_canvas(crop, 128)
    assert placed.shape == (1, 1, 128, 128) and placed.sum() == pytest.approx(crop.sum())
    assert torch.equal(placed[..., 47:80, 43:84], crop) and placed[..., :47, :].abs().max() == 0
    large = torch.rand(1, 1, 160, 200)
    assert on_canvas(large, 128) is large
    assert on_canvas(torch.rand(1, 1, 200, 60), 128).shape == (1, 1, 200, 128)


def test_the_shipped_reader_reads_held_out_brain_crops_on_2_mm_pixels_and_is_never_wrong_when_used():
    """Crops of 80 x 96 mm at 2 mm pixels (40 x 48 pixels; the suite's cases 0-5). Read bare, as
    before the reader placed them on its training background, it used 64 % of these readings."""
    from napari_evai2i.engine.source_contrast import read_contrast
    from napari_evai2i.model.contrast_reader import READER_KINDS, WEIGHTING_OF
    from napari_evai2i.train.robustness import CASE_SIZE, READING_FACTORS, HeldOutCase

    factor = READING_FACTORS["crop inside the brain, 2 mm pixels"]
    used = 0
    for kind in READER_KINDS:
        for index in range(6):
            case = HeldOutCase(index, CASE_SIZE).render(kind, "T2W", **factor)
            reading = read_contrast(case["src"], (case["pixel_mm"],) * 2)
            assert WEIGHTING_OF[reading.kind] == WEIGHTING_OF[kind] or not reading.used, (kind, index, reading)
            used += reading.used
    assert used >= 27, used                     # 75 % of 36; 28 with the background, 23 without


def test_a_reader_may_read_coarse_slices_upsampled(tmp_path):
    """``read_at_mm`` in a reader's config.json: a 2 mm slice is read upsampled (another reading),
    a 1 mm slice exactly as before."""
    import json
    import shutil

    from napari_evai2i.engine.source_contrast import read_contrast, reader_folder
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase

    assert json.loads((reader_folder() / "config.json").read_text())["contrast_reader"]["read_at_mm"] == 1.0
    folders = {}
    for read_at_mm in (None, 1.0):                  # the shipped reader's weights, both ways
        folders[read_at_mm] = folder = tmp_path / f"reader_{read_at_mm}"
        shutil.copytree(reader_folder(), folder)
        config = json.loads((folder / "config.json").read_text())
        config["contrast_reader"]["read_at_mm"] = read_at_mm
        (folder / "config.json").write_text(json.dumps(config))
    fine = HeldOutCase(3, CASE_SIZE).render("T1W", "T2W", crop_mm=(80.0, 96.0), pixel_mm=1.0)
    coarse = HeldOutCase(3, CASE_SIZE).render("T1W", "T2W", crop_mm=(80.0, 96.0), pixel_mm=2.0)
    assert fine["src"].shape[0] == 2 * coarse["src"].shape[0]
    for case, same in ((fine, True), (coarse, False)):
        a, b = (read_contrast(case["src"], (case["pixel_mm"],) * 2, folder=f) for f in folders.values())
        assert (a.probabilities == b.probabilities) is same
