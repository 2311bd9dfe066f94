"""The normalisation rules on the same brain with and without a head (docs/data.md, section 4b).

    python src_training/prepare/normalisation_check.py

Renders the unwarped 2 mm template brain alone and inside the thickest head of the generator
(every shell at the top of its range) under each preset at 1.5 T, adds Rician noise, and
prints JSON lines: for each rule, the normalised brain median of the head divided by that of
the brain alone (1.00 = the head does not move the brain).

    python src_training/prepare/normalisation_check.py --held-out [CASES]

instead finds the brain-core level of the robustness suite's held-out inputs (4 source
contrasts x the suite's 7 distinct inputs x CASES cases, default 12), which the generator rendered at level 0.5,
and prints one JSON line per contrast and setting: the lowest and highest found/rendered
ratio and how many inputs are more than 25 % off, then the total.

    python src_training/prepare/normalisation_check.py --volumes [CASES]

finds the level of whole held-out volumes (the volume suite's, rendered at level 0.5; CASES
default 4) and of lone slices cut from them (every 8th slice along each axis that holds at least
a fifth of the axis's largest brain section): the engine fits a volume on the whole, and a lone
2-D image on itself (docs/data.md, section 4b). One JSON line per contrast.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from napari_evai2i.data.head import ALL_TISSUE_NAMES, template_head
from napari_evai2i.data.noise import rician
from napari_evai2i.data.physics import PRESETS, all_tissue_parameters
from napari_evai2i.engine.normalization import BRAIN_LEVEL, MR_RULES, brain_core_level, fit_intensity_scale

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


def held_out(cases: int) -> None:
    from napari_evai2i.train.robustness import CASE_SIZE, HELD_OUT_SETTINGS, HeldOutCase

    settings = {}               # one per distinct input: the suite's settings differ also by the prompt
    for name, (kwargs, _) in HELD_OUT_SETTINGS.items():
        settings.setdefault(tuple(sorted(kwargs.items())), (name.rsplit(", ", 1)[0], kwargs))
    off = total = 0
    for kind in ("T1W", "T2W", "FLAIR", "PDW"):
        for name, kwargs in settings.values():
            ratios = []
            for i in range(cases):
                case = HeldOutCase(i, CASE_SIZE).render(kind, "T1W", **kwargs)
                ratios.append(brain_core_level(case["src"], (case["pixel_mm"],) * 2) / BRAIN_LEVEL)
            ratios = np.array(ratios)
            n_off = int((np.abs(np.log(ratios)) > np.log(1.25)).sum())
            off, total = off + n_off, total + cases
            print(json.dumps({"contrast": kind, "setting": name, "min": round(float(ratios.min()), 2),
                              "max": round(float(ratios.max()), 2), "off_by_over_25_percent": n_off}), flush=True)
    print(json.dumps({"inputs": total, "off_by_over_25_percent": off}))


def volume_and_slice_levels(case: int, kind: str, size: int = 176, step: int = 8) -> tuple[float, list[float]]:
    """Found/rendered level of one held-out volume as a whole, and of lone slices cut from it."""
    from napari_evai2i.train.volume_quality import held_out_volume

    volume = held_out_volume(case, kind, "T1W", size=size, depth_mm=size)
    source, brain = volume["src"], volume["brain"]
    whole = brain_core_level(source, (1.0, 1.0, 1.0)) / BRAIN_LEVEL
    lone = []
    for axis in range(3):
        area = brain.sum(axis=tuple(a for a in range(3) if a != axis))
        for index in range(0, source.shape[axis], step):
            if area[index] >= 0.2 * area.max():
                lone.append(brain_core_level(np.take(source, index, axis=axis), (1.0, 1.0)) / BRAIN_LEVEL)
    return whole, lone


def volumes(cases: int) -> None:
    for kind in ("T1W", "T2W", "FLAIR", "PDW"):
        wholes, lone = [], []
        for i in range(cases):
            whole, slices = volume_and_slice_levels(i, kind)
            wholes.append(whole)
            lone += slices
        logs = np.log(lone)
        print(json.dumps({"contrast": kind, "volumes": [round(v, 3) for v in wholes], "lone_slices": len(lone),
                          "lone_min": round(float(np.min(lone)), 2), "lone_max": round(float(np.max(lone)), 2),
                          "lone_log_sd": round(float(logs.std()), 3),
                          "lone_off_by_over_10_percent": int((np.abs(logs) > np.log(1.1)).sum())}), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--held-out"]:
        held_out(int(sys.argv[2]) if len(sys.argv) > 2 else 12)
    elif sys.argv[1:2] == ["--volumes"]:
        volumes(int(sys.argv[2]) if len(sys.argv) > 2 else 4)
    else:
        main()
