"""Intensity normalisation shared by training data and inference, and its inverse.

The network sees MR volumes divided by their 99.5th percentile and CT volumes as
``(HU + 1024) / 3000`` (the official mapping), and translations are mapped back into
the source's own intensity scale. One implementation for both sides, so training and
inference can never drift apart: real cohorts fit it on each whole volume, the simulated
training slices on the whole noise-free template volume of their protocol
(:func:`napari_evai2i.data.slices.template_levels`), inference on the input volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MR_PERCENTILE = 99.5
CT_OFFSET, CT_SCALE = 1024.0, 3000.0


@dataclass(frozen=True)
class IntensityScale:
    """``normalised = (raw + offset) / scale`` (after clipping below ``floor``)."""

    modality: str
    offset: float
    scale: float
    floor: float

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
        return {"modality": self.modality, "offset": self.offset, "scale": self.scale, "floor": self.floor}


def fit_intensity_scale(volume: np.ndarray, modality: str = "MR") -> IntensityScale:
    """Choose the scale for a whole volume (never per slice: slices must stay comparable).

    MR: the 99.5th percentile of the non-negative values. Unlike the official
    ``max(P99.5, 1)`` this also works for volumes stored in [0, 1]; an all-zero volume
    keeps scale 1.
    """
    modality = (modality or "MR").upper()
    if modality == "CT":
        return IntensityScale("CT", CT_OFFSET, CT_SCALE, -CT_OFFSET)
    if modality != "MR":
        raise ValueError(f"unsupported modality {modality!r}: napari-evai2i translates MR (and CT) volumes")
    data = np.asarray(volume)
    if data.size == 0:
        raise ValueError("cannot normalise an empty volume")
    step = max(1, data.size // 2_000_000)          # a subsample is plenty for a percentile
    sample = np.maximum(data.reshape(-1)[::step].astype(np.float32), 0)
    if not np.isfinite(sample).all():
        raise ValueError("volume contains NaN or infinite values")
    p = float(np.percentile(sample, MR_PERCENTILE))
    if p <= 0:
        p = float(sample.max())
    return IntensityScale("MR", 0.0, p if p > 0 else 1.0, 0.0)
