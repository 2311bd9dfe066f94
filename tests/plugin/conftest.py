"""Fixtures for the napari plugin tests: a viewer with small slabs of the 2 mm sample."""

import numpy as np
import pytest

PLUGIN = "napari-evai2i"
SLAB = slice(40, 50)          # 10 axial slices of the 2 mm subject: seconds on a CPU


def add_slab(viewer, layer, name):
    """A few slices of ``layer`` as a new layer placed exactly where they were."""
    from napari_evai2i.plugin.layers import slab_geometry_kwargs

    kwargs = slab_geometry_kwargs(layer, 0, SLAB.start)
    return viewer.add_image(np.asarray(layer.data[SLAB]), name=name, metadata=dict(layer.metadata), **kwargs)


@pytest.fixture
def sample_viewer(make_napari_viewer):
    """A viewer with the 2 mm sample subject opened through the plugin."""
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN, "simulated_brain_2mm")
    return viewer


@pytest.fixture
def slab_viewer(sample_viewer):
    """The sample viewer plus 'T1 slab' and 'T2 slab' layers (10 slices each); T1 slab on top."""
    t2 = add_slab(sample_viewer, sample_viewer.layers["T2w ground truth (simulated)"], "T2 slab")
    t1 = add_slab(sample_viewer, sample_viewer.layers["T1w (simulated)"], "T1 slab")
    t2.visible = False
    sample_viewer.layers.selection.active = t1
    return sample_viewer


@pytest.fixture
def translate_widget(slab_viewer, qtbot):
    """Translate docked in a shown window, "T1 slab" chosen as its source with the mouse and keys."""
    from user_actions import choose, dock

    widget = dock(slab_viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "T1 slab")
    return widget
