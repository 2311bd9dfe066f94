"""Tissue contrast of translations against the truth: GM/WM and CSF/GM of the mean levels of pure
tissue (fraction above 0.9; GM and WM inside the brain mask, CSF wherever it is pure), on held-out
whole heads.

Why: v6's FLAIR has GM too dark and WM too bright in pure tissue, far from any edge, with the
source prompt or without (model card, "Tried after v6"). Ratios are taken of means, so they do
not depend on the image's scale, and the truth's own ratio varies with each case's tissue jitter.

    python src_training/launch/probe_tissue_contrast.py v6=demo [LABEL=MODEL ...] --first-case 6 --cases 12 --json OUT.json

``--field 3`` renders the targets at 3 T (the presets and the truth are 1.5 T otherwise).
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit


def pure_means(image: np.ndarray, case: dict) -> dict[str, float]:
    """Brain-normalised means of ``image`` over the case's pure GM, WM (lesions out) and CSF."""
    from napari_evai2i.train.robustness import brain_normalised

    brain = case["brain"]
    x = brain_normalised(image, brain)
    masks = {"GM": case["gm"] & brain, "WM": case["wm"] & brain & ~case["lesion"], "CSF": case["csf"]}
    return {name: float(x[m].mean()) if m.sum() >= 5 else float("nan") for name, m in masks.items()}


def ratios(means: dict[str, float]) -> dict[str, float]:
    return {"GM/WM": means["GM"] / means["WM"], "CSF/GM": means["CSF"] / means["GM"]}


def main(argv: list[str] | None = None) -> int:
    from napari_evai2i.engine import load_model
    from napari_evai2i.train import robustness
    from napari_evai2i.train.robustness import CASE_SIZE, TASKS, HeldOutCase, _translate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--field", type=float, default=1.5, help="field strength of the targets (T)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    translators = {spec.split("=", 1)[0]: load_model(spec.split("=", 1)[1], "cpu") for spec in args.models}
    report: dict = {"setting": f"whole head, targets at {args.field:g} T", "cases":
                    f"{args.first_case}-{args.first_case + args.cases - 1}", "tasks": {}}
    presets = robustness.PRESETS
    for task, (src, tgt) in ((t, TASKS[t]) for t in args.tasks):
        robustness.PRESETS = {**presets, tgt: presets[tgt].replace(field_strength=args.field)}
        try:
            rows: dict[str, list] = {"truth": []}
            for i in range(args.first_case, args.first_case + args.cases):
                case = HeldOutCase(i, CASE_SIZE).render(src, tgt, whole_head=True)
                rows["truth"].append(ratios(pure_means(case["tgt"], case)))
                for label, translator in translators.items():
                    for prompt in (False, True):
                        key = f"{label}, {'source prompt' if prompt else 'no source prompt'}"
                        rows.setdefault(key, []).append(ratios(pure_means(_translate(translator, case, prompt), case)))
        finally:
            robustness.PRESETS = presets
        report["tasks"][task] = {key: {name: round(float(np.nanmean([r[name] for r in values])), 3)
                                       for name in values[0]} for key, values in rows.items()}
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
