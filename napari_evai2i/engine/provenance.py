"""What a synthetic output carries: its marking, and the source tags that stay true.

A translation keeps the source's patient, study and geometry, but the acquisition tags
of the source (TR, TE, sequence, ...) describe an acquisition that did not produce this
image, so they are dropped; the prompt and model go into the description instead.
"""

from __future__ import annotations

from typing import Any

from ..io import SYNTHETIC_NOTICE

#: DICOM keywords that describe how the *source* was acquired, not the synthetic image.
ACQUISITION_KEYWORDS = frozenset({
    "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle", "ScanningSequence",
    "SequenceVariant", "ScanOptions", "SequenceName", "EchoTrainLength", "MRAcquisitionType",
    "ContrastBolusAgent", "ContrastBolusRoute", "ContrastBolusVolume", "DiffusionBValue",
    "ProtocolName", "SeriesDescription", "ImageComments", "AcquisitionContrast", "ImageType",
    "SeriesInstanceUID", "SOPInstanceUID", "SeriesNumber", "DerivationDescription",
})

DICOM_LO_LENGTH = 64


def series_description(prompt: str) -> str:
    """DICOM LO holds 64 characters: the synthetic marker first, then as much prompt as fits."""
    return f"SYNTHETIC {' '.join(prompt.split())}"[:DICOM_LO_LENGTH]


def image_comments(prompt: str, model_label: str) -> str:
    return f"{SYNTHETIC_NOTICE}. Model: {model_label}. Prompt: {' '.join(prompt.split())}"


def derived_tags(source_tags: dict[str, Any], prompt: str, model_label: str) -> dict[str, Any]:
    """Tags for a translation of a series with ``source_tags`` into ``prompt``'s domain."""
    tags = {k: v for k, v in source_tags.items() if k not in ACQUISITION_KEYWORDS}
    tags["SeriesDescription"] = series_description(prompt)
    tags["ImageComments"] = image_comments(prompt, model_label)
    tags["DerivationDescription"] = f"napari-evai2i translation by model {model_label}"
    return tags
