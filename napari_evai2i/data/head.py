"""A whole head around the MNI152 brain: CSF rim, skull, scalp and air.

The template is skull-stripped, but almost every scan a user opens shows a skull, fat and
skin. A model that never saw them reads scalp fat as brain and normalises by it. So the
training generator wraps the brain in shells at random thicknesses, placed by the signed
distance to the brain surface. From the brain outward:

=========  ===========================  ================
layer      tissue                       thickness (mm)
=========  ===========================  ================
CSF rim    CSF                          0.5 - 4
inner      cortical bone (no signal)    0.8 - 2.5
diploe     fatty marrow                 0.5 - 5
outer      cortical bone                0.8 - 2.5
muscle     muscle                       0 - 5
fat        subcutaneous fat             1 - 7
skin       skin                         1 - 3
=========  ===========================  ================

Outside the skin is air (no tissue). Tissue parameters are in :mod:`._signal`
(:data:`~napari_evai2i.data.physics.HEAD_TISSUE_TABLE_1P5T`). Below the cerebellum the brain
mask is continued downwards as a column, so the shells wrap a neck instead of closing under
the brainstem.

A skull follows the brain's outline, not its folds, so the distances are measured from the
brain mask closed with a 12 mm ball; the CSF layer fills everything between the brain and
that outline. The distance map is computed once per process on the 2 mm template (a few
seconds) and sampled with trilinear interpolation. Shells only fill what the brain fractions
leave free, so a 1 mm misplacement of the coarse surface never opens a gap between brain and
CSF.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .anatomy import TISSUE_NAMES, load_tissue_maps

__all__ = ["SHELLS", "SHELL_TISSUES", "HEAD_TISSUE_NAMES", "ALL_TISSUE_NAMES", "PARTIAL_CSF", "ShellRanges",
           "BrainDistance", "brain_distance", "shell_fractions", "head_fractions", "partial_csf", "template_head"]

#: Shell layers from the brain outward, and the tissue each one is made of.
SHELLS = ("csf_rim", "inner_table", "diploe", "outer_table", "muscle", "fat", "skin")
SHELL_TISSUES = ("CSF", "BONE", "MARROW", "BONE", "MUSCLE", "FAT", "SKIN")
#: Tissues beyond the three brain classes, in the order of the generator's tissue channels.
HEAD_TISSUE_NAMES = ("LESION", "FAT", "MUSCLE", "SKIN", "BONE", "MARROW")
ALL_TISSUE_NAMES = TISSUE_NAMES + HEAD_TISSUE_NAMES
#: CSF fractions (exclusive) that count as CSF mixed into tissue: neither a fluid space nor none
PARTIAL_CSF = (0.15, 0.6)


def partial_csf(csf_fraction):
    """Where ``csf_fraction`` (numpy or torch) is CSF mixed into tissue (:data:`PARTIAL_CSF`).
    Why: the demo draws such pixels too bright in FLAIR (docs/model_card.md, "Held-out heads")."""
    return (csf_fraction > PARTIAL_CSF[0]) & (csf_fraction < PARTIAL_CSF[1])

_PAD_MM = 40.0            # room around the template grid for the thickest head
_SHELL_START_MM = -2.0     # shells begin inside the brain mask (see the module docstring)
_CLOSING_MM = 12.0


@dataclass(frozen=True)
class ShellRanges:
    """Uniform ranges (mm) of each layer's thickness, in :data:`SHELLS` order."""

    csf_rim: tuple[float, float] = (0.5, 4.0)
    inner_table: tuple[float, float] = (0.8, 2.5)
    diploe: tuple[float, float] = (0.5, 5.0)
    outer_table: tuple[float, float] = (0.8, 2.5)
    muscle: tuple[float, float] = (0.0, 5.0)
    fat: tuple[float, float] = (1.0, 7.0)
    skin: tuple[float, float] = (1.0, 3.0)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One thickness per layer (mm), float32."""
        return np.array([rng.uniform(*getattr(self, name)) for name in SHELLS], dtype=np.float32)

    def middle(self) -> np.ndarray:
        return np.array([sum(getattr(self, name)) / 2 for name in SHELLS], dtype=np.float32)


@dataclass(frozen=True)
class BrainDistance:
    """Signed distance (mm) to the MNI152 brain surface: negative inside, positive outside.

    ``distance`` is ``(Z, Y, X)`` float32 on a padded 2 mm grid; ``index_from_1mm`` (4x4) maps a
    1 mm template voxel index ``(z, y, x, 1)`` to a fractional index of that grid.
    """

    distance: np.ndarray
    index_from_1mm: np.ndarray

    def tensor(self) -> torch.Tensor:
        return torch.from_numpy(self.distance.copy())


@functools.lru_cache(maxsize=1)
def brain_distance() -> BrainDistance:
    """The signed distance map of the 2 mm brain mask, padded by 40 mm, neck continued (cached)."""
    from scipy import ndimage

    coarse, fine = load_tissue_maps(2), load_tissue_maps(1)
    spacing = coarse.spacing_zyx
    spacing_mm = float(spacing[0])
    pad = int(round(_PAD_MM / coarse.spacing_zyx[0]))
    mask = np.pad(coarse.mask, pad, mode="constant")
    lowest = pad + int(np.flatnonzero(coarse.mask.any(axis=(1, 2)))[0])   # z index: 0 is inferior
    mask[:lowest] = mask[lowest]                                           # the neck column
    # A skull follows the brain's outline, not its folds: close the mask with a 12 mm ball
    # first; the CSF layer fills what lies between the brain and that outline.
    radius = int(round(_CLOSING_MM / spacing_mm))
    ball = np.linalg.norm(np.indices((2 * radius + 1,) * 3) - radius, axis=0) <= radius
    mask = ndimage.binary_closing(np.pad(mask, radius, mode="edge"), structure=ball)[
        radius:-radius, radius:-radius, radius:-radius]
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
    inside = ndimage.distance_transform_edt(mask, sampling=spacing)
    distance = (outside - inside).astype(np.float32)
    distance.setflags(write=False)

    # 1 mm ZYX index -> RAS (affines map x, y, z index) -> 2 mm ZYX index -> padded index.
    flip = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
    to_coarse = flip @ np.linalg.inv(coarse.affine_ras) @ fine.affine_ras @ flip
    shift = np.eye(4)
    shift[:3, 3] = pad
    return BrainDistance(distance, shift @ to_coarse)


def shell_fractions(distance_mm: torch.Tensor, thickness_mm: torch.Tensor) -> torch.Tensor:
    """Fraction of each shell layer ``(L, ...)`` at signed distances ``(...)``.

    ``thickness_mm`` is ``(L,)`` or broadcastable to ``(L, ...)`` (a thickness that varies over
    the image). Each layer has a 1 mm partial-volume edge; the first starts 2 mm inside the brain.
    """
    d = distance_mm.unsqueeze(0)
    t = thickness_mm.reshape(thickness_mm.shape + (1,) * (d.dim() - thickness_mm.dim()))
    outer = torch.cumsum(t, dim=0) + _SHELL_START_MM
    inner = outer - t
    inner[0] = -1e4            # the CSF layer also fills the folds inside the closed outline
    return (d - inner + 0.5).clamp(0, 1) - (d - outer + 0.5).clamp(0, 1)


def head_fractions(brain: torch.Tensor, distance_mm: torch.Tensor, thickness_mm: torch.Tensor,
                   lesion: torch.Tensor | None = None) -> torch.Tensor:
    """All tissue fractions ``(9, ...)`` in :data:`ALL_TISSUE_NAMES` order.

    ``brain`` is ``(3, ...)`` GM, WM, CSF; ``lesion`` (``...``), a lesion fraction already taken
    out of ``brain``. The shells fill only what the brain leaves free.
    """
    shells = shell_fractions(distance_mm, thickness_mm)            # (L, ...)
    free = (1 - brain.sum(0) - (0 if lesion is None else lesion)).clamp(min=0)
    shells = shells * free.unsqueeze(0)
    out = torch.zeros((len(ALL_TISSUE_NAMES),) + brain.shape[1:], dtype=brain.dtype, device=brain.device)
    out[:3] = brain
    if lesion is not None:
        out[ALL_TISSUE_NAMES.index("LESION")] = lesion
    for layer, tissue in zip(shells, SHELL_TISSUES):
        out[ALL_TISSUE_NAMES.index(tissue)] += layer
    return out


def template_head(thickness_mm: np.ndarray | None = None, whole_head: bool = True) -> tuple[torch.Tensor, tuple]:
    """The unwarped 2 mm template as a whole head: fractions ``(9, Z, Y, X)`` on the padded
    distance grid, and its spacing. ``thickness_mm`` defaults to the middle of every range;
    ``whole_head=False`` gives the same grid with the brain only (a skull-stripped scan)."""
    maps = load_tissue_maps(2)
    dist = brain_distance()
    pad = [(d - s) // 2 for d, s in zip(dist.distance.shape, maps.shape)]
    brain = torch.from_numpy(np.pad(maps.stack(), [(0, 0)] + [(p, p) for p in pad]))
    if not whole_head:
        out = torch.zeros((len(ALL_TISSUE_NAMES),) + brain.shape[1:])
        out[:3] = brain
        return out, maps.spacing_zyx
    thickness = ShellRanges().middle() if thickness_mm is None else np.asarray(thickness_mm, dtype=np.float32)
    return head_fractions(brain, torch.from_numpy(dist.distance.copy()), torch.from_numpy(thickness)), maps.spacing_zyx
