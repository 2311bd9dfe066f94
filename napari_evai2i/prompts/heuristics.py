"""Guessing what a header does not state outright.

Weighting ("T2-weighted"), organ, contrast use and fat suppression are rarely coded in classic
DICOM. Scanners do write them into free-text names (``t1_vibe_fs_tra``) and the physics
(TR/TE/TI/flip angle) implies them. These rules turn both into vocabulary words. They are plain
functions of plain values, so the simulator and real headers meet the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from . import vocabulary as voc
from .glossary import BODY_PART, SCANNING_SEQUENCE, SEQUENCE_VARIANT, codes_of

# Word boundaries for header text: letters and digits glue together, everything else separates.
_B = r"(?<![a-z0-9])"
_E = r"(?![a-z0-9])"

#: Ordered: the first rule that matches a name wins, so specific names come before generic ones
#: ("t2_flair" is FLAIR, not T2; "t1_mprage" is MPRAGE, not T1).
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (voc.FLAIR, r"flair|dark\s?fluid"),
        (voc.STIR, _B + r"stir" + _E),
        (voc.DWI, _B + r"(dwi|dti|adc|trace\w*|diff\w*|ep\s?b\d+\w*|ep2d\s?diff\w*)" + _E),
        (voc.SWI, _B + r"(swi\w*|swan|susceptibility)" + _E),
        (voc.T2STAR, r"t2\s?\*|" + _B + r"(t2\s?star|t2s|medic|hemo)" + _E),
        (voc.MPRAGE, _B + r"(mp\s?rage|mp2rage|tfl3d\w*)" + _E),
        (voc.PDW, _B + r"(pd|pdw|pd\s?w|pdfs|pd\s?tse|proton\s?density)" + _E),
        (voc.T1W, _B + r"(t1(w|wi|tfe|ffe|se|tse|ce|c|gd|\s?weighted)?|tfe|f?spgr|bravo|vibe)" + _E),
        (voc.T2W, _B + r"(t2|t2w|t2\s?weighted|t2wi|t2tse|t2se|t2ffe|haste)" + _E),
    )
)

#: Enhanced MR (0008,9209) Acquisition Contrast -> vocabulary name.
_ACQUISITION_CONTRAST = {
    "T1": voc.T1W,
    "T2": voc.T2W,
    "PROTON_DENSITY": voc.PDW,
    "FLAIR": voc.FLAIR,
    "FLUID_ATTENUATED": voc.FLAIR,
    "STIR": voc.STIR,
    "DIFFUSION": voc.DWI,
    "T2_STAR": voc.T2STAR,
}

_FAT_SAT = re.compile(_B + r"(fs|fatsat|fat\s?sat\w*|fat\s?supp\w*|spir|spair|fsat)" + _E)
_CONTRAST = re.compile(
    r"\+\s?(c|gd|contrast)" + _E
    + r"|" + _B + r"post\s?(contrast|gd|gad\w*)" + _E
    + r"|" + _B + r"(t1ce|t1c|t1gd|gd|gad|gado|gadolinium|ce)" + _E
)
_B_VALUE = (
    re.compile(r"ep_?b(\d{1,5})"),
    re.compile(_B + r"b\s?-?\s?values?\s?[=:]?\s?(\d{1,5})" + _E),
    re.compile(_B + r"b\s?=\s?(\d{1,5})" + _E),
    re.compile(_B + r"b(\d{2,5})" + _E),
)
_NO_AGENT = frozenset({"", "none", "no", "n", "nil", "0", "-", "na", "n/a", "not applicable"})
_DOSE_PREFIX = re.compile(r"^\s*\d+(?:[.,]\d+)?\s*(?:ml|cc|mmol)\b\.?\s*", re.IGNORECASE)


def _normalise(text: str) -> str:
    """Lower case, separators to spaces; '*' and '+' survive for 'T2*' and '+C'."""
    return " ".join(re.sub(r"[^a-z0-9*+=]+", " ", text.lower()).split())


def sequence_from_names(names: Iterable[str | None]) -> str | None:
    """Weighting named in series/protocol/sequence names, e.g. 'T1W/SE/1024' -> T1-weighted."""
    texts = [_normalise(name) for name in names if name]
    for sequence, pattern in _NAME_RULES:
        if any(pattern.search(text) for text in texts):
            return sequence
    return None


def sequence_from_acquisition_contrast(value: str | None) -> str | None:
    """Enhanced MR's coded weighting; MIXED, UNKNOWN and the like give None."""
    return _ACQUISITION_CONTRAST.get((value or "").strip().upper())


def sequence_from_physics(
    codes: Sequence[str],
    variants: Sequence[str],
    tr: float | None,
    te: float | None,
    ti: float | None,
    flip: float | None,
) -> str | None:
    """Weighting implied by timing, for MR series whose names say nothing.

    ``codes`` and ``variants`` are raw ScanningSequence / SequenceVariant codes. The thresholds
    are the textbook ones; anything ambiguous gives None rather than a wrong word.
    """
    codes = {c.upper() for c in codes}
    variants = {v.upper() for v in variants}
    gradient_only = "GR" in codes and "SE" not in codes
    inversion = "IR" in codes or ti is not None
    if inversion and ti is not None and not gradient_only:
        if ti >= 1500 and (tr is None or tr >= 3000):
            return voc.FLAIR
        if ti < 250:
            return voc.STIR
        return None
    if gradient_only:
        if "MP" in variants or inversion:
            return voc.MPRAGE
        if te is not None and te >= 15 and (flip is None or flip <= 30):
            return voc.T2STAR
        if flip is not None and tr is not None and tr < 200 and (te is None or te < 15):
            return voc.T1W_GRE
        return None
    if (not codes or "SE" in codes) and tr is not None and te is not None:
        if tr <= 800 and te <= 30:
            return voc.T1W
        if tr >= 2000 and te >= 80:
            return voc.T2W
        if tr >= 2000 and te <= 40:
            return voc.PDW
    return None


#: weightings that name one family of contrast: a word within a family does not contradict another
_T1_FAMILY = {voc.T1W, voc.T1W_GRE, voc.MPRAGE}


def weighting_conflict(prompt: str) -> tuple[str, str] | None:
    """(the weighting ``prompt`` states, the one its own TR, TE and TI imply) where they differ.

    Training draws each weighting's timing from ranges these rules agree with (all but T2w at TE
    40 ms exactly, 0.2 % of its draws), so a prompt whose word and timing disagree ("T2-weighted
    ... TR 4000 ms, TE 30 ms") is one the model has practically never seen: demo v9 followed
    neither reliably, and v10 follows the timing where the prompt states a whole protocol (it reads
    the contrast the timing implies), which a checkpoint without ``prompt_physics`` does not
    (docs/model_card.md, Limits). Only this package's own wordings are read
    (``fields_from_prompt``); any other text, or timing the rules leave open, gives None.
    """
    from .parse import fields_from_prompt

    fields = fields_from_prompt(prompt)
    if fields is None or not fields.sequence:
        return None
    implied = sequence_from_physics(codes_of(fields.scanning_sequence, SCANNING_SEQUENCE),
                                    codes_of(fields.sequence_variant, SEQUENCE_VARIANT), fields.repetition_time,
                                    fields.echo_time, fields.inversion_time, fields.flip_angle)
    if implied is None or implied == fields.sequence or {implied, fields.sequence} <= _T1_FAMILY:
        return None
    return fields.sequence, implied


def refine_for_gradient_echo(sequence: str | None, codes: Sequence[str], variants: Sequence[str]) -> str | None:
    """'T1-weighted' read from a name becomes the gradient-echo word when the header says GR.

    A spoiled GRE T1 (VIBE, TFE) looks unlike a spin-echo T1, and the physics rules already use
    the gradient-echo word; this keeps name-based and physics-based results the same.
    """
    codes_set = {c.upper() for c in codes}
    if sequence != voc.T1W or "GR" not in codes_set or "SE" in codes_set:
        return sequence
    if "MP" in {v.upper() for v in variants} or "IR" in codes_set:
        return voc.MPRAGE
    return voc.T1W_GRE


def organ_from_body_part(value: str | None) -> str | None:
    """BodyPartExamined -> canonical organ word ('HEAD' -> 'brain'); unknown parts in lower case."""
    if not value:
        return None
    key = re.sub(r"[^A-Z]", "", value.upper())
    if not key:
        return None
    return BODY_PART.get(key, " ".join(value.lower().replace("_", " ").split()))


def organ_from_names(names: Iterable[str | None]) -> str | None:
    """First organ word in the given names, checked in order (most specific name first)."""
    for name in names:
        if not name:
            continue
        for word in _normalise(name).split():
            organ = BODY_PART.get(word.upper())
            if organ:
                return organ
    return None


def fat_saturation_in_names(names: Iterable[str | None]) -> bool:
    """'t1_vibe_fs', 'T2 FatSat' or 'PD SPAIR' name a fat-suppressed series."""
    return any(_FAT_SAT.search(_normalise(name)) for name in names if name)


def contrast_in_names(names: Iterable[str | None]) -> bool:
    """'T1+C', 'T1 post Gd' or 'T1CE' name a contrast-enhanced series."""
    return any(_CONTRAST.search(_normalise(name)) for name in names if name)


def b_value_from_names(names: Iterable[str | None]) -> float | None:
    """A b-value spelled in a name: Siemens 'ep_b1000t', 'DWI b=800' or 'b1000'."""
    for name in names:
        if not name:
            continue
        text = name.lower()
        for index, pattern in enumerate(_B_VALUE):
            match = pattern.search(text)
            if match:
                value = float(match.group(1))
                # A bare 'b50' style token must look like a diffusion weighting, not a 'B1 map'.
                if index < len(_B_VALUE) - 1 or value >= 50:
                    return value
    return None


def contrast_agent(value: str | None) -> tuple[bool, str | None]:
    """(contrast given, agent name) from ContrastBolusAgent; the dose prefix is dropped."""
    if value is None:
        return False, None
    text = " ".join(value.split())
    if text.lower() in _NO_AGENT:
        return False, None
    agent = _DOSE_PREFIX.sub("", text).strip()
    return True, agent or None


def canonical_sequence(words: str | None) -> str | None:
    """Plain sequence words (info.json, a widget) -> the vocabulary name when one fits.

    'T2-weighted-fluid-attenuated inversion recovery', 'FLAIR' and 'flair' all become
    :data:`vocabulary.FLAIR`; words we cannot place are kept as given.
    """
    if not words or not words.strip():
        return None
    key = re.sub(r"[^a-z0-9*]", "", words.lower())
    for name in voc.ALL_SEQUENCES + voc.HEADER_ONLY_SEQUENCES:
        if key == re.sub(r"[^a-z0-9*]", "", name.lower()):
            return name
    from_names = sequence_from_names([words])
    if from_names is not None and len(key) <= 12:
        # Short labels ('T1', 'T2w', 'FLAIR', 'DWI') are names; long free text is kept as written.
        return from_names
    return " ".join(words.split())
