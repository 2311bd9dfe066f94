"""Which planes a volume is translated in, and how their translations are fused.

The model is 2-D, so a volume translated slice by slice along one axis has nothing tying
neighbouring slices together: reformatted, it shows a stripe at every slice. Translating
along all three axes and fusing averages those stripes out (tri-planar fusion, no retraining).

A plane is only worth using when its slices look like what the model was trained on: square
pixels, or nearly so (the generator's per-axis scale reaches about 1.4). Slices of a
1 x 1 x 5 mm volume cut along a thin axis have 1 x 5 mm pixels: the model would see the head
squashed five times, so such planes are skipped and the plan says why. Numpy only: the
widgets plan (and count progress steps) without loading torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Planes a translation uses unless told otherwise: tri-planar costs 2.5-3x one plane on our CPU
#: and wins on every measure of docs/quality.md, and the rule was "the default at <= 3x".
DEFAULT_PLANES = 3
#: Fusion rules of ``--fusion``: "resolution" weights each plane by how square its pixels are.
FUSIONS = ("resolution", "mean", "median")
#: A plane whose slices have pixels more elongated than this is not used.
MAX_PLANE_ANISOTROPY = 2.0
#: A plane whose slices are smaller than this along either side is not used.
MIN_PLANE_PIXELS = 16


@dataclass(frozen=True)
class PlanePlan:
    """The slicing axes used, the weight of each, and why any axis was left out."""

    axes: tuple[int, ...]
    weights: tuple[float, ...]
    skipped: dict[int, str] = field(default_factory=dict)
    fusion: str = "resolution"

    def describe(self) -> str:
        used = ", ".join(f"axis {a} (weight {w:.2f})" for a, w in zip(self.axes, self.weights))
        text = f"planes used: {used}; fusion: {self.fusion}"
        if self.skipped:
            text += "; skipped: " + "; ".join(f"axis {a}: {why}" for a, why in self.skipped.items())
        return text

    def to_dict(self) -> dict:
        return {"axes": list(self.axes), "weights": [round(w, 4) for w in self.weights], "fusion": self.fusion,
                "skipped": {str(a): why for a, why in self.skipped.items()}}


#: In-plane pixel (mm) the network is given: slices with a coarser pixel than RESAMPLE_ABOVE_MM are
#: resampled to it, translated, and averaged back onto their own grid (``Translator.iter_translate``).
#: Why: the demo trained on grids of 0.8-2 mm, yet on held-out simulated heads at 2 mm it lost
#: 0.06-0.14 SSIM against 1 mm, and 0.07-0.37 inside the brain; resampled first, most of that came
#: back (docs/model_history.md).
WORKING_PIXEL_MM = 1.0
RESAMPLE_ABOVE_MM = 1.25


def in_plane_zoom(spacing: Sequence[float] | None, axis: int, working_pixel_mm: float | None = WORKING_PIXEL_MM
                  ) -> tuple[float, float] | None:
    """Zoom factors (rows, columns) that bring slices along ``axis`` to ``working_pixel_mm``, or
    None where no in-plane pixel is coarser than :data:`RESAMPLE_ABOVE_MM` (or nothing is known)."""
    if spacing is None or working_pixel_mm is None:
        return None
    sides = [float(s) for i, s in enumerate(spacing) if i != axis]
    if max(sides) <= RESAMPLE_ABOVE_MM:
        return None
    return tuple(max(s / working_pixel_mm, 1.0) for s in sides)


#: Slices are translated inside the box that holds the volume's foreground (the head) plus this
#: margin, and the translation is air outside it (``Translator.iter_translate``). Why: the
#: generator's global context averages its features over the whole slice, so the air around a
#: head changes how the head is drawn. The same held-out heads (cases 6-17, 1 mm) lost up to 0.04
#: SSIM when padded with air, and whole heads on the 1 mm working grid got back up to 0.024 when
#: cut to this box (docs/model_history.md, "The head box").
HEAD_MARGIN_MM = 10.0
#: the box is used only where it leaves out at least this share of the slice
MIN_HEAD_BOX_GAIN = 0.1
#: a box side is never shorter than this (or the slice's side, if that is shorter)
MIN_HEAD_BOX_PIXELS = 32


def head_box(volume: np.ndarray, axis: int, spacing: Sequence[float] | None = None
             ) -> tuple[slice, slice] | None:
    """In-plane (rows, columns) of slices of the 3-D ``volume`` along ``axis`` that hold all of its
    foreground plus :data:`HEAD_MARGIN_MM`, one box for every slice; None where there is no
    foreground or the box would keep almost the whole slice."""
    from .normalization import foreground_grid

    if volume.ndim != 3:
        raise ValueError(f"head_box needs a 3-D volume, got shape {volume.shape}")
    spacing = tuple(float(s) for s in (spacing or (1.0, 1.0, 1.0)))
    foreground, stride = foreground_grid(volume, spacing)
    if not foreground.any():
        return None
    sides = []
    for a in (i for i in range(3) if i != axis):
        n = volume.shape[a]
        hit = np.flatnonzero(foreground.any(axis=tuple(i for i in range(3) if i != a)))
        margin = int(np.ceil(HEAD_MARGIN_MM / spacing[a]))
        lo, hi = max(0, int(hit[0]) * stride[a] - margin), min(n, (int(hit[-1]) + 1) * stride[a] + margin)
        width = max(hi - lo, min(n, MIN_HEAD_BOX_PIXELS))
        if width > hi - lo:                              # grow about the centre, inside the slice
            lo = max(0, min(lo - (width - (hi - lo)) // 2, n - width))
            hi = lo + width
        sides.append((lo, hi))
    rows, cols = (volume.shape[a] for a in range(3) if a != axis)
    kept = (sides[0][1] - sides[0][0]) * (sides[1][1] - sides[1][0]) / (rows * cols)
    if kept > 1 - MIN_HEAD_BOX_GAIN:
        return None
    return slice(*sides[0]), slice(*sides[1])


def zoomed_shape(height: int, width: int, zoom: tuple[float, float] | None) -> tuple[int, int]:
    """Pixels of an ``height`` x ``width`` slice on the grid ``zoom`` brings it to (itself for None)."""
    if zoom is None:
        return height, width
    return max(1, round(height * zoom[0])), max(1, round(width * zoom[1]))


def in_plane_anisotropy(spacing: Sequence[float], axis: int) -> float:
    """Long side / short side of the pixels of slices cut along ``axis``."""
    sides = [float(s) for i, s in enumerate(spacing) if i != axis]
    return max(sides) / max(min(sides), 1e-6)


def plan_planes(shape: Sequence[int], spacing: Sequence[float] | None, planes: int = 1, axis: int = 0,
                fusion: str = "resolution") -> PlanePlan:
    """Slicing axes for ``planes`` (1: just ``axis``; 3: every usable axis of the (Z, Y, X) volume)."""
    if planes not in (1, 3):
        raise ValueError(f"planes must be 1 or 3, not {planes}")
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if planes == 1:
        return PlanePlan((axis,), (1.0,), {}, fusion)
    spacing = tuple(spacing or (1.0, 1.0, 1.0))
    skipped: dict[int, str] = {}
    usable = []
    for a in range(3):
        sides = [n for i, n in enumerate(shape) if i != a]
        ratio = in_plane_anisotropy(spacing, a)
        pixel = " x ".join(f"{s:g}" for i, s in enumerate(spacing) if i != a)
        if min(sides) < MIN_PLANE_PIXELS:
            skipped[a] = f"its slices are {sides[0]} x {sides[1]} pixels, under {MIN_PLANE_PIXELS} on a side"
        elif ratio > MAX_PLANE_ANISOTROPY:
            skipped[a] = (f"its slices have {pixel} mm pixels (anisotropy {ratio:.1f} > {MAX_PLANE_ANISOTROPY:g}): "
                          "the model would see the anatomy squashed")
        else:
            usable.append(a)
    if not usable:                       # nothing square enough: the least elongated plane
        best = min(range(3), key=lambda a: in_plane_anisotropy(spacing, a))
        skipped.pop(best, None)
        usable = [best]
    weights = tuple(1.0 / in_plane_anisotropy(spacing, a) if fusion == "resolution" else 1.0 for a in usable)
    return PlanePlan(tuple(usable), weights, skipped, fusion)


def fuse(translations: Sequence[np.ndarray], plan: PlanePlan) -> np.ndarray:
    """One volume from the per-plane translations (same shape, in ``plan.axes`` order)."""
    if len(translations) != len(plan.axes):
        raise ValueError(f"{len(translations)} translations for {len(plan.axes)} planes")
    if len(translations) == 1:
        return translations[0]
    if plan.fusion == "median":
        return np.median(np.stack(translations), axis=0).astype(np.float32)
    out = np.zeros_like(translations[0], dtype=np.float32)
    for array, weight in zip(translations, plan.weights):
        out += np.float32(weight) * array
    return out / np.float32(sum(plan.weights))
