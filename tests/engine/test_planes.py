"""Tri-planar translation: which planes are used, how they are fused, and that the pipeline does it."""

import numpy as np
import pytest

from napari_evai2i.engine import load_model
from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
from napari_evai2i.engine.planes import (HEAD_MARGIN_MM, MAX_PLANE_ANISOTROPY, MIN_HEAD_BOX_PIXELS, fuse, head_box,
                                      plan_planes)
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


def _head_in_air(size: int = 160, pad: int = 0) -> np.ndarray:
    """One slice: an elliptic 'head' (with a darker inside) in noise-free air, padded with ``pad``
    pixels of air on every side."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r = ((y - size / 2) / (0.4 * size)) ** 2 + ((x - size / 2) / (0.32 * size)) ** 2
    head = np.where(r <= 1, np.where(r <= 0.6, 500.0, 900.0), 0.0).astype(np.float32)
    return np.pad(head, pad)[None]


def test_the_head_box_holds_the_head_and_its_margin_and_nothing_more():
    volume = _head_in_air(160, 80)                                    # 320 x 320, the head in the middle
    rows, cols = head_box(volume, 0, (1.0, 1.0, 1.0))
    inside = np.nonzero(volume[0])
    assert rows.start <= inside[0].min() - HEAD_MARGIN_MM + 2 and rows.stop >= inside[0].max() + HEAD_MARGIN_MM
    assert cols.start <= inside[1].min() - HEAD_MARGIN_MM + 2 and cols.stop >= inside[1].max() + HEAD_MARGIN_MM
    assert (rows.stop - rows.start) < 0.7 * 320 and (cols.stop - cols.start) < 0.6 * 320
    # on 2 mm pixels the same 10 mm margin is half as many pixels
    rows2, _ = head_box(volume, 0, (1.0, 2.0, 2.0))
    assert rows2.start > rows.start and rows2.stop < rows.stop


def test_no_box_where_the_head_fills_the_slice_or_nothing_is_there():
    filled = np.full((1, 64, 64), 700.0, np.float32)
    filled[0, 20:40, 20:40] = 300.0
    assert head_box(filled, 0) is None
    assert head_box(np.zeros((1, 64, 64), np.float32), 0) is None
    tiny = np.zeros((1, 200, 200), np.float32)
    tiny[0, 100:104, 50:54] = 900.0                                   # a speck: the box keeps 32 pixels
    rows, cols = head_box(tiny, 0)
    assert rows.stop - rows.start >= MIN_HEAD_BOX_PIXELS and cols.stop - cols.start >= MIN_HEAD_BOX_PIXELS
    assert rows.start >= 0 and cols.stop <= 200
    with pytest.raises(ValueError, match="3-D"):
        head_box(tiny[0], 0)


def test_the_demo_draws_a_head_the_same_whatever_air_surrounds_it():
    translator = load_model("demo", "cpu")
    small, padded = _head_in_air(160), _head_in_air(160, 120)
    near = translator.translate(small[0], PROMPT)
    far = translator.translate(padded[0], PROMPT)[120:280, 120:280]
    assert np.abs(far - near).max() < 0.02 * np.abs(near).max()
    assert translator.translate(padded[0], PROMPT)[:40].max() == 0.0          # air outside the box
    whole = translator.translate(padded[0], PROMPT, crop_to_head=False)[120:280, 120:280]
    assert np.abs(whole - near).max() > 5 * np.abs(far - near).max()       # without the box, the air shows


def test_a_preview_slice_uses_the_whole_volumes_box_and_provenance_says_so(brain_like_volume):
    array = np.pad(brain_like_volume, ((0, 0), (40, 40), (40, 40))).astype(np.float32)
    array[2, 60:64, 8:12] = 900.0                       # one slice reaches further: the box follows it
    volume = Volume(array, spacing=(2.0, 1.0, 1.0))
    translator = load_model("tiny-random", "cpu")
    job = VolumeTranslation(volume, TranslationRequest(PROMPT, model="tiny-random", planes=1), translator)
    result = job.run()
    preview = job.translate_slice(5)[0]
    np.testing.assert_allclose(preview, result.volume.array[5], rtol=1e-5, atol=1e-3)
    alone = translator.translate(array[5], PROMPT, scale=job.scale, spacing=(1.0, 1.0))   # its own, smaller box
    assert np.abs(alone - result.volume.array[5]).max() > 10 * np.abs(preview - result.volume.array[5]).max()
    lines = result.provenance["head_box"]
    assert len(lines) == 1 and lines[0].startswith("axis 0: translated inside the head's box")
