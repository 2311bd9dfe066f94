"""Architecture configuration: one dataclass per network, JSON presets in ``configs/``.

The config *is* the constructor signature: every network is built from its config and
saved with it (``config.json`` beside ``model.safetensors``), so a checkpoint always
rebuilds the exact network that wrote it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .._mappings import dataclass_from_mapping, read_mapping


@dataclass
class TextEncoderConfig:
    """DCLIP text tower: a CLIP text transformer (built with ``transformers``) + projection."""

    vocab_size: int = 49408
    width: int = 768
    layers: int = 12
    heads: int = 12
    context_length: int = 256
    mlp_ratio: float = 4.0
    act: str = "quick_gelu"
    #: Fourier features of each number's log value added to its digit tokens (0: off, as official)
    number_features: int = 0


@dataclass
class ImageEncoderConfig:
    """DCLIP image tower: full-resolution stem + timm ConvNeXt stages + attention pooling."""

    in_chans: int = 1
    stem_dim: int = 96
    stem_kernel: int = 7
    dims: tuple[int, ...] = (96, 192, 384, 768)
    depths: tuple[int, ...] = (3, 3, 9, 3)
    first_stride: int = 4
    image_size: int = 256
    pool_heads: int = 12


@dataclass
class GeneratorConfig:
    """Structure encoder E_phi + prompt-conditioned hyper-convolution decoder.

    ``enc_dims``/``enc_depths``: channels and ConvNeXt blocks per encoder level (level 0
    is the full-resolution stem, every later level halves the resolution).
    ``enc_attn``: attention blocks interleaved with the blocks of the last level.
    ``dec_blocks``: hyper blocks per decoder level, deepest first (level i works at the
    resolution of encoder level ``len(enc_dims) - 1 - i``); a level with n hyper blocks
    has n - 1 attention blocks between them (the official ``hyperAttnResBlock``).

    Options beyond the official topology (all off in ``paper``), each measured in the
    training guide:

    * ``skips``: add encoder features to the decoder at every level above the bottleneck
      (U-Net style, by addition after a 1x1 projection) so fine detail need not squeeze
      through the bottleneck.
    * ``global_context``: a squeeze-excitation style gate on the bottleneck from the
      globally pooled code, so the decoder sees the whole slice's contrast statistics.
    * ``source_conditioning``: E_phi is told the source domain (its prompt embedding) by
      FiLM at every level when it is known; a learned "unknown source" vector otherwise.
    * ``tissue_classes``: a head predicting tissue fractions at full resolution
      (supervised by the simulator's tissue maps).
    * ``tissue_mixture``: adds ``sum_k p_k * intensity_k(prompt)`` to the output, the
      partial-volume form of an MR image, so the prompt sets each tissue's intensity.
    """

    in_chans: int = 1
    style_dim: int = 192
    latent_dim: int = 16
    enc_dims: tuple[int, ...] = (96, 192, 384)
    enc_depths: tuple[int, ...] = (0, 1, 3)
    enc_attn: int = 2
    dec_blocks: tuple[int, ...] = (3, 1, 0)
    skips: bool = False
    global_context: bool = False
    source_conditioning: bool = False
    tissue_classes: int = 0
    tissue_mixture: bool = False


@dataclass
class DiscriminatorConfig:
    """PatchGAN trunk followed by prompt-conditioned hyper blocks (LSGAN)."""

    in_chans: int = 1
    dims: tuple[int, ...] = (96, 192, 384)
    style_dim: int = 192
    latent_dim: int = 16
    hyper_blocks: int = 4


@dataclass
class ModelConfig:
    """Everything needed to rebuild the networks of one EVA-I2I model."""

    name: str = "paper"
    embed_dim: int = 192
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def __post_init__(self) -> None:
        for part in (self.generator, self.discriminator):
            if part.style_dim != self.embed_dim:
                raise ValueError(f"{type(part).__name__}.style_dim ({part.style_dim}) must equal embed_dim "
                                 f"({self.embed_dim}): prompt embeddings modulate its kernels")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Rebuild from JSON; unknown keys are an error (a checkpoint from a newer version).

        The one place ``style_dim`` is derived: a generator or discriminator entry without
        it takes ``embed_dim``; one that names another value is an error (``__post_init__``).
        """
        data = dict(data)
        embed_dim = data.get("embed_dim", cls.embed_dim)
        for part in ("generator", "discriminator"):
            values = data.get(part, {})
            if isinstance(values, dict) and "style_dim" not in values:
                data[part] = {**values, "style_dim": embed_dim}
        return dataclass_from_mapping(cls, data, "model config")


def list_presets() -> list[str]:
    """Names of the architecture presets shipped in ``napari_evai2i/model/configs``."""
    folder = resources.files(__package__) / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def get_preset(name: str) -> ModelConfig:
    """Load a named architecture preset (``paper``, ``tiny``)."""
    path = resources.files(__package__) / "configs" / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"unknown model preset {name!r}; available: {', '.join(list_presets())}")
    return ModelConfig.from_dict(json.loads(path.read_text()))


def load_config(path: str | Path) -> ModelConfig:
    """A model config JSON file (e.g. a preset edited for an experiment)."""
    return ModelConfig.from_dict(read_mapping(path, "model config"))
