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
