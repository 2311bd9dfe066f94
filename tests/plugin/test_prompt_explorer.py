"""Prompt explorer: the live slice follows the slider; the sweep is exported as a stack and a GIF.

Driven with real keys and clicks (``user_actions``).
"""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLineEdit
from user_actions import TIMEOUT_MS, clear_and_type, click, dock, slider_keys, type_number

from napari_evai2i.plugin.layers import PROVENANCE_KEY, RESULT_KEY

pytestmark = pytest.mark.gui


def role_layers(viewer, role):
    return [layer for layer in viewer.layers if (layer.metadata.get(RESULT_KEY) or {}).get("role") == role]


@pytest.fixture
def explorer(slab_viewer, qtbot):
    widget = dock(slab_viewer, qtbot, "Prompt explorer")
    assert widget.source.value is slab_viewer.layers["T1 slab"]      # the active layer
    return widget


def test_slider_updates_the_live_slice(slab_viewer, explorer, qtbot):
    assert not role_layers(slab_viewer, "explorer preview"), "opening the widget translates nothing"
    assert "T1-weighted" in explorer.prompt_a.value and "T2-weighted" in explorer.prompt_b.value
    with qtbot.waitSignal(explorer.preview_updated, timeout=TIMEOUT_MS) as shown:
        slider_keys(qtbot, explorer.t, Qt.Key.Key_PageUp, times=2)   # debounced: one render ~150 ms later
    first_t = explorer.t.value
    assert first_t > 0 and shown.args == [pytest.approx(first_t)]
    (preview,) = role_layers(slab_viewer, "explorer preview")
    first = np.array(preview.data)
    assert preview.data.shape == (1, *slab_viewer.layers["T1 slab"].data.shape[1:])
    assert preview.metadata[PROVENANCE_KEY]["t"] == pytest.approx(first_t)

    with qtbot.waitSignal(explorer.preview_updated, timeout=TIMEOUT_MS) as shown:
        slider_keys(qtbot, explorer.t, Qt.Key.Key_PageUp, times=5)   # a drag: only the last value is rendered
    assert explorer.t.value > first_t and shown.args == [pytest.approx(explorer.t.value)]
    (preview,) = role_layers(slab_viewer, "explorer preview")
    assert not np.allclose(preview.data, first)
    assert preview.metadata[PROVENANCE_KEY]["prompt_b"] == " ".join(explorer.prompt_b.value.split())


def test_sweep_exports_stack_and_gif_and_volume_renders(slab_viewer, explorer, qtbot, tmp_path):
    import imageio.v3 as iio

    type_number(qtbot, explorer.steps, 3)
    clear_and_type(qtbot, explorer.gif_path.native.findChild(QLineEdit), str(tmp_path / "sweep.gif"))
    with qtbot.waitSignal(explorer.sweep_exported, timeout=TIMEOUT_MS) as exported:
        click(qtbot, explorer.export_button)
    gif = tmp_path / "sweep.gif"
    assert exported.args == [str(gif)] and gif.is_file()
    assert len(list(iio.imiter(gif))) == 3
    (stack,) = role_layers(slab_viewer, "sweep")
    assert stack.data.shape == (3, 1, *slab_viewer.layers["T1 slab"].data.shape[1:])
    assert not np.allclose(stack.data[0], stack.data[-1])

    with qtbot.waitSignal(explorer.preview_updated, timeout=TIMEOUT_MS):
        slider_keys(qtbot, explorer.t, Qt.Key.Key_End)             # the live slice at t = 1, then the volume
    with qtbot.waitSignal(explorer.volume_rendered, timeout=TIMEOUT_MS):
        click(qtbot, explorer.render_button)
    (volume,) = role_layers(slab_viewer, "translation")
    assert volume.name.startswith("SYNTHETIC ") and volume.data.shape == slab_viewer.layers["T1 slab"].data.shape
    assert volume.metadata[PROVENANCE_KEY]["t"] == pytest.approx(1.0)
