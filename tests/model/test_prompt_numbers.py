"""A generator that reads the prompt's numbers: the features, the zero start from an older
checkpoint, and a saved model whose translations follow TI through the engine."""

import dataclasses

import numpy as np
import pytest
import torch

from napari_evai2i.data.physics import preset
from napari_evai2i.model import CheckpointInfo, create_model, get_preset, save_pretrained
from napari_evai2i.model.generator import adds_prompt_numbers
from napari_evai2i.model.prompt_numbers import FEATURES_PER_QUANTITY, NUMBER_FEATURES, QUANTITIES, number_features

FLAIR = preset("FLAIR")


def _numbers_config():
    config = get_preset("tiny")
    return dataclasses.replace(config, generator=dataclasses.replace(config.generator, prompt_numbers=True))


def _block(features: torch.Tensor, name: str) -> torch.Tensor:
    i = QUANTITIES.index(name) * FEATURES_PER_QUANTITY
    return features[..., i:i + FEATURES_PER_QUANTITY]


def test_features_say_which_numbers_a_prompt_states():
    f = number_features([FLAIR.prompt("axial"), FLAIR.replace(ti=2210.0).prompt("axial"),
                         "A T2-weighted fluid-attenuated inversion recovery magnetic resonance imaging.",
                         "flair with TI 2500 please"])
    assert f.shape == (4, NUMBER_FEATURES)
    for name in QUANTITIES:                                   # the preset's prompt states all five
        assert _block(f[0], name)[0] == 1
    assert torch.equal(_block(f[0], "echo_time"), _block(f[1], "echo_time"))
    assert (_block(f[0], "inversion_time") - _block(f[1], "inversion_time")).abs().max() > 0.5
    assert f[2].abs().sum() == 0                              # no parameter sentence: no numbers
    assert f[3].abs().sum() == 0                              # not the package's wording: none either


def test_an_older_generator_grows_the_map_at_zero_and_translates_as_before(tiny_checkpoint):
    from napari_evai2i.model import load_pretrained
    from napari_evai2i.model.generator import load_adding_prompt_numbers

    old, _ = load_pretrained(tiny_checkpoint, "cpu")
    config = _numbers_config()
    assert adds_prompt_numbers(old.config.generator, config.generator)
    assert not adds_prompt_numbers(config.generator, config.generator)
    new = create_model(config, seed=1)
    new.dclip.load_state_dict(old.dclip.state_dict())
    load_adding_prompt_numbers(new.generator, old.generator.state_dict(), old.config.generator)
    texts = [FLAIR.prompt("axial"), FLAIR.replace(ti=2800.0).prompt("axial")]
    with torch.no_grad():
        assert torch.equal(new.prompt_styles(texts, "cpu"), old.prompt_styles(texts, "cpu"))
    with pytest.raises(ValueError, match="cannot add prompt numbers"):
        load_adding_prompt_numbers(new.generator, {}, old.config.generator)


def test_a_saved_numbers_model_follows_ti_through_the_engine(tmp_path):
    from napari_evai2i.engine import load_model

    model = create_model(_numbers_config(), seed=0)
    with torch.no_grad():
        torch.nn.init.normal_(model.generator.prompt_numbers.weight, std=0.5)
    folder = save_pretrained(model, tmp_path / "numbers", CheckpointInfo(trained=False, description="test"))
    translator = load_model(folder, "cpu")
    assert translator.model.config.generator.prompt_numbers
    image = np.random.default_rng(0).random((64, 64)).astype(np.float32) * 100
    a, b, again = (translator.translate(image, FLAIR.replace(ti=ti).prompt()) for ti in (2210.0, 2800.0, 2210.0))
    assert np.array_equal(a, again)
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()


def test_a_map_of_ti_alone_leaves_every_prompt_without_ti_as_the_text_tower_embeds_it(tmp_path):
    from napari_evai2i.model import load_pretrained
    from napari_evai2i.prompts import tokenize

    config = _numbers_config()
    config = dataclasses.replace(config, generator=dataclasses.replace(
        config.generator, prompt_number_quantities=("inversion_time",)))
    model = create_model(config, seed=0)
    with torch.no_grad():
        torch.nn.init.normal_(model.generator.prompt_numbers.weight, std=0.5)
    folder = save_pretrained(model, tmp_path / "ti", CheckpointInfo(trained=False, description="test"))
    model, _ = load_pretrained(folder, "cpu")               # the choice survives config.json
    assert model.config.generator.prompt_number_quantities == ("inversion_time",)
    t2w, flair = preset("T2w").prompt("axial"), FLAIR.prompt("axial")
    with torch.no_grad():
        styles = model.prompt_styles([t2w, flair], "cpu")
        plain = model.dclip.encode_text(tokenize([t2w, flair], config.text.context_length)).float()
    assert torch.equal(styles[0], plain[0])                   # T2w states TR and TE, no TI
    assert (styles[1] - plain[1]).abs().max() > 1e-2          # FLAIR states its TI
    features = number_features([flair], ("inversion_time",))
    assert _block(features, "inversion_time").abs().sum() > 0 and _block(features, "echo_time").abs().sum() == 0


def test_the_quantities_read_are_checked():
    with pytest.raises(ValueError, match="prompt_number_quantities must name some of"):
        dataclasses.replace(get_preset("tiny").generator, prompt_number_quantities=("inversion_tme",))


def test_a_map_of_ti_widens_to_te_keeping_its_ti_part_and_translating_as_before():
    from napari_evai2i.model.generator import load_adding_prompt_numbers

    base = _numbers_config()
    ti_only = dataclasses.replace(base, generator=dataclasses.replace(
        base.generator, prompt_number_quantities=("inversion_time",)))
    ti_te = dataclasses.replace(base, generator=dataclasses.replace(
        base.generator, prompt_number_quantities=("inversion_time", "echo_time")))
    assert adds_prompt_numbers(ti_only.generator, ti_te.generator)
    assert not adds_prompt_numbers(ti_te.generator, ti_only.generator)     # reading fewer is no growth
    old = create_model(ti_only, seed=0)
    with torch.no_grad():                                    # a trained TI map, and stray TE weights
        torch.nn.init.normal_(old.generator.prompt_numbers.weight, std=0.5)
    new = create_model(ti_te, seed=1)
    new.dclip.load_state_dict(old.dclip.state_dict())
    load_adding_prompt_numbers(new.generator, old.generator.state_dict(), ti_only.generator)
    texts = [FLAIR.prompt("axial"), preset("T2w").prompt("axial"), preset("T2w").replace(te=60.0).prompt("axial")]
    with torch.no_grad():
        assert torch.equal(new.prompt_styles(texts, "cpu"), old.prompt_styles(texts, "cpu"))
        weight = new.generator.prompt_numbers.weight
        assert _block(weight, "echo_time").abs().sum() == 0          # the new TE part starts at zero
        assert torch.equal(_block(weight, "inversion_time"), _block(old.generator.prompt_numbers.weight,
                                                                    "inversion_time"))


def _apart_config():
    config = _numbers_config()
    return dataclasses.replace(config, generator=dataclasses.replace(
        config.generator, prompt_number_quantities=("repetition_time", "echo_time", "inversion_time", "flip_angle"),
        prompt_numbers_apart=True, prompt_number_width=32))


def test_numbers_apart_start_as_the_tower_reading_the_prompt_without_its_timing(tmp_path):
    from napari_evai2i.model import load_pretrained
    from napari_evai2i.prompts import tokenize
    from napari_evai2i.prompts.parse import without_timing

    config = _apart_config()
    model = create_model(config, seed=0)
    folder = save_pretrained(model, tmp_path / "apart", CheckpointInfo(trained=False, description="test"))
    model, _ = load_pretrained(folder, "cpu")               # the choice survives config.json
    assert model.config.generator.prompt_numbers_apart
    texts = [preset("T2w").replace(te=float(te)).prompt("axial") for te in (45, 60, 100)]
    with torch.no_grad():
        styles = model.prompt_styles(texts, "cpu")
        tower = model.dclip.encode_text(tokenize([without_timing(t) for t in texts], config.text.context_length)).float()
        assert torch.equal(styles, tower)                    # the network's last layer starts at zero
        assert torch.equal(styles[0], styles[2])             # and the tower never sees the TE
        torch.nn.init.normal_(model.generator.prompt_numbers[-1].weight, std=0.5)
        moved = model.prompt_styles(texts, "cpu")
    assert (moved[0] - moved[2]).abs().max() > 1e-3          # so the echo time reaches the style by the network


def test_numbers_apart_need_every_timing_quantity():
    with pytest.raises(ValueError, match="prompt_numbers_apart takes the timing sentence away"):
        dataclasses.replace(_apart_config().generator, prompt_number_quantities=("echo_time",))
