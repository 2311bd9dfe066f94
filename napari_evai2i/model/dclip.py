"""DCLIP: the text/image pair that embeds prompts and slices in one space.

* Text tower: the CLIP text transformer of ``transformers`` built from a config (never
  downloaded) with a projection to ``embed_dim``; the token at EOT is pooled.
* Image tower: a full-resolution stem, timm ConvNeXt stages and timm's attention pooling.

Both outputs are L2-normalised; stage 1 trains them with the multi-positive contrastive
loss, stage 2 freezes them (:meth:`DCLIP.lock`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import AttentionPool2d, LayerNorm2d
from timm.models.convnext import ConvNeXtStage
from torch import nn

from .config import ImageEncoderConfig, TextEncoderConfig
from .layers import downsample

SOT_TOKEN, EOT_TOKEN = 49406, 49407


class TextEncoder(nn.Module):
    """Prompt tokens (N, context) -> (N, embed_dim) unit vectors."""

    def __init__(self, cfg: TextEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection

        self.config = cfg
        hf_config = CLIPTextConfig(
            vocab_size=cfg.vocab_size, hidden_size=cfg.width,
            intermediate_size=int(cfg.width * cfg.mlp_ratio), num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads, max_position_embeddings=cfg.context_length,
            projection_dim=embed_dim, hidden_act=cfg.act,
            bos_token_id=SOT_TOKEN, eos_token_id=EOT_TOKEN, pad_token_id=0,
        )
        self.transformer = CLIPTextModelWithProjection(hf_config)

    def forward(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        # Prompts are far shorter than the context: drop the all-padding tail columns.
        length = int((tokens != 0).sum(dim=1).max().clamp(min=1))
        tokens = tokens[:, :length]
        out = self.transformer(input_ids=tokens, attention_mask=(tokens != 0).long())
        emb = out.text_embeds
        return F.normalize(emb, dim=-1) if normalize else emb


class ImageEncoder(nn.Module):
    """A (N, 1, S, S) slice (S = ``image_size``; other sizes are resized) -> (N, embed_dim)."""

    def __init__(self, cfg: ImageEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        self.config = cfg
        dims = cfg.dims
        self.stem = nn.Conv2d(cfg.in_chans, cfg.stem_dim, cfg.stem_kernel,
                              padding=cfg.stem_kernel // 2, padding_mode="reflect")
        stages = []
        for i, (dim, depth) in enumerate(zip(dims, cfg.depths)):
            prev = cfg.stem_dim if i == 0 else dims[i - 1]
            stride = cfg.first_stride if i == 0 else 2
            stages.append(nn.Sequential(
                downsample(prev, dim, stride),
                ConvNeXtStage(dim, dim, stride=1, depth=depth, ls_init_value=1e-6)))
        self.stages = nn.Sequential(*stages)
        self.norm = LayerNorm2d(dims[-1])
        feat = cfg.image_size // (cfg.first_stride * 2 ** (len(dims) - 1))
        self.pool = AttentionPool2d(dims[-1], feat_size=feat, out_features=embed_dim,
                                    num_heads=cfg.pool_heads)

    def forward(self, x: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """x in normalised image units (mapped to 2x - 1 here, as the generator does)."""
        size = self.config.image_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        emb = self.pool(self.norm(self.stages(self.stem(2 * x - 1))))
        return F.normalize(emb, dim=-1) if normalize else emb


class DCLIP(nn.Module):
    """The text and image towers together; both map into the same unit sphere."""

    def __init__(self, text_cfg: TextEncoderConfig, image_cfg: ImageEncoderConfig, embed_dim: int) -> None:
        super().__init__()
        self.text = TextEncoder(text_cfg, embed_dim)
        self.image = ImageEncoder(image_cfg, embed_dim)

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.text(tokens, normalize)

    def encode_image(self, x: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        return self.image(x, normalize)

    def lock(self) -> "DCLIP":
        """Freeze both towers (stage 2): no gradients are computed or stored for them."""
        self.requires_grad_(False)
        self.eval()
        return self
