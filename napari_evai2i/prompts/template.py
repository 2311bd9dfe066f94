"""Prompt text from protocol fields: slots, wording variants, sampling and the match rule.

A prompt is an ordered list of :class:`Slot` s, one per fact (weighting, contrast, scanner, ...).
Each slot has several equivalent wordings. Training draws a random wording per slot and drops
optional slots; inference uses :func:`canonical_prompt`, the first wording of every slot. The
contrastive loss treats a text as a positive for a protocol when :func:`is_rendering_of` holds.

Invariant that keeps matching exact: every wording is one sentence ending in "." with no ". "
inside, so splitting a text on ". " recovers the sentences ("2.81 ms" is never split).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .fields import ProtocolFields
from .glossary import ORGAN_SYNONYMS, expand

__all__ = [
    "SLOT_ORDER",
    "Slot",
    "build_slots",
    "canonical_prompt",
    "format_number",
    "is_rendering_of",
    "sample_prompt",
    "split_sentences",
]

SLOT_ORDER = (
    "overview",
    "contrast",
    "scanner",
    "exposure",
    "coil",
    "scanning_sequence",
    "sequence_variant",
    "scan_options",
    "timing",
    "preprocessing",
    "plane",
)

_SENTENCE_BREAK = re.compile(r"(?<=\.)\s+")


@dataclass(frozen=True)
class Slot:
    """One fact of a prompt: its equivalent wordings and whether it may be left out."""

    name: str
    variants: tuple[str, ...]
    mandatory: bool

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError(f"slot {self.name!r} has no wording")
        for text in self.variants:
            if not text.endswith(".") or _SENTENCE_BREAK.search(text):
                raise ValueError(f"slot {self.name!r}: {text!r} is not exactly one sentence")


# --- wording helpers -----------------------------------------------------------------------------


def format_number(value: float) -> str:
    """Compact numbers for prompts: 4000, 2.81, 1.5 and 0.35; never '4000.0'."""
    if abs(value - round(value)) < 1e-6:
        return str(int(round(value)))
    if abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = format(float(f"{value:.3g}"), "f")
    return text.rstrip("0").rstrip(".")


def _clean(text: str) -> str:
    """Free text (agent, model, coil) made safe to sit inside one sentence."""
    # A run of dots before a space goes whole (".. x" must not leave ". x", a sentence break),
    # and the spaces are collapsed again after it (". . 0" is "0").
    text = re.sub(r"\.+\s+", " ", " ".join(text.split()))
    return " ".join(text.split()).rstrip(". ")


def _words(text: str | None) -> str | None:
    """:func:`_clean` text, or None when nothing is left ('.', ' . '): an empty fact is no fact,
    and would leave a double space no reader of the prompt could match."""
    return _clean(text) or None if text else None


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _listing(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --- slot builders -------------------------------------------------------------------------------


def _overview(f: ProtocolFields) -> Slot:
    modality_words = _words(expand("Modality", f.modality)) or "medical image"
    descriptor = _words(f.sequence)
    if descriptor and descriptor.endswith(" imaging") and modality_words.endswith("imaging"):
        descriptor = descriptor[: -len(" imaging")]  # "diffusion weighted magnetic resonance imaging"
    head = f"{descriptor} {modality_words}" if descriptor else modality_words
    b_value = f" with a b-value of {format_number(f.b_value)} s/mm2" if f.b_value is not None else ""
    opening = f"{_capital(_article(head))} {head}"
    organs = ORGAN_SYNONYMS.get(f.organ, (f.organ,)) if f.organ else ()
    variants = [f"{opening} of the {organ}{b_value}." for organ in filter(None, map(_words, organs))]
    variants.append(f"{opening}{b_value}.")
    return Slot("overview", _unique(variants), mandatory=True)


def _contrast(f: ProtocolFields) -> Slot | None:
    if not f.contrast:
        return None
    variants = []
    agent = _words(f.contrast_agent)
    if agent:
        variants += [
            f"The image is contrast-enhanced with {agent}.",
            f"The contrast agent {agent} is injected before the scan.",
        ]
    variants.append("The image is contrast-enhanced.")
    return Slot("contrast", tuple(variants), mandatory=True)


def _scanner(f: ProtocolFields) -> Slot | None:
    vendor = _words(f.manufacturer)
    model = _words(f.model_name)
    field = f"{format_number(f.field_strength)} T" if f.field_strength is not None else None
    # Models such as "Eclipse 1.5T" already name the field; do not say it twice.
    tesla = re.escape(format_number(f.field_strength)) if field else None
    named = bool(tesla and model and re.search(rf"(?<![\d.]){tesla}\s?t(?![a-z])", model.lower()))
    variants = []
    for parts in ((vendor, model, field), (vendor, model), (model, field), (field,), (vendor,)):
        if named and model in parts and field in parts:
            parts = tuple(part for part in parts if part != field)
        if all(parts):
            words = " ".join(parts)
            variants.append(f"The scan is acquired on {_article(words)} {words} scanner.")
    if field:
        variants.append(f"The magnetic field strength is {format_number(f.field_strength)} tesla.")
    return Slot("scanner", _unique(variants), mandatory=False) if variants else None


def _exposure(f: ProtocolFields) -> Slot | None:
    compact, worded = [], []
    if f.kvp is not None:
        compact.append(f"tube voltage {format_number(f.kvp)} kVp")
        worded.append(f"a tube voltage of {format_number(f.kvp)} kVp")
    if f.tube_current is not None:
        compact.append(f"tube current {format_number(f.tube_current)} mA")
        worded.append(f"a tube current of {format_number(f.tube_current)} mA")
    if f.exposure_time is not None:
        compact.append(f"exposure time {format_number(f.exposure_time)} ms")
        worded.append(f"an exposure time of {format_number(f.exposure_time)} ms")
    if not compact:
        return None
    variants = [_capital(", ".join(compact)) + ".", f"The scan is performed with {_listing(worded)}."]
    if f.kvp is not None and len(worded) > 1:
        variants.append(f"The scan is performed with {worded[0]}.")
    return Slot("exposure", _unique(variants), mandatory=False)


def _coil(f: ProtocolFields) -> Slot | None:
    coil = _words(f.coil)
    if not coil:
        return None
    named = coil if "coil" in coil.lower() else f"{coil} coil"
    variants = (f"The signal is received with the {named}.", f"Receive coil: {coil}.")
    return Slot("coil", variants, mandatory=False)


def _phrase_slot(name: str, phrases: tuple[str, ...], singular: str, plural: str) -> Slot | None:
    cleaned = [word for word in map(_words, phrases) if word]
    if not cleaned:
        return None
    label, verb = (singular, "is") if len(cleaned) == 1 else (plural, "are")
    variants = (f"The {label} {verb} {_listing(cleaned)}.", f"{_capital(label)}: {', '.join(cleaned)}.")
    fat = any("fat saturation" in p.lower() or "fat suppression" in p.lower() for p in cleaned)
    # Fat suppression changes the image too much to ever be left unsaid.
    return Slot(name, variants, mandatory=fat)


def _timing(f: ProtocolFields) -> Slot | None:
    compact, worded = [], []
    for value, short, long, unit in (
        (f.repetition_time, "TR", "a repetition time", "ms"),
        (f.echo_time, "TE", "an echo time", "ms"),
        (f.inversion_time, "TI", "an inversion time", "ms"),
        (f.flip_angle, "flip angle", "a flip angle", "degrees"),
    ):
        if value is not None:
            compact.append(f"{short} {format_number(value)} {unit}")
            worded.append(f"{long} of {format_number(value)} {unit}")
    if not compact:
        return None
    variants = [_capital(", ".join(compact)) + ".", f"The image is acquired with {_listing(worded)}."]
    tr_te = [w for w in worded if w.startswith(("a repetition", "an echo"))]
    if tr_te and len(tr_te) < len(worded):
        variants.append(f"The image is acquired with {_listing(tr_te)}.")
    return Slot("timing", tuple(variants), mandatory=False)


def _preprocessing(f: ProtocolFields) -> Slot | None:
    steps = [step for step in map(_words, f.preprocessing) if step]
    if not steps:
        return None
    variants = (f"The image preprocessing consists of {_listing(steps)}.", f"Preprocessing: {', '.join(steps)}.")
    return Slot("preprocessing", variants, mandatory=True)


def _plane(f: ProtocolFields) -> Slot | None:
    plane = _words(f.plane.lower()) if f.plane else None
    if not plane:
        return None
    return Slot("plane", (f"The image is shown in the {plane} plane.", f"{_capital(plane)} view."), mandatory=False)


@functools.lru_cache(maxsize=4096)
def _slots(fields: ProtocolFields) -> tuple[Slot, ...]:
    built = (
        _overview(fields),
        _contrast(fields),
        _scanner(fields),
        _exposure(fields),
        _coil(fields),
        _phrase_slot("scanning_sequence", fields.scanning_sequence, "scanning sequence", "scanning sequences"),
        _phrase_slot("sequence_variant", fields.sequence_variant, "sequence variant", "sequence variants"),
        _phrase_slot("scan_options", fields.scan_options, "scan option", "scan options"),
        _timing(fields),
        _preprocessing(fields),
        _plane(fields),
    )
    return tuple(slot for slot in built if slot is not None)


def build_slots(fields: ProtocolFields) -> list[Slot]:
    """The slots of a protocol's prompt, in :data:`SLOT_ORDER`; facts that are unknown are absent."""
    return list(_slots(fields))


# --- rendering and matching ----------------------------------------------------------------------


def canonical_prompt(fields: ProtocolFields) -> str:
    """The one deterministic prompt: every slot, first wording, joined by single spaces."""
    return " ".join(slot.variants[0] for slot in _slots(fields))


def sample_prompt(fields: ProtocolFields, rng: random.Random, drop_probability: float = 0.5) -> str:
    """A random training rendering: optional slots dropped with ``drop_probability`` each, a
    random wording for every kept slot, slot order unchanged."""
    if not 0.0 <= drop_probability <= 1.0:
        raise ValueError(f"drop_probability must be within [0, 1], got {drop_probability}")
    sentences = []
    for slot in _slots(fields):
        if not slot.mandatory and rng.random() < drop_probability:
            continue
        sentences.append(rng.choice(slot.variants))
    return " ".join(sentences)


def split_sentences(text: str) -> list[str]:
    """Sentences of a prompt; only a '.' followed by whitespace ends one, so '2.81' stays whole."""
    return [part for part in _SENTENCE_BREAK.split(" ".join(text.split())) if part]


def is_rendering_of(text: str, slots: Sequence[Slot] | ProtocolFields) -> bool:
    """Whether ``text`` is a legal rendering of ``slots`` (the multi-positive match rule).

    Every sentence must be a wording of its own slot, the slots must appear in prompt order and
    no mandatory slot may be missing. So a 'T1 + contrast' text is not a rendering of a plain T1
    prompt (its contrast sentence has no slot) nor is a plain T1 text a rendering of the T1 +
    contrast prompt (the mandatory contrast slot is missing).
    """
    if isinstance(slots, ProtocolFields):
        slots = _slots(slots)
    slots = tuple(slots)
    sentences = split_sentences(text)
    if not sentences:
        return False

    def match(sentence: int, first_slot: int) -> bool:
        if sentence == len(sentences):
            return not any(slot.mandatory for slot in slots[first_slot:])
        for index in range(first_slot, len(slots)):
            if sentences[sentence] in slots[index].variants and match(sentence + 1, index + 1):
                return True
            if slots[index].mandatory:  # it may not be skipped
                return False
        return False

    return match(0, 0)
