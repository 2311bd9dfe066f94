"""DICOM code -> plain phrase tables.

The text encoder reads English, not two-letter codes, so every coded header value is expanded
before it reaches a prompt. Codes we do not know are kept as lower-case text instead of being
dropped: an unknown vendor option still tells protocols apart.
"""

from __future__ import annotations

from typing import Any

from . import vocabulary

MODALITY = dict(vocabulary.MODALITY_WORDS)
MODALITY.update({"MRI": MODALITY["MR"]})

#: (0018,0020) Scanning Sequence, defined terms of PS3.3 C.8.3.1.
SCANNING_SEQUENCE = {
    "SE": "spin echo",
    "IR": "inversion recovery",
    "GR": "gradient recalled",
    "EP": "echo planar",
    "RM": "research mode",
}

#: (0018,0021) Sequence Variant.
SEQUENCE_VARIANT = {
    "SK": "segmented k-space",
    "MTC": "magnetization transfer contrast",
    "SS": "steady state",
    "TRSS": "time reversed steady state",
    "SP": "spoiled",
    "MP": "magnetization prepared",
    "OSP": "oversampling phase",
}

#: (0018,0022) Scan Options: the standard terms plus common Siemens and GE extensions.
SCAN_OPTIONS = {
    "PER": "phase encode reordering",
    "RG": "respiratory gating",
    "CG": "cardiac gating",
    "PPG": "peripheral pulse gating",
    "FC": "flow compensation",
    "PFF": "partial Fourier in the frequency direction",
    "PFP": "partial Fourier in the phase direction",
    "SP": "spatial presaturation",
    "FS": "fat saturation",
    "IR": "inversion recovery",
    "MT": "magnetization transfer",
    "WE": "water excitation",
    "SAT1": "first saturation band",
    "SAT2": "second saturation band",
    "SAT3": "third saturation band",
    "NPW": "no phase wrap",
    "FAST_GEMS": "fast acquisition",
    "EDR_GEMS": "extended dynamic range",
    "TRF_GEMS": "tailored radio frequency",
    "VB_GEMS": "variable bandwidth",
    "SEQ_GEMS": "sequential slice order",
    "SAT_GEMS": "spatial saturation",
    "FILTERED_GEMS": "filtered",
    "ACC_GEMS": "parallel imaging acceleration",
    "MP_GEMS": "multiphase",
}

#: Codes that mean "nothing"; they never reach a prompt.
_EMPTY_CODES = frozenset({"", "NONE", "OTHER", "NO"})

TABLES: dict[str, dict[str, str]] = {
    "Modality": MODALITY,
    "ScanningSequence": SCANNING_SEQUENCE,
    "SequenceVariant": SEQUENCE_VARIANT,
    "ScanOptions": SCAN_OPTIONS,
}

#: Organ words that may stand in for the canonical organ; the first name is the canonical one.
ORGAN_SYNONYMS = {
    "brain": ("brain", "head"),
    "prostate": ("prostate", "pelvis"),
    "liver": ("liver", "abdomen"),
    "kidney": ("kidney", "abdomen"),
    "pancreas": ("pancreas", "abdomen"),
}

#: DICOM BodyPartExamined (and description words) -> canonical organ word.
BODY_PART = {
    "BRAIN": "brain",
    "HEAD": "brain",
    "CEREBRUM": "brain",
    "NEURO": "brain",
    "SKULL": "brain",
    "HEADNECK": "head and neck",
    "NECK": "neck",
    "CAROTID": "neck",
    "CAROTIDS": "neck",
    "ABDOMEN": "abdomen",
    "ABD": "abdomen",
    "PELVIS": "pelvis",
    "ABDOMENPELVIS": "abdomen",
    "BREAST": "breast",
    "CHEST": "chest",
    "THORAX": "chest",
    "LUNG": "chest",
    "HEART": "heart",
    "CARDIAC": "heart",
    "KNEE": "knee",
    "SHOULDER": "shoulder",
    "HIP": "hip",
    "ANKLE": "ankle",
    "WRIST": "wrist",
    "SPINE": "spine",
    "CSPINE": "spine",
    "TSPINE": "spine",
    "LSPINE": "spine",
    "PROSTATE": "prostate",
    "LIVER": "liver",
    "KIDNEY": "kidney",
    "PANCREAS": "pancreas",
}

#: Vendor strings as headers spell them -> the short name used in prompts.
MANUFACTURER = {
    "siemens": "Siemens",
    "ge": "GE",
    "general electric": "GE",
    "philips": "Philips",
    "toshiba": "Toshiba",
    "canon": "Canon",
    "hitachi": "Hitachi",
    "fujifilm": "Fujifilm",
    "united imaging": "United Imaging",
    "uih": "United Imaging",
    "esaote": "Esaote",
    "bruker": "Bruker",
}


def expand(kind: str, code: Any) -> str | None:
    """The phrase for one DICOM code of ``kind`` (a key of :data:`TABLES`).

    Blank, NONE and OTHER give ``None``. Unknown codes come back as lower-case text with
    underscores turned into spaces. Only an unknown ``kind`` raises, since that is a bug.
    """
    try:
        table = TABLES[kind]
    except KeyError:
        raise ValueError(f"unknown code kind {kind!r}; expected one of {sorted(TABLES)}") from None
    if code is None or isinstance(code, bool):
        return None
    text = " ".join(str(code).replace("\x00", " ").split())
    key = text.upper()
    if key in _EMPTY_CODES:
        return None
    if key in table:
        return table[key]
    return " ".join(text.replace("_", " ").lower().split()) or None     # "_" alone is no phrase


def codes_of(phrases: tuple[str, ...], table: dict[str, str]) -> list[str]:
    """DICOM codes back from the phrases a ProtocolFields holds ("spin echo" -> "SE")."""
    by_phrase = {phrase: code for code, phrase in table.items()}
    return [by_phrase[p] for p in phrases if p in by_phrase]


def normalize_manufacturer(name: str | None) -> str | None:
    """'SIEMENS', 'GE MEDICAL SYSTEMS' or 'Philips Medical Systems, Inc.' -> one short name."""
    if not name:
        return None
    lowered = " ".join(name.replace("_", " ").lower().split())
    for prefix, short in MANUFACTURER.items():
        if lowered == prefix or lowered.startswith(prefix + " ") or lowered.startswith(prefix + ","):
            return short
    return " ".join(name.split()) or None
