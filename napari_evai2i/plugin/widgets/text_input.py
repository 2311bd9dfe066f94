"""Text boxes whose edits take effect however they are made: typing, pasting or code.

magicgui 0.10's ``TextEdit.changed`` never fires when a person types: Qt's
``QTextEdit.textChanged`` carries no value, and magicgui drops value-less changes. So a
typed prompt was silently ignored. Connect to the native signal instead.
"""

from __future__ import annotations

from collections.abc import Callable

from magicgui.widgets import TextEdit


def on_text_edited(box: TextEdit, slot: Callable[[str], object]) -> None:
    """Call ``slot(text)`` on every change of ``box``'s text, by keyboard, paste or ``box.value``."""
    box.native.textChanged.connect(lambda *_: slot(str(box.value)))
