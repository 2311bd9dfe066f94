"""The batched and bound hyper-convolution paths equal a plain per-sample reference."""

import pytest
import torch

from napari_evai2i.model.generator import Generator
from napari_evai2i.model.config import get_preset
from napari_evai2i.model.layers import HyperConv2d, bind_prompt, hyperconv_reference


def _randomise(module):
    # Move the modulation away from its identity init so the test sees real per-sample kernels.
    torch.manual_seed(1)
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.3)


@pytest.mark.parametrize("kernel,groups", [(1, 1), (3, 1), (7, 8)])
def test_grouped_batched_path_equals_per_sample_reference(kernel, groups):
    conv = HyperConv2d(8, 16 if groups == 1 else 8, kernel, style_dim=12, latent_dim=4, groups=groups)
    _randomise(conv)
    x = torch.randn(5, 8, 11, 13)
    style = torch.randn(5, 12)
    ref = hyperconv_reference(conv, x, style)
    # float32 sums in another order: allow a few ulps of the largest output (values reach ~70).
    assert torch.allclose(conv(x, style), ref, atol=1e-6 * float(ref.detach().abs().max()), rtol=1e-5)


def test_shared_prompt_and_bound_paths_equal_reference():
    conv = HyperConv2d(6, 10, 3, style_dim=12, latent_dim=4)
    _randomise(conv)
    x = torch.randn(4, 6, 9, 9)
    style = torch.randn(1, 12)
    ref = hyperconv_reference(conv, x, style.expand(4, -1))
    assert torch.allclose(conv(x, style), ref, atol=1e-5, rtol=1e-5)
    bound = bind_prompt(conv, style)
    assert torch.allclose(conv(x, bound), ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        conv(x, None)
    other = HyperConv2d(6, 10, 3, style_dim=12, latent_dim=4)
    with pytest.raises(ValueError, match="another network"):
        other(x, bound)


def test_modulation_is_identity_at_init():
    conv = HyperConv2d(4, 4, 3, style_dim=8, latent_dim=4)
    torch.nn.init.zeros_(conv.to_kernel.weight)
    torch.nn.init.zeros_(conv.to_out.weight)
    torch.nn.init.zeros_(conv.to_in.weight)
    w = conv.modulated_weight(torch.randn(3, 8))
    assert torch.allclose(w, conv.weight.unsqueeze(0).expand_as(w), atol=1e-6)


def test_generator_bound_prompt_equals_per_sample_styles():
    gen = Generator(get_preset("tiny").generator).eval()
    for m in gen.modules():
        if isinstance(m, HyperConv2d):
            torch.nn.init.normal_(m.to_out.weight, std=0.2)
    x = torch.rand(3, 1, 32, 48)
    style = torch.nn.functional.normalize(torch.randn(1, gen.config.style_dim), dim=-1)
    with torch.no_grad():
        per_sample = gen(x, style.expand(3, -1))
        shared = gen(x, style)
        bound = gen(x, gen.bind_prompt(style))
    assert torch.allclose(shared, per_sample, atol=1e-5)
    assert torch.allclose(bound, per_sample, atol=1e-5)
