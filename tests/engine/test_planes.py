"""Tri-planar translation: which planes are used, how they are fused, and that the pipeline does it."""

import numpy as np
import pytest

from napari_evai2i.engine import load_model
from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
from napari_evai2i.engine.planes import MAX_PLANE_ANISOTROPY, fuse, plan_planes
from napari_evai2i.io import Volume

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def test_isotropic_volume_uses_every_plane_equally():
    plan = plan_planes((40, 40, 40), (1.0, 1.0, 1.0), planes=3)
    assert plan.axes == (0, 1, 2) and plan.weights == (1.0, 1.0, 1.0) and not plan.skipped


def test_moderately_anisotropic_volume_weights_planes_by_pixel_squareness():
    plan = plan_planes((40, 40, 40), (3.0, 2.0, 2.0), planes=3)
    assert plan.axes == (0, 1, 2)
    assert plan.weights[0] == 1.0 and plan.weights[1] == pytest.approx(2 / 3) == plan.weights[2]


def test_thick_slices_skip_the_planes_that_would_squash_the_anatomy():
    plan = plan_planes((30, 200, 200), (5.0, 1.0, 1.0), planes=3)
    assert plan.axes == (0,)
    assert set(plan.skipped) == {1, 2}
    assert "anisotropy 5.0" in plan.skipped[1] and f"> {MAX_PLANE_ANISOTROPY:g}" in plan.describe()


def test_a_plane_with_too_few_pixels_is_skipped_and_nothing_usable_falls_back_to_the_squarest():
    assert plan_planes((1, 64, 64), (1.0, 1.0, 1.0), planes=3).axes == (0,)
    plan = plan_planes((40, 40, 40), (9.0, 3.0, 1.0), planes=3)      # every plane elongated
    assert len(plan.axes) == 1 and plan.axes[0] == 0                 # 3 x 1 mm: the least elongated


def test_one_plane_is_the_slicing_axis_and_bad_choices_are_refused():
    assert plan_planes((4, 4, 4), None, planes=1, axis=2).axes == (2,)
    with pytest.raises(ValueError, match="planes must be 1 or 3"):
        plan_planes((4, 4, 4), None, planes=2)
    with pytest.raises(ValueError, match="fusion must be one of"):
        plan_planes((4, 4, 4), None, planes=3, fusion="max")


def test_fusion_rules():
    a, b, c = (np.full((2, 2, 2), v, np.float32) for v in (0.0, 1.0, 5.0))
    plan = plan_planes((40, 40, 40), (3.0, 2.0, 2.0), planes=3)
    assert np.allclose(fuse([a, b, c], plan), (0 * 1 + 1 * 2 / 3 + 5 * 2 / 3) / (1 + 4 / 3))
    median = plan_planes((40, 40, 40), (3.0, 2.0, 2.0), planes=3, fusion="median")
    assert np.allclose(fuse([a, b, c], median), 1.0)
    mean = plan_planes((40, 40, 40), (3.0, 2.0, 2.0), planes=3, fusion="mean")
    assert np.allclose(fuse([a, b, c], mean), 2.0)


def test_tri_planar_pipeline_is_the_fusion_of_the_three_single_plane_translations(brain_like_volume):
    volume = Volume(np.pad(brain_like_volume, ((4, 4), (0, 0), (0, 0))).astype(np.float32), spacing=(3.0, 2.0, 2.0))
    translator = load_model("tiny-random", "cpu")
    job = VolumeTranslation(volume, TranslationRequest(PROMPT, model="tiny-random", planes=3, batch_size=5),
                            translator)
    steps = []
    result = job.run(lambda done, total: steps.append((done, total)))
    assert job.total == sum(volume.array.shape) and steps[-1] == (job.total, job.total)
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    singles = [VolumeTranslation(volume, TranslationRequest(PROMPT, model="tiny-random", axis=a, planes=1), translator)
               .run().volume.array for a in range(3)]
    expected = (singles[0] + (singles[1] + singles[2]) * (2 / 3)) / (1 + 4 / 3)
    assert np.allclose(result.volume.array, expected, atol=1e-4 * float(np.abs(expected).max()))
    assert not np.allclose(result.volume.array, singles[0])
    assert result.provenance["planes"]["axes"] == [0, 1, 2]
    assert "planes used" in result.provenance["planes"]["description"]
