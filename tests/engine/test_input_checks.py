"""Inputs the engine refuses or warns about before the model runs."""

import warnings

import numpy as np
import pytest

from napari_evai2i.engine import TranslationRequest, load_model
from napari_evai2i.engine.pipeline import VolumeTranslation, count_nonfinite
from napari_evai2i.io import Volume

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def test_a_ct_series_given_to_the_mr_only_demo_warns_naming_both(brain_like_volume):
    demo = load_model("demo", "cpu")
    assert demo.trained_modalities == ("MR",)
    ct = Volume(brain_like_volume.astype(np.float32) - 1000, spacing=(3, 1, 1), tags={"Modality": "CT"},
                source_path="head_ct")
    with pytest.warns(UserWarning, match=r"head_ct: a CT series given to model demo, which was trained on MR only"):
        VolumeTranslation(ct, TranslationRequest(PROMPT, planes=1), demo)
    mr = Volume(brain_like_volume, spacing=(3, 1, 1), tags={"Modality": "MR"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VolumeTranslation(mr, TranslationRequest(PROMPT, planes=1), demo)
    assert load_model("tiny-random", "cpu").trained_modalities is None        # untrained: nothing to say


def test_a_prompt_whose_word_contradicts_its_timing_warns_naming_both(brain_like_volume):
    from napari_evai2i.data.physics import PRESETS

    demo = load_model("demo", "cpu")
    mr = Volume(brain_like_volume, spacing=(3, 1, 1), tags={"Modality": "MR"})
    contradiction = PRESETS["T2W"].replace(te=30.0).prompt()          # "T2-weighted ... TE 30 ms"
    with pytest.warns(UserWarning, match=r"says T2-weighted, but its own TR, TE and TI make it proton density "
                                         r"weighted"):
        VolumeTranslation(mr, TranslationRequest(contradiction, planes=1), demo)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("T2W", "PDW", "FLAIR", "T1W"):                    # words that match their timing
            VolumeTranslation(mr, TranslationRequest(PRESETS[kind].prompt(), planes=1), demo)


def test_nonfinite_voxels_are_counted_blockwise_and_refused_or_zeroed(brain_like_volume):
    data = np.repeat(brain_like_volume.astype(np.float32), 4, axis=0)          # 40 slices: several blocks
    data[[1, 17, 33], 3, 3] = [np.nan, np.inf, -np.inf]
    assert count_nonfinite(data) == 3
    translator = load_model("tiny-random", "cpu")
    volume = Volume(data, spacing=(1, 1, 1), source_path="scan.nii.gz")
    with pytest.raises(ValueError, match=r"scan\.nii\.gz: 3 of 57,600 voxels are NaN or infinite; set them to 0"):
        VolumeTranslation(volume, TranslationRequest(PROMPT, planes=1), translator)
    job = VolumeTranslation(volume, TranslationRequest(PROMPT, planes=1, nonfinite="zero"), translator)
    assert job.nonfinite_voxels == 3 and job.provenance["nonfinite_voxels_set_to_zero"] == 3
    assert np.isfinite(job.volume.array).all() and job.volume.array[17, 3, 3] == 0
    assert np.isnan(data[1, 3, 3])                                             # the caller's array is left alone
    with pytest.raises(ValueError, match="nonfinite must be one of refuse, zero"):
        VolumeTranslation(volume, TranslationRequest(PROMPT, nonfinite="drop"), translator)


def test_complex_and_non_numeric_voxels_are_refused_naming_the_volume():
    translator = load_model("tiny-random", "cpu")
    data = (np.ones((2, 8, 8)) + 1j).astype(np.complex64)
    with pytest.raises(ValueError, match=r"scan\.nii: complex-valued voxels \(complex64\).*magnitude"):
        VolumeTranslation(Volume(data, spacing=(1, 1, 1), source_path="scan.nii"), TranslationRequest(PROMPT),
                          translator)
    with pytest.raises(ValueError, match="voxels of type <U1 are not numbers"):
        VolumeTranslation(Volume(np.full((2, 8, 8), "a"), spacing=(1, 1, 1)), TranslationRequest(PROMPT), translator)
