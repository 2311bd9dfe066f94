"""A small acquisition form whose values become a canonical prompt.

Prefilled from the source layer's DICOM tags (``fields_from_tags``), so "this series, but
with TE 100 ms" is one edit away. A value of 0 means "unknown" and is left out of the prompt.
Facts the form does not show (scanning sequence, scanner) are kept from the source.

The weighting follows the timing unless the user picks one: with the sequence left at
"from TR, TE, TI", setting TR 4000 / TE 100 on a T1-weighted source gives a T2-weighted
prompt (the same textbook rules that read DICOM headers, ``prompts.heuristics``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, LineEdit
from psygnal import Signal

from ...prompts import ProtocolFields, canonical_prompt, fields_from_tags, vocabulary
from ...prompts.glossary import SCANNING_SEQUENCE, SEQUENCE_VARIANT, codes_of
from ...prompts.heuristics import sequence_from_physics

FAT_SATURATION = "fat saturation"
UNKNOWN = "(unknown)"
#: The sequence choice that derives the weighting from the form's timing.
DERIVED = "(from TR, TE, TI)"


def _number(value: float) -> float | None:
    return float(value) if value and value > 0 else None


class ProtocolForm(Container):
    """Sequence, TR, TE, TI, flip angle, field, contrast agent, fat saturation, organ."""

    prompt_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__(labels=True)
        self._sequences = list(vocabulary.ALL_SEQUENCES) + list(vocabulary.HEADER_ONLY_SEQUENCES)
        self.sequence = ComboBox(label="sequence", value=DERIVED,
                                 choices=[(DERIVED, DERIVED), (UNKNOWN, None)] + [(s, s) for s in self._sequences],
                                 tooltip="the weighting; by default derived from TR, TE and TI as you set them")
        unknown = "0 means unknown: left out of the prompt"
        self.repetition_time = FloatSpinBox(label="TR (ms)", min=0, max=30000, step=10, tooltip=unknown)
        self.echo_time = FloatSpinBox(label="TE (ms)", min=0, max=2000, step=1, tooltip=unknown)
        self.inversion_time = FloatSpinBox(label="TI (ms)", min=0, max=10000, step=10, tooltip=unknown)
        self.flip_angle = FloatSpinBox(label="flip angle (deg)", min=0, max=180, step=1, tooltip=unknown)
        self.field_strength = FloatSpinBox(label="field (T)", min=0, max=11.7, step=0.5, tooltip=unknown)
        self.contrast = CheckBox(text="contrast agent given")
        self.contrast_agent = LineEdit(label="agent")
        self.fat_saturation = CheckBox(text="fat saturation")
        self.organ = LineEdit(label="organ")
        self.extend([self.sequence, self.repetition_time, self.echo_time, self.inversion_time, self.flip_angle,
                     self.field_strength, self.contrast, self.contrast_agent, self.fat_saturation, self.organ])
        self._base = ProtocolFields()
        self._loading = False
        for widget in self:
            widget.changed.connect(self._on_edit)

    def load_tags(self, tags: Mapping[str, Any] | None) -> None:
        """Prefill from a series' tags (an empty form when there are none)."""
        self.load_fields(fields_from_tags(tags) if tags else ProtocolFields(modality="MR"))

    def load_fields(self, fields: ProtocolFields) -> None:
        self._base = fields
        self._loading = True
        try:
            self.sequence.value = DERIVED
            self.repetition_time.value = fields.repetition_time or 0
            self.echo_time.value = fields.echo_time or 0
            self.inversion_time.value = fields.inversion_time or 0
            self.flip_angle.value = fields.flip_angle or 0
            self.field_strength.value = fields.field_strength or 0
            self.contrast.value = bool(fields.contrast)
            self.contrast_agent.value = fields.contrast_agent or ""
            self.fat_saturation.value = fields.fat_saturated
            self.organ.value = fields.organ or ""
        finally:
            self._loading = False
        self._on_edit()

    def fields(self) -> ProtocolFields:
        """The source's fields with the form's edits applied."""
        options = tuple(o for o in self._base.scan_options if o.lower() != FAT_SATURATION)
        if self.fat_saturation.value:
            options += (FAT_SATURATION,)
        agent = self.contrast_agent.value.strip() or None
        contrast = bool(self.contrast.value or agent)
        timing = (_number(self.repetition_time.value), _number(self.echo_time.value),
                  _number(self.inversion_time.value), _number(self.flip_angle.value))
        return self._base.replace(
            sequence=self._sequence(timing),
            repetition_time=timing[0],
            echo_time=timing[1],
            inversion_time=timing[2],
            flip_angle=timing[3],
            field_strength=_number(self.field_strength.value),
            contrast=contrast,
            contrast_agent=agent if contrast else None,
            scan_options=options,
            organ=self.organ.value.strip() or None,
        )

    def _sequence(self, timing: tuple[float | None, ...]) -> str | None:
        """The chosen weighting, or the one the timing implies (the source's if the timing is its own)."""
        if self.sequence.value != DERIVED:
            return self.sequence.value
        base = self._base
        derived = sequence_from_physics(codes_of(base.scanning_sequence, SCANNING_SEQUENCE),
                                        codes_of(base.sequence_variant, SEQUENCE_VARIANT), *timing)
        if derived is not None:
            return derived
        unchanged = timing == (base.repetition_time, base.echo_time, base.inversion_time, base.flip_angle)
        return base.sequence if unchanged else None

    def prompt(self) -> str:
        return canonical_prompt(self.fields())

    def _on_edit(self, *_: Any) -> None:
        if not self._loading:
            self.prompt_changed.emit(self.prompt())
