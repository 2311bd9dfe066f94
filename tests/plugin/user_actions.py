"""What a person does to a widget, as real Qt key and mouse events (pytest-qt's ``qtbot``).

GUI tests use these instead of the widgets' Python setters, so a change that only a setter
makes (and typing does not) is caught.
"""

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

PLUGIN = "napari-evai2i"
TIMEOUT_MS = 90_000


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget.native, Qt.MouseButton.LeftButton)


def choose(qtbot, combo, text: str) -> None:
    """Open a combo box with a click, walk to the entry starting with ``text`` with the arrow
    keys and press Return."""
    native = combo.native
    qtbot.mouseClick(native, Qt.MouseButton.LeftButton)
    view = native.view()
    qtbot.waitUntil(view.isVisible, timeout=5_000)
    row = next(i for i in range(native.count()) if native.itemText(i).startswith(text))
    key = Qt.Key.Key_Down if row > view.currentIndex().row() else Qt.Key.Key_Up
    for _ in range(abs(row - view.currentIndex().row())):
        qtbot.keyClick(view, key)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=5_000)
    assert native.currentIndex() == row, (text, native.currentText())


def type_choice(qtbot, combo, letters: str) -> None:
    """Pick a combo-box entry by typing its first letters on the closed box."""
    combo.native.setFocus()
    qtbot.keyClicks(combo.native, letters)


def clear_and_type(qtbot, native, text: str) -> None:
    """Click into a text box, select everything, delete it and type ``text``."""
    qtbot.mouseClick(native.viewport() if hasattr(native, "viewport") else native, Qt.MouseButton.LeftButton)
    qtbot.keyClick(native, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(native, Qt.Key.Key_Backspace)
    if text:
        qtbot.keyClicks(native, text)


def type_number(qtbot, spin, value) -> None:
    native = spin.native
    native.setFocus()
    qtbot.keyClick(native, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(native, str(value))
    qtbot.keyClick(native, Qt.Key.Key_Return)


def paste(qtbot, native, text: str) -> None:
    QApplication.clipboard().setText(text)
    native.setFocus()
    qtbot.keyClick(native, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(native, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


def run_by_click(qtbot, widget) -> str:
    with qtbot.waitSignal(widget.run_finished, timeout=TIMEOUT_MS) as finished:
        click(qtbot, widget.run_button)
    return finished.args[0]


def dock(viewer, qtbot, name: str):
    """Dock a widget in a shown window (a person cannot click into a hidden one)."""
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    viewer.window.show()
    qtbot.waitExposed(viewer.window._qt_window)
    return widget


def toggle(qtbot, checkbox) -> None:
    """Tick or untick a check box with the space bar."""
    checkbox.native.setFocus()
    qtbot.keyClick(checkbox.native, Qt.Key.Key_Space)


def slider_keys(qtbot, slider, key, times: int = 1) -> None:
    """Move a (magicgui) slider with the keyboard: PageUp, Right, End..."""
    from qtpy.QtWidgets import QSlider

    native = slider.native.findChild(QSlider) or slider.native
    native.setFocus()
    for _ in range(times):
        qtbot.keyClick(native, key)
