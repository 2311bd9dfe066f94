"""The contrast a prompt's protocol implies (``prompt_physics``): the features are the signal
equations' tissue ratios, a prompt that states no whole protocol gets none, the tower reads no
weighting word exactly where the features stand for it, and the configuration rules."""

import dataclasses
import math

import pytest
import torch

from napari_evai2i.data._signal import all_tissue_parameters
from napari_evai2i.data.physics import preset
from napari_evai2i.model.prompt_numbers import (NUMBER_FEATURES, PHYSICS_FEATURES, PHYSICS_TISSUES,
                                                physics_features, states_whole_protocol)
from napari_evai2i.prompts import canonical_prompt
from napari_evai2i.prompts.parse import without_timing, without_weighting

KINDS = ("T1w", "T2w", "PDw", "FLAIR", "STIR", "FLASH", "MPRAGE")


@pytest.mark.parametrize("kind", KINDS)
def test_the_features_are_the_signal_equations_ratios_to_grey_matter(kind):
    protocol = preset(kind).replace(field_strength=3.0) if kind == "FLAIR" else preset(kind)
    signals = protocol.tissue_signals(all_tissue_parameters(protocol.field_strength))
    row = physics_features([protocol.prompt("coronal")])[0].tolist()
    assert row[0] == 1.0
    assert row[1:] == pytest.approx([0.5 * math.log(signals[t] / signals["GM"]) for t in PHYSICS_TISSUES], abs=1e-6)


def test_a_stir_reads_like_a_t2w_in_the_brain_and_unlike_a_flair():
    stir, t2w, flair = physics_features([preset(k).prompt("axial") for k in ("STIR", "T2w", "FLAIR")])
    csf = 1 + PHYSICS_TISSUES.index("CSF")
    assert stir[csf] > 0 and t2w[csf] > 0 > flair[csf]          # CSF brighter than GM, as in T2w


def test_a_prompt_that_states_no_whole_protocol_gets_no_features():
    fields = preset("FLAIR").prompt_fields("axial")
    texts = ["a T2 image of a head, please",                               # free text
             canonical_prompt(fields.replace(inversion_time=None)),       # an inversion recovery without TI
             canonical_prompt(fields.replace(scanning_sequence=())),      # no sequence named
             canonical_prompt(fields.replace(echo_time=None))]
    assert torch.equal(physics_features(texts), torch.zeros(len(texts), PHYSICS_FEATURES))
    assert not any(states_whole_protocol(t) for t in texts)
    assert states_whole_protocol(canonical_prompt(fields))


@pytest.mark.parametrize("kind", KINDS)
def test_without_weighting_drops_only_the_weighting(kind):
    fields = preset(kind).prompt_fields("sagittal")
    text = without_timing(canonical_prompt(fields))
    plain = without_weighting(text)
    untimed = dict(repetition_time=None, echo_time=None, inversion_time=None, flip_angle=None)
    assert plain == canonical_prompt(fields.replace(sequence=None, **untimed))
    assert plain.split(". ")[1:] == text.split(". ")[1:] and plain != text
    assert without_weighting("a T2 image of a head") == "a T2 image of a head"


def _physics_generator(**changes):
    from napari_evai2i.model import create_model, get_preset

    tiny = get_preset("tiny")
    generator = dataclasses.replace(tiny.generator, prompt_numbers=True, prompt_numbers_apart=True, prompt_physics=True,
                                    prompt_number_quantities=("repetition_time", "echo_time", "flip_angle"), **changes)
    return create_model(dataclasses.replace(tiny, generator=generator), seed=0)


def test_the_tower_reads_no_weighting_word_where_the_physics_stands_for_it():
    model = _physics_generator()
    stir, flair = (preset(k).prompt("axial") for k in ("STIR", "FLAIR"))
    no_sequence = canonical_prompt(preset("T2w").prompt_fields("axial").replace(scanning_sequence=()))
    towers = model.generator.tower_texts([stir, flair, no_sequence])
    assert towers[0] == towers[1] and "inversion recovery" in towers[0] and "TI" not in towers[0]
    assert towers[2] == without_timing(no_sequence) and "T2-weighted" in towers[2]     # the word stays
    net = model.generator.prompt_numbers
    assert net[0].in_features == model.config.generator.style_dim + NUMBER_FEATURES + PHYSICS_FEATURES
    with torch.no_grad():                                  # the same tower text, two contrasts: two styles
        net[-1].weight.normal_()
        styles = model.prompt_styles([stir, flair], "cpu")
    assert not torch.allclose(styles[0], styles[1])


def test_the_configuration_rules():
    from napari_evai2i.model.config import GeneratorConfig

    with pytest.raises(ValueError, match="prompt_physics"):
        GeneratorConfig(prompt_physics=True)
    with pytest.raises(ValueError, match="inversion_time"):      # without the physics, TI must be read
        GeneratorConfig(prompt_numbers=True, prompt_numbers_apart=True,
                        prompt_number_quantities=("repetition_time", "echo_time", "flip_angle"))
    assert _physics_generator().config.generator.prompt_physics
