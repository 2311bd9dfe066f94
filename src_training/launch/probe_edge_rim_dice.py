"""How much of the held-out tissue Dice gap the brain's edge costs: scores inside the brain mask
and inside the same mask eroded by 2 pixels, for models and for the anatomy-exact yardstick.

Why: per case, v5 and v6 draw a thin rim at the brain mask's edge darker than the truth on FLAIR,
T1w and PDw targets (docs/quality.md, the volume suite), and 3-class multi-Otsu can give that rim a
class of its own. If Dice rises much more for a model than for the yardstick once the rim is left
out, the rim explains that part of the model's gap.

    python src_training/launch/probe_edge_rim_dice.py v6=demo --first-case 6 --cases 24 --json OUT.json

Whole heads, no source prompt (the suite's first setting; ``--source-prompt`` gives the true one),
the held-out suite's cases and engine. ``--per-case`` keeps each case's Dice and inner Dice
(``confirm_inner_dice.sh`` compares two models case by case).
Also reports the mean signed error (translation minus truth, brain-normalised) in the 2-pixel rim,
inside it, and inside it per class of the truth's own 3-class multi-Otsu (darkest first).
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit


def edge_scores(pred: np.ndarray, truth: np.ndarray, brain: np.ndarray) -> dict[str, float]:
    from scipy import ndimage

    from napari_evai2i.train.robustness import brain_normalised, tissue_dice

    from skimage.filters import threshold_multiotsu

    inner = ndimage.binary_erosion(brain, iterations=2)
    rim = brain & ~inner
    p, t = brain_normalised(pred, brain), brain_normalised(truth, brain)
    truth_class = np.digitize(t, threshold_multiotsu(t[inner], classes=3))
    by_class = {f"error_inner_truth_class{k}": float((p - t)[inner & (truth_class == k)].mean()) for k in range(3)}
    return {"dice": tissue_dice(pred, truth, brain), "dice_inner": tissue_dice(pred, truth, inner),
            "error_rim": float((p - t)[rim].mean()), "error_inner": float((p - t)[inner].mean()), **by_class}


def main(argv: list[str] | None = None) -> int:
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.robustness import CASE_SIZE, TASKS, HeldOutCase, _translate, mean_scores, per_case_scores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--source-prompt", action="store_true", help="give the true source prompt")
    parser.add_argument("--per-case", action="store_true",
                        help="also keep each case's Dice and inner Dice, for paired comparisons")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    translators = {spec.split("=", 1)[0]: load_model(spec.split("=", 1)[1], "cpu") for spec in args.models}
    report: dict = {"setting": "whole head, " + ("source prompt" if args.source_prompt else "no source prompt"),
                    "cases": f"{args.first_case}-{args.first_case + args.cases - 1}", "tasks": {}}
    for task, (src, tgt) in TASKS.items():
        rows: dict[str, list] = {label: [] for label in ["yardstick", *translators]}
        for i in range(args.first_case, args.first_case + args.cases):
            case = HeldOutCase(i, CASE_SIZE).render(src, tgt, whole_head=True, textbook_target=True)
            rows["yardstick"].append(edge_scores(case["tgt_textbook"], case["tgt"], case["brain"]))
            for label, translator in translators.items():
                rows[label].append(edge_scores(_translate(translator, case, args.source_prompt), case["tgt"], case["brain"]))
        report["tasks"][task] = {label: mean_scores(r) for label, r in rows.items()}
        if args.per_case:
            for label, r in rows.items():
                report["tasks"][task][label]["per_case"] = per_case_scores(r, ("dice", "dice_inner"))
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
