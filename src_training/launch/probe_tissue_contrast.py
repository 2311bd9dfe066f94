"""Tissue contrast of translations against the truth: GM/WM and CSF/GM of the mean levels of pure
tissue (fraction above 0.9; GM and WM inside the brain mask, CSF wherever it is pure), on held-out
whole heads.

Why: v6's FLAIR has GM too dark and WM too bright in pure tissue, far from any edge, with the
source prompt or without (model history, "Tried after v6"). Ratios are taken of means, so they do
not depend on the image's scale, and the truth's own ratio varies with each case's tissue jitter.

    python src_training/launch/probe_tissue_contrast.py v6=demo [LABEL=MODEL ...] --first-case 6 --cases 12 --json OUT.json

``--field 3`` renders the targets at 3 T (the presets and the truth are 1.5 T otherwise).

``--select source`` takes the three tissues from the *source* instead of the truth's fractions:
multi-Otsu classes of the source inside the brain, named by the source's contrast (T1w: CSF, GM,
WM from dark to bright; T2w the other way round). Why: a translation that is the best estimate the
source allows has, over any set of pixels the source defines, the same mean as the truth; over
pixels chosen by the truth's own fractions it must look flatter, since the purest pixels cannot be
told from the source. If the ratios agree here and not there, the flattening is the selection's.
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit


#: source classes from dark to bright, by the source's kind
SOURCE_CLASSES = {"T1W": ("CSF", "GM", "WM"), "T2W": ("WM", "GM", "CSF")}


def truth_masks(case: dict) -> dict[str, np.ndarray]:
    """The case's pure GM, WM (lesions out) and CSF, from the truth's fractions."""
    brain = case["brain"]
    return {"GM": case["gm"] & brain, "WM": case["wm"] & brain & ~case["lesion"], "CSF": case["csf"]}


def source_masks(case: dict, kind: str) -> dict[str, np.ndarray]:
    """Three classes of the source inside the brain (multi-Otsu), named by the source's contrast."""
    from skimage.filters import threshold_multiotsu

    brain = case["brain"]
    source = case["src"].astype(np.float64)
    low, high = threshold_multiotsu(source[brain], classes=3)
    classes = (source < low, (source >= low) & (source < high), source >= high)
    return {name: mask & brain for name, mask in zip(SOURCE_CLASSES[kind], classes)}


def pure_means(image: np.ndarray, case: dict, masks: dict[str, np.ndarray]) -> dict[str, float]:
    """Brain-normalised means of ``image`` over each tissue's mask."""
    from napari_evai2i.train.robustness import brain_normalised

    x = brain_normalised(image, case["brain"])
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
    parser.add_argument("--select", choices=("truth", "source"), default="truth",
                        help="take the tissues from the truth's fractions (pure: above 0.9) or from the source")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    translators = {spec.split("=", 1)[0]: load_model(spec.split("=", 1)[1], "cpu") for spec in args.models}
    report: dict = {"setting": f"whole head, targets at {args.field:g} T", "tissues from": args.select, "cases":
                    f"{args.first_case}-{args.first_case + args.cases - 1}", "tasks": {}}
    presets = robustness.PRESETS
    for task, (src, tgt) in ((t, TASKS[t]) for t in args.tasks):
        robustness.PRESETS = {**presets, tgt: presets[tgt].replace(field_strength=args.field)}
        try:
            rows: dict[str, list] = {"truth": []}
            for i in range(args.first_case, args.first_case + args.cases):
                case = HeldOutCase(i, CASE_SIZE).render(src, tgt, whole_head=True)
                masks = truth_masks(case) if args.select == "truth" else source_masks(case, src)
                rows["truth"].append(ratios(pure_means(case["tgt"], case, masks)))
                for label, translator in translators.items():
                    for prompt in (False, True):
                        key = f"{label}, {'source prompt' if prompt else 'no source prompt'}"
                        rows.setdefault(key, []).append(ratios(pure_means(_translate(translator, case, prompt), case,
                                                                          masks)))
        finally:
            robustness.PRESETS = presets
        report["tasks"][task] = {key: {name: round(float(np.nanmean([r[name] for r in values])), 3)
                                       for name in values[0]} for key, values in rows.items()}
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
