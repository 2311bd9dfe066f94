"""The protocol numbers a prompt states (TR, TE, TI, flip angle, field), as features the generator
can read directly (``GeneratorConfig.prompt_numbers``), and how far an inversion-recovery prompt's
TI lies below the CSF null (``GeneratorConfig.below_null_correction``).

Why: the text tower learned to ignore the inversion time. v6's FLAIR prompts at TI 2210 and 2500 ms
have embeddings of cosine 0.9997 and translate alike, though the physics of the two differ as much
as a grey-white ratio of 1.08 from one of 1.11; training the tower harder through the generator
did not separate them (model history, "Tried after v6: FLAIR's inversion time"). Here the numbers
bypass the tower: :func:`number_features` reads them from the prompt's own sentences
(:func:`~napari_evai2i.prompts.parse.fields_from_prompt`, the package's wordings; any other text
states no numbers, as a prompt without its parameter sentence does in training), and the
generator adds a learned linear map of them to the prompt embedding.
"""

from __future__ import annotations

import functools
import math

import torch

from ..prompts.parse import fields_from_prompt

#: the quantities read, in ``ProtocolFields`` names
QUANTITIES = ("repetition_time", "echo_time", "inversion_time", "flip_angle", "field_strength")
#: cycles per decade of log10(1 + value): coarse enough to interpolate, fine enough to tell TI
#: 2210 from 2500 ms (0.053 decades apart: 2.7 rad at the finest)
FREQUENCIES = (0.5, 2.0, 8.0)
#: per quantity: stated or not, then sin and cos at each frequency
FEATURES_PER_QUANTITY = 1 + 2 * len(FREQUENCIES)
NUMBER_FEATURES = len(QUANTITIES) * FEATURES_PER_QUANTITY


@functools.lru_cache(maxsize=8192)
def _features(text: str) -> tuple[float, ...]:
    fields = fields_from_prompt(text)
    out: list[float] = []
    for name in QUANTITIES:
        value = getattr(fields, name, None) if fields is not None else None
        if value is None or not math.isfinite(value) or value < 0:
            out += [0.0] * FEATURES_PER_QUANTITY
            continue
        x = math.log10(1.0 + value)
        out.append(1.0)
        for f in FREQUENCIES:
            out += [math.sin(2 * math.pi * f * x), math.cos(2 * math.pi * f * x)]
    return tuple(out)


def number_features(texts: list[str], quantities: tuple[str, ...] = QUANTITIES) -> torch.Tensor:
    """(N, :data:`NUMBER_FEATURES`) features of the numbers each prompt states (zeros where none,
    and for every quantity not in ``quantities``: the layout stays the same whichever are read)."""
    features = torch.tensor([_features(" ".join(t.split())) for t in texts], dtype=torch.float32)
    if set(quantities) != set(QUANTITIES):
        read = torch.tensor([q in quantities for q in QUANTITIES]).repeat_interleave(FEATURES_PER_QUANTITY)
        features = features * read
    return features.reshape(len(texts), NUMBER_FEATURES)


#: the correction below the CSF null is off from this TI / null ratio down: it is fitted on FLAIR
#: TIs of 0.70-1.0 x the null, and a STIR (about 0.1 x) keeps the style without it
BELOW_NULL_FLOOR = 0.5


def depth_below_null(fields) -> float:
    """1 - TI / CSF null of the ``ProtocolFields`` ``fields`` when they are a spin-echo inversion
    recovery with TI between :data:`BELOW_NULL_FLOOR` x the null and the null (field 1.5 T where
    they state none); 0 otherwise, and for ``None``."""
    from ..data._signal import csf_null_ti

    if fields is None or fields.inversion_time is None or fields.repetition_time is None:
        return 0.0
    sequences = fields.scanning_sequence or ()
    if "inversion recovery" not in sequences or "gradient recalled" in sequences:    # not a spin-echo IR
        return 0.0
    ratio = fields.inversion_time / csf_null_ti(fields.repetition_time, fields.field_strength or 1.5)
    return 1.0 - ratio if BELOW_NULL_FLOOR <= ratio < 1.0 else 0.0


def below_null_depth(texts: list[str]) -> torch.Tensor:
    """(N,) 1 - TI / CSF null for spin-echo inversion-recovery prompts whose TI lies between
    :data:`BELOW_NULL_FLOOR` x the null and the null (field 1.5 T where the prompt states none);
    0 for every other prompt.

    Why: below the null a magnitude image brightens CSF again, the mirror of its fall above it, so
    the correction grows from zero at the null, where the style is the number network's alone."""
    return torch.tensor([depth_below_null(fields_from_prompt(" ".join(t.split()))) for t in texts], dtype=torch.float32)
