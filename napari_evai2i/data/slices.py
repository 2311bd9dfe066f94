"""Fast 2-D paired training slices straight from the tissue maps.

Simulating a whole 1 mm volume costs about a second; a training step needs a dozen
slices. So training draws one slice of the MNI152 tissue maps in a random plane, warps
it in 2-D (rotation, zoom, shift, elastic), and applies the same signal equations as the
volume simulator to the warped fractions: every protocol of one draw sees exactly the
same anatomy, which makes the pairs voxel-aligned. Inputs get a bias field, the volume
simulator's Rician noise (:mod:`.noise`, same SNR definition and range) and a random
global gain; targets stay clean.

Intensities are normalised as a real volume would be at inference: with
:func:`~napari_evai2i.engine.normalization.fit_intensity_scale` fitted on the whole
(noise-free, 2 mm) simulated template volume of that protocol.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..engine.normalization import IntensityScale, fit_intensity_scale
from ..prompts.vocabulary import PLANE_AXIS, PLANES
from .anatomy import TISSUE_NAMES, load_tissue_maps
from .noise import draw_snr, rician
from .physics import Protocol, tissue_parameters


@dataclass
class SliceAugmentation:
    """Ranges of the random 2-D geometry and corruption (all sampled uniformly)."""

    rotation_deg: float = 10.0
    zoom: tuple[float, float] = (1.0, 1.8)      # output pixel size in mm (1 = native 1 mm)
    shift_px: float = 12.0
    elastic_px: float = 3.0
    bias: float = 0.15                           # multiplicative bias field amplitude
    gain: tuple[float, float] = (0.85, 1.15)      # global input gain
    jitter: float = 0.05                          # per-subject relative spread of PD, T1, T2, T2*
    box_percentile: float = 20.0                  # slices from the central 20-80 % of the brain


@dataclass(frozen=True)
class TemplateLevels:
    """Intensity levels of the whole noise-free template volume under one protocol."""

    scale: IntensityScale     #: the normaliser, fitted as inference fits a real volume
    brain_mean: float         #: mean signal inside the brain, normalised (the SNR's reference)


def template_levels(protocol: Protocol, params=None) -> TemplateLevels:
    """Levels of the noise-free 2 mm template volume of ``protocol`` (every 3rd voxel)."""
    fractions, brain = _reference_fractions()
    params = params or tissue_parameters(protocol.field_strength)
    signals = protocol.tissue_signals(params)
    values = fractions @ np.array([signals[name] for name in TISSUE_NAMES], dtype=np.float32)
    scale = fit_intensity_scale(values)
    return TemplateLevels(scale, float(values[brain].mean()) / scale.scale)


@functools.lru_cache(maxsize=1)
def _reference_fractions() -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) tissue fractions of every 3rd voxel of the 2 mm template (background included)
    and the brain mask of those voxels (fractions summing to 0.5 or more, as the simulator)."""
    stack = load_tissue_maps(2).stack().reshape(3, -1)[:, ::3]
    fractions = np.ascontiguousarray(stack.T)
    return fractions, fractions.sum(axis=1) >= 0.5


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

    def render(self, tissue: np.ndarray, protocol: Protocol, params: dict,
               scale: IntensityScale | None = None) -> np.ndarray:
        """Clean normalised image (size, size) of warped tissue under a protocol."""
        signals = protocol.tissue_signals(params)
        image = sum(tissue[i] * np.float32(signals[name]) for i, name in enumerate(TISSUE_NAMES))
        scale = scale or template_levels(protocol, params).scale
        return scale.normalize(image)

    def corrupt(self, image: np.ndarray, rng: np.random.Generator, brain_mean: float) -> np.ndarray:
        """What a scanner adds: smooth bias field, Rician noise at a random SNR (relative to
        ``brain_mean``, the mean brain signal of the whole volume), arbitrary global gain."""
        a = self.aug
        n = image.shape[-1]
        bias = 1 + ndimage.zoom(rng.uniform(-a.bias, a.bias, size=(3, 3)), n / 3, order=3)[:n, :n]
        noisy = rician((image * bias).astype(np.float32), brain_mean / draw_snr(rng), rng)
        return (noisy * rng.uniform(*a.gain)).astype(np.float32)

    def scan(self, tissue: np.ndarray, protocol: Protocol, params: dict,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The clean normalised slice and the same slice as a scanner delivers it."""
        levels = template_levels(protocol, params)
        clean = self.render(tissue, protocol, params, levels.scale)
        return clean, self.corrupt(clean, rng, levels.brain_mean)
