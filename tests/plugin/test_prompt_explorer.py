"""Prompt explorer: the live slice follows the slider; the sweep is exported as a stack and a GIF."""

import numpy as np
import pytest

from napari_evai2i.plugin.layers import PROVENANCE_KEY, RESULT_KEY

pytestmark = pytest.mark.gui

PLUGIN = "napari-evai2i"
TIMEOUT_MS = 60_000


def role_layers(viewer, role):
    return [layer for layer in viewer.layers if (layer.metadata.get(RESULT_KEY) or {}).get("role") == role]


@pytest.fixture
def explorer(slab_viewer):
    _, widget = slab_viewer.window.add_plugin_dock_widget(PLUGIN, "Prompt explorer")
    widget.source.value = slab_viewer.layers["T1 slab"]
    return widget


def test_slider_updates_the_live_slice(slab_viewer, explorer, qtbot):
    assert not role_layers(slab_viewer, "explorer preview"), "opening the widget translates nothing"
    assert "T1-weighted" in explorer.prompt_a.value and "T2-weighted" in explorer.prompt_b.value
    with qtbot.waitSignal(explorer.preview_updated, timeout=TIMEOUT_MS) as shown:
        explorer.t.value = 0.2                       # debounced: the worker starts ~150 ms later
    assert shown.args == [pytest.approx(0.2)]
    (preview,) = role_layers(slab_viewer, "explorer preview")
    first = np.array(preview.data)
    assert preview.data.shape == (1, *slab_viewer.layers["T1 slab"].data.shape[1:])
    assert preview.metadata[PROVENANCE_KEY]["t"] == pytest.approx(0.2)

    with qtbot.waitSignal(explorer.preview_updated, timeout=TIMEOUT_MS) as shown:
        for t in (0.4, 0.6, 0.9):                    # a drag: only the last value is rendered
            explorer.t.value = t
    assert shown.args == [pytest.approx(0.9)]
    (preview,) = role_layers(slab_viewer, "explorer preview")
    assert not np.allclose(preview.data, first)
    assert preview.metadata[PROVENANCE_KEY]["prompt_b"] == " ".join(explorer.prompt_b.value.split())


def test_sweep_exports_stack_and_gif_and_volume_renders(slab_viewer, explorer, qtbot, tmp_path):
    import imageio.v3 as iio

    explorer.steps.value = 3
    explorer.gif_path.value = tmp_path / "sweep.gif"
    with qtbot.waitSignal(explorer.sweep_exported, timeout=TIMEOUT_MS) as exported:
        explorer.export_button.clicked.emit()
    gif = tmp_path / "sweep.gif"
    assert exported.args == [str(gif)] and gif.is_file()
    assert len(list(iio.imiter(gif))) == 3
    (stack,) = role_layers(slab_viewer, "sweep")
    assert stack.data.shape == (3, *slab_viewer.layers["T1 slab"].data.shape[1:])
    assert not np.allclose(stack.data[0], stack.data[-1])

    with qtbot.waitSignal(explorer.preview_updated, timeout=TIMEOUT_MS):
        explorer.t.value = 0.5                       # the live slice, then the whole volume
    worker = explorer.render_volume()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        pass
    (volume,) = role_layers(slab_viewer, "translation")
    assert "SYNTHETIC" in volume.name and volume.data.shape == slab_viewer.layers["T1 slab"].data.shape
