"""The fast inference paths equal the straightforward reference path (run on CPU)."""

import pytest
import torch

from napari_evai2i.model import create_model
from napari_evai2i.model import layers
from napari_evai2i.model.layers import HyperConv2d, blockwise_attention, set_reference_path


@pytest.fixture(scope="module")
def generator():
    gen = create_model("tiny", seed=0).generator.eval()
    torch.manual_seed(3)
    for m in gen.modules():                    # give the prompt a real effect on every kernel
        if isinstance(m, HyperConv2d):
            torch.nn.init.normal_(m.to_out.weight, std=0.3)
            torch.nn.init.normal_(m.to_kernel.weight, std=0.3)
    for m in gen.modules():                    # and the residual branches a real weight
        if hasattr(m, "gamma"):
            torch.nn.init.constant_(m.gamma, 0.5)
    return gen


def _reference(gen, x, style):
    set_reference_path(gen, True)
    try:
        with torch.no_grad():
            return gen(x, style.expand(x.shape[0], -1))
    finally:
        set_reference_path(gen, False)


def test_fp32_fast_path_equals_reference(generator):
    x = torch.rand(3, 1, 72, 64)
    style = torch.nn.functional.normalize(torch.randn(1, generator.config.style_dim), dim=-1)
    ref = _reference(generator, x, style)
    with torch.no_grad():
        fast = generator(x, generator.bind_prompt(style))
    assert not torch.allclose(ref, torch.zeros_like(ref))
    assert float((fast - ref).abs().max() / ref.abs().max()) < 1e-4


def test_bf16_autocast_within_tolerance(generator):
    x = torch.rand(2, 1, 64, 64)
    style = torch.nn.functional.normalize(torch.randn(1, generator.config.style_dim), dim=-1)
    ref = _reference(generator, x, style)
    bound = generator.bind_prompt(style)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fast = generator(x, bound).float()
    assert float((fast - ref).abs().max() / ref.abs().max()) < 2e-2


def test_blockwise_attention_equals_fused_attention(monkeypatch):
    monkeypatch.setattr(layers, "ATTENTION_BLOCK_ELEMENTS", 2 * 300 * 37)   # 37 query rows per block
    q, k, v = (torch.randn(2, 300, 16) for _ in range(3))
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(blockwise_attention(q, k, v), fused, atol=1e-5)
    bf16 = blockwise_attention(q.bfloat16(), k.bfloat16(), v.bfloat16()).float()
    assert float((bf16 - fused).abs().max() / fused.abs().max()) < 2e-2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_channels_last_within_tolerance(generator):
    gen = generator.cuda().to(memory_format=torch.channels_last)
    x = torch.rand(4, 1, 128, 128)
    style = torch.nn.functional.normalize(torch.randn(1, gen.config.style_dim), dim=-1)
    ref = _reference(generator.cpu(), x, style)
    gen = generator.cuda().to(memory_format=torch.channels_last)
    bound = gen.bind_prompt(style.cuda())
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        fast = gen(x.cuda().contiguous(memory_format=torch.channels_last), bound).float().cpu()
    generator.cpu()
    assert float((fast - ref).abs().max() / ref.abs().max()) < 2e-2
