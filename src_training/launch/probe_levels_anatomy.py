"""Where a translation's SSIM goes: the levels it gives each tissue, where it draws them, and a lone slice's normalisation.

A held-out target slice is exactly its tissue fractions times the tissue signals. Regressing a
translation on the same fractions (GM, WM, CSF, and the rest together) splits it into the level
it gives each tissue and a residual: boundaries, partial volume and texture drawn differently
from the truth. Two swaps then score each part alone against the truth, inside the brain:

* **levels only**: the truth's anatomy drawn at the translation's levels;
* **anatomy only**: the translation's residual added to the truth's own levels.

A third score asks what the engine's normalisation of a lone slice costs: **source at its
training level** translates the source normalised as training normalised it (a held-out source
is rendered at that level, so its scale is 1) instead of by the rule fitted to the slice alone,
whose brain-core median moves with what the slice holds. Each case's fitted scale is recorded
(``engine_scale``; 1 is the training level), with every case's scores (``per_case``).

Why: a model whose loss is mostly in its levels needs the prompt's contrast taught better; one
whose loss is mostly in its anatomy needs to read the source's structure better, and no contrast
term will help it (model history, "Tried after v6: grey-white and CSF contrast terms").

    python src_training/launch/probe_levels_anatomy.py demo [LABEL=MODEL ...] --first-case 6 --cases 12 --json OUT.json
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit

#: the scores kept case by case
PER_CASE = ("ssim", "ssim_source_at_training_level", "engine_scale")
#: the regression's columns: three brain tissues, then every other tissue summed (lesion, head)
TISSUES = ("GM", "WM", "CSF")


def tissue_design(fractions: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """(pixels in ``brain``, 4): the fractions of GM, WM, CSF and of everything else."""
    from napari_evai2i.data.head import ALL_TISSUE_NAMES

    picked = [ALL_TISSUE_NAMES.index(name) for name in TISSUES]
    rest = [k for k in range(fractions.shape[0]) if k not in picked]
    return np.column_stack([fractions[k][brain] for k in picked] + [fractions[rest].sum(0)[brain]])


def decompose(translation: np.ndarray, truth: np.ndarray, fractions: np.ndarray, brain: np.ndarray) -> dict:
    """SSIM of ``translation``, of its levels alone and of its anatomy alone, and the GM/WM and CSF/GM
    of its regressed levels and of the truth's (all on brain-normalised images, as the suite scores)."""
    from napari_evai2i.engine.metrics import ssim
    from napari_evai2i.train.robustness import brain_normalised

    p, t = brain_normalised(translation, brain), brain_normalised(truth, brain)
    design = tissue_design(fractions, brain)
    level_p, *_ = np.linalg.lstsq(design, p[brain], rcond=None)
    level_t, *_ = np.linalg.lstsq(design, t[brain], rcond=None)
    levels_only, anatomy_only = t.copy(), t.copy()
    levels_only[brain] = t[brain] - design @ level_t + design @ level_p
    anatomy_only[brain] = p[brain] - design @ level_p + design @ level_t
    ratios = {f"{who} {name}": float(a / b) for who, lv in (("translation", level_p), ("truth", level_t))
              for name, a, b in (("GM/WM", lv[0], lv[1]), ("CSF/GM", lv[2], lv[0]))}
    return {"ssim": ssim(p, t, 1.0, brain), "ssim_levels_only": ssim(levels_only, t, 1.0, brain),
            "ssim_anatomy_only": ssim(anatomy_only, t, 1.0, brain), **ratios}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL or MODEL (a built-in name or checkpoint folder)")
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--tasks", nargs="+", default=None, help="canonical tasks (default: all four)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.normalization import BRAIN_LEVEL, IntensityScale
    from napari_evai2i.train.robustness import (CASE_SIZE, TASKS, HeldOutCase, _translate, mean_scores,
                                                per_case_scores, slice_scores)

    training_level = IntensityScale.at_brain_level(BRAIN_LEVEL, "the training level")     # scale 1

    tasks = args.tasks or list(TASKS)
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    report: dict = {"first_case": args.first_case, "cases": args.cases, "models": {}}
    for spec in args.models:
        label, _, path = spec.rpartition("=")
        translator = load_model(path, "cpu")
        per_task = {}
        for task in tasks:
            src, tgt = TASKS[task]
            settings = {"no source prompt": False, "source prompt": True}
            rows: dict[str, list[dict]] = {name: [] for name in settings}
            for i in range(args.first_case, args.first_case + args.cases):
                case = HeldOutCase(i, CASE_SIZE).render(src, tgt, whole_head=True)    # rendered once
                rule = translator.fit_scale(case["src"], "MR", (case["pixel_mm"],) * 2)    # fitted once
                for name, with_prompt in settings.items():
                    row = decompose(_translate(translator, case, with_prompt, scale=rule), case["tgt"],
                                    case["fractions"], case["brain"])
                    at_level = _translate(translator, case, with_prompt, scale=training_level)
                    row["ssim_source_at_training_level"] = slice_scores(at_level, case["tgt"], case["brain"])["ssim"]
                    row["engine_scale"] = rule.scale
                    rows[name].append(row)
            per_task[task] = {name: {**mean_scores(r), "per_case": per_case_scores(r, PER_CASE)}
                              for name, r in rows.items()}
        report["models"][label or path] = per_task
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
