"""Building blocks shared by the generator and the discriminator.

The ConvNeXt blocks, channels-first LayerNorm and attention pooling come from timm; what
timm does not have is written here: the prompt-modulated (hyper-)convolution, the
ConvNeXt block made of hyper-convolutions, and the convolutional self-attention block
of EVA-I2I (computed with ``scaled_dot_product_attention``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from timm.layers import LayerNorm2d
from timm.models.convnext import ConvNeXtBlock
from torch import nn


class HyperConv2d(nn.Module):
    """Convolution whose weight is rescaled per sample by a style (prompt) embedding.

    For a style vector ``s`` the kernel is ``W(s) = W0 * (U(s) @ V(s)) * a(s)`` where
    ``U(s)`` is (out, L), ``V(s)`` is (L, in/groups) and ``a(s)`` is (k, k): a rank-L
    channel modulation times a spatial one, as in EVA-I2I. The linear maps are
    initialised so that the modulation is exactly 1 for any style, so a fresh network
    starts as its unconditioned counterpart and learns how prompts change it.

    Three ways to run, all numerically the same operation:

    * one style for the whole batch (``style`` of shape (1, S)): one ordinary conv;
    * one style per sample: one grouped conv over the batch (no Python loop);
    * a :class:`BoundPrompt` (``style`` = :func:`bind_prompt` ``(module, s)``): the modulated
      weight was computed once and is only looked up, so a decoder serving one prompt runs
      as a static network. The kernels live in the value, never in the module, so one
      module serves any number of threads and prompts at once.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, style_dim: int,
                 latent_dim: int = 16, groups: int = 1, padding_mode: str = "reflect") -> None:
        super().__init__()
        if in_chs % groups or out_chs % groups:
            raise ValueError(f"channels ({in_chs}, {out_chs}) must be divisible by groups={groups}")
        self.in_chs, self.out_chs, self.groups = in_chs, out_chs, groups
        self.kernel_size, self.latent_dim = kernel_size, latent_dim
        self.padding_mode = padding_mode
        self.weight = nn.Parameter(torch.empty(out_chs, in_chs // groups, kernel_size, kernel_size))
        self.to_kernel = nn.Linear(style_dim, kernel_size * kernel_size)
        self.to_out = nn.Linear(style_dim, out_chs * latent_dim)
        self.to_in = nn.Linear(style_dim, latent_dim * (in_chs // groups))
        self.reference_path = False          # see set_reference_path()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.weight, nonlinearity="linear")
        # Small random slopes, biases chosen so that U @ V == 1 and a == 1 at init.
        for lin in (self.to_kernel, self.to_out, self.to_in):
            nn.init.normal_(lin.weight, std=0.02 / math.sqrt(lin.in_features))
        nn.init.ones_(self.to_kernel.bias)
        nn.init.constant_(self.to_out.bias, 1.0 / math.sqrt(self.latent_dim))
        nn.init.constant_(self.to_in.bias, 1.0 / math.sqrt(self.latent_dim))

    def modulated_weight(self, style: torch.Tensor) -> torch.Tensor:
        """(B, S) style -> (B, out, in/groups, k, k) per-sample kernels."""
        b, k, lat = style.shape[0], self.kernel_size, self.latent_dim
        u = self.to_out(style).view(b, self.out_chs, lat)
        v = self.to_in(style).view(b, lat, self.in_chs // self.groups)
        channel = torch.bmm(u, v)
        spatial = self.to_kernel(style).view(b, 1, 1, k, k)
        return self.weight.unsqueeze(0) * channel[..., None, None] * spatial

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        p = self.kernel_size // 2
        if p == 0:
            return x
        if self.padding_mode == "zeros":
            return F.pad(x, (p, p, p, p))
        return F.pad(x, (p, p, p, p), mode=self.padding_mode)

    def forward(self, x: torch.Tensor, style: "torch.Tensor | BoundPrompt") -> torch.Tensor:
        """x: (B, C_in, H, W); style: (B, S), (1, S) or a :class:`BoundPrompt`."""
        if isinstance(style, BoundPrompt):
            return F.conv2d(self._pad(x), style.kernel(self).to(x.dtype), groups=self.groups)
        if style is None:
            raise ValueError("HyperConv2d needs a style embedding or a BoundPrompt")
        if self.reference_path:
            return hyperconv_reference(self, x, style.expand(x.shape[0], -1))
        x = self._pad(x)
        if style.shape[0] == 1:
            return F.conv2d(x, self.modulated_weight(style)[0].to(x.dtype), groups=self.groups)
        b, _, h, w = x.shape
        if style.shape[0] != b:
            raise ValueError(f"style batch {style.shape[0]} does not match input batch {b}")
        weight = self.modulated_weight(style).to(x.dtype)
        weight = weight.reshape(b * self.out_chs, self.in_chs // self.groups, *weight.shape[-2:])
        out = F.conv2d(x.reshape(1, b * self.in_chs, h, w), weight, groups=b * self.groups)
        return out.view(b, self.out_chs, out.shape[-2], out.shape[-1])


@dataclass(frozen=True, eq=False)
class BoundPrompt:
    """One (1, S) prompt embedding with the modulated kernel of every hyper-conv it drives.

    A value, made by :func:`bind_prompt`: passing it where a style goes runs the network
    with kernels computed once, and nothing is written into the modules, so concurrent
    translations with different prompts cannot see each other's kernels.
    """

    style: torch.Tensor
    kernels: dict[int, torch.Tensor] = field(repr=False)

    def kernel(self, conv: HyperConv2d) -> torch.Tensor:
        try:
            return self.kernels[id(conv)]
        except KeyError:
            raise ValueError("this BoundPrompt was made for another network") from None


def bind_prompt(module: nn.Module, style: torch.Tensor) -> BoundPrompt:
    """Compute, for one (1, S) style, the kernels of every HyperConv2d inside ``module``."""
    if style.ndim != 2 or style.shape[0] != 1:
        raise ValueError(f"bind_prompt takes one (1, S) embedding, not a tensor of shape {tuple(style.shape)}")
    with torch.no_grad():
        kernels = {id(m): m.modulated_weight(style)[0].detach()
                   for m in module.modules() if isinstance(m, HyperConv2d)}
    return BoundPrompt(style.detach(), kernels)


def hyperconv_reference(module: HyperConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Straightforward per-sample loop (as the official code does), for tests and benchmarks."""
    outs = []
    for i in range(x.shape[0]):
        weight = module.modulated_weight(style[i:i + 1])[0]
        outs.append(F.conv2d(module._pad(x[i:i + 1]), weight, groups=module.groups))
    return torch.cat(outs)


def set_reference_path(module: nn.Module, enabled: bool) -> None:
    """Switch every hyper-conv and attention block in ``module`` to the straightforward path.

    The reference path is what the official code does -- one convolution per sample in a
    Python loop, attention as an explicit HW x HW softmax -- kept for equivalence tests and
    for benchmarks that measure what the fast paths gain.
    """
    for m in module.modules():
        if isinstance(m, (HyperConv2d, AttentionBlock)):
            m.reference_path = enabled


class HyperConvNeXtBlock(nn.Module):
    """ConvNeXt block with every convolution a hyper-convolution (depthwise 7x7, 1x1, 1x1)."""

    def __init__(self, dim: int, style_dim: int, latent_dim: int = 16, mlp_ratio: int = 4,
                 ls_init_value: float = 1e-6) -> None:
        super().__init__()
        hidden = dim * mlp_ratio
        self.conv_dw = HyperConv2d(dim, dim, 7, style_dim, latent_dim, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.fc1 = HyperConv2d(dim, hidden, 1, style_dim, latent_dim)
        self.act = nn.GELU()
        self.fc2 = HyperConv2d(hidden, dim, 1, style_dim, latent_dim)
        self.gamma = nn.Parameter(torch.full((dim,), ls_init_value))

    def forward(self, x: torch.Tensor, style: torch.Tensor | BoundPrompt) -> torch.Tensor:
        y = self.norm(self.conv_dw(x, style))
        y = self.fc2(self.act(self.fc1(y, style)), style)
        return x + self.gamma.view(1, -1, 1, 1) * y


#: Most elements of one block of attention scores in :func:`blockwise_attention` (64 MiB in bf16).
ATTENTION_BLOCK_ELEMENTS = 2**25


def blockwise_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(C)) v for (B, L, C) tensors, a block of queries at a time.

    Used for bf16 on CPU: there the fused SDPA kernel gains nothing over fp32 while bf16
    matrix products run about twice as fast, so explicit products are faster (137 vs 89
    ms per paper-size call, docs/performance.md). Splitting the queries bounds the
    score matrix, so large slices do not need an L x L buffer.
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    rows = max(1, ATTENTION_BLOCK_ELEMENTS // (q.shape[0] * k.shape[1]))
    blocks = [torch.softmax(torch.bmm(q[:, i:i + rows], k.transpose(1, 2)) * scale, dim=-1) @ v
              for i in range(0, q.shape[1], rows)]
    return torch.cat(blocks, dim=1)


class AttentionBlock(nn.Module):
    """Single-head self-attention over all positions of a feature map (EVA's AttnBlock).

    Queries from a 1x1 conv, keys and values from 3x3 convs, so each token carries its
    neighbourhood; attention itself runs in ``scaled_dot_product_attention`` (fused
    kernels on CPU and GPU instead of an explicit HW x HW matrix).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = LayerNorm2d(dim)
        self.q = nn.Conv2d(dim, dim, 1, bias=False)
        self.k = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.v = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.proj = nn.Conv2d(dim, dim, 1)
        self.reference_path = False          # see set_reference_path()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reference_path:
            return self.forward_reference(x)
        b, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (f(y).flatten(2).transpose(1, 2) for f in (self.q, self.k, self.v))
        if q.device.type == "cpu" and q.dtype == torch.bfloat16:
            out = blockwise_attention(q, k, v)
        else:
            out = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        out = out.transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj(out)

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Explicit softmax(q k^T / sqrt(C)) v, the plain path used as a reference."""
        b, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (f(y).flatten(2) for f in (self.q, self.k, self.v))
        attn = torch.softmax(torch.bmm(q.transpose(1, 2), k) / math.sqrt(c), dim=-1)
        out = torch.bmm(v, attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.proj(out)


class HyperStage(nn.Module):
    """``n`` hyper ConvNeXt blocks with an (unconditioned) attention block between each pair."""

    def __init__(self, dim: int, n_blocks: int, style_dim: int, latent_dim: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_blocks):
            if i > 0:
                layers.append(AttentionBlock(dim))
            layers.append(HyperConvNeXtBlock(dim, style_dim, latent_dim))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor, style: torch.Tensor | BoundPrompt) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, style) if isinstance(layer, HyperConvNeXtBlock) else layer(x)
        return x


class ConvStage(nn.Module):
    """Plain ConvNeXt blocks (timm) with attention blocks after the last ``n_attn`` but one."""

    def __init__(self, dim: int, depth: int, n_attn: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        attn_after = set(range(max(depth - 1 - n_attn, 0), depth - 1))
        for i in range(depth):
            layers.append(ConvNeXtBlock(dim, ls_init_value=1e-6))
            if i in attn_after:
                layers.append(AttentionBlock(dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def downsample(in_chs: int, out_chs: int, stride: int) -> nn.Sequential:
    """ConvNeXt-style downsampling: channels-first LayerNorm, then a stride-s s x s conv."""
    return nn.Sequential(LayerNorm2d(in_chs), nn.Conv2d(in_chs, out_chs, stride, stride=stride))


def init_conv_weights(module: nn.Module) -> None:
    """Truncated-normal (std 0.02), zero-bias init for plain convs and linears (EVA's init).

    The linear maps inside hyper-convolutions keep their own identity-modulation init.
    """
    hyper_parts = {id(c) for m in module.modules() if isinstance(m, HyperConv2d) for c in m.children()}
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in hyper_parts:
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
