"""Fuzzing the tags -> fields -> prompt -> tokens path (issue 12, section 4).

Header values arrive in every shape: numbers, text in any script, bytes, None, NaN and
infinities, lists and nested mappings, pydicom MultiValue / DSfloat / IS / PersonName, raw
bytes a pydicom Dataset converts only when read, and whole files cut short or damaged.
Whatever comes in, a prompt comes out (a legal rendering of its fields, within the text
encoder's context or refused with :class:`PromptTooLongError`: prompts are never cut,
since a cut prompt names another protocol), or the project's own ``ValueError`` names
the problem. Nothing else may escape.

Examples per property: the "ci" profile of tests/conftest.py (EVAI2I_FUZZ_EXAMPLES, 60 by default).
"""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from napari_evai2i.prompts import (ProtocolFields, PromptTooLongError, build_slots, canonical_prompt, expand,
                                   fields_from_dicom, fields_from_info_entry, fields_from_tags, is_rendering_of,
                                   sample_prompt, tokenize)
from napari_evai2i.prompts import heuristics
from napari_evai2i.prompts.dicom import KEYWORDS
from napari_evai2i.prompts.glossary import normalize_manufacturer
from napari_evai2i.prompts.parse import fields_from_prompt
from napari_evai2i.prompts.template import split_sentences
from napari_evai2i.prompts.tokenizer import EOT_TOKEN, SOT_TOKEN, VOCAB_SIZE

pydicom = pytest.importorskip("pydicom")
torch = pytest.importorskip("torch")

from pydicom.dataelem import RawDataElement  # noqa: E402
from pydicom.datadict import dictionary_VR, tag_for_keyword  # noqa: E402
from pydicom.multival import MultiValue  # noqa: E402
from pydicom.tag import Tag  # noqa: E402
from pydicom.valuerep import IS, DSfloat, PersonName  # noqa: E402

#: pydicom warns about every strange value it is given (and the reader passes its warnings on):
#: those values are the point here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: The context lengths of the shipped presets (tiny, paper).
CONTEXTS = (160, 256)

# --- values ------------------------------------------------------------------------------------------

#: Strings real and broken headers carry: codes, names, numbers in odd spellings, other scripts.
ODD_TEXT = [
    "", " ", "\x00", "\x00\x00", "1e999", "-1e999", "nan", "NaN", "inf", "-inf", "1,5", "3.0\\1.5", "٣٫٠",
    "１．５", "²", "½", "GR\\IR", "SE\\\\EP", "\\", "HEAD", "BRAIN", "t2_flair_tra", "ep_b1000t", "T1+C",
    "T1 post Gd", "10 ml gadolinium", "none", "FAT", "YES", "ON_RESONANCE", "SPIN", "BOTH", "T1", "MIXED",
    "a. b. c.", "Dr. Smith. Jr.", ". . .", "...", "Ω\u200bΩ", "\u2028", "e\u0301", "🧠", "\ud7ff", "MRI",
    "CT", "OT", "ＭＲ", "0", "-0", "1" * 400, "9" * 5000,
]
texts = st.one_of(st.text(max_size=40), st.sampled_from(ODD_TEXT),
                  st.text(alphabet=st.characters(codec="utf-8"), max_size=12).map(lambda s: s * 50))
numbers = st.one_of(st.integers(), st.integers(min_value=-10**400, max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, -0.0, 1e-320, 5e-324, 2**63]))
pydicom_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)
    .map(lambda x: DSfloat(x, auto_format=True)),
    st.integers(min_value=-2**31, max_value=2**31 - 1).map(IS),
    texts.map(PersonName),
    st.lists(st.floats(-1e6, 1e6), max_size=7).map(lambda xs: MultiValue(DSfloat, [f"{x:.6g}" for x in xs])),
    st.lists(texts, max_size=5).map(lambda xs: MultiValue(str, xs)),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, st.binary(max_size=40), pydicom_values)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.tuples(inner, inner), st.sets(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=12)
tag_dicts = st.dictionaries(st.one_of(st.sampled_from(KEYWORDS), st.text(max_size=10)), values,
                            max_size=len(KEYWORDS))

#: Plausible headers with one value at a time made strange: reaches the rules past the first None.
PLAUSIBLE = {"Modality": "MR", "SeriesDescription": "t2_tse_fs_tra", "ScanningSequence": "SE",
             "SequenceVariant": "SK\\SP", "ScanOptions": "FS\\PFP", "RepetitionTime": "4000",
             "EchoTime": 100.0, "FlipAngle": 150, "MagneticFieldStrength": 2.89, "Manufacturer": "SIEMENS",
             "ManufacturerModelName": "Prisma", "BodyPartExamined": "HEAD", "ContrastBolusAgent": "10 ml Gadovist",
             "ReceiveCoilName": "Head_32", "ImageOrientationPatient": [1, 0, 0, 0, 1, 0], "DiffusionBValue": 0}
plausible_with_one_odd = st.tuples(st.sampled_from(sorted(PLAUSIBLE)), values).map(
    lambda kv: {**PLAUSIBLE, kv[0]: kv[1]})


# --- the property every prompt must have -----------------------------------------------------------


def check_prompt(fields: ProtocolFields, seed: int = 0) -> str:
    """A ProtocolFields gives a deterministic prompt of whole sentences that renders it, samples
    that render it too, JSON that reads back to it, and tokens (or PromptTooLongError)."""
    assert isinstance(fields, ProtocolFields)
    prompt = canonical_prompt(fields)
    assert isinstance(prompt, str) and prompt.endswith(".") and prompt == canonical_prompt(fields)
    assert is_rendering_of(prompt, fields)
    assert all(sentence.endswith(".") for sentence in split_sentences(prompt))
    assert is_rendering_of(sample_prompt(fields, random.Random(seed)), build_slots(fields))
    assert ProtocolFields.from_dict(json.loads(json.dumps(fields.to_dict(), allow_nan=False))) == fields
    for number in (fields.repetition_time, fields.echo_time, fields.flip_angle, fields.field_strength):
        assert number is None or math.isfinite(number)
    for context in CONTEXTS:
        try:
            tokens = tokenize(prompt, context)
        except PromptTooLongError as error:       # refused, never cut: it says what it needs
            assert f"context length is {context}" in str(error)
            continue
        row = tokens[0].tolist()
        end = row.index(EOT_TOKEN)
        assert tokens.shape == (1, context) and row[0] == SOT_TOKEN and set(row[end + 1:]) <= {0}
        assert 0 <= min(row) and max(row) < VOCAB_SIZE
    parsed = fields_from_prompt(prompt)
    assert parsed is None or is_rendering_of(prompt, parsed)
    return prompt


# --- tags (plain mappings) -> fields -> prompt ---------------------------------------------------------


@given(tags=tag_dicts, seed=st.integers(0, 2**16))
@example(tags={"EchoTime": float("nan"), "RepetitionTime": float("inf"), "FlipAngle": -1e308}, seed=0)
@example(tags={"MagneticFieldStrength": 10**400, "DiffusionBValue": [None, []]}, seed=0)
@example(tags={"ImageOrientationPatient": [[1], {}, b"", None, "x", 1e400]}, seed=0)
@example(tags={"Modality": ["MR", None], "SeriesDescription": {"a": 1}}, seed=0)
def test_any_tags_give_a_prompt(tags, seed):
    check_prompt(fields_from_tags(tags), seed)


@given(tags=plausible_with_one_odd, seed=st.integers(0, 2**16))
def test_a_plausible_header_with_one_strange_value_gives_a_prompt(tags, seed):
    check_prompt(fields_from_tags(tags), seed)


@given(entry=st.dictionaries(st.sampled_from(["Modality", "Sequence", "Organ", "Plane", "Contrast", "ScanningSequence",
                                              "SequenceVariant", "ScanOptions", "RepetitionTime", "EchoTime",
                                              "Preprocess", "Coil", "bvalue", "MagneticFieldStrength"]) | st.text(),
                             values, max_size=10))
def test_any_info_json_entry_gives_a_prompt(entry):
    check_prompt(fields_from_info_entry(entry))


@given(data=st.dictionaries(st.sampled_from([f.name for f in __import__("dataclasses").fields(ProtocolFields)])
                            | st.text(max_size=8), values, max_size=12))
def test_any_fields_json_gives_a_prompt(data):
    check_prompt(ProtocolFields.from_dict(data))


# --- a real pydicom Dataset with values only conversion reveals ------------------------------------------

VRS = ("DS", "IS", "CS", "LO", "SH", "ST", "PN", "FD", "FL", "US", "UL", "SQ", "UN", "OB", "UI", "AT", "DA")


@pytest.fixture(scope="module", params=["MR_small.dcm", "emri_small.dcm"])
def real_header(request):
    """A classic MR header (pydicom) and an Enhanced multi-frame one with functional groups (pydicom-data)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(request.param, download=False)
    if path is None:
        pytest.skip(f"pydicom's {request.param} is not available offline")
    return pydicom.dcmread(path, stop_before_pixels=True)


raw_elements = st.lists(st.tuples(
    st.sampled_from(KEYWORDS + ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence",
                                "ContrastBolusAgentSequence", "SpecificCharacterSet")),
    st.one_of(st.none(), st.sampled_from(VRS)),
    st.one_of(st.binary(max_size=48), texts.map(lambda s: s.encode("utf-8", "surrogatepass")),
              st.sampled_from([b"1e999", b"nan\\inf", b"\xfe\xff\x00\xe0\x08\x00\x00\x00", b"\x00" * 9,
                               b"ISO_IR 192", b"ISO 2022 IR 87", b"\\\\\\", b"1.5\\\x00\\3"]))),
    min_size=1, max_size=6)


@given(elements=raw_elements, frame=st.integers(-2, 3))
def test_a_real_dataset_with_raw_strange_values_gives_a_prompt_or_a_clear_error(real_header, elements, frame):
    ds = copy.deepcopy(real_header)
    for keyword, vr, data in elements:
        tag = Tag(tag_for_keyword(keyword))
        vr = vr or dictionary_VR(tag)
        ds[tag] = RawDataElement(tag, vr, len(data), data, 0, False, True)
    try:
        fields = fields_from_dicom(ds, frame=frame)
    except ValueError as error:                   # only a frame that the object does not have
        assert "frame" in str(error) and "out of range" in str(error)
        return
    check_prompt(fields)


@given(cut=st.one_of(st.none(), st.integers(0, 3000)),
       flips=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 255)), max_size=8))
@example(cut=None, flips=[(250, 0x55), (251, 0x9A)])   # an unknown VR: pydicom's NotImplementedError
@example(cut=None, flips=[(138, 0x02)])                 # a 2-byte UL group length: BytesLengthException
def test_a_damaged_dicom_file_gives_a_prompt_or_a_clear_error(tmp_path_factory, cut, flips):
    """Bytes of the header (its first 3000 of 10 000) flipped, or the file cut short."""
    from pydicom.data import get_testdata_file

    data = bytearray(open(get_testdata_file("MR_small.dcm", download=False), "rb").read())
    for where, byte in flips:
        data[where] = byte
    data = data if cut is None else data[:cut]
    path = tmp_path_factory.mktemp("damaged") / "slice.dcm"
    path.write_bytes(bytes(data))
    try:
        fields = fields_from_dicom(path)
    except ValueError as error:
        assert str(path) in str(error)
        return
    check_prompt(fields)


# --- free text: the parser, the tokenizer, the rules -----------------------------------------------------

free_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), max_size=50),
    st.lists(st.sampled_from(["A", "T2-weighted", "magnetic resonance imaging", "of the", "brain", ".", ". ",
                              "TR", "4000", "ms,", "TE", "1e999", "flip angle", "degrees", "The scan is acquired on a",
                              "scanner", "The image is contrast-enhanced with", "view", "\n", "\x00", "🧠"]),
             max_size=40).map(" ".join),
    st.tuples(st.text(max_size=20), st.integers(100, 3000)).map(lambda t: t[0] * t[1]),
)


@given(text=free_text)
@example(text="A T2-weighted magnetic resonance imaging of the brain. TR 99999999999999999999999 ms.")
@example(text="A x magnetic resonance imaging with a b-value of 1" + "0" * 400 + " s/mm2.")
def test_free_text_is_parsed_or_not_and_tokenized_or_refused(text):
    parsed = fields_from_prompt(text)
    if parsed is not None:
        assert is_rendering_of(text, parsed)
        check_prompt(parsed)
    split_sentences(text)
    try:
        tokens = tokenize(text, CONTEXTS[0])
    except PromptTooLongError as error:
        assert "tokens" in str(error)
    except ValueError as error:                   # the one other refusal: nothing to say
        assert not text.strip() and "empty prompt" in str(error)
    else:
        assert tokens.shape == (1, CONTEXTS[0]) and int(tokens.max()) < VOCAB_SIZE


@given(text=st.one_of(st.none(), free_text))
def test_the_header_rules_take_any_text(text):
    heuristics.sequence_from_names([text, text])
    heuristics.sequence_from_acquisition_contrast(text)
    heuristics.organ_from_body_part(text)
    heuristics.organ_from_names([text])
    heuristics.fat_saturation_in_names([text])
    heuristics.contrast_in_names([text])
    heuristics.b_value_from_names([text])
    heuristics.contrast_agent(text)
    heuristics.canonical_sequence(text)
    normalize_manufacturer(text)
    for kind in ("Modality", "ScanningSequence", "SequenceVariant", "ScanOptions"):
        expand(kind, text)
