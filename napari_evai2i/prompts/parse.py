"""Read the protocol facts back out of a prompt written in this package's own wordings.

Tag attribution and prompt-wording uncertainty need the *fields* behind a prompt, yet the
widgets and the command often hold only its text (a known contrast, a typed prompt edited
from one). :func:`fields_from_prompt` inverts :mod:`.template`, sentence by sentence, and
accepts the result only when the text is a legal rendering of those fields
(:func:`~.template.is_rendering_of`); any other text gives None rather than a guess.
"""

from __future__ import annotations

import functools
import math
import re

from .fields import ProtocolFields
from .glossary import ORGAN_SYNONYMS
from .template import build_slots, is_rendering_of, split_sentences

_NUMBER = r"(\d+(?:\.\d+)?)"
_TIMING = {"TR": "repetition_time", "TE": "echo_time", "TI": "inversion_time", "flip angle": "flip_angle"}
_WORDED_TIMING = {"a repetition time": "repetition_time", "an echo time": "echo_time",
                  "an inversion time": "inversion_time", "a flip angle": "flip_angle"}
_PHRASE_SLOTS = {"scanning sequence": "scanning_sequence", "sequence variant": "sequence_variant",
                 "scan option": "scan_options"}
_OVERVIEW = re.compile(r"^an? (?P<head>.+?) magnetic resonance imaging(?: of the (?P<organ>.+?))?"
                       r"(?: with a b-value of (?P<b>" + _NUMBER + r") s/mm2)?\.$", re.IGNORECASE)


def _items(listing: str) -> list[str]:
    """'a', 'a and b', 'a, b and c' (or 'a, b, c') -> items."""
    head, _, last = listing.rpartition(" and ")
    parts = [p.strip() for p in head.split(",")] + [last.strip()] if head else [p.strip() for p in listing.split(",")]
    return [p for p in parts if p]


def _organs(words: str) -> list[str]:
    """Every organ ``words`` may name ("head" is a wording of more than one)."""
    return [organ for organ, synonyms in ORGAN_SYNONYMS.items() if words in synonyms] or [words]


def _numbers(text: str, names: dict[str, str], out: dict) -> bool:
    found = False
    for label, name in names.items():
        match = re.search(rf"(?<![a-z]){re.escape(label)} (?:of )?{_NUMBER} (?:ms|degrees)", text)
        if match:
            out[name] = float(match.group(1))
            found = True
    return found


def _sentence(sentence: str, out: dict) -> None:
    overview = _OVERVIEW.match(sentence)
    if overview and "sequence" not in out:
        out["sequence"] = overview.group("head")
        if overview.group("organ"):
            out["organ"] = _organs(overview.group("organ"))
        if overview.group("b"):
            out["b_value"] = float(overview.group("b"))
        return
    body = sentence.rstrip(".")
    if body.startswith("The magnetic field strength is "):
        out["field_strength"] = float(body.split()[-2])
        return
    scanner = re.match(r"^The scan is acquired on an? (.+) scanner$", body)
    if scanner:
        words = scanner.group(1)
        tesla = re.search(rf"(?:^| ){_NUMBER} T$", words)
        if tesla:
            out["field_strength"] = float(tesla.group(1))
            words = words[: tesla.start()].strip()
        if words:
            out["manufacturer"] = words
        return
    if body.startswith("The image is contrast-enhanced") or body.startswith("The contrast agent "):
        out["contrast"] = True
        agent = re.match(r"^(?:The image is contrast-enhanced with (.+)|The contrast agent (.+) is injected before "
                         r"the scan)$", body)
        if agent:
            out["contrast_agent"] = agent.group(1) or agent.group(2)
        return
    for label, name in _PHRASE_SLOTS.items():
        listed = re.match(rf"^The {label}s? (?:is|are) (.+)$", body) or \
            re.match(rf"^{label.capitalize()}s?: (.+)$", body)
        if listed:
            out[name] = tuple(_items(listed.group(1)))
            return
    plane = re.match(r"^The image is shown in the (\w+) plane$", body) or re.match(r"^(\w+) view$", body)
    if plane:
        out["plane"] = plane.group(1).lower()
        return
    _numbers(sentence, _WORDED_TIMING if body.startswith("The image is acquired with") else _TIMING, out)


@functools.lru_cache(maxsize=8192)
def fields_from_prompt(text: str) -> ProtocolFields | None:
    """The MR protocol fields ``text`` renders (in this package's template wordings), or None.

    Cached per distinct text (the fields are frozen): a generator reads each prompt's numbers, its
    depth below the CSF null and its text without timing at every forward pass."""
    sentences = split_sentences(text or "")
    if not sentences:
        return None
    found: dict = {}
    for sentence in sentences:
        _sentence(sentence, found)
    if "sequence" not in found:
        return None
    if any(isinstance(v, float) and not math.isfinite(v) for v in found.values()):
        return None                                   # "TE 1000...0 ms" (400 digits) is no protocol

    for organ in found.pop("organ", [None]):
        fields = ProtocolFields(modality="MR", organ=organ, **found)
        if is_rendering_of(" ".join(sentences), fields):
            return fields
    return None


@functools.lru_cache(maxsize=8192)
def without_timing(text: str) -> str:
    """``text`` without its timing sentence (TR, TE, TI, flip angle) when it is a prompt in this
    package's wordings (:func:`fields_from_prompt`); any other text unchanged.

    Why: a generator whose number map reads those values (``GeneratorConfig.prompt_numbers_apart``)
    gives the text tower the rest of the prompt only, so the numbers reach the style by one smooth
    path and not also as word pieces the tower reads as a step function."""
    fields = fields_from_prompt(text)
    if fields is None:
        return text
    timing = next((slot for slot in build_slots(fields) if slot.name == "timing"), None)
    if timing is None:
        return text
    return " ".join(s for s in split_sentences(text) if s not in timing.variants)


@functools.lru_cache(maxsize=8192)
def without_weighting(text: str) -> str:
    """``text`` with its opening sentence saying no weighting ("A magnetic resonance imaging of the
    brain.") when it is a prompt in this package's wordings that names one; any other text unchanged.

    Why: a generator that reads the contrast a prompt's protocol implies
    (``GeneratorConfig.prompt_physics``) takes the weighting from the physics; a word the tower never
    read in training (a STIR's) then cannot pull the style elsewhere."""
    fields = fields_from_prompt(text)
    if fields is None or not fields.sequence:
        return text
    named, plain = (next(slot for slot in build_slots(f) if slot.name == "overview")
                    for f in (fields, fields.replace(sequence=None)))
    sentences = split_sentences(text)
    if sentences[0] not in named.variants or len(named.variants) != len(plain.variants):
        return text
    return " ".join([plain.variants[named.variants.index(sentences[0])], *sentences[1:]])
