"""The sample subject shipped with the plugin: made locally, nothing downloaded.

One simulated brain (MNI152 anatomy from the nilearn wheel, fixed seed) scanned as T1w
(bias field and Rician noise, like a real scan), with T2w and FLAIR of the very same
anatomy as ground truth. The ground truths carry no bias field and no noise: they are
what a translation is trained to produce (no model can predict another scan's noise), so
PSNR/SSIM against them measure the translation, as in the evaluation. Every volume is
marked as simulated in its tags.
"""

from __future__ import annotations

import functools

from ..io import Volume
from .physics import PRESETS
from .simulator import simulate_pair

SAMPLE_SEED = 2024
SAMPLE_CONTRASTS = ("T1W", "T2W", "FLAIR")
SIMULATED_NOTICE = "SIMULATED image (MR signal equations on the MNI152 template), not an acquired scan"


@functools.lru_cache(maxsize=2)
def sample_volumes(resolution_mm: int = 1) -> dict[str, Volume]:
    """{"T1W": ..., "T2W": ..., "FLAIR": ...} volumes of one simulated subject (cached)."""
    protocols = [PRESETS[k] for k in SAMPLE_CONTRASTS]
    source = simulate_pair(protocols, seed=SAMPLE_SEED, resolution_mm=resolution_mm)[0]
    # Same seed: same warp and tissue jitter, so the same anatomy voxel for voxel.
    truths = simulate_pair(protocols, seed=SAMPLE_SEED, resolution_mm=resolution_mm,
                           noise_snr=None, bias_field=False)[1:]
    volumes = {}
    for kind, scan in zip(SAMPLE_CONTRASTS, [source, *truths]):
        volume = scan.to_volume()
        volume.tags["ImageComments"] = SIMULATED_NOTICE
        volumes[kind] = volume
    return volumes
