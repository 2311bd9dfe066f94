"""Where the target prompt comes from: a known contrast, free text, or a form.

Whatever the route, the exact text that will be sent to the model is shown in a read-only
box, because the translation depends on every word of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from magicgui.widgets import ComboBox, Container, TextEdit
from psygnal import Signal

from ...engine.source_contrast import KNOWN_KINDS, known_prompts
from .protocol_form import ProtocolForm
from .text_input import on_text_edited

MODE_KNOWN, MODE_TEXT, MODE_FORM = "known contrast", "free text", "form"
DEFAULT_KIND = "T2W"
TEXT_BOX_HEIGHT = 96   # pixels: about five lines, enough for a canonical prompt


class PromptBuilder(Container):
    """Mode selector, the three prompt inputs, and the prompt actually used."""

    prompt_changed = Signal(str)

    def __init__(self, default_kind: str = DEFAULT_KIND) -> None:
        super().__init__(labels=True)
        self.mode = ComboBox(label="prompt from", choices=[MODE_KNOWN, MODE_TEXT, MODE_FORM], value=MODE_KNOWN)
        self.known = ComboBox(label="contrast", choices=list(KNOWN_KINDS), value=default_kind)
        self.text = TextEdit(label="prompt text", value=known_prompts()[default_kind],
                             tooltip="any description of the target acquisition")
        self.form = ProtocolForm()
        self.used = TextEdit(label="prompt used", tooltip="exactly this text is sent to the model")
        self.used.read_only = True
        for box in (self.text, self.used):
            box.native.setMaximumHeight(TEXT_BOX_HEIGHT)
        self.extend([self.mode, self.known, self.text, self.form, self.used])
        self.mode.changed.connect(self._refresh)
        self.known.changed.connect(self._refresh)
        on_text_edited(self.text, self._refresh)
        self.form.prompt_changed.connect(self._refresh)
        self._refresh()

    @property
    def prompt(self) -> str:
        """The prompt that will be used (whitespace collapsed)."""
        return " ".join(str(self.used.value).split())

    def set_source_tags(self, tags: Mapping[str, Any] | None) -> None:
        """Prefill the form from the source layer's tags."""
        self.form.load_tags(tags)
        self._refresh()

    def set_text(self, text: str) -> None:
        """Switch to free text with ``text`` (scripts; a person types into the box)."""
        self.mode.value = MODE_TEXT
        self.text.value = text

    def _refresh(self, *_: Any) -> None:
        mode = self.mode.value
        self.known.visible = mode == MODE_KNOWN
        self.text.visible = mode == MODE_TEXT
        self.form.visible = mode == MODE_FORM
        if mode == MODE_KNOWN:
            prompt = known_prompts()[self.known.value]
        elif mode == MODE_TEXT:
            prompt = str(self.text.value)
        else:
            prompt = self.form.prompt()
        if prompt != self.used.value:
            self.used.value = prompt
        self.prompt_changed.emit(self.prompt)
