"""Code expansion: known codes, codes that mean nothing, unknown codes."""

from __future__ import annotations

import pytest

from napari_evai2i.prompts import expand, vocabulary
from napari_evai2i.prompts.glossary import normalize_manufacturer


@pytest.mark.parametrize(
    ("kind", "code", "phrase"),
    [
        ("Modality", "MR", vocabulary.MODALITY_WORDS["MR"]),
        ("Modality", "ct", "computed tomography"),
        ("ScanningSequence", "SE", "spin echo"),
        ("ScanningSequence", "IR", "inversion recovery"),
        ("ScanningSequence", "GR", "gradient recalled"),
        ("ScanningSequence", "EP", "echo planar"),
        ("SequenceVariant", "MP", "magnetization prepared"),
        ("SequenceVariant", "TRSS", "time reversed steady state"),
        ("SequenceVariant", " SP ", "spoiled"),
        ("ScanOptions", "FS", "fat saturation"),
        ("ScanOptions", "FC", "flow compensation"),
        ("ScanOptions", "SP", "spatial presaturation"),
        ("ScanOptions", "TRF_GEMS", "tailored radio frequency"),
    ],
)
def test_known_codes(kind, code, phrase):
    assert expand(kind, code) == phrase


@pytest.mark.parametrize("code", ["NONE", "none", "", "   ", None, "OTHER"])
def test_empty_codes_are_dropped(code):
    assert expand("SequenceVariant", code) is None


def test_unknown_codes_are_kept_as_lower_case_text():
    assert expand("ScanOptions", "HELICAL MODE") == "helical mode"
    assert expand("ScanOptions", "XYZ_GEMS") == "xyz gems"
    assert expand("ScanningSequence", 7) == "7"


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown code kind"):
        expand("BodyPart", "HEAD")


@pytest.mark.parametrize(
    ("raw", "short"),
    [("SIEMENS", "Siemens"), ("GE MEDICAL SYSTEMS", "GE"), ("Philips Medical Systems, Inc.", "Philips"),
     ("TOSHIBA_MEC", "Toshiba"), ("Acme  Imaging", "Acme Imaging"), ("", None), (None, None)],
)
def test_manufacturer_names(raw, short):
    assert normalize_manufacturer(raw) == short
