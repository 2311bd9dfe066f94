"""'source is': the input's contrast offered in one click, prefilled from tags or the name, else
read from the image by the contrast reader when the job runs."""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from user_actions import choose, dock, run_by_click, slider_keys

from napari_evai2i.engine.source_contrast import known_prompts
from napari_evai2i.plugin.layers import PROVENANCE_KEY, RESULT_KEY, TAGS_KEY
from napari_evai2i.plugin.widgets.source_contrast import FROM_TAGS, READ, UNKNOWN

pytestmark = pytest.mark.gui


@pytest.fixture
def untagged(slab_viewer):
    """'T1 slab' (with tags) and a copy without tags named like a BIDS T2w file, on top."""
    t2 = slab_viewer.layers["T2 slab"]
    layer = slab_viewer.add_image(np.asarray(t2.data), name="sub-07_T2w", scale=t2.scale, translate=t2.translate)
    assert TAGS_KEY not in layer.metadata
    slab_viewer.layers.selection.active = layer
    return layer


def translation_provenance(viewer, source_name):
    (layer,) = [lay for lay in viewer.layers
                if lay.metadata.get(RESULT_KEY, {}).get("role") == "translation"
                and lay.metadata[RESULT_KEY].get("source") == source_name]
    return layer.metadata[PROVENANCE_KEY]


def test_translate_offers_the_source_contrast_and_says_which_prompt_it_used(slab_viewer, untagged, qtbot):
    widget = dock(slab_viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "sub-07_T2w")
    box = widget.source_contrast.native
    assert box.currentText() == "T2W"                               # guessed from the name
    assert FROM_TAGS not in [box.itemText(i) for i in range(box.count())]   # no tags to use
    assert run_by_click(qtbot, widget) == "done"
    assert "source prompt: T2w (T2W, guessed from 'sub-07_T2w')" in widget.status.value
    assert translation_provenance(slab_viewer, "sub-07_T2w")["source_prompt"] == known_prompts()["T2W"]

    choose(qtbot, widget.source_contrast, UNKNOWN)
    assert run_by_click(qtbot, widget) == "done"
    assert "source prompt: none" in widget.status.value
    assert translation_provenance(slab_viewer, "sub-07_T2w")["source_prompt"] is None

    choose(qtbot, widget.source, "T1 slab")                         # tagged: the tags are the default
    assert box.currentText() == FROM_TAGS
    assert run_by_click(qtbot, widget) == "done"
    assert "source prompt: T1w (DICOM tags)" in widget.status.value


def test_prompt_explorer_offers_it_too(slab_viewer, untagged, qtbot):
    widget = dock(slab_viewer, qtbot, "Prompt explorer")
    choose(qtbot, widget.source, "sub-07_T2w")
    assert widget.source_contrast.native.currentText() == "T2W"
    choose(qtbot, widget.preset_a, "(the source")
    assert widget.prompt_a.native.toPlainText() == known_prompts()["T2W"]
    choose(qtbot, widget.source_contrast, "PDW")
    assert widget.prompt_a.native.toPlainText() == known_prompts()["PDW"]
    with qtbot.waitSignal(widget.preview_updated, timeout=90_000):
        slider_keys(qtbot, widget.t, Qt.Key.Key_Right)
    assert "source prompt: PDw (PDW, chosen)" in widget.status.value


def test_a_layer_named_after_nothing_is_read_from_the_image(slab_viewer, qtbot):
    t2 = slab_viewer.layers["T2 slab"]
    slab_viewer.add_image(np.asarray(t2.data), name="scan 0001", scale=t2.scale, translate=t2.translate)
    widget = dock(slab_viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "scan 0001")
    box = widget.source_contrast.native
    assert box.currentText() == READ                         # no tags, no contrast in the name
    assert FROM_TAGS not in [box.itemText(i) for i in range(box.count())]
    assert run_by_click(qtbot, widget) == "done"
    assert "source prompt: T2w (read from the image: T2W, T2-weighted p " in widget.status.value
    provenance = translation_provenance(slab_viewer, "scan 0001")
    assert provenance["source_prompt"] == known_prompts()["T2W"]
    assert provenance["source_contrast_reading"]["kind"] == "T2W" and provenance["source_contrast_reading"]["used"]

    choose(qtbot, widget.source, "T1 slab")                  # a tagged layer offers its tags instead
    assert box.currentText() == FROM_TAGS
    assert READ not in [box.itemText(i) for i in range(box.count())]
