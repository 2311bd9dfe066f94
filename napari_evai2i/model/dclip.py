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
        if cfg.number_features:
            embeddings = self.transformer.text_model.embeddings
            embeddings.token_embedding = NumberAwareTokenEmbedding(embeddings.token_embedding,
                                                                   cfg.number_features)

    def forward(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        # Prompts are far shorter than the context: drop the all-padding tail columns.
        length = int((tokens != 0).sum(dim=1).max().clamp(min=1))
        tokens = tokens[:, :length]
        out = self.transformer(input_ids=tokens, attention_mask=(tokens != 0).long())
        emb = out.text_embeds
        return F.normalize(emb, dim=-1) if normalize else emb


class NumberAwareTokenEmbedding(nn.Module):
    """Token embeddings plus, on the tokens of every number, features of the number's value.

    CLIP's BPE reads "TE 30 ms" and "TE 120 ms" as digit tokens, and a small text tower
    trained for minutes learns almost nothing from them (cosine 0.9997 between the two
    prompts in our CPU runs). Here every digit and decimal-point token of a number also gets
    ``W @ fourier(log10(1 + value))``, so the prompt embedding can follow TR, TE, TI, flip
    angle and field strength smoothly, including values never seen in training. The
    numerical-encoding idea follows xVal (Golkar et al., 2023); the form here is our own.
    """

    def __init__(self, tokens: nn.Embedding, features: int) -> None:
        super().__init__()
        if features < 2 or features % 2:
            raise ValueError(f"number_features must be an even number >= 2, not {features}")
        from ..prompts.tokenizer import number_token_ids

        self.tokens = tokens
        self.numbers = nn.Linear(features, tokens.embedding_dim, bias=False)
        nn.init.normal_(self.numbers.weight, std=0.02)
        digits, point = number_token_ids()
        digit_of = torch.full((tokens.num_embeddings,), -1, dtype=torch.long)
        for token, digit in digits.items():
            digit_of[token] = int(digit)
        self.register_buffer("digit_of", digit_of, persistent=False)
        self.point = point
        # Frequencies (cycles per decade of the value) from 1/4 to 16.
        self.register_buffer("frequencies", 2.0 ** torch.linspace(-2, 4, features // 2), persistent=False)

    def number_values(self, ids: torch.Tensor) -> torch.Tensor:
        """(N, L) token ids -> (N, L) value of the number each token belongs to (NaN elsewhere)."""
        digit = self.digit_of[ids].tolist()
        rows = ids.tolist()
        values = torch.full(ids.shape, float("nan"))
        for r, (row, digits) in enumerate(zip(rows, digit)):
            i = 0
            while i < len(row):
                if digits[i] < 0:
                    i += 1
                    continue
                j, text = i, ""
                while j < len(row) and (digits[j] >= 0 or (row[j] == self.point and "." not in text
                                                           and j + 1 < len(row) and digits[j + 1] >= 0)):
                    text += str(digits[j]) if digits[j] >= 0 else "."
                    j += 1
                values[r, i:j] = float(text)
                i = j
        return values.to(ids.device)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb = self.tokens(ids)
        values = self.number_values(ids)
        is_number = ~torch.isnan(values)
        x = torch.log10(1 + values.nan_to_num(0.0)).unsqueeze(-1) * self.frequencies * (2 * torch.pi)
        features = torch.cat([x.sin(), x.cos()], dim=-1) * is_number.unsqueeze(-1)
        return emb + self.numbers(features.to(emb.dtype))


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
