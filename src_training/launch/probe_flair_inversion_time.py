"""Does a model follow the FLAIR prompt's inversion time? T1w->FLAIR on held-out whole heads,
the target rendered and prompted at several TIs (TR 9000 ms, TE 120 ms, 1.5 T), scored by the
grey-white and CSF/GM ratios over the source's tissue classes (probe_tissue_contrast.py
``--select source``) and by SSIM and tissue Dice inside the brain.

Why: the FLAIR every evaluation asks for (the preset, TI 2500 ms) lies at 1.13 x the CSF null of
the simulator, beyond the 0.88-1.12 that v6's training drew, and how much of v6's flat FLAIR is that
was unknown. ``--tis`` in ms; 2210 is the null (the centre of the training range), 2500 the preset.

    python src_training/launch/probe_flair_inversion_time.py v6=demo [LABEL=MODEL ...] --first-case 6 --cases 12 --json OUT.json
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit
from probe_tissue_contrast import pure_means, ratios, source_masks


def main(argv: list[str] | None = None) -> int:
    from napari_evai2i.data.physics import csf_null_ti
    from napari_evai2i.engine import load_model
    from napari_evai2i.train import robustness
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase, _translate, slice_scores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--tis", type=float, nargs="+", default=[2210.0, 2500.0, 2800.0])
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    translators = {spec.split("=", 1)[0]: load_model(spec.split("=", 1)[1], "cpu") for spec in args.models}
    presets = robustness.PRESETS
    flair = presets["FLAIR"]
    report: dict = {"task": "T1w->FLAIR, whole head", "target": f"TR {flair.tr:g} ms, TE {flair.te:g} ms, "
                    f"{flair.field_strength:g} T", "cases": f"{args.first_case}-{args.first_case + args.cases - 1}",
                    "ratios": "over the source's multi-Otsu classes", "by TI": {}}
    for ti in args.tis:
        robustness.PRESETS = {**presets, "FLAIR": flair.replace(ti=ti)}
        try:
            rows: dict[str, list] = {"truth": []}
            for i in range(args.first_case, args.first_case + args.cases):
                case = HeldOutCase(i, CASE_SIZE).render("T1W", "FLAIR", whole_head=True)
                masks = source_masks(case, "T1W")
                rows["truth"].append(ratios(pure_means(case["tgt"], case, masks)))
                for label, translator in translators.items():
                    for prompt in (False, True):
                        key = f"{label}, {'source prompt' if prompt else 'no source prompt'}"
                        pred = _translate(translator, case, prompt)
                        rows.setdefault(key, []).append({**ratios(pure_means(pred, case, masks)),
                                                         **slice_scores(pred, case["tgt"], case["brain"])})
        finally:
            robustness.PRESETS = presets
        factor = ti / csf_null_ti(flair.tr, flair.field_strength)
        report["by TI"][f"{ti:g} ms ({factor:.3f} x null)"] = {
            key: {name: round(float(np.nanmean([r[name] for r in values])), 3) for name in values[0]}
            for key, values in rows.items()}
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
