"""python -m napari_evai2i opens the sample with the widgets docked."""

import pytest

pytestmark = pytest.mark.gui


def test_launch_opens_sample_with_widgets_docked(qapp):
    from napari_evai2i.plugin.launch import open_viewer_with_sample

    viewer = open_viewer_with_sample("simulated_brain_2mm")
    try:
        assert "T1w (simulated)" in viewer.layers
        docked = viewer.window.dock_widgets
        assert {"Translate (napari-evai2i)", "Prompt explorer (napari-evai2i)"} <= set(docked)
    finally:
        viewer.close()
