"""Intensity normalisation shared by training data and inference, and its inverse.

Two MR rules exist; a checkpoint records the one it was trained with (``config.json``,
``normalization``) and inference applies that one:

* ``brain-core-median`` (current): the volume is divided so that the median of its
  **brain core** becomes :data:`BRAIN_LEVEL`. The core is what lies more than 10 mm inside
  the foreground (voxels above half the Otsu threshold, and above the noise measured among
  the dark voxels, so that noise in air is not foreground): deep brain, whatever surrounds it.
  Scalp fat, neck and air do not move it (the same brain with and without a head: within
  5 %, tests/engine/test_normalization.py), unlike a percentile of the whole volume.
* ``p99.5`` (the official rule, and the first demo's): divided by the 99.5th percentile.

CT volumes are always ``(HU + 1024) / 3000`` (the official mapping). Translations are mapped
back into the source's own intensity scale. One implementation for both sides, so training
and inference cannot drift apart: real cohorts fit it on each whole volume, inference on the
input volume, the simulated slices on the template rendered with their tissue signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MR_PERCENTILE = 99.5
CT_OFFSET, CT_SCALE = 1024.0, 3000.0
#: MR normalisation rules (see the module docstring); the first is the one new models train with.
MR_RULES = ("brain-core-median", "p99.5")
#: The normalised value of the brain-core median.
BRAIN_LEVEL = 0.5
CORE_DEPTH_MM = 10.0
_WORK_SPACING_MM = 2.0        # the core is found on a grid of about this spacing
#: foreground lies above this many times the dark voxels' noise (:func:`_dark_noise`): in air
#: (Rayleigh noise) that is about 3 times the air's median, the level of the rule before it
NOISE_FLOOR = 3.8


@dataclass(frozen=True)
class IntensityScale:
    """``normalised = (raw + offset) / scale`` (after clipping below ``floor``)."""

    modality: str
    offset: float
    scale: float
    floor: float
    rule: str = ""            #: how ``scale`` was chosen (an :data:`MR_RULES` name, or "hu")

    @classmethod
    def at_brain_level(cls, level: float, rule: str) -> IntensityScale:
        """The MR scale that puts a brain-core median of ``level`` at :data:`BRAIN_LEVEL` (1 without one)."""
        return cls("MR", 0.0, level / BRAIN_LEVEL if level else 1.0, 0.0, rule)

    def normalize(self, raw: np.ndarray) -> np.ndarray:
        out = np.maximum(np.asarray(raw, dtype=np.float32), np.float32(self.floor))
        out += np.float32(self.offset)
        out /= np.float32(self.scale)
        return out

    def denormalize(self, normalized: np.ndarray) -> np.ndarray:
        out = np.asarray(normalized, dtype=np.float32) * np.float32(self.scale)
        out -= np.float32(self.offset)
        return out

    def to_dict(self) -> dict:
        return {"modality": self.modality, "offset": self.offset, "scale": self.scale, "floor": self.floor,
                "rule": self.rule}


def fit_intensity_scale(volume: np.ndarray, modality: str = "MR", rule: str = "p99.5",
                        spacing: tuple[float, ...] | None = None) -> IntensityScale:
    """Choose the scale for a whole volume (never per slice: slices must stay comparable).

    ``rule`` is one of :data:`MR_RULES` (MR only); ``spacing`` (mm per axis, default 1) is
    used by ``brain-core-median``. ``p99.5``: the 99.5th percentile of the non-negative
    values; unlike the official ``max(P99.5, 1)`` it also works for volumes stored in [0, 1].
    An all-zero volume keeps scale 1.
    """
    modality = (modality or "MR").upper()
    if modality == "CT":
        return IntensityScale("CT", CT_OFFSET, CT_SCALE, -CT_OFFSET, "hu")
    if modality != "MR":
        raise ValueError(f"unsupported modality {modality!r}: napari-evai2i translates MR (and CT) volumes")
    if rule not in MR_RULES:
        raise ValueError(f"unknown MR normalisation rule {rule!r}; expected one of {MR_RULES}")
    data = np.asarray(volume)
    if data.size == 0:
        raise ValueError("cannot normalise an empty volume")
    if rule == "brain-core-median":
        level = brain_core_level(data, spacing)
        return IntensityScale.at_brain_level(level, rule)
    step = max(1, data.size // 2_000_000)          # a subsample is plenty for a percentile
    sample = np.maximum(data.reshape(-1)[::step].astype(np.float32), 0)
    _check_finite(sample)
    p = float(np.percentile(sample, MR_PERCENTILE))
    if p <= 0:
        p = float(sample.max())
    return IntensityScale("MR", 0.0, p if p > 0 else 1.0, 0.0, rule)


def _check_finite(sample: np.ndarray) -> None:
    if not np.isfinite(sample).all():
        raise ValueError("volume contains NaN or infinite values")


def _working_grid(volume: np.ndarray, spacing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``volume`` strided to about 2 mm per axis (float32, negatives 0), its spacing and the stride."""
    spacing = np.ones(volume.ndim) if spacing is None else np.asarray(spacing, dtype=np.float64)
    if spacing.shape != (volume.ndim,) or not np.all(spacing > 0):
        raise ValueError(f"spacing must give one positive value per axis of a {volume.ndim}-D volume")
    stride = np.maximum(1, np.floor(_WORK_SPACING_MM / spacing + 1e-6)).astype(int)
    grid = np.maximum(np.asarray(volume[tuple(slice(None, None, k) for k in stride)], dtype=np.float32), 0)
    _check_finite(grid)
    return grid, spacing * stride, stride


def brain_core(volume: np.ndarray, spacing=None) -> np.ndarray:
    """Boolean mask of the brain core on the 2 mm working grid of ``volume`` (see module docstring).

    If the foreground is too thin for a 10 mm core (a slab, a small crop), its deepest quarter.
    """
    grid, grid_spacing, _ = _working_grid(volume, spacing)
    return _core_of_grid(grid, grid_spacing)


def foreground_grid(volume: np.ndarray, spacing=None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean foreground of ``volume`` (what the brain core is cut from: the head, not the air)
    on its 2 mm working grid, and the grid's stride in voxels per axis."""
    grid, _, stride = _working_grid(volume, spacing)
    return _foreground_of_grid(grid), stride


def _foreground_of_grid(grid: np.ndarray) -> np.ndarray:
    """Voxels above half the Otsu threshold and above the dark voxels' noise (module docstring)."""
    from skimage.filters import threshold_otsu

    values = grid.reshape(-1)[:: max(1, grid.size // 500_000)]
    if values.max() <= values.min():
        return np.zeros(grid.shape, dtype=bool)
    otsu = float(threshold_otsu(values))
    threshold = max(0.5 * otsu, NOISE_FLOOR * _dark_noise(grid, grid < 0.5 * otsu))
    return grid > threshold


def _core_of_grid(grid: np.ndarray, grid_spacing: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    foreground = _foreground_of_grid(grid)
    if not foreground.any():
        return foreground
    depth = ndimage.distance_transform_edt(foreground, sampling=grid_spacing)
    core = depth > CORE_DEPTH_MM
    if core.sum() < 0.05 * foreground.sum():
        core = foreground & (depth >= np.percentile(depth[foreground], 75))
    return core


def _dark_noise(grid: np.ndarray, dark: np.ndarray) -> float:
    """Spread (robust: 1.4826 MAD) of the differences between neighbouring dark voxels.

    Measures the noise of whatever is dark, air or tissue. The earlier rule took the dark
    voxels' median for the noise, which is right for air but not for dark tissue (T2w white
    matter, skull): where a head fills the view or a crop has no air, the threshold rose above
    that tissue and the core fell onto CSF (T2w levels up to 2x too high). Dark tissue is
    smooth, so its differences stay small. Fewer than 50 neighbouring pairs: no noise floor."""
    diffs = []
    for axis in range(grid.ndim):
        if grid.shape[axis] < 2:
            continue
        values, mask = np.moveaxis(grid, axis, 0), np.moveaxis(dark, axis, 0)
        diffs.append((values[1:] - values[:-1])[mask[1:] & mask[:-1]])
    d = np.concatenate(diffs) if diffs else np.zeros(0, np.float32)
    if d.size < 50:
        return 0.0
    return 1.4826 * float(np.median(np.abs(d - np.median(d))))


def brain_core_level(volume: np.ndarray, spacing=None) -> float:
    """Median of ``volume`` inside :func:`brain_core` (the maximum if that is 0; 0 for a volume
    without any positive value)."""
    grid, grid_spacing, _ = _working_grid(volume, spacing)
    core = _core_of_grid(grid, grid_spacing)
    level = float(np.median(grid[core])) if core.any() else 0.0
    return level if level > 0 else float(grid.max())
