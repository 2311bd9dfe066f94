"""python -m napari_evai2i opens the sample with Translate in front and Prompt explorer in a tab."""

import pytest
from qtpy.QtWidgets import QLabel

pytestmark = pytest.mark.gui


def labels_fit(widget) -> list[str]:
    """Texts of the (non-wrapping) labels of a dock widget that are cut."""
    cut = []
    for label in widget.native.findChildren(QLabel):
        if label.isVisible() and not label.wordWrap() and label.text():
            if label.fontMetrics().horizontalAdvance(label.text()) > label.width() + 1:
                cut.append(label.text())
    return cut


def test_launch_shows_the_sample_and_translate_in_front_and_nothing_is_cut(qapp, qtbot):
    """Broken before: the main job showed Prompt explorer in front while the README says Translate."""
    from napari_evai2i.plugin.launch import open_viewer_with_sample

    viewer = open_viewer_with_sample("simulated_brain_2mm")
    try:
        viewer.window._qt_window.resize(1600, 1000)
        qtbot.wait(300)
        assert "T1w (simulated)" in viewer.layers
        translate = viewer.window.dock_widgets["Translate (napari-evai2i)"]
        explorer = viewer.window.dock_widgets["Prompt explorer (napari-evai2i)"]
        assert not translate.native.visibleRegion().isEmpty()
        assert explorer.native.visibleRegion().isEmpty()            # behind its tab
        assert viewer.window._qt_window.height() <= 1000
        assert labels_fit(translate) == []
    finally:
        viewer.close()
