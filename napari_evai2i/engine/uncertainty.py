"""Where the model is unsure: the spread of translations that should agree.

Each pass translates the same volume with something that ought not to matter changed: another
wording of the same tags (the training prompt sampler's wordings, every fact kept), the
input mirrored along an in-plane axis (and the result mirrored back), or another slicing
plane. The per-voxel standard deviation over the passes is the uncertainty map. The
translation itself is unchanged by asking for it: it stays the plain (or tri-planar) result,
which is always the first pass(es). Numpy and the prompt template only.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .planes import PlanePlan

#: What the uncertainty map is, for layer metadata and file descriptions.
UNCERTAINTY_DESCRIPTION = ("per-voxel standard deviation over passes with other prompt wordings, mirrored "
                           "inputs and other planes (same units as the translation); not an error bound")
MAX_WORDINGS = 8


@dataclass(frozen=True)
class Pass:
    """One translation of the volume: slicing axis, prompt wording (None: the request's own) and mirror axis."""

    axis: int
    wording: str | None = None
    mirror_axis: int | None = None

    def describe(self) -> str:
        parts = [f"axis {self.axis}"]
        if self.wording is not None:
            parts.append("another wording")
        if self.mirror_axis is not None:
            parts.append(f"mirrored along axis {self.mirror_axis}")
        return ", ".join(parts)


def wordings_of(fields, seed: int = 0, limit: int = MAX_WORDINGS) -> list[str]:
    """Distinct renderings of ``fields`` with every fact kept (the canonical one first)."""
    from ..prompts import canonical_prompt, sample_prompt

    out = [canonical_prompt(fields)]
    rng = random.Random(seed)
    for _ in range(8 * limit):
        if len(out) >= limit:
            break
        text = sample_prompt(fields, rng, drop_probability=0.0)
        if text not in out:
            out.append(text)
    return out


def mirror_axis_for(slicing_axis: int) -> int:
    """An in-plane axis of slices cut along ``slicing_axis`` (the last one: left-right in axial slices)."""
    return 2 if slicing_axis != 2 else 1


def plan_passes(plan: PlanePlan, wordings: Sequence[str], passes: int) -> list[Pass]:
    """At most ``passes`` passes (at least the planes of ``plan``): planes first, then other wordings
    and mirrors, spread over the planes in turn."""
    if passes < 0:
        raise ValueError(f"the number of uncertainty passes must be 0 or more, not {passes}")
    out = [Pass(axis) for axis in plan.axes]
    extras = [(None, True)] + [(w, m) for w in wordings[1:] for m in (False, True)]
    for i, (wording, mirrored) in enumerate(extras):
        if len(out) >= passes:
            break
        axis = plan.axes[i % len(plan.axes)]
        out.append(Pass(axis, wording, mirror_axis_for(axis) if mirrored else None))
    return out


def passes_for(shape, spacing, target, planes: int = 1, axis: int = 0, fusion: str = "resolution",
               uncertainty_passes: int = 0) -> tuple[PlanePlan, list[Pass]]:
    """The plane plan and every pass of a translation request (torch-free, so a widget can count
    progress steps before the model loads). ``target`` is the prompt text, or None for a mix."""
    from ..prompts.parse import fields_from_prompt
    from .planes import plan_planes

    plan = plan_planes(shape, spacing, planes, axis, fusion)
    if uncertainty_passes == 0:
        return plan, [Pass(a) for a in plan.axes]
    if uncertainty_passes < 2:
        raise ValueError(f"an uncertainty map needs at least 2 passes, not {uncertainty_passes}; 0 turns it off")
    fields = fields_from_prompt(target) if isinstance(target, str) else None
    return plan, plan_passes(plan, wordings_of(fields) if fields is not None else [], uncertainty_passes)


class RunningSpread:
    """Mean and standard deviation over passes, one pass at a time (Welford; float64 not needed)."""

    def __init__(self) -> None:
        self.count = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def add(self, array: np.ndarray) -> None:
        array = np.asarray(array, dtype=np.float32)
        self.count += 1
        if self._mean is None:
            self._mean = array.copy()
            self._m2 = np.zeros_like(array)
            return
        delta = array - self._mean
        self._mean += delta / self.count
        self._m2 += delta * (array - self._mean)

    def std(self) -> np.ndarray:
        if self._m2 is None:
            raise ValueError("no pass was added")
        return np.sqrt(self._m2 / max(1, self.count - 1)).astype(np.float32)
