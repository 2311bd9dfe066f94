"""Does a model follow one number of its target prompt? T1w->TARGET on held-out whole heads, the
target rendered and prompted with the preset's TE, TI or field strength replaced by each value
(the source stays the 1.5 T preset), scored by the
grey-white and CSF/GM ratios over the source's tissue classes (probe_tissue_contrast.py
``--select source``) and by SSIM and tissue Dice inside the brain; the truth's ratios beside them.

Why: a prompt's numbers are what make it a protocol and not only a name. Whether the translation
moves with them as the physics does, inside the ranges training draws and across the bands it
holds out (spin-echo TE 50-70 ms, FLAIR TI 1900-2100 ms), is a question about the prompt path that
SSIM at one preset does not ask. The field strength reaches v8 and v9 through the text tower only
(their number network reads TR, TE, TI and flip angle).

    python src_training/launch/probe_protocol_sweep.py v7=demo [LABEL=MODEL ...] --target T2W --quantity te --values 45 60 75 --first-case 6 --cases 12 --json OUT.json
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit
from probe_tissue_contrast import pure_means, ratios, source_masks

#: the prompt numbers a sweep can move, as Protocol field names
QUANTITIES = ("te", "ti", "field_strength")


def value_label(protocol, quantity: str, value: float) -> str:
    """'60 ms', '3 T', or for an inversion time also its multiple of the CSF null
    ('2500 ms (1.131 x null)')."""
    if quantity == "field_strength":
        return f"{value:g} T"
    if quantity != "ti":
        return f"{value:g} ms"
    from napari_evai2i.data.physics import csf_null_ti

    return f"{value:g} ms ({value / csf_null_ti(protocol.tr, protocol.field_strength):.3f} x null)"


def sweep(models: list[str], target: str, quantity: str, values: list[float], first_case: int,
          cases: int) -> dict:
    """The report: per value, the truth's ratios and each model's, without and with the source prompt."""
    from napari_evai2i.engine import load_model
    from napari_evai2i.train import robustness
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase, _translate, slice_scores

    translators = {spec.split("=", 1)[0]: load_model(spec.split("=", 1)[1], "cpu") for spec in models}
    presets = robustness.PRESETS
    preset = presets[target]
    fixed = [f"{name} {getattr(preset, name.lower()):g} ms" for name in ("TR", "TE", "TI")
             if name.lower() != quantity and getattr(preset, name.lower()) is not None]
    if quantity != "field_strength":
        fixed.append(f"{preset.field_strength:g} T")
    report: dict = {"task": f"T1w->{ {'T2W': 'T2w', 'PDW': 'PDw'}.get(target, target)}, whole head",
                    "target": ", ".join(fixed),
                    "cases": f"{first_case}-{first_case + cases - 1}",
                    "ratios": "over the source's multi-Otsu classes", f"by {quantity.upper()}": {}}
    for value in values:
        robustness.PRESETS = {**presets, target: preset.replace(**{quantity: value})}
        try:
            rows: dict[str, list] = {"truth": []}
            for i in range(first_case, first_case + cases):
                case = HeldOutCase(i, CASE_SIZE).render("T1W", target, whole_head=True)
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
        report[f"by {quantity.upper()}"][value_label(preset, quantity, value)] = {
            key: {name: round(float(np.nanmean([r[name] for r in values_])), 3) for name in values_[0]}
            for key, values_ in rows.items()}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--target", default="T2W", choices=("T2W", "PDW", "FLAIR", "FLASH", "MPRAGE"))
    parser.add_argument("--quantity", default="te", choices=QUANTITIES)
    parser.add_argument("--values", type=float, nargs="+", required=True, help="in ms")
    parser.add_argument("--first-case", type=int, default=6)
    parser.add_argument("--cases", type=int, default=12)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    return emit(sweep(args.models, args.target, args.quantity, args.values, args.first_case, args.cases), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
