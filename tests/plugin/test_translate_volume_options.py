"""Translate's volume options driven like a user: three fused planes, uncertainty passes, tag effects.

Choices are made with real clicks and keys (``user_actions``); what is checked is what a person
sees: layers, the table's cells, the labels and the status. The jobs are also drained directly
to check that the progress total the widget plans (without torch) is what the engine yields.
"""

import re

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QStyle, QStyleOptionButton
from user_actions import choose, clear_and_type, click, dock, type_choice, type_number
from user_actions import run_by_click as run_and_wait
from job_events import drain

from napari_evai2i.engine.source_contrast import known_prompts
from napari_evai2i.engine.translator import TranslationStep
from napari_evai2i.engine.uncertainty import UNCERTAINTY_DESCRIPTION
from napari_evai2i.plugin.jobs import JobRequest, TagScoring, translate_volume
from napari_evai2i.plugin.layers import (PROVENANCE_KEY, RESULT_KEY, slab_geometry_kwargs, tag_effect_name,
                                         uncertainty_name)

FREE_TEXT = "a bright fluid image"
SPACING = (3.0, 2.0, 2.0)          # every plane usable: in-plane anisotropy at most 1.5


def head(shape=(18, 40, 40)) -> np.ndarray:
    """An ellipsoid 'head' in scanner units, big enough along every axis for three planes."""
    z, y, x = np.mgrid[0:shape[0], 0:shape[1], 0:shape[2]].astype(np.float32)
    c = [(n - 1) / 2 for n in shape]
    inside = sum(((g - m) / (0.45 * n)) ** 2 for g, m, n in zip((z, y, x), c, shape)) <= 1
    rng = np.random.default_rng(0)
    return np.where(inside, 800 + 200 * np.sin(x / 3) + rng.normal(0, 20, shape), 0).astype(np.int16)


def results(viewer, role):
    return [layer for layer in viewer.layers if (layer.metadata.get(RESULT_KEY) or {}).get("role") == role]


def tick(qtbot, checkbox) -> None:
    """Click a check box's tick square with the mouse."""
    native = checkbox.native
    option = QStyleOptionButton()
    native.initStyleOption(option)
    square = native.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, native)
    qtbot.mouseClick(native, Qt.MouseButton.LeftButton, pos=square.center())


def table_rows(widget) -> list[tuple[str, str, float]]:
    """The tag table as shown: (tag, value removed, effect as a fraction) per row, top to bottom."""
    native = widget.tag_table.native
    rows = [(native.item(r, 0).text(), native.item(r, 1).text(), native.item(r, 2).text())
            for r in range(native.rowCount())]
    assert all(effect.endswith(" %") for _, _, effect in rows), rows
    return [(tag, value, float(effect[:-2]) / 100) for tag, value, effect in rows]


def record(widget) -> list:
    """(done, total, status, progress-bar total) at every batch."""
    events = []
    widget.progressed.connect(lambda done, total: events.append(
        (done, total, widget.status.value, widget.worker.pbar.total)))
    return events


def preview_index(viewer, layer) -> int:
    return int(round(layer.world_to_data(viewer.dims.point)[0]))


@pytest.fixture
def head_viewer(make_napari_viewer, qtbot):
    """A viewer with an 18 x 40 x 40 'head' at 3 x 2 x 2 mm and Translate docked, the head chosen."""
    viewer = make_napari_viewer()
    viewer.add_image(head(), name="head", scale=SPACING, translate=(10.0, -5.0, 3.0))
    widget = dock(viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "head")
    choose(qtbot, widget.model.model, "tiny-random")
    type_number(qtbot, widget.batch_size, 4)
    return viewer, widget


# ----------------------------------------------------------------------------- GUI
@pytest.mark.gui
def test_three_fused_planes_are_counted_recorded_and_explained(head_viewer, qtbot):
    viewer, widget = head_viewer
    assert widget.planes.value == 3 and widget.fusion.native.isVisible()     # the default: three planes
    choose(qtbot, widget.planes, "one")
    assert not widget.fusion.native.isVisible()               # only for three planes
    choose(qtbot, widget.planes, "three")
    assert widget.fusion.native.isVisible()
    choose(qtbot, widget.fusion, "median")
    events = record(widget)

    assert run_and_wait(qtbot, widget) == "done"

    # 18 + 40 + 40 slices over three passes (58 done after two), 5 + 10 + 10 batches of 4; the bar also counts
    # "model loaded" and the preview slice.
    assert [e[:2] for e in events][-1] == (98, 98) and {e[1] for e in events} == {98}
    assert len(events) == 25 and events[0][3] == 25 + 2
    assert "Translated 58 of 98 slices (3 passes)" in [e[2].rstrip(".") for e in events]
    (translation,) = results(viewer, "translation")
    assert translation.data.shape == (18, 40, 40) and np.isfinite(translation.data).all()
    planes = translation.metadata[PROVENANCE_KEY]["planes"]
    assert planes["axes"] == [0, 1, 2] and planes["fusion"] == "median" and not planes["skipped"]
    assert widget.planes_used.value == planes["description"] and "axis 1 (weight" in planes["description"]
    assert "3 plane(s) fused (median)" in widget.status.value

    # A thin-slab volume: its two other planes would squash the head five times; the label says so.
    viewer.add_image(head(), name="thin", scale=(5.0, 1.0, 1.0))
    choose(qtbot, widget.source, "thin")
    assert run_and_wait(qtbot, widget) == "done"
    thin = next(layer for layer in results(viewer, "translation") if layer.metadata[RESULT_KEY]["source"] == "thin")
    assert thin.metadata[PROVENANCE_KEY]["planes"]["axes"] == [0]
    assert "skipped: axis 1:" in widget.planes_used.value and "anisotropy 5.0" in widget.planes_used.value

    # Cancelling a tri-planar run says how far it got out of every pass, not out of one plane.
    choose(qtbot, widget.source, "head")
    type_number(qtbot, widget.batch_size, 1)
    widget.progressed.connect(lambda done, _: click(qtbot, widget.run_button) if done == 1 else None)
    assert run_and_wait(qtbot, widget) == "cancelled"
    done = re.match(r"Cancelled after (\d+) of 98 slices \(3 passes\): ", widget.status.value)
    assert done and 1 <= int(done.group(1)) < 98, widget.status.value


@pytest.mark.gui
def test_uncertainty_passes_typed_give_a_non_negative_sd_layer(head_viewer, qtbot):
    viewer, widget = head_viewer
    source = viewer.layers["head"]
    choose(qtbot, widget.planes, "one")                       # passes along the slicing axis only
    type_number(qtbot, widget.uncertainty_passes, 1)
    click(qtbot, widget.run_button)
    assert widget.worker is None and "at least 2 passes" in widget.status.value

    type_number(qtbot, widget.uncertainty_passes, 3)
    assert widget.uncertainty_passes.value == 3
    events = record(widget)
    assert run_and_wait(qtbot, widget) == "done"

    assert events[-1][:2] == (54, 54) and len(events) == 3 * 5 and events[0][3] == 3 * 5 + 2
    assert "Translated 54 of 54 slices (3 passes)" in events[-1][2]
    (translation,) = results(viewer, "translation")
    (uncertainty,) = results(viewer, "uncertainty")
    prompt = widget.prompt.prompt
    assert uncertainty.name == uncertainty_name("head", prompt) == "SYNTHETIC uncertainty (SD) T2w <- head"
    assert uncertainty.colormap.name == "inferno" and not uncertainty.visible
    assert uncertainty.data.shape == translation.data.shape and uncertainty.data.min() >= 0
    assert uncertainty.data.max() > 0
    np.testing.assert_allclose(uncertainty.scale, source.scale)
    np.testing.assert_allclose(uncertainty.translate, source.translate)
    assert uncertainty.metadata["evai2i_map"] == UNCERTAINTY_DESCRIPTION
    assert len(uncertainty.metadata[PROVENANCE_KEY]["uncertainty"]["passes"]) == 3
    assert f"Uncertainty over 3 passes: {uncertainty.name!r}" in widget.status.value
    with_passes = np.array(translation.data)

    # Off again: the translation is the same, and the now stale map is gone.
    type_number(qtbot, widget.uncertainty_passes, 0)
    assert run_and_wait(qtbot, widget) == "done"
    assert not results(viewer, "uncertainty")
    np.testing.assert_allclose(results(viewer, "translation")[0].data, with_passes, rtol=1e-5, atol=1e-4)


@pytest.mark.gui
def test_tag_effects_ticked_fill_the_table_and_free_text_says_why_not(head_viewer, qtbot):
    viewer, widget = head_viewer
    source = viewer.layers["head"]
    assert not widget.tag_maps.native.isEnabled() and not widget.tag_table.native.isVisible()
    tick(qtbot, widget.tag_effects)
    assert widget.tag_effects.value and widget.tag_maps.native.isEnabled()
    assert widget.tag_table.native.isVisible()
    tick(qtbot, widget.tag_maps)
    assert widget.tag_maps.value
    choose(qtbot, widget.prompt.known, "T2W")
    prompt = widget.prompt.prompt
    events = record(widget)

    assert run_and_wait(qtbot, widget) == "done"

    rows = table_rows(widget)
    assert {tag for tag, _, _ in rows} == {"field strength", "TE", "TR", "flip angle"}
    assert ("TE", "100 ms") in [r[:2] for r in rows] and ("TR", "4000 ms") in [r[:2] for r in rows]
    effects = [effect for _, _, effect in rows]
    assert effects == sorted(effects, reverse=True) and effects[0] > 0 and min(effects) >= 0
    assert [widget.tag_table.native.horizontalHeaderItem(c).text() for c in range(3)] == \
        ["tag", "value removed", "effect"]
    assert events[0][3] == len(events) + 3                     # model, preview, batches, tag scoring
    index = preview_index(viewer, source)
    assert f"Slice {index} along axis 0" in widget.tag_note.value
    assert f"Tag effects on slice {index}: largest {rows[0][0]}" in widget.status.value

    maps = results(viewer, "tag effect")
    assert sorted(layer.metadata[RESULT_KEY]["tag"] for layer in maps) == sorted(r[0] for r in rows)
    for layer in maps:
        tag = layer.metadata[RESULT_KEY]["tag"]
        assert layer.name == tag_effect_name("head", prompt, tag, index)
        assert layer.name.startswith(f"SYNTHETIC effect of {tag} T2w <- head")
        assert not layer.visible and layer.data.shape == (1, 40, 40)
        np.testing.assert_allclose(layer.translate, slab_geometry_kwargs(source, 0, index)["translate"])
        shown = next(r for r in rows if r[0] == tag)[2]
        assert layer.metadata["evai2i_tag_effect"]["effect"] == pytest.approx(shown, abs=1e-4)   # 0.01 %
    assert results(viewer, "translation")

    # Free text states no tags: the translation still completes and the table says why it is empty.
    type_choice(qtbot, widget.prompt.mode, "free")
    clear_and_type(qtbot, widget.prompt.text.native, FREE_TEXT)
    assert widget.prompt.prompt == FREE_TEXT
    assert run_and_wait(qtbot, widget) == "done"
    assert widget.tag_table.native.rowCount() == 0
    assert "this free text has no tags to leave out" in widget.tag_note.value
    assert "No tag effects:" in widget.status.value and widget.status.value.startswith("Done: made")
    # 2 x 2 mm slices go through the 1 mm working grid, and the status and provenance say so
    assert "Axis 0: 2 x 2 mm slices translated on a 1 mm grid and averaged back" in widget.status.value
    assert "axis 0: 2 x 2 mm slices translated on a 1 mm grid and averaged back" in \
        results(viewer, "translation")[-1].metadata[PROVENANCE_KEY]["in_plane_resampling"]
    assert any(layer.metadata[PROVENANCE_KEY]["prompt"] == FREE_TEXT for layer in results(viewer, "translation"))
    assert len(results(viewer, "tag effect")) == len(rows)       # the T2 prompt's maps are its own


# ----------------------------------------------------------------------------- jobs, no Qt
def test_planned_batches_are_what_the_engine_yields_over_planes_and_passes():
    """The widget's progress total is planned without torch; it must match the engine's passes:
    free text has no other wordings, so 5 passes asked give 3 planes + 1 mirrored."""
    request = JobRequest(source=head(), target=FREE_TEXT, model="tiny-random", device="cpu", batch_size=3,
                         spacing=SPACING, planes=3, uncertainty_passes=5, tag_effects=True, preview_index=9)
    assert len(request.passes()) == 4 and request.slice_count() == 18 + 40 + 40 + 18
    events, outcome = drain(translate_volume(request))
    steps = [e for e in events if isinstance(e, TranslationStep)]
    assert len(steps) == request.batch_count() == 6 + 14 + 14 + 6
    assert steps[-1].stop == steps[-1].total == request.slice_count()
    assert isinstance(events[-1], TagScoring) and events[-1].index == 9
    assert outcome.uncertainty.shape == outcome.translation.shape and outcome.uncertainty.min() >= 0
    assert outcome.tag_report is None and "free text has no tags" in outcome.tag_error


def test_tag_maps_of_a_2d_source_are_shaped_like_it():
    request = JobRequest(source=head()[9], target=known_prompts()["T2W"], model="tiny-random", device="cpu", preview_index=0,
                         tag_effects=True, tag_effect_maps=True)
    _, outcome = drain(translate_volume(request))
    assert outcome.tag_error is None and outcome.uncertainty is None
    assert [e.difference.shape for e in outcome.tag_report.effects] == [(40, 40)] * 4
