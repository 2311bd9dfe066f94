"""What each DICOM tag of a prompt does to a translation: leave it out, translate again, compare.

For every optional fact the prompt states (field strength, TE, TR, TI, flip angle, fat
saturation, contrast agent, manufacturer) the prompt is rebuilt without it and the same
slices are translated again, with the same intensity scale. The effect size of a tag is

    mean |translation without the tag - translation| / mean |translation|

over the foreground (normalised source above :data:`FOREGROUND_LEVEL`): 0 means the model
ignores the tag, 0.1 means leaving it out changes the image by a tenth of its brightness.
The baseline is the canonical prompt of the same fields, so only the tag differs between the
two prompts, never the wording. Removing a fact rather than setting a "neutral" value avoids
inventing one (there is no neutral TE); the model was trained with facts dropped at random,
so a prompt without one is one it knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..io import Volume
from ..prompts import ProtocolFields, canonical_prompt
from ..prompts.parse import fields_from_prompt
from ..prompts.template import format_number
from .request import PromptMix, TranslationRequest

#: Tags whose effect is measured, in the order a table lists ties.
TAGS = ("field strength", "TE", "TR", "TI", "flip angle", "fat saturation", "contrast agent", "manufacturer")
#: Normalised source level above which a voxel counts as foreground (the brain core sits at 0.5).
FOREGROUND_LEVEL = 0.1
#: Slices the command scores by default: evenly spread over the middle of the volume.
DEFAULT_SLICES = 8

_NUMBERS = {"field strength": ("field_strength", "T"), "TE": ("echo_time", "ms"), "TR": ("repetition_time", "ms"),
            "TI": ("inversion_time", "ms"), "flip angle": ("flip_angle", "degrees")}
_FAT_WORDS = ("fat saturation", "fat suppression")


@dataclass(frozen=True)
class TagEffect:
    """One tag's effect: what was removed, the prompt without it, the effect size and (optionally) the map."""

    tag: str
    value: str
    effect: float
    prompt: str
    difference: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"tag": self.tag, "value": self.value, "effect": round(self.effect, 5), "prompt_without": self.prompt}


@dataclass(frozen=True)
class TagReport:
    """Tag effects of one translation, largest first, and what they were measured on."""

    prompt: str
    effects: tuple[TagEffect, ...]
    axis: int
    slices: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"baseline_prompt": self.prompt, "slicing_axis": self.axis, "slices": list(self.slices),
                "effect_size": "mean |without tag - with| / mean |with| over the foreground",
                "tags": [e.to_dict() for e in self.effects]}

    def table(self) -> str:
        """Plain text: one line per tag, largest effect first."""
        rows = [f"{e.tag:<15} {e.value:<22} {e.effect:8.4f}" for e in self.effects]
        return "\n".join([f"{'tag':<15} {'value':<22} {'effect':>8}", *rows]) if rows else "(no optional tags)"


def without_tag(fields: ProtocolFields, tag: str) -> tuple[ProtocolFields, str] | None:
    """``fields`` with ``tag`` left out, and the value it had; None when the prompt does not state it."""
    if tag in _NUMBERS:
        name, unit = _NUMBERS[tag]
        value = getattr(fields, name)
        return None if value is None else (fields.replace(**{name: None}), f"{format_number(value)} {unit}")
    if tag == "fat saturation":
        if not fields.fat_saturated:
            return None
        keep = {name: tuple(p for p in getattr(fields, name) if not any(w in p.lower() for w in _FAT_WORDS))
                for name in ("scan_options", "sequence_variant", "scanning_sequence")}
        return fields.replace(**keep), "yes"
    if tag == "contrast agent":
        if not fields.contrast:
            return None
        return fields.replace(contrast=False, contrast_agent=None), fields.contrast_agent or "yes"
    if tag == "manufacturer":
        if not (fields.manufacturer or fields.model_name):
            return None
        name = " ".join(p for p in (fields.manufacturer, fields.model_name) if p)
        return fields.replace(manufacturer=None, model_name=None), name
    raise ValueError(f"unknown tag {tag!r}; tags are {', '.join(TAGS)}")


def target_fields(request: TranslationRequest, fields: ProtocolFields | None = None) -> ProtocolFields:
    """The fields behind the request's prompt (given, or read back from its text)."""
    if fields is not None:
        return fields
    if isinstance(request.target, PromptMix):
        raise ValueError("tag effects need one prompt, not an interpolation between two")
    found = fields_from_prompt(request.target)
    if found is None:
        raise ValueError("tag effects need a prompt built from tags (a known contrast, the form, or a prompt "
                         "from DICOM); this free text has no tags to leave out")
    return found


def middle_slices(count: int, wanted: int = DEFAULT_SLICES) -> tuple[int, ...]:
    """Up to ``wanted`` slice indices evenly spread over the middle 60 % of ``count`` slices."""
    if count <= wanted:
        return tuple(range(count))
    return tuple(int(i) for i in np.unique(np.linspace(0.2 * (count - 1), 0.8 * (count - 1), wanted).round()))


def tag_effects(volume: Volume, request: TranslationRequest, translator=None, *,
                fields: ProtocolFields | None = None, slices: Sequence[int] | None = None,
                maps: bool = False, tags: Sequence[str] = TAGS) -> TagReport:
    """Effect of leaving out each tag the prompt states, on ``slices`` along ``request.axis``.

    ``maps`` keeps each (without - with) difference, shaped like the scored slices.
    """
    from .pipeline import VolumeTranslation

    fields = target_fields(request, fields)
    base_prompt = canonical_prompt(fields)
    job = VolumeTranslation(volume, TranslationRequest(
        target=base_prompt, model=request.model, device=request.device, precision=request.precision,
        axis=request.axis, batch_size=request.batch_size, source_prompt=request.source_prompt), translator)
    axis = request.axis
    count = volume.array.shape[axis]
    slices = tuple(middle_slices(count) if slices is None else slices)
    if not slices or min(slices) < 0 or max(slices) >= count:
        raise ValueError(f"tag effects need slice indices within 0..{count - 1}, got {slices}")
    base = job.translate_slices(slices)
    foreground = job.scale.normalize(np.take(volume.array, slices, axis=axis)) > FOREGROUND_LEVEL
    if not foreground.any():
        raise ValueError("the chosen slices have no foreground (all below the background level); choose others")
    scale = float(np.abs(base[foreground]).mean()) or 1.0
    effects = []
    for tag in tags:
        removed = without_tag(fields, tag)
        if removed is None:
            continue
        reduced, value = removed
        prompt = canonical_prompt(reduced)
        other = job.translate_slices(slices, prompt)
        difference = other - base
        effect = float(np.abs(difference[foreground]).mean()) / scale
        effects.append(TagEffect(tag, value, effect, prompt, difference if maps else None))
    effects.sort(key=lambda e: -e.effect)
    return TagReport(base_prompt, tuple(effects), axis, slices)
