"""The acquisition facts a prompt is written from.

Real DICOM headers, ``info.json`` entries, the simulator and the widgets all reduce to one
:class:`ProtocolFields`, so the prompt text depends only on the protocol and never on where the
protocol came from. Values are already in plain words (codes expanded, vendors normalised).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from .vocabulary import PLANES

_TEXT_FIELDS = (
    "modality",
    "sequence",
    "organ",
    "manufacturer",
    "model_name",
    "contrast_agent",
    "coil",
    "plane",
)
_NUMBER_FIELDS = (
    "repetition_time",
    "echo_time",
    "inversion_time",
    "flip_angle",
    "field_strength",
    "b_value",
    "kvp",
    "tube_current",
    "exposure_time",
)
_PHRASE_FIELDS = ("scanning_sequence", "sequence_variant", "scan_options", "preprocessing")

_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", ""})


# --- lenient converters --------------------------------------------------------------------------
# Header values arrive as str, numbers, bytes, lists or pydicom MultiValue/DSfloat/IS objects.
# These return None instead of raising, so one odd tag can never break a whole prompt.


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


def to_float(value: Any) -> float | None:
    """A finite float from a number, numeric string or the first item of a list, else None."""
    if value is None or isinstance(value, bool):
        return None
    if _is_sequence(value):
        return to_float(value[0]) if len(value) else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        value = value.strip().rstrip("\x00").strip()
        if not value:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):    # OverflowError: an integer of 400 digits
        return None
    return number if math.isfinite(number) else None


def to_text(value: Any) -> str | None:
    """Stripped text with collapsed whitespace; lists are joined with spaces; blank is None."""
    if value is None or isinstance(value, bool) or isinstance(value, (Mapping, set)):
        return None
    if _is_sequence(value):
        parts = [to_text(item) for item in value]
        value = " ".join(part for part in parts if part)
    elif isinstance(value, bytes):
        value = value.decode("latin-1")
    elif isinstance(value, (int, float)):
        try:
            value = format(value, "g")
        except OverflowError:                       # an integer beyond any float
            return None
    text = " ".join(str(value).replace("\x00", " ").split())
    return text or None


def to_codes(value: Any) -> list[str]:
    """DICOM CS values as a list: 'GR\\\\IR', ['GR', 'IR'] and MultiValue all work."""
    if value is None or isinstance(value, bool):
        return []
    if _is_sequence(value):
        items = [to_text(item) for item in value]
    else:
        text = to_text(value)
        items = text.split("\\") if text else []
    return [item.strip() for item in items if item and item.strip()]


def to_bool(value: Any) -> bool | None:
    """True/False from bools, 0/1 and yes/no words; None when the value says neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _to_phrases(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [value]
    if not _is_sequence(value):
        return None
    phrases = []
    for item in value:
        if not isinstance(item, str):
            return None
        text = to_text(item)
        if text and text not in phrases:
            phrases.append(text)
    return tuple(phrases)


@dataclasses.dataclass(frozen=True)
class ProtocolFields:
    """One image series' protocol in plain words.

    ``scanning_sequence``, ``sequence_variant`` and ``scan_options`` hold expanded phrases
    ("spin echo"), never DICOM codes. Times are in ms, the flip angle in degrees, the field in
    tesla, the b-value in s/mm2, the tube voltage in kVp and the current in mA. ``None`` means
    "unknown" and the fact is left out of every prompt.
    """

    modality: str = "MR"
    sequence: str | None = None
    organ: str | None = None
    scanning_sequence: tuple[str, ...] = ()
    sequence_variant: tuple[str, ...] = ()
    scan_options: tuple[str, ...] = ()
    repetition_time: float | None = None
    echo_time: float | None = None
    inversion_time: float | None = None
    flip_angle: float | None = None
    field_strength: float | None = None
    manufacturer: str | None = None
    model_name: str | None = None
    contrast: bool = False
    contrast_agent: str | None = None
    b_value: float | None = None
    kvp: float | None = None
    tube_current: float | None = None
    exposure_time: float | None = None
    coil: str | None = None
    preprocessing: tuple[str, ...] = ()
    plane: str | None = None

    def __post_init__(self) -> None:
        # Lists passed by callers become tuples, which keeps the object hashable (cache keys).
        for name in _PHRASE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            elif not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    @property
    def fat_saturated(self) -> bool:
        """Whether fat signal is suppressed; such a prompt must always say so."""
        phrases = self.scan_options + self.sequence_variant + self.scanning_sequence
        return any("fat saturation" in p.lower() or "fat suppression" in p.lower() for p in phrases)

    def replace(self, **changes: Any) -> ProtocolFields:
        """A copy with some fields changed (e.g. the plane a slice is cut in)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples become lists) that :meth:`from_dict` turns back into ``self``."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolFields:
        """Rebuild from :meth:`to_dict` output or hand-written JSON.

        Unknown keys are ignored so files written by newer versions still load; numbers given as
        text are converted; values of the wrong type are dropped (the default is kept).
        """
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                continue
            if name in _TEXT_FIELDS:
                coerced: Any = value if isinstance(value, str) else None
                coerced = to_text(coerced)
            elif name in _NUMBER_FIELDS:
                coerced = None if _is_sequence(value) else to_float(value)
            elif name in _PHRASE_FIELDS:
                coerced = _to_phrases(value)
            elif name == "contrast":
                coerced = to_bool(value)
            else:
                continue
            if coerced is not None:
                kwargs[name] = coerced
        if "modality" in kwargs:
            kwargs["modality"] = kwargs["modality"].upper()
        if "plane" in kwargs:
            plane = kwargs["plane"].lower()
            if plane in PLANES:
                kwargs["plane"] = plane
            else:
                del kwargs["plane"]
        return cls(**kwargs)
