"""Prompt-conditioned PatchGAN discriminator (LSGAN), as in EVA-I2I.

A strided convolutional trunk, then hyper ConvNeXt blocks modulated by the DCLIP
embedding of the domain the image should belong to, then a 4x4 patch head. Images
enter in normalised units (not ``2x - 1``), as in the official recipe.
"""

from __future__ import annotations

import torch
from timm.layers import LayerNorm2d
from torch import nn

from .config import DiscriminatorConfig
from .layers import HyperStage, init_conv_weights


class PatchDiscriminator(nn.Module):
    """D(x, t) -> (B, 1, h, w) patch scores; 256x256 input gives a 31x31 map."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = cfg
        dims = cfg.dims
        layers: list[nn.Module] = [nn.Conv2d(cfg.in_chans, dims[0], 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2)]
        for i in range(1, len(dims)):
            layers += [nn.Conv2d(dims[i - 1], dims[i], 4, stride=2, padding=1),
                       LayerNorm2d(dims[i]), nn.LeakyReLU(0.2)]
        self.trunk = nn.Sequential(*layers)
        self.hyper = HyperStage(dims[-1], cfg.hyper_blocks, cfg.style_dim, cfg.latent_dim)
        self.head = nn.Conv2d(dims[-1], 1, 4, stride=1, padding=1)
        init_conv_weights(self)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.head(self.hyper(self.trunk(x), style))
