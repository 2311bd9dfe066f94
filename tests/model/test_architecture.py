"""Architecture tests: official sizes, any input size, every parameter trained, SDPA attention."""

import pytest
import torch

from napari_evai2i.model import create_model, get_preset, list_presets
from napari_evai2i.model.dclip import DCLIP
from napari_evai2i.model.discriminator import PatchDiscriminator
from napari_evai2i.model.generator import Generator
from napari_evai2i.model.layers import AttentionBlock

# Parameter counts of the official EVA-I2I code (recomputed from its config).
OFFICIAL = {"text": 123_345_408, "image": 29_937_120, "generator": 66_531_725,
            "discriminator": 67_359_917}


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_presets_listed():
    assert {"paper", "tiny"} <= set(list_presets())


def test_paper_config_matches_official_parameter_counts():
    cfg = get_preset("paper")
    with torch.device("meta"):
        dclip = DCLIP(cfg.text, cfg.image, cfg.embed_dim)
        counts = {"text": _count(dclip.text), "image": _count(dclip.image),
                  "generator": _count(Generator(cfg.generator)),
                  "discriminator": _count(PatchDiscriminator(cfg.discriminator))}
    for name, expected in OFFICIAL.items():
        assert abs(counts[name] - expected) / expected <= 0.005, (name, counts[name], expected)


def test_tiny_model_fits_in_a_shipped_checkpoint():
    model = create_model("tiny")
    inference_params = _count(model.dclip) + _count(model.generator)
    assert inference_params * 2 <= 25e6          # float16 shipped weights <= 25 MB


@pytest.mark.parametrize("shape", [(181, 217), (64, 64), (37, 90)])
def test_generator_returns_input_size(shape):
    cfg = get_preset("tiny").generator
    gen = Generator(cfg).eval()
    x = torch.rand(2, 1, *shape)
    style = torch.nn.functional.normalize(torch.randn(2, cfg.style_dim), dim=-1)
    with torch.no_grad():
        y = gen(x, style)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_every_generator_and_discriminator_parameter_gets_a_gradient():
    model = create_model("tiny", with_discriminator=True, seed=0)
    gen, disc = model.generator, model.discriminator
    x = torch.rand(2, 1, 64, 64)
    style = torch.nn.functional.normalize(torch.randn(2, gen.config.style_dim), dim=-1)
    known = torch.tensor([True, False])          # one source prompt known, one not
    y, feats, tissue = gen(x, style, source_style=style.flip(0), source_known=known,
                           return_features=True)
    loss = y.mean() + tissue.mean() + gen.code_tissue(feats).mean() + disc(y, style).mean()
    loss.backward()
    missing = [n for n, p in list(gen.named_parameters()) + list(disc.named_parameters())
               if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_dclip_towers_give_unit_embeddings_and_every_parameter_learns():
    cfg = get_preset("tiny")
    dclip = DCLIP(cfg.text, cfg.image, cfg.embed_dim)
    from napari_evai2i.prompts import tokenize

    tokens = tokenize(["A T1-weighted magnetic resonance imaging of the brain.",
                       "A T2-weighted magnetic resonance imaging of the brain."], cfg.text.context_length)
    t = dclip.encode_text(tokens)
    i = dclip.encode_image(torch.rand(2, 1, 96, 80))         # resized to the tower's input size
    assert t.shape == i.shape == (2, cfg.embed_dim)
    assert torch.allclose(t.norm(dim=-1), torch.ones(2), atol=1e-5)
    (t @ i.T).sum().backward()
    unused = [n for n, p in dclip.named_parameters() if p.grad is None]
    # Tokens that do not occur in the batch have no gradient row, but the tensor has one.
    assert unused == []


def test_discriminator_patch_map_size():
    cfg = get_preset("tiny").discriminator
    disc = PatchDiscriminator(cfg)
    style = torch.nn.functional.normalize(torch.randn(1, cfg.style_dim), dim=-1)
    assert disc(torch.rand(1, 1, 256, 256), style).shape == (1, 1, 31, 31)


def test_attention_block_sdpa_equals_explicit_softmax():
    torch.manual_seed(0)
    block = AttentionBlock(32)
    torch.nn.init.normal_(block.proj.weight, std=0.1)
    x = torch.randn(2, 32, 12, 10)
    assert torch.allclose(block(x), block.forward_reference(x), atol=1e-5)


def test_style_dim_is_derived_from_embed_dim_or_must_agree():
    from napari_evai2i.model import ModelConfig

    data = get_preset("tiny").to_dict()
    for part in ("generator", "discriminator"):
        del data[part]["style_dim"]
    config = ModelConfig.from_dict(data)
    assert config.generator.style_dim == config.discriminator.style_dim == config.embed_dim == 64
    data["generator"]["style_dim"] = 32
    with pytest.raises(ValueError, match=r"style_dim \(32\) must equal embed_dim \(64\)"):
        ModelConfig.from_dict(data)


def test_unknown_model_config_keys_are_named():
    from napari_evai2i.model import ModelConfig

    with pytest.raises(ValueError, match="unknown model config keys: colour"):
        ModelConfig.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="unknown model config generator keys: depth"):
        ModelConfig.from_dict({"generator": {"depth": 3}})
