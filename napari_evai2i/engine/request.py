"""What a translation is asked to do, as plain values (no torch: cheap to import, safe to send to a thread)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .planes import DEFAULT_PLANES


@dataclass(frozen=True)
class PromptMix:
    """A point on the spherical path from prompt ``a`` (t=0) to prompt ``b`` (t=1)."""

    a: str
    b: str
    t: float

    def describe(self) -> str:
        return f"interpolation t={self.t:.2f} from A: {' '.join(self.a.split())} to B: {' '.join(self.b.split())}"


Target = str | PromptMix
#: What :class:`TranslationRequest.nonfinite` may say.
NONFINITE_RULES = ("refuse", "zero")


@dataclass(frozen=True)
class TranslationRequest:
    """What to translate into, with which model, and how. Plain values, safe to pass to a thread."""

    target: Target
    model: str = "demo"                  #: built-in model name or checkpoint folder
    device: str = "auto"
    precision: str = "auto"              #: "auto" (bf16 on CUDA, fp32 on CPU), "fp32" or "bf16"
    axis: int = 0                        #: array axis of the (Z, Y, X) volume to slice along
    batch_size: int | None = None        #: slices per step (None: the translator's default)
    #: the source's own prompt; None: built from the volume's DICOM tags when it has any;
    #: "": unknown, even where tags exist
    source_prompt: str | None = None
    #: 1: slices along ``axis``; 3: along every usable axis, fused (engine.planes.DEFAULT_PLANES)
    planes: int = DEFAULT_PLANES
    fusion: str = "resolution"           #: "resolution", "mean" or "median" (engine.planes.FUSIONS)
    #: 0: no uncertainty map; N: at most N passes (at least one per plane) give a per-voxel SD
    uncertainty_passes: int = 0
    #: NaN/infinite input voxels: "refuse" (the default: say how many and where) or "zero" (set to 0)
    nonfinite: str = "refuse"
    #: turn the stored axes to the training orientation before slicing (engine.orientation);
    #: False slices the array as stored (for arrays whose orientation is unknown)
    reorient: bool = True

    @property
    def target_text(self) -> str:
        return self.target.describe() if isinstance(self.target, PromptMix) else self.target


def source_prompt_of(tags: Mapping[str, Any] | None) -> str | None:
    """The canonical prompt of a series from its DICOM tags, or None when it has none."""
    if not tags:
        return None
    from ..prompts import canonical_prompt, fields_from_tags

    return canonical_prompt(fields_from_tags(tags))


