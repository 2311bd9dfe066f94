"""Real brain anatomy for the MR simulator: the MNI ICBM152 2009a template shipped in nilearn.

The nilearn wheel carries probabilistic grey-matter and white-matter maps and a binary brain
mask of the MNI152 template (no download at run time). There is no CSF map; it is derived as
``csf = clip(mask - gm - wm, 0, 1)``, which gives about 1008 ml GM, 670 ml WM and 217 ml CSF with
correctly placed ventricles.

Only the brain is modelled: everything outside the brain mask is 0, like a skull-stripped scan.
There is no scalp, fat, bone or background tissue class on purpose; a fat shell would only
matter for fat-suppression contrasts (STIR), and a made-up scalp would teach the model a
geometry that the template does not have.

Array layout
------------
nibabel/nilearn data are indexed ``data[i, j, k]`` with ``i, j, k`` running along x, y, z. All
arrays here are transposed to ``(Z, Y, X)``, i.e. ``array[k, j, i]`` (C-contiguous). The
``affine_ras`` is left exactly as nibabel gives it and still maps ``(i, j, k, 1)`` -> RAS mm, so a
voxel ``array[k, j, i]`` lies at ``affine_ras @ (i, j, k, 1)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["TissueMaps", "load_tissue_maps", "bounding_box", "TISSUE_NAMES"]

#: Order of the tissue classes wherever they are stacked (``TissueMaps.stack()``,
#: ``SimulatedVolume.tissue``).
TISSUE_NAMES = ("GM", "WM", "CSF")

# Resampled 2 mm maps contain float32 denormals (~1e-45); they are noise and slow arithmetic.
_TINY = 1e-4


@dataclass(frozen=True, eq=False)
class TissueMaps:
    """Tissue fractions of the MNI152 template, ``(Z, Y, X)`` float32 in ``[0, 1]``.

    ``gm + wm + csf <= 1`` in every voxel (partial volume), all three are 0 outside ``mask``.
    The arrays are shared by the cache and read-only; copy before modifying.
    """

    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    mask: np.ndarray  #: bool, brain mask
    affine_ras: np.ndarray  #: 4x4, maps (i, j, k, 1) = (x, y, z index) to RAS mm
    spacing_zyx: tuple[float, float, float]
    resolution_mm: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.gm.shape

    def stack(self) -> np.ndarray:
        """New ``(3, Z, Y, X)`` float32 array in :data:`TISSUE_NAMES` order (GM, WM, CSF)."""
        return np.stack([self.gm, self.wm, self.csf])

    @functools.cached_property
    def bbox(self) -> tuple[slice, slice, slice]:
        """Smallest ``(z, y, x)`` slices containing every non-zero tissue voxel."""
        return bounding_box(self.mask)


def bounding_box(mask: np.ndarray, pad: int = 0) -> tuple[slice, ...]:
    """Smallest slices holding every true voxel of ``mask``, widened by ``pad`` voxels (clipped
    to the array); empty slices for an empty mask."""
    out = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        if idx.size == 0:
            return tuple(slice(0, 0) for _ in range(mask.ndim))
        out.append(slice(max(0, int(idx[0]) - pad), min(mask.shape[axis], int(idx[-1]) + 1 + pad)))
    return tuple(out)


def _to_zyx(img) -> np.ndarray:
    data = np.asarray(img.get_fdata(dtype=np.float32), dtype=np.float32)
    return np.ascontiguousarray(data.transpose(2, 1, 0))


@functools.lru_cache(maxsize=2)
def load_tissue_maps(resolution_mm: int = 1) -> TissueMaps:
    """Load GM/WM/CSF fractions and the brain mask of MNI152 at 1 or 2 mm (cached).

    Shapes are ``(189, 233, 197)`` at 1 mm and ``(95, 117, 99)`` at 2 mm (Z, Y, X).
    """
    if resolution_mm not in (1, 2):
        raise ValueError(f"resolution_mm must be 1 or 2, got {resolution_mm!r}")
    from nilearn import datasets

    gm_img = datasets.load_mni152_gm_template(resolution=resolution_mm)
    wm_img = datasets.load_mni152_wm_template(resolution=resolution_mm)
    mask_img = datasets.load_mni152_brain_mask(resolution=resolution_mm)

    mask = _to_zyx(mask_img) > 0.5
    maskf = mask.astype(np.float32)
    gm = np.clip(_to_zyx(gm_img), 0.0, 1.0) * maskf
    wm = np.clip(_to_zyx(wm_img), 0.0, 1.0) * maskf
    gm[gm < _TINY] = 0.0
    wm[wm < _TINY] = 0.0
    csf = np.clip(maskf - gm - wm, 0.0, 1.0)
    csf[csf < _TINY] = 0.0
    total = gm + wm + csf
    over = total > 1.0
    for arr in (gm, wm, csf):
        arr[over] /= total[over]

    affine = np.array(mask_img.affine, dtype=np.float64)
    zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))  # per i, j, k
    spacing_zyx = (float(zooms[2]), float(zooms[1]), float(zooms[0]))
    for arr in (gm, wm, csf, mask, affine):
        arr.setflags(write=False)
    return TissueMaps(
        gm=gm,
        wm=wm,
        csf=csf,
        mask=mask,
        affine_ras=affine,
        spacing_zyx=spacing_zyx,
        resolution_mm=int(resolution_mm),
    )
