"""The sample subject shipped with the plugin: made locally, nothing downloaded.

One simulated brain (MNI152 anatomy from the nilearn wheel, fixed seed) scanned as T1w,
with T2w and FLAIR of the very same anatomy as ground truth. Every volume is marked as
simulated in its tags.
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
    scans = simulate_pair([PRESETS[k] for k in SAMPLE_CONTRASTS], seed=SAMPLE_SEED,
                          resolution_mm=resolution_mm)
    volumes = {}
    for kind, scan in zip(SAMPLE_CONTRASTS, scans):
        volume = scan.to_volume()
        volume.tags["ImageComments"] = SIMULATED_NOTICE
        volumes[kind] = volume
    return volumes
