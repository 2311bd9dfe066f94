"""Are a model's translations as sharp as the truth? Gradient energy inside the brain, against the truth's.

The plain-sources models stay below v4 on held-out whole heads with 2 mm pixels in SSIM while
their tissue Dice there is level or higher, so the loss is in texture rather than in which tissue
is which. This probe renders the robustness suite's held-out cases of one setting (whole head,
no source prompt, the pixel size given) and reports, per model and task, SSIM and the mean
gradient magnitude of the brain-normalised translation over the truth's (1: as sharp as the
truth; above: edges or noise the truth does not have; below: blur).

``--output-blur S [...]`` also scores each translation after a Gaussian blur of S pixels: if
blurring an over-sharp model's output brings its SSIM up to another model's, the gap between them
is texture; if not, it is something a blur cannot undo.

    python src_training/launch/probe_output_sharpness.py LABEL=MODEL [...] [--pixel-mm 2] [--output-blur 0.5 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from napari_evai2i.engine import load_model
from napari_evai2i.train.robustness import CASE_SIZE, TASKS, HeldOutCase, _translate, brain_normalised, slice_scores


def gradient_energy(image: np.ndarray, mask: np.ndarray) -> float:
    rows, cols = np.gradient(image)
    return float(np.hypot(rows, cols)[mask].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a shipped name or a checkpoint folder)")
    parser.add_argument("--pixel-mm", type=float, default=2.0)
    parser.add_argument("--tasks", nargs="+", default=["T2w->T1w", "T1w->FLAIR"], choices=list(TASKS))
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--output-blur", type=float, nargs="*", default=[],
                        help="Gaussian sigmas (pixels) to blur each translation with before scoring it again")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases = {task: [HeldOutCase(i, CASE_SIZE).render(*TASKS[task], whole_head=True, pixel_mm=args.pixel_mm)
                    for i in range(args.cases)] for task in args.tasks}
    sigmas = [0.0] + [s for s in args.output_blur if s > 0]
    record: dict = {"setting": f"whole head, {args.pixel_mm:g} mm pixels, no source prompt", "models": {}}
    for item in args.models:
        label, _, model = item.partition("=")
        translator = load_model(model or label, device="cpu")
        record["models"][label] = {}
        for task, rendered in cases.items():
            ssims: dict[float, list[float]] = {sigma: [] for sigma in sigmas}
            ratios: dict[float, list[float]] = {sigma: [] for sigma in sigmas}
            for case in rendered:
                brain = case["brain"] > 0.5
                truth_energy = gradient_energy(brain_normalised(case["tgt"], case["brain"]), brain)
                translated = _translate(translator, case, False)
                for sigma in sigmas:
                    pred = gaussian_filter(translated, sigma) if sigma else translated
                    ssims[sigma].append(slice_scores(pred, case["tgt"], case["brain"])["ssim"])
                    ratios[sigma].append(gradient_energy(brain_normalised(pred, case["brain"]), brain) / truth_energy)
            entry = {"ssim": round(float(np.mean(ssims[0.0])), 4), "gradient_ratio": round(float(np.mean(ratios[0.0])), 3),
                     "gradient_ratio_range": [round(min(ratios[0.0]), 3), round(max(ratios[0.0]), 3)]}
            if len(sigmas) > 1:
                entry["output_blur"] = {f"{sigma:g}": {"ssim": round(float(np.mean(ssims[sigma])), 4),
                                                      "gradient_ratio": round(float(np.mean(ratios[sigma])), 3)}
                                        for sigma in sigmas[1:]}
            record["models"][label][task] = entry
            print(f"{label:>10} {task:>11}: SSIM {entry['ssim']:.3f}, gradient energy / truth "
                  f"{entry['gradient_ratio']:.2f} ({entry['gradient_ratio_range'][0]:.2f}-{entry['gradient_ratio_range'][1]:.2f})")
            for sigma, blurred in entry.get("output_blur", {}).items():
                print(f"{'':>10} {'':>11}  blurred {sigma} px: SSIM {blurred['ssim']:.3f}, "
                      f"gradient energy / truth {blurred['gradient_ratio']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
