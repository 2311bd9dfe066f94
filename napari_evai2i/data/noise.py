"""The noise of a magnitude MR image, one model for simulated volumes and training slices.

A magnitude image is ``|s + n1 + i n2|`` with ``n1, n2 ~ N(0, sigma)`` on the real and
imaginary channels (Rician noise). The signal-to-noise ratio is the mean signal inside the
brain over ``sigma``; a random one is drawn log-uniformly in :data:`SNR_RANGE`. The volume
simulator and the slice augmentation both call these functions, so a model is trained on the
noise it is evaluated on.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SNR_RANGE", "draw_snr", "rician"]

#: SNR range (mean brain signal / noise sigma) of random noise, drawn log-uniformly.
SNR_RANGE = (12.0, 60.0)


def draw_snr(rng: np.random.Generator) -> float:
    """A random SNR, log-uniform in :data:`SNR_RANGE` (one uniform draw from ``rng``)."""
    return float(math.exp(rng.uniform(math.log(SNR_RANGE[0]), math.log(SNR_RANGE[1]))))


def rician(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``sqrt((image + n1)^2 + n2^2)`` as a new float32 array, ``n1, n2 ~ N(0, sigma)``.

    Noise covers every pixel, background included, as in a real magnitude image. Computed in
    place on float32 draws: a whole 1 mm volume needs no float64 temporaries.
    """
    sigma = np.float32(sigma)
    n1 = rng.standard_normal(image.shape, dtype=np.float32)
    n1 *= sigma
    n1 += image
    np.square(n1, out=n1)
    n2 = rng.standard_normal(image.shape, dtype=np.float32)
    n2 *= sigma
    np.square(n2, out=n2)
    n1 += n2
    return np.sqrt(n1, out=n1)
