"""Does the air around a head change how a model draws the head? And does the head box undo it?

The generator's global context averages its features over the whole slice. A held-out whole
head with 1 mm pixels (160 x 160, the head filling the slice) is translated as it is, then
padded on every side with air (Rician noise at the case's noise level), without and with the
engine's head box (``engine/planes.py`` ``head_box``); last, the same heads with 2 mm pixels,
which the engine translates on its 1 mm working grid with all their air. SSIM inside the brain,
mean over the cases, no source prompt.

    python src_training/launch/probe_air_around_head.py LABEL=MODEL [...] [--first-case 6] [--cases 12] [--pad 80] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from napari_evai2i.engine import load_model
from napari_evai2i.train.robustness import CASE_SIZE, COARSE_MM, TASKS, HeldOutCase, slice_scores


def padded_with_air(image: np.ndarray, pad: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    size = (image.shape[0] + 2 * pad, image.shape[1] + 2 * pad)
    air = np.hypot(rng.normal(0, sigma, size), rng.normal(0, sigma, size)).astype(np.float32)
    air[pad:pad + image.shape[0], pad:pad + image.shape[1]] = image
    return air


def score(pred: np.ndarray, case: dict) -> float:
    return slice_scores(pred, case["tgt"], case["brain"])["ssim"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a shipped name or a checkpoint folder)")
    parser.add_argument("--tasks", nargs="+", default=["T2w->T1w", "T1w->FLAIR"], choices=list(TASKS))
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--pad", type=int, default=80, help="pixels of air added on every side")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    indices = range(args.first_case, args.first_case + args.cases)
    record: dict = {"cases": [indices.start, indices.stop - 1], "pad": args.pad, "models": {}}
    for item in args.models:
        label, _, model = item.partition("=")
        translator = load_model(model or label, device="cpu")
        record["models"][label] = {}
        for task in args.tasks:
            rows: dict[str, list[float]] = {"1 mm": [], "1 mm in air": [], "1 mm in air, head box": [],
                                            "2 mm, whole slice": [], "2 mm, head box": []}
            for i in indices:
                fine = HeldOutCase(i, CASE_SIZE).render(*TASKS[task], whole_head=True)
                coarse = HeldOutCase(i, CASE_SIZE).render(*TASKS[task], whole_head=True, pixel_mm=COARSE_MM)
                target = fine["tgt_protocol"].prompt(fine["plane"])
                air = padded_with_air(fine["src"], args.pad, np.random.default_rng(i), sigma=0.5 / 30)
                inner = (slice(args.pad, args.pad + CASE_SIZE),) * 2

                rows["1 mm"].append(score(translator.translate(fine["src"], target, crop_to_head=False), fine))
                rows["1 mm in air"].append(score(translator.translate(air, target, crop_to_head=False)[inner], fine))
                rows["1 mm in air, head box"].append(score(translator.translate(air, target)[inner], fine))
                two = (COARSE_MM, COARSE_MM)
                rows["2 mm, whole slice"].append(
                    score(translator.translate(coarse["src"], target, spacing=two, crop_to_head=False), coarse))
                rows["2 mm, head box"].append(score(translator.translate(coarse["src"], target, spacing=two), coarse))
            entry = {name: round(float(np.mean(values)), 4) for name, values in rows.items()}
            record["models"][label][task] = entry
            print(f"{label:>10} {task:>11}: " + ", ".join(f"{k} {v:.3f}" for k, v in entry.items()))
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
