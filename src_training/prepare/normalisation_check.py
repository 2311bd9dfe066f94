"""The normalisation rules on the same brain with and without a head (docs/data.md, section 4b).

    python src_training/prepare/normalisation_check.py

Renders the unwarped 2 mm template brain alone and inside the thickest head of the generator
(every shell at the top of its range) under each preset at 1.5 T, adds Rician noise, and
prints JSON lines: for each rule, the normalised brain median of the head divided by that of
the brain alone (1.00 = the head does not move the brain).
"""

from __future__ import annotations

import json

import numpy as np
import torch

from napari_evai2i.data.head import ALL_TISSUE_NAMES, template_head
from napari_evai2i.data.noise import rician
from napari_evai2i.data.physics import PRESETS, all_tissue_parameters
from napari_evai2i.engine.normalization import MR_RULES, fit_intensity_scale

THICK_HEAD = np.array([4, 2.5, 5, 2.5, 5, 7, 3], np.float32)


def main() -> None:
    only, spacing = template_head(whole_head=False)
    head, _ = template_head(THICK_HEAD)
    brain = only.sum(0).numpy() > 0.5
    params = all_tissue_parameters(1.5)
    for kind in ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE"):
        signals = PRESETS[kind].tissue_signals(params)
        vector = torch.tensor([signals[n] for n in ALL_TISSUE_NAMES])
        clean_a = torch.tensordot(vector, only, 1).numpy()
        clean_b = torch.tensordot(vector, head, 1).numpy()
        for snr in (None, 20.0, 10.0, 5.0):
            rng = np.random.default_rng(0)
            sigma = float(clean_a[brain].mean()) / snr if snr else 0.0
            a = rician(clean_a, sigma, rng) if snr else clean_a
            b = rician(clean_b, sigma, rng) if snr else clean_b
            row = {"contrast": kind, "snr": snr}
            for rule in MR_RULES:
                na = fit_intensity_scale(a, "MR", rule, spacing).normalize(a)[brain]
                nb = fit_intensity_scale(b, "MR", rule, spacing).normalize(b)[brain]
                row[rule] = round(float(np.median(nb) / np.median(na)), 3)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
