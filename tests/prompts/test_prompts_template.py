"""Slots, canonical and sampled prompts, and the multi-positive match rule."""

from __future__ import annotations

import random
import re

import pytest

from napari_evai2i.prompts import (
    ProtocolFields,
    Slot,
    build_slots,
    canonical_prompt,
    fields_from_dicom,
    fields_from_tags,
    is_rendering_of,
    sample_prompt,
    vocabulary as voc,
)
from napari_evai2i.prompts.template import SLOT_ORDER, format_number, split_sentences

T1 = ProtocolFields(sequence=voc.T1W, organ="brain", field_strength=3.0, repetition_time=500.0, echo_time=15.0,
                    scanning_sequence=("spin echo",), plane="axial")
T1C = T1.replace(contrast=True, contrast_agent="Gadolinium")


@pytest.fixture
def protocols(all_real_files, simulated_t2) -> list[ProtocolFields]:
    extra = [
        T1,
        T1C,
        ProtocolFields(sequence=voc.DWI, organ="prostate", b_value=1400.0, preprocessing=("skull removal", "N4")),
        ProtocolFields(modality="CT", organ="abdomen", kvp=120.0, tube_current=300.0, contrast=True),
        ProtocolFields(modality="CBCT", coil="Head 32ch coil", plane="coronal"),
    ]
    return [fields_from_dicom(path) for path in all_real_files] + [fields_from_tags(simulated_t2)] + extra


@pytest.mark.parametrize(
    ("value", "text"),
    [(4000.0, "4000"), (2.81, "2.81"), (1.5, "1.5"), (3.0, "3"), (0.35, "0.35"), (5.5300001, "5.53"),
     (1601, "1601"), (0.0012345, "0.00123")],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_slots_follow_the_fixed_order(protocols):
    for fields in protocols:
        names = [slot.name for slot in build_slots(fields)]
        assert names == sorted(names, key=SLOT_ORDER.index)
        assert names[0] == "overview"


def test_canonical_prompt_is_deterministic_and_has_no_trailing_zeros(protocols):
    for fields in protocols:
        prompt = canonical_prompt(fields)
        assert prompt == canonical_prompt(fields.replace())
        assert prompt == " ".join(slot.variants[0] for slot in build_slots(fields))
        assert not re.search(r"\d\.0\b", prompt), prompt
        assert "  " not in prompt and is_rendering_of(prompt, build_slots(fields))


def test_samples_are_always_renderings(protocols):
    rng = random.Random(1234)
    for fields in protocols:
        slots = build_slots(fields)
        for _ in range(200):
            text = sample_prompt(fields, rng)
            assert is_rendering_of(text, slots), text


def test_drop_probability_extremes():
    fields = T1C
    slots = build_slots(fields)
    rng = random.Random(0)
    assert len(split_sentences(sample_prompt(fields, rng, drop_probability=0.0))) == len(slots)
    kept = split_sentences(sample_prompt(fields, rng, drop_probability=1.0))
    assert len(kept) == sum(slot.mandatory for slot in slots) == 2  # overview and contrast
    with pytest.raises(ValueError):
        sample_prompt(fields, rng, drop_probability=1.5)


def test_sampling_is_reproducible_with_a_seeded_rng():
    assert sample_prompt(T1C, random.Random(7)) == sample_prompt(T1C, random.Random(7))
    texts = {sample_prompt(T1C, random.Random(seed)) for seed in range(50)}
    assert len(texts) > 10  # wording and dropping really vary


def test_contrast_and_plain_prompts_never_match_each_other():
    for seed in range(100):
        rng = random.Random(seed)
        assert not is_rendering_of(sample_prompt(T1C, rng), build_slots(T1))
        assert not is_rendering_of(sample_prompt(T1, rng), build_slots(T1C))
    assert is_rendering_of(canonical_prompt(T1C), T1C)  # fields are accepted directly too


def test_match_rule_rejects_reordering_repeats_and_missing_mandatory_slots():
    slots = build_slots(T1C)
    sentences = split_sentences(canonical_prompt(T1C))
    assert not is_rendering_of(" ".join([sentences[1], sentences[0], *sentences[2:]]), slots)
    assert not is_rendering_of(" ".join([sentences[0], sentences[0], *sentences[1:]]), slots)
    assert not is_rendering_of(" ".join(sentences[2:]), slots)
    assert not is_rendering_of("", slots)
    assert is_rendering_of(" ".join(sentences[:2]), slots)
    assert is_rendering_of("  " + "   ".join(sentences) + " ", slots)  # whitespace is not a fact


def test_fat_saturation_can_never_be_dropped():
    fields = ProtocolFields(sequence=voc.T1W, scan_options=("fat saturation",), scanning_sequence=("spin echo",))
    by_name = {slot.name: slot for slot in build_slots(fields)}
    assert by_name["scan_options"].mandatory and not by_name["scanning_sequence"].mandatory
    rng = random.Random(3)
    assert all("fat saturation" in sample_prompt(fields, rng) for _ in range(50))
    assert not is_rendering_of("A T1-weighted magnetic resonance imaging.", build_slots(fields))


def test_overview_variants():
    (overview,) = [s for s in build_slots(ProtocolFields(sequence=voc.T2W, organ="brain")) if s.name == "overview"]
    assert overview.variants == (
        "A T2-weighted magnetic resonance imaging of the brain.",
        "A T2-weighted magnetic resonance imaging of the head.",
        "A T2-weighted magnetic resonance imaging.",
    )
    dwi = canonical_prompt(ProtocolFields(sequence=voc.DWI, organ="breast", b_value=800.0))
    assert dwi == "A diffusion weighted magnetic resonance imaging of the breast with a b-value of 800 s/mm2."
    assert canonical_prompt(ProtocolFields(modality="CT", organ="abdomen")) == "A computed tomography of the abdomen."
    assert canonical_prompt(ProtocolFields(sequence=voc.STIR)).startswith("A short tau")
    assert canonical_prompt(ProtocolFields(sequence="inversion recovery")).startswith("An inversion recovery")


def test_timing_wordings():
    fields = ProtocolFields(repetition_time=4000.0, echo_time=100.0, inversion_time=2000.0, flip_angle=90.0)
    (timing,) = [s for s in build_slots(fields) if s.name == "timing"]
    assert timing.variants[0] == "TR 4000 ms, TE 100 ms, TI 2000 ms, flip angle 90 degrees."
    assert "The image is acquired with a repetition time of 4000 ms and an echo time of 100 ms." in timing.variants
    assert not timing.mandatory


def test_decimal_numbers_do_not_split_sentences():
    fields = ProtocolFields(repetition_time=5.53, echo_time=2.81, contrast=True, contrast_agent="Gd. DTPA 0.1 mmol.")
    prompt = canonical_prompt(fields)
    assert len(split_sentences(prompt)) == len(build_slots(fields))
    assert "TR 5.53 ms, TE 2.81 ms." in prompt and "Gd DTPA 0.1 mmol." in prompt
    assert is_rendering_of(prompt, build_slots(fields))


def test_slot_accepts_only_single_sentences():
    with pytest.raises(ValueError):
        Slot("x", ("One. Two.",), mandatory=False)
    with pytest.raises(ValueError):
        Slot("x", ("no full stop",), mandatory=False)
    with pytest.raises(ValueError):
        Slot("x", (), mandatory=True)
