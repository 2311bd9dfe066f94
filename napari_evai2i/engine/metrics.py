"""Image-quality metrics and difference maps between a translation and a reference.

One implementation of PSNR and SSIM for the widget's comparison and the model evaluation:
:func:`psnr` and :func:`ssim` take an explicit ``data_range`` and an optional ``mask`` (the
voxels that count). SSIM is the 2-D index (torchmetrics, 11-pixel Gaussian window) of every
slice along ``axis``, averaged over the counted voxels (as in the I2I literature), which also
works for thin slabs. :func:`compare` scores volumes normalised with their own
:func:`fit_intensity_scale` (the scale the network itself sees) over the whole field of view
with the reference's range; the evaluation scores inside the brain with range 1. LPIPS is
reported only when its AlexNet backbone is already on disk -- it is never downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .normalization import fit_intensity_scale

LPIPS_BACKBONE_FILE = "alexnet-owt-7be5be79.pth"
SSIM_CHUNK_SLICES = 32
LPIPS_MAX_SLICES = 16


@dataclass(frozen=True)
class Comparison:
    """PSNR (dB) and SSIM of a translation against a reference; LPIPS when available."""

    psnr: float
    ssim: float
    lpips: float | None

    def summary(self) -> str:
        lpips = f"{self.lpips:.3f}" if self.lpips is not None else "weights not available"
        return f"PSNR: {self.psnr:.2f} dB   SSIM: {self.ssim:.3f}   LPIPS: {lpips}"


def normalised(volume: np.ndarray, modality: str = "MR") -> np.ndarray:
    """``volume`` in the network's normalised units (float32 copy)."""
    return fit_intensity_scale(volume, modality).normalize(volume)


def difference_map(translation: np.ndarray, source: np.ndarray) -> np.ndarray:
    """translation - source, each normalised by its own scale (float32)."""
    if np.shape(translation) != np.shape(source):
        raise ValueError(f"cannot subtract volumes of shapes {np.shape(translation)} and {np.shape(source)}")
    return normalised(translation) - normalised(source)


def absolute_difference(translation: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|translation - reference| in normalised units."""
    return np.abs(difference_map(translation, reference))


def symmetric_limits(difference: np.ndarray, percentile: float = 99.5) -> tuple[float, float]:
    """(-m, m) with m a high percentile of |difference|: zero sits in a diverging map's middle."""
    magnitude = np.abs(np.asarray(difference, dtype=np.float32))
    step = max(1, magnitude.size // 2_000_000)
    m = float(np.percentile(magnitude.reshape(-1)[::step], percentile)) if magnitude.size else 0.0
    m = m if m > 1e-6 else max(float(magnitude.max(initial=0.0)), 1e-6)
    return -m, m


def psnr(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None) -> float:
    """``10 log10(data_range^2 / MSE)`` in dB, the MSE over ``mask`` (every voxel when None)."""
    diff = np.asarray(pred, dtype=np.float32) - np.asarray(target, dtype=np.float32)
    mse = float(np.mean((diff[mask] if mask is not None else diff) ** 2))
    return float(10 * np.log10(data_range ** 2 / max(mse, 1e-12)))


def ssim(pred: np.ndarray, target: np.ndarray, data_range: float, mask: np.ndarray | None = None,
         axis: int = 0) -> float:
    """Mean 2-D SSIM over ``mask`` (every voxel when None), slices taken along ``axis``.

    The SSIM map of each slice is computed in chunks of slices (memory stays small for 1 mm
    volumes); slices without a counted voxel are skipped.
    """
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    p, t = _as_slices(pred, axis), _as_slices(target, axis)
    counted = np.ones(p.shape, dtype=bool) if mask is None else _as_slices(mask, axis).astype(bool)
    keep = np.flatnonzero(counted.any(axis=(1, 2)))
    total, count = 0.0, 0
    for start in range(0, keep.size, SSIM_CHUNK_SLICES):
        index = keep[start:start + SSIM_CHUNK_SLICES]
        _, full = structural_similarity_index_measure(
            torch.from_numpy(p[index][:, None]), torch.from_numpy(t[index][:, None]),
            data_range=float(data_range), return_full_image=True)
        values = full[:, 0].numpy()[counted[index]]
        total += float(values.sum(dtype=np.float64))
        count += values.size
    return total / count if count else float("nan")


def compare(translation: np.ndarray, reference: np.ndarray, axis: int = 0) -> Comparison:
    """PSNR/SSIM (and LPIPS if possible) of normalised volumes, slices taken along ``axis``.

    Every voxel counts, and the data range is the normalised reference's own range.
    """
    if np.shape(translation) != np.shape(reference):
        raise ValueError(f"the reference has shape {np.shape(reference)} but the translation "
                         f"{np.shape(translation)}: pick a reference of the same grid")
    pred = _as_slices(normalised(translation), axis)
    target = _as_slices(normalised(reference), axis)
    data_range = float(max(target.max() - target.min(), 1e-6))
    return Comparison(psnr=psnr(pred, target, data_range), ssim=ssim(pred, target, data_range),
                      lpips=_lpips(pred, target))


def _as_slices(volume: np.ndarray, axis: int) -> np.ndarray:
    volume = volume[np.newaxis] if volume.ndim == 2 else volume
    return np.ascontiguousarray(np.moveaxis(volume, axis, 0), dtype=np.float32)


def lpips_weights_available() -> bool:
    """True when LPIPS's AlexNet backbone is in torch's hub cache (we never download it)."""
    try:
        import lpips  # noqa: F401
        import torch
    except ImportError:
        return False
    return (Path(torch.hub.get_dir()) / "checkpoints" / LPIPS_BACKBONE_FILE).is_file()


def _lpips(pred: np.ndarray, target: np.ndarray) -> float | None:
    if not lpips_weights_available():
        return None
    import lpips
    import torch

    index = np.unique(np.linspace(0, pred.shape[0] - 1, min(LPIPS_MAX_SLICES, pred.shape[0])).astype(int))
    metric = lpips.LPIPS(net="alex", verbose=False)

    def to_rgb(x: np.ndarray) -> torch.Tensor:          # LPIPS wants 3 channels in [-1, 1]
        t = torch.from_numpy(np.clip(x[index], 0, 1.5) / 0.75 - 1.0)[:, None]
        return t.expand(-1, 3, -1, -1)

    with torch.inference_mode():
        return float(metric(to_rgb(pred), to_rgb(target)).mean())
