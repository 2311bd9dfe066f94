"""The tissue mixture's sharpness read from the prompt (``mixture_sharpness``): it grows onto a model
at a factor of exactly 1, so the grown model translates bit for bit as the old one; once trained it
sharpens the mixture of the prompts it was taught to, within its bounds; and the tissue head's own
logits, which the tissue loss trains, never change."""

import dataclasses

import pytest
import torch

from napari_evai2i.model import create_model, get_preset
from napari_evai2i.model.generator import SHARPNESS_LIMIT, added_zero_start_parts, load_adding_zero_start_parts


def _pair():
    tiny = get_preset("tiny")
    sharp = dataclasses.replace(tiny, generator=dataclasses.replace(tiny.generator, mixture_sharpness=True))
    old = create_model(tiny, seed=0).eval()
    grown = create_model(sharp, seed=1).eval()
    grown.dclip.load_state_dict(old.dclip.state_dict())
    return tiny, sharp, old, grown


def test_grown_onto_a_model_the_sharpness_starts_at_one_and_changes_nothing():
    tiny, sharp, old, grown = _pair()
    assert added_zero_start_parts(tiny.generator, sharp.generator) == ("mixture_sharpness",)
    load_adding_zero_start_parts(grown.generator, old.generator.state_dict(), ("mixture_sharpness",))
    x = torch.rand(2, 1, 48, 40)
    style = torch.randn(2, tiny.generator.style_dim)
    with torch.no_grad():
        assert torch.equal(grown.generator.sharpness(style), torch.ones(2, 1))
        assert torch.equal(grown.generator(x, style), old.generator(x, style))
    with pytest.raises(ValueError, match="cannot add mixture_sharpness"):
        load_adding_zero_start_parts(grown.generator, {}, ("mixture_sharpness",))


def test_a_trained_sharpness_sharpens_the_mixture_within_its_bounds_and_leaves_the_tissue_logits():
    tiny, _, old, grown = _pair()
    load_adding_zero_start_parts(grown.generator, old.generator.state_dict(), ("mixture_sharpness",))
    x = torch.rand(1, 1, 48, 40)
    style = torch.randn(1, tiny.generator.style_dim)
    with torch.no_grad():
        grown.generator.mixture_sharpness[-1].bias.fill_(100.0)          # as far as it goes
        assert grown.generator.sharpness(style).item() == pytest.approx(3.0)
        assert SHARPNESS_LIMIT == pytest.approx(torch.log(torch.tensor(3.0)).item())
        new, _, new_logits = grown.generator(x, style, return_features=True)
        before, _, old_logits = old.generator(x, style, return_features=True)
    assert torch.equal(new_logits, old_logits)                   # what the tissue loss sees
    assert (new - before).abs().max() > 1e-4                     # the image does change


def test_the_option_needs_a_tissue_mixture():
    from napari_evai2i.model.config import GeneratorConfig

    with pytest.raises(ValueError, match="set tissue_mixture"):
        GeneratorConfig(mixture_sharpness=True)


def test_a_sharpness_that_reads_the_structure_code_grows_at_one_and_can_differ_by_input():
    tiny = get_preset("tiny")
    reading = dataclasses.replace(tiny, generator=dataclasses.replace(
        tiny.generator, mixture_sharpness=True, sharpness_reads_code=True))
    assert added_zero_start_parts(tiny.generator, reading.generator) == ("mixture_sharpness",)
    old = create_model(tiny, seed=0).eval()
    grown = create_model(reading, seed=1).eval()
    load_adding_zero_start_parts(grown.generator, old.generator.state_dict(), ("mixture_sharpness",))
    x = torch.stack([torch.rand(1, 48, 40), torch.zeros(1, 48, 40)])          # a slice, and air
    style = torch.randn(1, tiny.generator.style_dim)                        # one prompt for both
    with torch.no_grad():
        assert torch.equal(grown.generator(x, style), old.generator(x, style))
        torch.nn.init.normal_(grown.generator.mixture_sharpness[-1].weight, std=1.0)   # as if trained
        codes = grown.generator.encode(grown.generator._pad(x)[0])[-1]
        factor = grown.generator.sharpness(style, codes)
    assert factor.shape == (2, 1) and abs(factor[0] - factor[1]).item() > 1e-4
    with pytest.raises(ValueError, match="reads the structure code"):
        grown.generator.sharpness(style)
    with pytest.raises(ValueError, match="set mixture_sharpness"):
        dataclasses.replace(tiny.generator, sharpness_reads_code=True)
