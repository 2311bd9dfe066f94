"""The "source is" choice: the input's own contrast, which becomes the source prompt.

Offered by Translate and the Prompt explorer. A layer with DICOM tags defaults to the prompt
built from them; a layer without tags (most NIfTI files) to the contrast its name or series
description names (:func:`~napari_evai2i.engine.source_contrast.guess_kind`), else "read from
the image": the engine asks the contrast reader when the job runs (in the worker, so the
widget never loads torch) and uses its answer when it is sure. "unknown" gives no source
prompt at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from magicgui.widgets import ComboBox

from ...engine.request import source_prompt_of
from ...engine.source_contrast import KNOWN_KINDS, describe_source_prompt, guess_kind, known_prompts
from ..layers import TAGS_KEY, contrast_label

FROM_TAGS = "from its DICOM tags"
READ = "read from the image"
UNKNOWN = "unknown"


def naming_texts(layer: Any) -> list[str]:
    """What may name a layer's contrast: its name, file name, series description, protocol."""
    tags = layer.metadata.get(TAGS_KEY) or {}
    path = getattr(getattr(layer, "source", None), "path", None)
    texts = [layer.name, Path(str(path)).name if path else None,
             tags.get("SeriesDescription"), tags.get("ProtocolName")]
    return [str(t) for t in texts if t]


class SourceContrast(ComboBox):
    """Combo box of "from its DICOM tags" (when there are tags, else "read from the image"), the
    known contrasts and "unknown"."""

    def __init__(self) -> None:
        self._has_tags = False
        self._guess: tuple[str, str] | None = None      # (kind, the text it was read from)
        # Choices are a function of the layer: napari re-evaluates them (reset_choices) whenever
        # layers change, which must not drop "from its DICOM tags".
        super().__init__(label="source is", choices=self._choices, value=UNKNOWN,
                         tooltip="the contrast of the source image: the model is told it as the source "
                                 "prompt; 'read from the image' lets the contrast reader name it (used "
                                 "only when it is sure); 'unknown' gives the model no source prompt")

    def _choices(self, _: Any = None) -> list[str]:
        return [FROM_TAGS if self._has_tags else READ, *KNOWN_KINDS, UNKNOWN]

    def update_for(self, layer: Any) -> None:
        """Offer and preselect what fits ``layer`` (None: no layer)."""
        tags = (layer.metadata.get(TAGS_KEY) or {}) if layer is not None else {}
        has_tags = bool(source_prompt_of(tags))
        self._has_tags = has_tags
        self.reset_choices()
        self._guess = None
        if has_tags:
            self.value = FROM_TAGS
            return
        for text in naming_texts(layer) if layer is not None else []:
            kind = guess_kind([text])
            if kind:
                self._guess = (kind, text)
                break
        self.value = self._guess[0] if self._guess else READ

    @property
    def source_prompt(self) -> str | None:
        """For the engine: None = from the tags or the image, "" = unknown, else the contrast's prompt."""
        if self.value in (FROM_TAGS, READ):
            return None
        if self.value == UNKNOWN:
            return ""
        return known_prompts()[self.value]

    @property
    def origin(self) -> str:
        if self.value == FROM_TAGS:
            return "DICOM tags"
        if self.value == READ:
            return "read from the image"
        if self.value == UNKNOWN:
            return "unknown"
        if self._guess and self._guess[0] == self.value:
            return f"{self.value}, guessed from {self._guess[1]!r}"
        return f"{self.value}, chosen"

    def describe(self, provenance: Mapping[str, Any]) -> str:
        """The status line's short phrase about the source prompt the engine used, from a result's
        provenance (which holds the whole prompt). Where the engine chose (tags, the reader),
        its own account of where the prompt came from is given."""
        used_prompt = provenance.get("source_prompt")
        origin = self.origin
        if self.value in (FROM_TAGS, READ):
            origin = provenance.get("source_prompt_from") or origin
        if not used_prompt:
            return describe_source_prompt(None, origin)
        return f"source prompt: {contrast_label(used_prompt)} ({origin})"
