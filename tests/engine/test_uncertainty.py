"""Uncertainty maps: which passes run, that the SD is over exactly those, and how they are written."""

import json

import nibabel
import numpy as np
import pytest

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.engine import load_model
from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation, write_translation
from napari_evai2i.engine.planes import plan_planes
from napari_evai2i.engine.uncertainty import RunningSpread, plan_passes, wordings_of
from napari_evai2i.io import Volume, read_volume

PROMPT = PRESETS["T2W"].prompt()


def test_passes_start_with_the_planes_and_never_exceed_the_limit():
    plan = plan_planes((40, 40, 40), (1, 1, 1), planes=3)
    wordings = wordings_of(PRESETS["T2W"].prompt_fields())
    assert len(wordings) > 2 and len(set(wordings)) == len(wordings) and wordings[0] == PROMPT
    passes = plan_passes(plan, wordings, 7)
    assert len(passes) == 7 and [p.axis for p in passes[:3]] == [0, 1, 2]
    assert all(p.wording is None and p.mirror_axis is None for p in passes[:3])
    assert passes[3].mirror_axis is not None and passes[3].mirror_axis != passes[3].axis
    assert len(plan_passes(plan, wordings, 2)) == 3          # the planes are always translated


def test_running_spread_is_the_sample_standard_deviation():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 4, 5)).astype(np.float32) for _ in range(5)]
    spread = RunningSpread()
    for a in arrays:
        spread.add(a)
    assert np.allclose(spread.std(), np.std(arrays, axis=0, ddof=1), atol=1e-5)


def test_uncertainty_is_the_sd_over_its_passes_and_leaves_the_translation_unchanged(brain_like_volume):
    # stored in the training axes (RAS), so the engine's passes compare with the bare translator's
    volume = Volume(brain_like_volume.astype(np.float32), spacing=(2.0, 1.0, 1.0), direction=np.diag([-1.0, -1.0, 1.0]))
    translator = load_model("tiny-random", "cpu")
    plain = VolumeTranslation(volume, TranslationRequest(PROMPT, model="tiny-random"), translator).run()
    job = VolumeTranslation(volume, TranslationRequest(PROMPT, model="tiny-random", uncertainty_passes=3), translator)
    result = job.run()
    assert np.array_equal(result.volume.array, plain.volume.array)
    mirrored = translator.translate(volume.array[:, :, ::-1], PROMPT, spacing=volume.spacing,
                                    source_prompt=job.request.source_prompt)[:, :, ::-1]   # as the job was told
    other = job.passes[2].wording
    assert other is not None and other != PROMPT
    reworded = VolumeTranslation(volume, TranslationRequest(other, model="tiny-random"), translator).run()
    expected = np.std([plain.volume.array, mirrored, reworded.volume.array], axis=0, ddof=1)
    assert result.uncertainty.array.shape == volume.array.shape
    assert np.allclose(result.uncertainty.array, expected, atol=1e-4 * float(expected.max()))
    assert result.uncertainty.array.min() >= 0 and result.uncertainty.array.max() > 0
    assert "mirrored" in " ".join(result.provenance["uncertainty"]["passes"])


def test_one_pass_is_refused_with_what_to_do(brain_like_volume):
    with pytest.raises(ValueError, match="at least 2 passes.*0 turns it off"):
        VolumeTranslation(Volume(brain_like_volume, spacing=(1.0, 1.0, 1.0)), TranslationRequest(PROMPT, model="tiny-random",
                                                                        uncertainty_passes=1))


def test_free_text_still_gets_mirror_passes(brain_like_volume):
    job = VolumeTranslation(Volume(brain_like_volume, spacing=(1.0, 1.0, 1.0)), TranslationRequest("bright fluid", model="tiny-random",
                                                                          uncertainty_passes=4))
    assert len(job.passes) == 2 and job.passes[1].mirror_axis == 2     # no wordings to vary


@pytest.mark.parametrize("output", ["out.nii.gz", "out_dicom"])
def test_the_uncertainty_map_is_written_beside_the_translation_and_marked(tmp_path, brain_like_volume, output):
    volume = Volume(brain_like_volume.astype(np.float32), spacing=(2.0, 1.0, 1.0))
    result = VolumeTranslation(volume, TranslationRequest(PROMPT, model="tiny-random",
                                                          uncertainty_passes=2)).run()
    write_translation(result, tmp_path / output)
    sidecar = json.loads((tmp_path / "out.json").read_text()) if output.endswith(".nii.gz") else \
        json.loads((tmp_path / "out_dicom.json").read_text())
    written = tmp_path / sidecar["uncertainty_output"]
    assert written.exists() and "uncertainty" in written.name
    back = read_volume(written)
    assert back.array.shape == volume.array.shape
    assert np.allclose(back.array, result.uncertainty.array, atol=1e-3 * float(result.uncertainty.array.max()))
    if output.endswith(".nii.gz"):
        assert b"SYNTHETIC uncertainty" in nibabel.load(str(written)).header["descrip"].tobytes()
    else:
        assert "UNCERTAINTY" in str(back.tags.get("SeriesDescription"))
