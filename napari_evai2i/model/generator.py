"""The translation network: structure encoder E_phi + prompt-conditioned hyper decoder.

Images enter in normalised units (MR: by the rule the checkpoint records, ``engine.normalization``;
the demo's puts the median of the brain's core at 0.5, older ones the 99.5th percentile at 1), are
mapped to ``2x - 1`` for the networks, and leave as ``LeakyReLU_0.01(0.5 y + 0.5)``: unbounded
above, with a small leak below zero, as in EVA-I2I.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from timm.layers import LayerNorm2d
from torch import nn

from .config import TISSUE_CHANNELS, GeneratorConfig
from .layers import BoundPrompt, ConvStage, HyperStage, bind_prompt, downsample, init_conv_weights


class StructureEncoder(nn.Module):
    """E_phi: prompt-agnostic structure code of a slice (optionally told the source domain).

    Returns the feature map of every level, finest first; the last one is the structure
    code ``c`` of shape (B, enc_dims[-1], H / 2^(L-1), W / 2^(L-1)).
    """

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        dims, depths = cfg.enc_dims, cfg.enc_depths
        if len(dims) != len(depths):
            raise ValueError(f"enc_dims {dims} and enc_depths {depths} differ in length")
        self.stem = nn.Conv2d(cfg.in_chans, dims[0], 7, padding=3, padding_mode="reflect")
        self.downs = nn.ModuleList(
            [nn.Identity()] + [downsample(dims[i - 1], dims[i], 2) for i in range(1, len(dims))])
        self.stages = nn.ModuleList(
            ConvStage(d, n, cfg.enc_attn if i == len(dims) - 1 else 0)
            for i, (d, n) in enumerate(zip(dims, depths)))
        self.film = None
        if cfg.source_conditioning:
            self.film = nn.ModuleList(nn.Linear(cfg.style_dim, 2 * d) for d in dims)
            self.unknown_source = nn.Parameter(torch.zeros(1, cfg.style_dim))

    def forward(self, x: torch.Tensor, source_style: torch.Tensor | None = None) -> list[torch.Tensor]:
        feats = []
        if self.film is not None and source_style is None:
            source_style = self.unknown_source.expand(x.shape[0], -1)
        for i, (down, stage) in enumerate(zip(self.downs, self.stages)):
            x = stage(down(self.stem(x) if i == 0 else x))
            if self.film is not None:
                scale, shift = self.film[i](source_style)[..., None, None].chunk(2, dim=1)
                x = x * (1 + scale) + shift
            feats.append(x)
        return feats


class HyperDecoder(nn.Module):
    """Decoder whose ConvNeXt blocks are modulated by the target prompt embedding."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        dims = tuple(reversed(cfg.enc_dims))
        if len(cfg.dec_blocks) != len(dims):
            raise ValueError(f"dec_blocks {cfg.dec_blocks} must have one entry per encoder level {dims}")
        self.stages = nn.ModuleList(
            HyperStage(d, n, cfg.style_dim, cfg.latent_dim) for d, n in zip(dims, cfg.dec_blocks))
        self.norms = nn.ModuleList(LayerNorm2d(d) for d in dims)
        self.convs = nn.ModuleList(
            [nn.Conv2d(dims[i], dims[i + 1], 3, padding=1, padding_mode="reflect")
             for i in range(len(dims) - 1)]
            + [nn.Conv2d(dims[-1], cfg.in_chans, 7, padding=3, padding_mode="reflect")])
        self.skips = None
        if cfg.skips:
            self.skips = nn.ModuleList(nn.Conv2d(d, d, 1) for d in dims[1:])
        self.context = None
        if cfg.global_context:
            self.context = nn.Sequential(nn.Linear(dims[0], dims[0]), nn.GELU(), nn.Linear(dims[0], dims[0]))

    def forward(self, feats: list[torch.Tensor], style: torch.Tensor | BoundPrompt
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the output (B, C, H, W) and the full-resolution features before the last conv."""
        x = feats[-1]
        if self.context is not None:
            gate = self.context(x.mean(dim=(2, 3)))
            x = x * (2 * torch.sigmoid(gate))[..., None, None]
        last = len(self.stages) - 1
        for i, stage in enumerate(self.stages):
            if i > 0 and self.skips is not None:
                x = x + self.skips[i - 1](feats[-1 - i])
            x = self.norms[i](stage(x, style))
            if i < last:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            else:
                hidden = x
            x = self.convs[i](x)
        return x, hidden


#: ``mixture_sharpness`` multiplies the mixture's logits by exp(SHARPNESS_LIMIT x tanh(network)):
#: between 1/3 and 3, so a prompt far from training cannot make the mixture a hard argmax or flat
SHARPNESS_LIMIT = math.log(3.0)


def sharpness_factor(raw: torch.Tensor) -> torch.Tensor:
    """The factor on the mixture's logits for the sharpness network's output ``raw``: 1 at 0."""
    return torch.exp(SHARPNESS_LIMIT * torch.tanh(raw))

#: The image is ``OUTPUT_GAIN`` x (decoder + tissue mixture) + 0.5: a unit of tissue intensity is
#: half a unit of normalised image (``train/steps.py`` ``mixture_gap_to_wm`` relies on it).
OUTPUT_GAIN = 0.5


def _number_network(cfg: GeneratorConfig, number_features: int) -> nn.Sequential:
    """[text embedding, number features] -> style: two hidden layers of ``prompt_number_width``."""
    width = cfg.prompt_number_width
    return nn.Sequential(nn.Linear(cfg.style_dim + number_features, width), nn.GELU(),
                         nn.Linear(width, width), nn.GELU(), nn.Linear(width, cfg.style_dim))


class Generator(nn.Module):
    """G(x, t) = Dec(E_phi(x), t): translate slices into the domain of a prompt embedding.

    Any H x W is accepted: the input is zero-padded (background) to a multiple of the
    total stride and the output cropped back to the input size.
    """

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.config = cfg
        self.encoder = StructureEncoder(cfg)
        self.decoder = HyperDecoder(cfg)
        # Optional tissue head on the decoder's full-resolution features; with
        # ``tissue_mixture`` the output also gets sum_k p_k(x) * intensity_k(prompt): the
        # partial-volume form of an MR image, which ties the prompt straight to the
        # intensity of each tissue.
        self.tissue_head = (nn.Conv2d(cfg.enc_dims[0], cfg.tissue_classes, 1)
                            if cfg.tissue_classes else None)
        # ... and one on the structure code, so E_phi itself learns tissue from any contrast.
        self.code_tissue_head = (nn.Conv2d(cfg.enc_dims[-1], cfg.tissue_classes, 1)
                                 if cfg.tissue_classes else None)
        self.tissue_intensity = None
        if cfg.tissue_mixture:
            if not cfg.tissue_classes:
                raise ValueError("tissue_mixture needs tissue_classes > 0")
            self.tissue_intensity = nn.Sequential(nn.Linear(cfg.style_dim, 4 * cfg.style_dim), nn.GELU(),
                                                  nn.Linear(4 * cfg.style_dim, cfg.tissue_classes))
        self.prompt_numbers = None
        if cfg.prompt_numbers:
            from .prompt_numbers import NUMBER_FEATURES, PHYSICS_FEATURES

            read = NUMBER_FEATURES + (PHYSICS_FEATURES if cfg.prompt_physics else 0)
            if cfg.prompt_numbers_apart:      # of [text embedding, numbers (, physics)]
                self.prompt_numbers = _number_network(cfg, read)
            else:
                self.prompt_numbers = nn.Linear(NUMBER_FEATURES, cfg.style_dim, bias=False)
        self.below_null_correction = None
        if cfg.below_null_correction:          # the number network's shape
            self.below_null_correction = _number_network(cfg, read)
        self.mixture_sharpness = None
        if cfg.mixture_sharpness:              # style [, mean code] -> log of the mixture's logit factor
            reads = cfg.style_dim + (cfg.enc_dims[-1] if cfg.sharpness_reads_code else 0)
            self.mixture_sharpness = nn.Sequential(nn.Linear(reads, cfg.style_dim), nn.GELU(),
                                                   nn.Linear(cfg.style_dim, 1))
        self.stride = 2 ** (len(cfg.enc_dims) - 1)
        init_conv_weights(self)
        for net in (self.prompt_numbers, self.below_null_correction, self.mixture_sharpness):   # each starts doing nothing
            if net is not None:
                last = net[-1] if isinstance(net, nn.Sequential) else net
                nn.init.zeros_(last.weight)
                if last.bias is not None:
                    nn.init.zeros_(last.bias)
        if self.decoder.skips is not None:      # skips start as identities: detail flows from step 0
            for conv in self.decoder.skips:
                nn.init.dirac_(conv.weight)
                nn.init.zeros_(conv.bias)
        if self.encoder.film is not None:
            for lin in self.encoder.film:   # FiLM starts as the identity
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        # A multiple of the total stride, and at least 4 pixels at the bottleneck so the
        # 7x7 reflect padding of the deepest blocks is defined for very small inputs.
        h, w = x.shape[-2:]
        minimum = 4 * self.stride
        ph, pw = (max(-(-n // self.stride) * self.stride, minimum) - n for n in (h, w))
        pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        return (F.pad(x, pads) if ph or pw else x), pads

    def tower_texts(self, texts: list[str]) -> list[str]:
        """What the text tower reads of each prompt: all of it, or with ``prompt_numbers_apart``
        all but its timing sentence (which the number map reads)."""
        if not self.config.prompt_numbers_apart:
            return texts
        from ..prompts.parse import without_timing, without_weighting

        if self.config.prompt_physics:     # the weighting word goes where the physics can stand for it
            from .prompt_numbers import states_whole_protocol

            return [without_weighting(without_timing(t)) if states_whole_protocol(t) else without_timing(t)
                    for t in texts]
        return [without_timing(t) for t in texts]

    def style_of(self, embeddings: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """The style the generator reads for prompts ``texts`` whose text tower embeddings (of
        :meth:`tower_texts`) are ``embeddings``: the embeddings themselves, plus with
        ``prompt_numbers`` a map of the numbers they state (with ``prompt_numbers_apart``, a map of
        the numbers and the embedding)."""
        if self.prompt_numbers is None:
            return embeddings
        features = self.number_inputs(embeddings, texts)
        numbers = self.prompt_numbers(features)
        if self.below_null_correction is not None:
            numbers = numbers + self.below_null_term(features, texts)
        return embeddings + numbers.to(embeddings.dtype)

    def number_inputs(self, embeddings: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """What the number network reads for prompts ``texts``: their number features (and with
        ``prompt_physics`` the contrast their protocol implies), after the embeddings with
        ``prompt_numbers_apart``."""
        from .prompt_numbers import number_features, physics_features

        dtype = next(self.prompt_numbers.parameters()).dtype
        features = number_features(texts, self.config.prompt_number_quantities).to(embeddings.device, dtype)
        if self.config.prompt_physics:
            features = torch.cat([features, physics_features(texts).to(embeddings.device, dtype)], dim=1)
        if self.config.prompt_numbers_apart:
            features = torch.cat([embeddings.to(dtype), features], dim=1)
        return features

    def below_null_term(self, features: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """``below_null_correction``'s part of the style: the network's output scaled by
        :func:`~.prompt_numbers.below_null_depth`, computed only for the prompts below the null (the
        others get exact zeros, so they translate bit for bit as without it)."""
        from .prompt_numbers import below_null_depth

        depth = below_null_depth(texts).to(features.device, features.dtype)
        term = torch.zeros(features.shape[0], self.config.style_dim, device=features.device, dtype=features.dtype)
        rows = depth > 0
        if bool(rows.any()):
            term[rows] = depth[rows, None] * self.below_null_correction(features[rows])
        return term

    def sharpness(self, style: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1) factor on the tissue mixture's logits for styles (B|1, S) (``mixture_sharpness``)
        and, with ``sharpness_reads_code``, structure codes (B, C, h, w): exactly 1 while the
        network's last layer is zero, within [1/3, 3] always.

        Why: the tissue head is calibrated for the fractions the source can tell; a factor per prompt
        (and input) lets one target draw its tissues more sharply without moving the others. Tried
        after v9, it learnt factors of about 1 (docs/model_history.md, "Tried after v9")."""
        if self.config.sharpness_reads_code:
            if code is None:
                raise ValueError("this generator's sharpness reads the structure code: pass it")
            pooled = code.mean(dim=(2, 3)).to(style.dtype)
            style = torch.cat([style.expand(pooled.shape[0], -1), pooled], dim=1)
        return sharpness_factor(self.mixture_sharpness(style))

    def encode(self, x: torch.Tensor, source_style: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Structure features of an already padded, normalised image (B, 1, H, W)."""
        return self.encoder(2 * x - 1, source_style)

    def forward(self, x: torch.Tensor, style: torch.Tensor | BoundPrompt,
                source_style: torch.Tensor | None = None, source_known: torch.Tensor | None = None,
                return_features: bool = False):
        """Translate normalised slices into the domain of a prompt embedding.

        x: (B, 1, H, W); style: (B|1, S) target prompt embeddings, or the
        :class:`BoundPrompt` of one (from :meth:`bind_prompt`); source_style: optional (B|1, S) embeddings of the inputs' own
        prompts, with ``source_known`` (B,) bool marking the rows to use (the others get
        the learned "unknown source" vector). Returns (B, 1, H, W), or with
        ``return_features`` a tuple (output, encoder features, tissue logits or None).
        """
        h, w = x.shape[-2:]
        x, (left, right, top, bottom) = self._pad(x)
        source_style = self._source_rows(source_style, source_known, x.shape[0])
        feats = self.encode(x, source_style)
        y, hidden = self.decoder(feats, style)
        tissue = self.tissue_head(hidden) if self.tissue_head is not None else None
        if self.tissue_intensity is not None:
            style_vector = style.style if isinstance(style, BoundPrompt) else style
            intensity = self.tissue_intensity(style_vector)
            logits = tissue
            if self.mixture_sharpness is not None:
                logits = tissue * self.sharpness(style_vector, feats[-1])[..., None, None].to(tissue.dtype)
            y = y + (logits.softmax(dim=1) * intensity[..., None, None].to(tissue.dtype)).sum(1, keepdim=True)
        y = F.leaky_relu(OUTPUT_GAIN * y + 0.5, 0.01)
        y = y[..., top:top + h, left:left + w]
        if not return_features:
            return y
        if tissue is not None:
            tissue = tissue[..., top:top + h, left:left + w]
        return y, feats, tissue

    def peak_activation_elements(self, h: int, w: int) -> int:
        """Elements of the largest tensor one slice of H x W creates in a forward pass.

        Used to split batches into chunks: CUDA kernels index tensors with 32 bits, which
        is what crashed the official code at batch 256. Counts the features of every level,
        the 4x-wide MLP inside ConvNeXt blocks, and the tokens x tokens attention matrix
        that non-fused attention kernels materialise at the bottleneck.
        """
        cfg = self.config
        levels = len(cfg.enc_dims)
        dec_blocks = tuple(reversed(cfg.dec_blocks))          # finest level first, like enc_dims
        ph, pw = (max(-(-n // self.stride) * self.stride, 4 * self.stride) for n in (h, w))
        peak = 0
        for level, dim in enumerate(cfg.enc_dims):
            pixels = (ph >> level) * (pw >> level)
            has_blocks = cfg.enc_depths[level] > 0 or dec_blocks[level] > 0
            peak = max(peak, (4 if has_blocks else 1) * dim * pixels)
        tokens = (ph >> (levels - 1)) * (pw >> (levels - 1))
        return max(peak, tokens * tokens)

    def code_tissue(self, feats: list[torch.Tensor]) -> torch.Tensor:
        """Tissue logits (B, K, h, w) read from the structure code (training supervision)."""
        if self.code_tissue_head is None:
            raise RuntimeError("this generator was built without tissue heads (tissue_classes=0)")
        return self.code_tissue_head(feats[-1])

    def _source_rows(self, source_style: torch.Tensor | None, known: torch.Tensor | None,
                     batch: int) -> torch.Tensor | None:
        if source_style is None or self.encoder.film is None:
            return None
        if source_style.shape[0] == 1 and batch > 1:
            source_style = source_style.expand(batch, -1)
        if known is not None:
            unknown = self.encoder.unknown_source.expand(batch, -1)
            source_style = torch.where(known.view(-1, 1).to(torch.bool), source_style, unknown)
        return source_style

    def bind_prompt(self, style: torch.Tensor) -> BoundPrompt:
        """The decoder's modulated kernels for one (1, S) prompt, computed once, as a value.

        Pass the result as ``style`` to :meth:`forward` as often as needed; the generator
        itself is not changed, so threads may share it with different prompts.
        """
        return bind_prompt(self.decoder, style)


def grows_tissue_classes(old: GeneratorConfig, new: GeneratorConfig) -> bool:
    """Whether a generator of config ``old`` can start one of config ``new`` by
    :func:`load_growing_tissue_classes`: the two differ only in tissue classes, and ``new``
    has every class of ``old`` and more."""
    before, after = TISSUE_CHANNELS.get(old.tissue_classes), TISSUE_CHANNELS.get(new.tissue_classes)
    return (before is not None and after is not None and set(before) < set(after)
            and dataclasses.replace(old, tissue_classes=new.tissue_classes) == new)


def quantities_read(config: GeneratorConfig) -> set[str]:
    """The prompt numbers a generator of ``config`` reads (none without ``prompt_numbers``)."""
    return set(config.prompt_number_quantities) if config.prompt_numbers else set()


def adds_prompt_numbers(old: GeneratorConfig, new: GeneratorConfig) -> bool:
    """Whether ``new`` is ``old`` reading more of the prompt's numbers (with ``prompt_numbers``
    switched on, or more quantities than ``old`` read): the old weights load, and the map of every
    newly read quantity starts at zero, so the generator first translates exactly as the old one."""
    return (new.prompt_numbers and quantities_read(old) < quantities_read(new) and
            dataclasses.replace(old, prompt_numbers=True, prompt_number_quantities=new.prompt_number_quantities) == new)


def load_adding_prompt_numbers(generator: Generator, state: dict[str, torch.Tensor], old: GeneratorConfig) -> None:
    """Load the weights ``state`` of an older generator (of config ``old``) into one that reads more
    prompt numbers (:func:`adds_prompt_numbers`): the map of each quantity the old one read is kept,
    the rest of the map starts at zero."""
    from .prompt_numbers import FEATURES_PER_QUANTITY, QUANTITIES

    old_quantities = quantities_read(old)
    missing, unexpected = generator.load_state_dict(state, strict=False)
    expected_missing = set() if old_quantities else {"prompt_numbers.weight"}
    if unexpected or set(missing) != expected_missing:
        raise ValueError(f"cannot add prompt numbers: missing {missing}, unexpected {unexpected}")
    with torch.no_grad():
        weight = generator.prompt_numbers.weight.view(generator.prompt_numbers.weight.shape[0], len(QUANTITIES),
                                                      FEATURES_PER_QUANTITY)
        for i, quantity in enumerate(QUANTITIES):
            if quantity not in old_quantities:
                weight[:, i].zero_()


#: options that add a part starting at zero: switched on over an older model, its weights load and
#: the model translates exactly as before until the part is trained
ZERO_START_PARTS = ("below_null_correction", "mixture_sharpness")
#: settings that shape a part and come with it
PART_SETTINGS = {"mixture_sharpness": ("sharpness_reads_code",)}


def added_zero_start_parts(old: GeneratorConfig, new: GeneratorConfig) -> tuple[str, ...]:
    """The :data:`ZERO_START_PARTS` that ``new`` switches on over ``old`` when it differs from
    ``old`` in nothing else; empty otherwise."""
    added = tuple(p for p in ZERO_START_PARTS if getattr(new, p) and not getattr(old, p))
    settings = {s: getattr(new, s) for p in added for s in PART_SETTINGS.get(p, ())}
    same = dataclasses.replace(old, **{p: True for p in added}, **settings) == new
    return added if added and same else ()


def load_adding_zero_start_parts(generator: Generator, state: dict[str, torch.Tensor], parts: tuple[str, ...]) -> None:
    """Load an older generator's weights into one with ``parts`` added (:func:`added_zero_start_parts`);
    the parts keep their zero start."""
    missing, unexpected = generator.load_state_dict(state, strict=False)
    if unexpected or not missing or any(not k.startswith(tuple(p + "." for p in parts)) for k in missing):
        raise ValueError(f"cannot add {', '.join(parts) or 'nothing'}: missing {missing}, unexpected {unexpected}")


def load_growing_tissue_classes(generator: Generator, state: dict[str, torch.Tensor]) -> None:
    """Load a generator's weights, adding tissue classes the checkpoint's heads lack.

    A new class (lesions, when going from 4 to 5 channels) starts as a copy of the class it
    was counted in (WM), each copy's logit lowered by log(n copies): together they hold WM's
    old probability and share its intensity, so the grown generator first translates
    exactly as the old one. Training then pulls them apart.
    """
    new = TISSUE_CHANNELS.get(generator.config.tissue_classes)
    old_classes = state["tissue_head.bias"].shape[0] if "tissue_head.bias" in state else 0
    old = TISSUE_CHANNELS.get(old_classes)
    if new is None or old is None or not set(old) <= set(new):
        raise ValueError(f"cannot grow tissue classes {old_classes} -> {generator.config.tissue_classes}")
    source_row = [old.index(name if name in old else "WM") for name in new]
    copies = torch.tensor([source_row.count(row) for row in source_row], dtype=torch.float32)
    grown = dict(state)
    for key in ("tissue_head.weight", "tissue_head.bias", "code_tissue_head.weight", "code_tissue_head.bias",
                "tissue_intensity.2.weight", "tissue_intensity.2.bias"):
        if key in grown:
            grown[key] = grown[key][source_row].clone()
    for key in ("tissue_head.bias", "code_tissue_head.bias"):
        if key in grown:
            grown[key] = grown[key] - torch.log(copies).to(grown[key].dtype)
    generator.load_state_dict(grown)
