"""Difference maps and image-quality metrics between a translation and a reference.

Everything is computed on volumes normalised with their own :func:`fit_intensity_scale`
(the scale the network itself sees), so a difference of 0.1 means 10% of each volume's
bright-tissue level whatever the scanner units. PSNR and SSIM come from torchmetrics;
SSIM is the 2-D index averaged over slices (as in the I2I literature), which also works for
thin slabs. LPIPS is reported only when its AlexNet backbone is already on disk -- it is
never downloaded.
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


def compare(translation: np.ndarray, reference: np.ndarray, axis: int = 0) -> Comparison:
    """PSNR/SSIM (and LPIPS if possible) of normalised volumes, slices taken along ``axis``."""
    import torch
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    if np.shape(translation) != np.shape(reference):
        raise ValueError(f"the reference has shape {np.shape(reference)} but the translation "
                         f"{np.shape(translation)}: pick a reference of the same grid")
    pred = _as_slices(normalised(translation), axis)
    target = _as_slices(normalised(reference), axis)
    data_range = float(max(target.max() - target.min(), 1e-6))
    psnr = float(peak_signal_noise_ratio(torch.from_numpy(pred), torch.from_numpy(target), data_range=data_range))
    kernel = _ssim_kernel(pred.shape[-2:])
    total, weight = 0.0, 0
    for start in range(0, pred.shape[0], SSIM_CHUNK_SLICES):
        p = torch.from_numpy(pred[start:start + SSIM_CHUNK_SLICES, None])
        t = torch.from_numpy(target[start:start + SSIM_CHUNK_SLICES, None])
        value = structural_similarity_index_measure(p, t, data_range=data_range, kernel_size=kernel)
        total += float(value) * p.shape[0]
        weight += p.shape[0]
    return Comparison(psnr=psnr, ssim=total / weight, lpips=_lpips(pred, target))


def _as_slices(volume: np.ndarray, axis: int) -> np.ndarray:
    volume = volume[np.newaxis] if volume.ndim == 2 else volume
    return np.ascontiguousarray(np.moveaxis(volume, axis, 0), dtype=np.float32)


def _ssim_kernel(shape: tuple[int, int]) -> int:
    """The usual 11-pixel window, shrunk (odd) for tiny slices."""
    size = min(11, *shape)
    return max(3, size if size % 2 else size - 1)


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
