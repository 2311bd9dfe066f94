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


def sequence_type_of(fields) -> str | None:
    """The simulator's sequence type (``"SE"``, ``"IR"``, ``"GRE"`` or ``"IRGRE"``) of the
    ``ProtocolFields`` ``fields``, from their scanning sequences; None where they name none of ours."""
    sequences = set(fields.scanning_sequence or ())
    gradient, inversion = "gradient recalled" in sequences, "inversion recovery" in sequences
    if gradient:
        return "IRGRE" if inversion else "GRE"
    if inversion:
        return "IR"
    return "SE" if "spin echo" in sequences else None


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
    if sequence_type_of(fields) != "IR":                  # not a spin-echo inversion recovery
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


#: the tissues whose pure-tissue signal against grey matter's :func:`physics_features` gives: the
#: brain's own (the head's tissues are left out: a fat-suppressed head is a contrast training never shows)
PHYSICS_TISSUES = ("WM", "CSF", "LESION")
#: stated or not, then the log of each tissue's signal over grey matter's, halved
PHYSICS_FEATURES = 1 + len(PHYSICS_TISSUES)
#: signal ratios below this count as this (a tissue at its null)
_RATIO_FLOOR = 1e-3


def expected_contrast(fields) -> dict[str, float] | None:
    """Each tissue's pure-tissue signal over grey matter's under the protocol ``fields`` state, with
    the simulator's tissue table at their field (1.5 T where they state none), or None where they
    do not state a whole protocol (its sequence, TR and TE, and TI or flip angle where it needs them)."""
    from ..data._protocols import Protocol
    from ..data._signal import all_tissue_parameters
    from ..prompts import vocabulary as voc

    kind = sequence_type_of(fields) if fields is not None else None
    if kind is None or fields.repetition_time is None or fields.echo_time is None:
        return None
    try:
        protocol = Protocol(kind, voc.T1W, fields.repetition_time, fields.echo_time,
                            ti=fields.inversion_time if kind in ("IR", "IRGRE") else None,
                            flip_angle=fields.flip_angle, field_strength=fields.field_strength or 1.5)
    except (TypeError, ValueError):             # a TI or flip angle missing, TE >= TR, ...
        return None
    signals = protocol.tissue_signals(all_tissue_parameters(protocol.field_strength))
    if not signals["GM"] > 0:
        return None
    return {tissue: signals[tissue] / signals["GM"] for tissue in PHYSICS_TISSUES}


@functools.lru_cache(maxsize=8192)
def _physics(text: str) -> tuple[float, ...]:
    ratios = expected_contrast(fields_from_prompt(text))
    if ratios is None:
        return (0.0,) * PHYSICS_FEATURES
    return (1.0, *(0.5 * math.log(max(ratios[t], _RATIO_FLOOR)) for t in PHYSICS_TISSUES))


def states_whole_protocol(text: str) -> bool:
    """Whether ``text`` states a whole protocol, so that :func:`physics_features` can read its contrast."""
    return _physics(" ".join(text.split()))[0] == 1.0


def physics_features(texts: list[str]) -> torch.Tensor:
    """(N, :data:`PHYSICS_FEATURES`) the tissue contrast each prompt's protocol implies by the signal
    equations (zeros where a prompt states no whole protocol in the package's wordings).

    Why: a sequence training never showed (a STIR) is a new point in TR, TE and TI, but the contrast
    it gives the brain's tissues may be one training showed often; a style read from that contrast
    has somewhere to come from (``GeneratorConfig.prompt_physics``)."""
    return torch.tensor([_physics(" ".join(t.split())) for t in texts], dtype=torch.float32).reshape(
        len(texts), PHYSICS_FEATURES)
