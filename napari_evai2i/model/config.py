"""Architecture configuration: one dataclass per network, JSON presets in ``configs/``.

The config *is* the constructor signature: every network is built from its config and
saved with it (``config.json`` beside ``model.safetensors``), so a checkpoint always
rebuilds the exact network that wrote it.
"""

from __future__ import annotations

import dataclasses
import json
import math
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
      (supervised by the simulator's tissue maps): 4 is GM, WM, CSF, the rest (lesions
      counted as WM); 5 gives lesions their own class before the rest (:data:`TISSUE_CHANNELS`).
    * ``tissue_mixture``: adds ``sum_k p_k * intensity_k(prompt)`` to the output, the
      partial-volume form of an MR image, so the prompt sets each tissue's intensity.
    * ``prompt_numbers``: the prompt's TR, TE, TI, flip angle and field, read from its text, are
      added to its embedding by a learned linear map that starts at zero (:mod:`.prompt_numbers`);
      ``prompt_number_quantities`` names the ones it reads (the others count as not stated), so a
      map of TI alone leaves every prompt that states no TI exactly as the text tower embeds it.
    * ``prompt_numbers_apart``: the numbers reach the style by the map alone. The text tower reads
      the prompt without its timing sentence (:func:`~napari_evai2i.prompts.parse.without_timing`),
      and the map is a small network (width ``prompt_number_width``) of that embedding and the
      numbers, so a TE or TI between two that training showed gets a style between theirs.
    * ``below_null_correction``: a second network of the same inputs, added to the style in
      proportion to how far an inversion-recovery prompt's TI lies below the CSF null of its TR
      and field (:func:`~napari_evai2i.model.prompt_numbers.below_null_depth`); zero at and above
      the null and for every other prompt, so those translate exactly as without it.
    * ``prompt_physics``: the number network also reads the tissue contrast the prompt's protocol
      implies by the signal equations (:func:`~napari_evai2i.model.prompt_numbers.physics_features`),
      so a sequence training never showed gets the style of the contrast it gives; with it the
      network may leave TI out of ``prompt_number_quantities`` (TI then reaches it only that way).
    * ``mixture_sharpness``: the tissue mixture's logits are multiplied by a factor read from the
      prompt's style (a small network whose last layer starts at zero, so the factor starts at
      exactly 1), so each target can draw its tissues as sharply as its images ask; the tissue
      head's own logits, which the tissue loss trains, are left as they are.
      ``sharpness_reads_code``: the network also reads the structure code's mean over the slice,
      so the factor can follow what the input can show (its resolution, its field of view).
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
    prompt_numbers: bool = False
    prompt_number_quantities: tuple[str, ...] = ("repetition_time", "echo_time", "inversion_time", "flip_angle",
                                                 "field_strength")
    prompt_numbers_apart: bool = False
    prompt_number_width: int = 256
    below_null_correction: bool = False
    prompt_physics: bool = False
    mixture_sharpness: bool = False
    sharpness_reads_code: bool = False

    def __post_init__(self) -> None:
        from .prompt_numbers import QUANTITIES

        unknown = [q for q in self.prompt_number_quantities if q not in QUANTITIES]
        if unknown or not self.prompt_number_quantities:
            raise ValueError(f"prompt_number_quantities must name some of {', '.join(QUANTITIES)}, "
                             f"not {list(self.prompt_number_quantities)}")
        timing = {"repetition_time", "echo_time", "flip_angle"} | ({"inversion_time"} if not self.prompt_physics else set())
        if self.prompt_numbers_apart and not (self.prompt_numbers and timing <= set(self.prompt_number_quantities)):
            raise ValueError("prompt_numbers_apart takes the timing sentence away from the text tower, so the number "
                             "map must read all of it: set prompt_numbers and prompt_number_quantities with "
                             f"{', '.join(sorted(timing))}")
        if self.below_null_correction and not self.prompt_numbers_apart:
            raise ValueError("below_null_correction reads what the number network reads: set prompt_numbers_apart")
        if self.prompt_physics and not self.prompt_numbers_apart:
            raise ValueError("prompt_physics is an input of the number network: set prompt_numbers_apart")
        if self.mixture_sharpness and not self.tissue_mixture:
            raise ValueError("mixture_sharpness sharpens the tissue mixture: set tissue_mixture")
        if self.sharpness_reads_code and not self.mixture_sharpness:
            raise ValueError("sharpness_reads_code is an input of mixture_sharpness: set mixture_sharpness")


#: The tissue head's channels for each supported ``tissue_classes``.
TISSUE_CHANNELS = {4: ("GM", "WM", "CSF", "REST"), 5: ("GM", "WM", "CSF", "LESION", "REST")}


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
        check_values(self)
        for part in (self.generator, self.discriminator):
            if part.style_dim != self.embed_dim:
                raise ValueError(f"{type(part).__name__}.style_dim ({part.style_dim}) must equal embed_dim "
                                 f"({self.embed_dim}): prompt embeddings modulate its kernels")
        check_size(self)

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


# --- sizes a stranger's config.json may name --------------------------------------------------------
# A checkpoint's config is read before its weights, and the networks are built from it: an
# absurd size there (10^6 channels, 10^4 layers) would allocate until the machine gives out.
# So every size is checked for type and range, and the parameter count is worked out from
# the config alone (exactly: tests compare it with the built networks) before anything is built.

#: Largest model this version builds: 1e9 parameters, 4 GiB of float32 weights (paper: 0.29e9).
MAX_PARAMETERS = 1_000_000_000
MAX_WEIGHT_BYTES = 4 * 2**30
#: Most blocks and levels (all towers together; paper: 58). Each is Python objects to build.
MAX_BLOCKS = 1000
#: The CLIP tokenizer's ids go up to 49407: a smaller text vocabulary cannot embed them.
MIN_VOCAB_SIZE = 49408

# Sizes that may be 0 (a level without blocks, a feature switched off); every other is >= 1.
_MAY_BE_ZERO = {"number_features", "depths", "enc_depths", "enc_attn", "dec_blocks", "tissue_classes",
                "hyper_blocks"}


def check_values(config: "ModelConfig") -> None:
    """Every size a whole number in range, every switch a bool, tuples of matching lengths.

    ``ValueError`` naming the key (``generator.enc_dims[1]``) and the value; the JSON reader
    already refuses unknown keys, so this is what is left of a hand-edited or hostile config.
    """
    parts = {"": config, "text.": config.text, "image.": config.image, "generator.": config.generator,
             "discriminator.": config.discriminator}
    kinds = {"text.": TextEncoderConfig, "image.": ImageEncoderConfig, "generator.": GeneratorConfig,
             "discriminator.": DiscriminatorConfig}
    for prefix, kind in kinds.items():
        if not isinstance(parts[prefix], kind):
            raise ValueError(f"model config {prefix[:-1]} must be a mapping of keys to values, "
                             f"not {parts[prefix]!r}")
    for prefix, part in parts.items():
        for f in dataclasses.fields(part):
            value, key = getattr(part, f.name), prefix + f.name
            if f.type in ("int", int):
                _whole(key, value, f.name in _MAY_BE_ZERO)
            elif f.type in ("tuple[int, ...]",):
                if not isinstance(value, tuple) or not value:
                    raise ValueError(f"model config {key} must be a non-empty list of whole numbers, not {value!r}")
                for i, item in enumerate(value):
                    _whole(f"{key}[{i}]", item, f.name in _MAY_BE_ZERO)
            elif f.type in ("bool", bool) and not isinstance(value, bool):
                raise ValueError(f"model config {key} must be true or false, not {value!r}")
            elif f.type in ("float", float) and (isinstance(value, bool) or not isinstance(value, (int, float))
                                                 or not math.isfinite(value) or value <= 0):
                raise ValueError(f"model config {key} must be a positive number, not {value!r}")
            elif f.type in ("str", str) and not isinstance(value, str):
                raise ValueError(f"model config {key} must be text, not {value!r}")
    text, image, gen = config.text, config.image, config.generator
    if text.vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"model config text.vocab_size is {text.vocab_size}; the CLIP tokenizer needs at least "
                         f"{MIN_VOCAB_SIZE}")
    if text.context_length < 2:
        raise ValueError(f"model config text.context_length must be at least 2 (start and end tokens), "
                         f"not {text.context_length}")
    if text.width % text.heads:
        raise ValueError(f"model config text.width ({text.width}) must be divisible by text.heads ({text.heads})")
    if text.number_features % 2:
        raise ValueError(f"model config text.number_features must be 0 or an even number, "
                         f"not {text.number_features}")
    if int(text.width * text.mlp_ratio) < 1:
        raise ValueError(f"model config text.mlp_ratio ({text.mlp_ratio}) leaves no hidden units "
                         f"at width {text.width}")
    for key, a, b in (("image.depths", image.dims, image.depths), ("generator.enc_depths", gen.enc_dims,
                                                                   gen.enc_depths),
                      ("generator.dec_blocks", gen.enc_dims, gen.dec_blocks)):
        if len(a) != len(b):
            raise ValueError(f"model config {key} has {len(b)} entries, one per level of {len(a)} levels")
    if image.dims[-1] % image.pool_heads:
        raise ValueError(f"model config image.dims[-1] ({image.dims[-1]}) must be divisible by "
                         f"image.pool_heads ({image.pool_heads})")
    if _pool_size(image) < 1:
        raise ValueError(f"model config image.image_size ({image.image_size}) is smaller than the tower's total "
                         f"stride (image.first_stride x 2^(levels - 1) = "
                         f"{image.first_stride} x 2^{len(image.dims) - 1})")
    if gen.tissue_mixture and not gen.tissue_classes:
        raise ValueError("model config generator.tissue_mixture needs generator.tissue_classes > 0")
    if gen.tissue_classes and gen.tissue_classes not in TISSUE_CHANNELS:
        raise ValueError(f"model config generator.tissue_classes is {gen.tissue_classes}; use 0 (no tissue head), "
                         f"4 (GM, WM, CSF, rest) or 5 (lesions apart)")


def _whole(key: str, value: object, may_be_zero: bool) -> None:
    low = 0 if may_be_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"model config {key} must be a whole number >= {low}, not {value!r}")


def _pool_size(image: ImageEncoderConfig) -> int:
    """Side of the image tower's last feature map (0: the input is smaller than the total stride)."""
    levels = min(len(image.dims), 64)          # beyond that the stride exceeds any image anyway
    return image.image_size // (image.first_stride * 2 ** (levels - 1))


def _convnext(d: int) -> int:
    """timm ConvNeXtBlock: depthwise 7x7, LayerNorm, 4x MLP, layer scale."""
    return 49 * d + d + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d) + d


def _attention(d: int) -> int:
    """layers.AttentionBlock: norm, 1x1 q, 3x3 k and v (no bias), 1x1 projection."""
    return 2 * d + d * d + 9 * d * d + 9 * d * d + d * d + d


def _hyper_conv(cin: int, cout: int, k: int, style: int, latent: int, groups: int = 1) -> int:
    per_group = cin // groups
    return (cout * per_group * k * k + style * k * k + k * k + style * cout * latent + cout * latent
            + style * latent * per_group + latent * per_group)


def _hyper_stage(d: int, blocks: int, style: int, latent: int) -> int:
    block = (_hyper_conv(d, d, 7, style, latent, groups=d) + 2 * d + _hyper_conv(d, 4 * d, 1, style, latent)
             + _hyper_conv(4 * d, d, 1, style, latent) + d)
    return blocks * block + max(blocks - 1, 0) * _attention(d)


def parameter_counts(config: "ModelConfig") -> dict[str, int]:
    """Parameters of each network a config describes, from the config alone (nothing is built)."""
    t, im, g, dc, e = config.text, config.image, config.generator, config.discriminator, config.embed_dim
    hidden = int(t.width * t.mlp_ratio)
    layer = 4 * (t.width * t.width + t.width) + 4 * t.width + (t.width * hidden + hidden) + (hidden * t.width + t.width)
    text = (t.vocab_size * t.width + t.number_features * t.width + t.context_length * t.width
            + t.layers * layer + 2 * t.width + t.width * e)

    image = im.in_chans * im.stem_dim * im.stem_kernel ** 2 + im.stem_dim
    for i, (d, depth) in enumerate(zip(im.dims, im.depths)):
        prev, stride = (im.stem_dim, im.first_stride) if i == 0 else (im.dims[i - 1], 2)
        image += 2 * prev + prev * d * stride * stride + d + depth * _convnext(d)
    last = im.dims[-1]
    image += 2 * last + (last * 3 * last + 3 * last) + (last * e + e) + (_pool_size(im) ** 2 + 1) * last

    dims, s, lat = g.enc_dims, g.style_dim, g.latent_dim
    gen = g.in_chans * dims[0] * 49 + dims[0]
    for i, (d, depth) in enumerate(zip(dims, g.enc_depths)):
        if i:
            gen += 2 * dims[i - 1] + dims[i - 1] * d * 4 + d
        attention = min(g.enc_attn, depth - 1) if i == len(dims) - 1 and depth else 0
        gen += depth * _convnext(d) + attention * _attention(d)
    if g.source_conditioning:
        gen += sum(s * 2 * d + 2 * d for d in dims) + s
    rev = tuple(reversed(dims))
    gen += sum(_hyper_stage(d, n, s, lat) + 2 * d for d, n in zip(rev, g.dec_blocks))
    gen += sum(rev[i] * rev[i + 1] * 9 + rev[i + 1] for i in range(len(rev) - 1))
    gen += rev[-1] * g.in_chans * 49 + g.in_chans
    if g.skips:
        gen += sum(d * d + d for d in rev[1:])
    if g.global_context:
        gen += 2 * (rev[0] * rev[0] + rev[0])
    if g.tissue_classes:
        gen += (dims[0] + 1) * g.tissue_classes + (dims[-1] + 1) * g.tissue_classes
    if g.tissue_mixture:
        gen += s * 4 * s + 4 * s + 4 * s * g.tissue_classes + g.tissue_classes

    dd = dc.dims
    disc = dc.in_chans * dd[0] * 16 + dd[0]
    disc += sum(dd[i - 1] * dd[i] * 16 + dd[i] + 2 * dd[i] for i in range(1, len(dd)))
    disc += _hyper_stage(dd[-1], dc.hyper_blocks, dc.style_dim, dc.latent_dim) + dd[-1] * 16 + 1
    return {"text": text, "image": image, "generator": gen, "discriminator": disc}


def estimated_parameters(config: "ModelConfig") -> int:
    """All parameters of the networks ``config`` describes (discriminator included)."""
    return sum(parameter_counts(config).values())


def estimated_bytes(config: "ModelConfig") -> int:
    """Memory of the built model: float32 parameters plus the text tower's index buffers."""
    t = config.text
    buffers = 8 * t.context_length + ((8 * t.vocab_size + 2 * t.number_features) if t.number_features else 0)
    return 4 * estimated_parameters(config) + buffers


def block_count(config: "ModelConfig") -> int:
    """Blocks and levels of every tower: what building the networks costs in Python objects."""
    g, dc = config.generator, config.discriminator
    return (config.text.layers + sum(config.image.depths) + len(config.image.dims) + sum(g.enc_depths)
            + g.enc_attn + 2 * sum(g.dec_blocks) + len(g.enc_dims) + 2 * dc.hyper_blocks + len(dc.dims))


_PART_NAMES = {"text": "text tower", "image": "image tower", "generator": "generator",
               "discriminator": "discriminator"}
#: The config keys that set each network's size, named when it is too large.
_SIZE_KEYS = {
    "text": "text.vocab_size, text.width, text.layers, text.context_length, text.mlp_ratio",
    "image": "image.dims, image.depths, image.stem_dim, image.stem_kernel, image.image_size",
    "generator": "generator.enc_dims, generator.enc_depths, generator.dec_blocks, generator.style_dim, "
                 "generator.latent_dim",
    "discriminator": "discriminator.dims, discriminator.hyper_blocks, discriminator.latent_dim",
}


def check_size(config: "ModelConfig") -> None:
    """Refuse a config whose networks would be too large to build, before anything is built."""
    blocks = block_count(config)
    if blocks > MAX_BLOCKS:
        raise ValueError(f"model config describes {blocks} blocks and levels (text.layers, image.depths, "
                         f"generator.enc_depths/dec_blocks, discriminator.hyper_blocks); this version builds "
                         f"at most {MAX_BLOCKS}: the config is damaged or not meant for napari-evai2i")
    counts = parameter_counts(config)
    total, size = sum(counts.values()), estimated_bytes(config)
    if total > MAX_PARAMETERS or size > MAX_WEIGHT_BYTES:
        part = max(counts, key=counts.get)
        gib = f"{size / 2**30:.3g}" if size < 10**300 else _amount(size // 2**30)
        raise ValueError(f"model config describes {_amount(total)} parameters ({gib} GiB of "
                         f"float32 weights), above the {_amount(MAX_PARAMETERS)}-parameter / "
                         f"{MAX_WEIGHT_BYTES // 2**30} GiB limit; the largest part is the {_PART_NAMES[part]} "
                         f"({_amount(counts[part])}), set by {_SIZE_KEYS[part]}. Nothing was allocated: "
                         f"the config is damaged or not meant for napari-evai2i")


def _amount(n: int) -> str:
    """1234 -> '1234', 2.9e8 -> '2.9e+08', and powers of ten for sizes no float can hold."""
    if n < 10**5:
        return str(n)
    if n < 10**300:
        return f"{n:.3g}"
    return f"about 10^{len(str(n)) - 1}"


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
