"""Fields read back from prompts in the template's own wordings; anything else is not guessed."""

import random

import pytest

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.prompts import canonical_prompt, is_rendering_of, sample_prompt
from napari_evai2i.prompts.parse import fields_from_prompt, without_timing


@pytest.mark.parametrize("kind", sorted(PRESETS))
def test_canonical_prompts_of_every_preset_read_back_exactly(kind):
    fields = PRESETS[kind].prompt_fields("axial")
    assert fields_from_prompt(canonical_prompt(fields)) == fields


def test_sampled_wordings_read_back_to_fields_they_render():
    fields = PRESETS["FLAIR"].prompt_fields().replace(manufacturer="SIEMENS", contrast=True,
                                                       contrast_agent="gadobutrol",
                                                       scan_options=("fat saturation",))
    for seed in range(30):
        text = sample_prompt(fields, random.Random(seed), 0.3)
        found = fields_from_prompt(text)
        assert found is not None and is_rendering_of(text, found), text
        assert found.echo_time == fields.echo_time or found.echo_time is None


def test_an_edited_number_is_read_and_free_text_is_not_guessed():
    found = fields_from_prompt("A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 80 ms.")
    assert found.echo_time == 80.0 and found.repetition_time == 4000.0 and found.sequence == "T2-weighted"
    assert fields_from_prompt("a bright fluid image") is None
    assert fields_from_prompt("A T2-weighted magnetic resonance imaging of the brain. Very bright CSF.") is None
    assert fields_from_prompt("") is None


def test_weighting_conflict_names_the_stated_and_the_implied_weighting():
    from napari_evai2i.data.physics import PRESETS
    from napari_evai2i.prompts.heuristics import weighting_conflict

    assert weighting_conflict(PRESETS["T2W"].replace(te=30.0).prompt()) == ("T2-weighted", "proton density weighted")
    assert weighting_conflict(PRESETS["T1W"].replace(tr=4000.0, te=100.0).prompt()) == ("T1-weighted", "T2-weighted")
    assert all(weighting_conflict(p.prompt()) is None for p in PRESETS.values())        # textbook protocols
    assert weighting_conflict(PRESETS["T2W"].replace(te=60.0).prompt()) is None           # the rules leave it open
    assert weighting_conflict("a T2 of the brain, TE 30") is None                         # not our wording: no guess


def test_training_protocols_almost_never_contradict_their_word():
    import numpy as np

    from napari_evai2i.data.physics import Protocol, SAMPLE_KINDS, is_held_out
    from napari_evai2i.prompts.heuristics import weighting_conflict

    rng = np.random.default_rng(0)
    conflicts = []
    for kind in SAMPLE_KINDS:
        if kind == "STIR":                                   # held out of training altogether
            continue
        for _ in range(300):
            protocol = Protocol.sample(rng, kind)
            assert not is_held_out(protocol)
            if weighting_conflict(protocol.prompt()):
                conflicts.append((kind, protocol.te))
    assert all(c == ("T2W", 40.0) for c in conflicts)           # only the rules' TE 40 ms boundary
    assert len(conflicts) <= 3


def test_without_timing_drops_exactly_the_sentence_with_tr_te_ti_and_flip_angle():
    fields = PRESETS["FLAIR"].prompt_fields("axial")
    for seed in range(30):
        text = sample_prompt(fields, random.Random(seed), 0.3)
        kept = without_timing(text)
        found = fields_from_prompt(kept)
        assert found is not None, kept                    # still a prompt in the package's wordings
        assert (found.repetition_time, found.echo_time, found.inversion_time, found.flip_angle) == (None,) * 4
        assert found.sequence == fields.sequence and found.field_strength in (None, fields.field_strength)
        assert len(text.split(". ")) - len(kept.split(". ")) in (0, 1)   # one sentence at most
    canonical = canonical_prompt(fields)
    assert "TR 9000 ms" in canonical and "TR" not in without_timing(canonical)
    for other in ("flair with TI 2500 please", "A T2-weighted magnetic resonance imaging.", ""):
        assert without_timing(other) == other                # nothing to take: unchanged
