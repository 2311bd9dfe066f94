"""Prompts for EVA-I2I: protocol facts -> English sentences -> CLIP tokens.

Engine code only (no napari, Qt or magicgui). torch is imported lazily by :func:`tokenize`, so
importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import vocabulary
from .dicom import fields_from_dicom, fields_from_info_entry, fields_from_tags
from .fields import ProtocolFields
from .glossary import expand
from .template import Slot, build_slots, canonical_prompt, is_rendering_of, sample_prompt

if TYPE_CHECKING:
    from .tokenizer import PromptTooLongError, tokenize

__all__ = [
    "PromptTooLongError",
    "ProtocolFields",
    "Slot",
    "build_slots",
    "canonical_prompt",
    "expand",
    "fields_from_dicom",
    "fields_from_info_entry",
    "fields_from_tags",
    "is_rendering_of",
    "sample_prompt",
    "tokenize",
    "vocabulary",
]


def __getattr__(name: str) -> Any:
    # The tokenizer module itself imports torch only inside tokenize(); loading it is cheap,
    # but keeping it lazy means `import napari_evai2i.prompts` never even touches open_clip.
    if name in ("tokenize", "PromptTooLongError"):
        from . import tokenizer

        return getattr(tokenizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
