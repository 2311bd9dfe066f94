"""Per-case tissue Dice of one task of the volume suite, for two or more models side by side.

Why: the volume suite reports means over 3 cases. From v5 to v6, T1w->PDw on 5 mm slices lost
0.25 of CSF Dice while SSIM rose; this prints each case's Dice and where the 3-class multi-Otsu
segmentation splits the translation and the truth, so a threshold that moved can be told from
tissue that got worse.

    python src_training/launch/probe_volume_case_dice.py v5=runs/demo_v5 v6=demo \
        --task "T1w->PDw" --thick --json OUT.json

Same cases, engine and scoring as ``--suite volume`` (``train/volume_quality.py``), one plane.
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit


def segmentation(image: np.ndarray, brain: np.ndarray) -> dict:
    """Where multi-Otsu splits a brain-normalised image: thresholds, each class's share of brain
    voxels (darkest first), the darkest class's share within 2 voxels of the mask's edge, and the
    0.5th percentile (a few dark voxels can claim a whole class on a narrow histogram)."""
    from scipy import ndimage
    from skimage.filters import threshold_multiotsu

    from napari_evai2i.train.robustness import brain_normalised

    values = brain_normalised(image, brain)
    thresholds = threshold_multiotsu(values[brain], classes=3)
    labels = np.digitize(values[brain], thresholds)
    edge = (brain & ~ndimage.binary_erosion(brain, iterations=2))[brain]
    darkest = labels == 0
    return {"thresholds": [round(float(t), 4) for t in thresholds],
            "class_shares": [round(float(np.mean(labels == k)), 3) for k in range(3)],
            "darkest_class_at_edge": round(float(np.mean(edge[darkest])) if darkest.any() else 0.0, 3),
            "percentile_0.5": round(float(np.percentile(values[brain], 0.5)), 4)}


def main(argv: list[str] | None = None) -> int:
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.robustness import class_dice
    from napari_evai2i.train.volume_quality import TASKS, _translate, held_out_volume, thick_slices, tissue_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--task", default="T1w->PDw", choices=sorted(TASKS))
    parser.add_argument("--thick", action="store_true", help="the 1 x 1 x 5 mm variant")
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    src, tgt = TASKS[args.task]
    report = {"task": args.task, "geometry": "1 x 1 x 5 mm" if args.thick else "1 x 1 x 1 mm",
              "classes_darkest_first": list(tissue_names(tgt)), "cases": []}
    cases = []
    for i in range(args.cases):
        case = held_out_volume(i, src, tgt)
        spacing = (1.0, 1.0, 1.0)
        if args.thick:
            case, spacing = thick_slices(case), (5.0, 1.0, 1.0)
        cases.append((case, spacing))
        report["cases"].append({"case": i, "plane": case["plane"], "truth": segmentation(case["tgt"], case["brain"])})
    for spec in args.models:
        label, model = spec.split("=", 1)
        translator = load_model(model, "cpu")
        for entry, (case, spacing) in zip(report["cases"], cases):
            result, _ = _translate(translator, case, spacing, planes=1)
            pred = result.volume.array
            entry[label] = {"dice": {k: round(v, 3) for k, v in class_dice(pred, case["tgt"], case["brain"]).items()},
                            **segmentation(pred, case["brain"])}
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
