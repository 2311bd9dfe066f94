"""Fast 2-D paired training slices straight from the tissue maps.

Simulating a whole 1 mm volume costs about a second; a training step needs a dozen
slices. So training draws one slice of the MNI152 tissue maps in a random plane, warps
it in 2-D (rotation, zoom, shift, elastic), and applies the same signal equations as the
volume simulator to the warped fractions: every protocol of one draw sees exactly the
same anatomy, which makes the pairs voxel-aligned. Inputs get a bias field, Rician noise
and a random global gain; targets stay clean.

Intensities are normalised as a real volume would be at inference: divided by the
99.5th percentile of the whole (noise-free, 2 mm) simulated volume for that protocol.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .anatomy import TISSUE_NAMES, load_tissue_maps
from .physics import Protocol, tissue_parameters

PLANES = ("axial", "coronal", "sagittal")
#: The array axis of a (Z, Y, X) volume that is constant within a slice of each plane.
PLANE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


@dataclass
class SliceAugmentation:
    """Ranges of the random 2-D geometry and corruption (all sampled uniformly)."""

    rotation_deg: float = 10.0
    zoom: tuple[float, float] = (1.0, 1.8)      # output pixel size in mm (1 = native 1 mm)
    shift_px: float = 12.0
    elastic_px: float = 3.0
    bias: float = 0.15                           # multiplicative bias field amplitude
    snr: tuple[float, float] = (15.0, 60.0)       # Rician noise, signal/noise of the brightest tissue
    gain: tuple[float, float] = (0.85, 1.15)      # global input gain
    jitter: float = 0.05                          # per-subject relative spread of PD, T1, T2, T2*
    box_percentile: float = 20.0                  # slices from the central 20-80 % of the brain


def reference_level(protocol: Protocol, params=None) -> float:
    """99.5th percentile of the noise-free 2 mm volume of ``protocol`` (the normaliser)."""
    fractions = _reference_fractions()
    params = params or tissue_parameters(protocol.field_strength)
    signals = protocol.tissue_signals(params)
    values = fractions @ np.array([signals[name] for name in TISSUE_NAMES], dtype=np.float32)
    level = float(np.percentile(values, 99.5))
    return level if level > 0 else 1.0


@functools.lru_cache(maxsize=1)
def _reference_fractions() -> np.ndarray:
    """(N, 3) tissue fractions of every 3rd voxel of the 2 mm template, background included."""
    stack = load_tissue_maps(2).stack().reshape(3, -1)[:, ::3]
    return np.ascontiguousarray(stack.T)


class SliceSimulator:
    """Draw aligned slices of one warped anatomy under several protocols."""

    def __init__(self, size: int = 128, augmentation: SliceAugmentation | None = None,
                 planes: tuple[str, ...] = PLANES) -> None:
        self.size = size
        self.aug = augmentation or SliceAugmentation()
        self.planes = planes
        self.maps = load_tissue_maps(1)
        self._stack = self.maps.stack()          # (3, Z, Y, X)
        self._boxes = {p: self._central_box(PLANE_AXIS[p]) for p in PLANES}

    def _central_box(self, axis: int) -> tuple[int, int]:
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(self.maps.mask.any(axis=other))
        lo, hi = np.percentile(idx, [self.aug.box_percentile, 100 - self.aug.box_percentile])
        return int(lo), int(hi)

    def tissue_slice(self, rng: np.random.Generator, plane: str | None = None) -> tuple[np.ndarray, str]:
        """(3, size, size) warped tissue fractions of a random slice, and its plane."""
        plane = plane or str(rng.choice(self.planes))
        axis = PLANE_AXIS[plane]
        lo, hi = self._boxes[plane]
        index = int(rng.integers(lo, hi + 1))
        tissue = np.take(self._stack, index, axis=axis + 1)   # (3, A, B)
        return self._warp(tissue, rng), plane

    def _warp(self, tissue: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = self.aug
        n = self.size
        theta = np.deg2rad(rng.uniform(-a.rotation_deg, a.rotation_deg))
        zoom = rng.uniform(*a.zoom)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) * zoom
        mask = tissue.sum(0) > 0.5
        centre = np.array(ndimage.center_of_mass(mask)) if mask.any() else np.array(tissue.shape[1:]) / 2
        centre = centre + rng.uniform(-a.shift_px, a.shift_px, size=2)
        grid = np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij")).reshape(2, -1)
        coords = rot @ (grid - (n - 1) / 2.0) + centre[:, None]
        if a.elastic_px > 0:
            coarse = rng.normal(0, a.elastic_px, size=(2, 5, 5))
            coords = coords + np.stack([ndimage.zoom(c, n / 5, order=3)[:n, :n] for c in coarse]).reshape(2, -1)
        out = np.stack([ndimage.map_coordinates(t, coords, order=1, mode="constant").reshape(n, n)
                        for t in tissue])
        return np.clip(out, 0, 1).astype(np.float32)

    def render(self, tissue: np.ndarray, protocol: Protocol, params: dict) -> np.ndarray:
        """Clean normalised image (size, size) of warped tissue under a protocol."""
        signals = protocol.tissue_signals(params)
        image = sum(tissue[i] * np.float32(signals[name]) for i, name in enumerate(TISSUE_NAMES))
        return (image / np.float32(reference_level(protocol, params))).astype(np.float32)

    def corrupt(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """What a scanner adds: smooth bias field, Rician noise, arbitrary global gain."""
        a = self.aug
        n = image.shape[-1]
        bias = 1 + ndimage.zoom(rng.uniform(-a.bias, a.bias, size=(3, 3)), n / 3, order=3)[:n, :n]
        sigma = 1.0 / rng.uniform(*a.snr)
        noisy = np.hypot(image * bias + rng.normal(0, sigma, image.shape),
                         rng.normal(0, sigma, image.shape))
        return (noisy * rng.uniform(*a.gain)).astype(np.float32)
