"""Does averaging a translation with that of the mirrored input raise held-out scores?

The demo is not exactly mirror-symmetric (its training mirrors heads left-right, p = 0.5), so
the translation of a slice and the translation of its mirror image, mirrored back, differ a
little. Their mean is the cheapest test-time ensemble: twice the time of one pass, and the
uncertainty map's mirrored pass already computes the second (engine.uncertainty). This probe
scores, on held-out whole heads with and without the source prompt, the plain translation,
the mirrored one and their mean, and the mean's gain over the plain one (mean +- SE over cases).

    python src_training/launch/probe_mirror_average.py --first-case 604 --cases 24 --json OUT.json
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit          # this folder: the script's own sys.path entry
from targets_table import mean_and_se

#: the in-plane axis mirrored: the image's columns. In the held-out coronal slices that is
#: left-right, as training mirrors heads; in sagittal slices it is front-back, a flip training never
#: makes (the probe reports what the mean gains either way)
MIRROR_AXIS = 1
#: the source prompt given in each setting (robustness._translate)
SETTINGS = {"no source prompt": False, "source prompt": True}


def mirrored_translation(translator, case: dict, with_prompt: bool) -> np.ndarray:
    """The translation of ``case`` with its source mirrored along :data:`MIRROR_AXIS`, mirrored back."""
    from napari_evai2i.train.robustness import _translate

    mirrored = {**case, "src": np.ascontiguousarray(np.flip(case["src"], MIRROR_AXIS))}
    return np.flip(_translate(translator, mirrored, with_prompt), MIRROR_AXIS)


def probe(model: str, first_case: int, cases: int) -> dict:
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.robustness import CASE_SIZE, TASKS, HeldOutCase, _translate, mean_scores, slice_scores

    translator = load_model(model, "cpu")
    report: dict = {"model": model, "first_case": first_case, "cases": cases, "tasks": {}}
    for task, (src, tgt) in TASKS.items():
        rows = {setting: {"plain": [], "mirrored": [], "mean of both": []} for setting in SETTINGS}
        for i in range(first_case, first_case + cases):
            case = HeldOutCase(i, CASE_SIZE).render(src, tgt, whole_head=True)    # rendered once
            for setting, with_prompt in SETTINGS.items():
                plain = _translate(translator, case, with_prompt)
                mirrored = mirrored_translation(translator, case, with_prompt)
                for name, image in (("plain", plain), ("mirrored", mirrored), ("mean of both", (plain + mirrored) / 2)):
                    rows[setting][name].append(slice_scores(image, case["tgt"], case["brain"]))
        for setting, by_name in rows.items():
            cell = {name: mean_scores(r) for name, r in by_name.items()}
            for metric in ("ssim", "dice"):
                gains = [m[metric] - p[metric] for m, p in zip(by_name["mean of both"], by_name["plain"])]
                cell[f"mean of both - plain, {metric}"] = [round(v, 4) for v in mean_and_se(gains)]
            report["tasks"][f"{task}, {setting}"] = cell
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--first-case", type=int, default=604)
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    return emit(probe(args.model, args.first_case, args.cases), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
