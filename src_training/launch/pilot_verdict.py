"""The verdicts of the prompt-number pilots (pilots_v7_te/te_map.yaml, pilot_numbers_apart.sh,
pilots_v8/numbers_images.yaml, pilots_v8/ti_below_null.yaml) and of pilots_v9/mixture_sharpness.yaml,
from the reports their scripts wrote in OUT, a candidate LABEL against REF:

    python src_training/launch/pilot_verdict.py OUT REF LABEL [--question te_band|flair_ssim|ti_below_null|mixture_sharpness|ti_deep_below_null]

te_band (the v7 pilots): (a1) the T1w->T2w CSF/GM error at TE 60 ms (held out of training) at most
two thirds of REF's; (a2) CSF/GM rising from TE 45 to 60 to 75 ms; (b) the mean SSIM of all
held-out cells within 0.002 of REF's; (c) T2w->T1w on 2 mm crops within 0.005; (d) FLAIR Dice
inside the eroded mask within 0.01.
flair_ssim (the v8 pilot): (a) T1w->FLAIR whole-head SSIM, with and without the source prompt,
each at least REF's + 0.004; (b) the mean SSIM at least REF's; (c) and (d) as above; (e) CSF/GM
still rising from TE 45 to 60 to 75 ms, its error at TE 60 ms at most REF's + 0.02.
ti_below_null (the second v8 pilot; probe_ti_cases6.json): (a1) the T1w->FLAIR CSF/GM error at TI
1950 ms at most two thirds of REF's; (a2) CSF/GM higher at 1950 than at 2210 ms; (a3) at 2210 and
2500 ms the CSF/GM and GM/WM errors each at most REF's + 0.02; (b) the mean SSIM within 0.002 of
REF's; (c), (d) and (e) as above.
mixture_sharpness (the v9 pilot): (a) T1w->FLAIR's mean tissue Dice over its held-out settings at
least REF's + 0.01 and its mean SSIM at least REF's; (b) the mean SSIM within 0.001 of REF's; (c) and
(d) as above; (e) no T1w->T2w cell's SSIM below REF's - 0.005; (f) as (e) of the others.
ti_deep_below_null (pilots_v9/ti_deep_below_null.yaml; probe_ti_cases6.json alone): (a1) the CSF/GM
error at TI 1700 ms at most two thirds of REF's; (a2) at 1950 ms at most REF's + 0.01; (a3) the GM/WM
errors at 1700 and 1950 ms each at most REF's + 0.02; (a4) CSF/GM falling 1700 -> 1950 -> 2210 ms;
(a5) every ratio at 2500 ms equal to REF's, at 2210 ms (0.9995 x the null) within 0.005.
Exit status 0 when every part holds.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

SETTING = "no source prompt"


def _cells(path: Path) -> dict:
    heads = json.loads(path.read_text())["held_out"]["held_out_heads"]
    return {(task, setting): cell for task, settings in heads.items() for setting, cell in settings.items()}


def _te_band(out: Path, ref: str, label: str) -> tuple[dict, dict, list]:
    """CSF/GM error at TE 60 ms per model, and LABEL's ratios at TE 45, 60 and 75 ms."""
    report = json.loads((out / "probe_te_cases6.json").read_text())
    te = report["by TE"]
    truth = {v: row["truth"]["CSF/GM"] for v, row in te.items()}
    ratio = {name: {v: row[f"{name}, {SETTING}"]["CSF/GM"] for v, row in te.items()} for name in (ref, label)}
    print(f"T1w->T2w CSF/GM over the source's classes, cases {report['cases']}, {SETTING}:")
    for v in te:
        print(f"  TE {v:7s} truth {truth[v]:.3f}  {ref} {ratio[ref][v]:.3f}  {label} {ratio[label][v]:.3f}")
    error = {name: abs(ratio[name]["60 ms"] - truth["60 ms"]) for name in (ref, label)}
    return error, ratio, [ratio[label][f"{v} ms"] for v in (45, 60, 75)]


def _ti_rows(out: Path, ref: str, label: str) -> dict[int, dict]:
    """Truth, REF and LABEL ratios of the FLAIR TI probe by TI in ms (no source prompt)."""
    report = json.loads((out / "probe_ti_cases6.json").read_text())
    rows = {}
    print(f"T1w->FLAIR over the source's classes, cases {report['cases']}, {SETTING} (CSF/GM, GM/WM):")
    for key, row in report["by TI"].items():
        ti = int(float(key.split()[0]))
        rows[ti] = {"truth": row["truth"], ref: row[f"{ref}, {SETTING}"], label: row[f"{label}, {SETTING}"]}
        print(f"  {key:24s} " + "  ".join(f"{name} {rows[ti][name]['CSF/GM']:.3f} {rows[ti][name]['GM/WM']:.3f}"
                                         for name in ("truth", ref, label)))
    return rows


def _ti_error(rows: dict[int, dict], ti: int, name: str, ratio: str) -> float:
    """How far model ``name``'s ``ratio`` at TI ``ti`` lies from the truth's (rows of :func:`_ti_rows`)."""
    return abs(rows[ti][name][ratio] - rows[ti]["truth"][ratio])


def _ti_below_null(out: Path, ref: str, label: str) -> dict[str, bool]:
    rows = _ti_rows(out, ref, label)
    error = functools.partial(_ti_error, rows)

    ok = {"a1": error(1950, label, "CSF/GM") <= 2 / 3 * error(1950, ref, "CSF/GM"),
          "a2": rows[1950][label]["CSF/GM"] > rows[2210][label]["CSF/GM"],
          "a3": all(error(ti, label, r) <= error(ti, ref, r) + 0.02 for ti in (2210, 2500) for r in ("CSF/GM", "GM/WM"))}
    print(f"(a1) CSF/GM error at 1950 ms: {ref} {error(1950, ref, 'CSF/GM'):.3f}, {label} "
          f"{error(1950, label, 'CSF/GM'):.3f}: {ok['a1']}")
    print(f"(a2) {label} CSF/GM at 1950 ms {rows[1950][label]['CSF/GM']:.3f} > at 2210 ms "
          f"{rows[2210][label]['CSF/GM']:.3f}: {ok['a2']}")
    print("(a3) errors at 2210 / 2500 ms (CSF/GM, GM/WM): " + "; ".join(
        f"{ti} {r} {error(ti, ref, r):.3f} -> {error(ti, label, r):.3f}"
        for ti in (2210, 2500) for r in ("CSF/GM", "GM/WM")) + f": {ok['a3']}")
    return ok


def _ti_deep_below_null(out: Path, ref: str, label: str) -> dict[str, bool]:
    rows = _ti_rows(out, ref, label)
    error = functools.partial(_ti_error, rows)

    csf = [rows[ti][label]["CSF/GM"] for ti in (1700, 1950, 2210)]
    ok = {"a1": error(1700, label, "CSF/GM") <= 2 / 3 * error(1700, ref, "CSF/GM"),
          "a2": error(1950, label, "CSF/GM") <= error(1950, ref, "CSF/GM") + 0.01,
          "a3": all(error(ti, label, "GM/WM") <= error(ti, ref, "GM/WM") + 0.02 for ti in (1700, 1950)),
          "a4": csf[0] > csf[1] > csf[2],
          "a5": rows[2500][label] == rows[2500][ref]
          and all(abs(rows[2210][label][r] - rows[2210][ref][r]) <= 0.005 for r in ("CSF/GM", "GM/WM"))}
    print(f"(a1) CSF/GM error at 1700 ms: {ref} {error(1700, ref, 'CSF/GM'):.3f}, {label} {error(1700, label, 'CSF/GM'):.3f}: {ok['a1']}")
    print(f"(a2) CSF/GM error at 1950 ms: {ref} {error(1950, ref, 'CSF/GM'):.3f}, {label} {error(1950, label, 'CSF/GM'):.3f}: {ok['a2']}")
    print("(a3) GM/WM errors at 1700 / 1950 ms: " + "; ".join(
        f"{ti} {error(ti, ref, 'GM/WM'):.3f} -> {error(ti, label, 'GM/WM'):.3f}" for ti in (1700, 1950)) + f": {ok['a3']}")
    print(f"(a4) {label} CSF/GM at 1700 / 1950 / 2210 ms: {' / '.join(f'{c:.3f}' for c in csf)}: {ok['a4']}")
    print(f"(a5) at 2500 ms every ratio equal to {ref}'s, at 2210 ms within 0.005: {ok['a5']}")
    print("VERDICT:", "holds" if all(ok.values()) else "fails", ok)
    return ok


def verdict(out: Path, ref: str, label: str, question: str = "te_band") -> dict[str, bool]:
    if question == "ti_deep_below_null":
        return _ti_deep_below_null(out, ref, label)
    error, _, rising = _te_band(out, ref, label)
    rises = rising[0] < rising[1] < rising[2]
    a, b = _cells(out / f"{ref}_cases256.json"), _cells(out / f"{label}_cases256.json")
    ok: dict[str, bool] = {}
    if question == "te_band":
        ok = {"a1": error[label] <= 2 / 3 * error[ref], "a2": rises}
        print(f"(a1) error at TE 60 ms: {ref} {error[ref]:.3f}, {label} {error[label]:.3f}: {ok['a1']}")
        print(f"(a2) {label} rises 45 -> 60 -> 75 ms ({', '.join(f'{r:.3f}' for r in rising)}): {ok['a2']}")
        margin = -0.002
    elif question == "ti_below_null":
        ok = _ti_below_null(out, ref, label)
        margin = -0.002
    elif question == "mixture_sharpness":
        flair = [key for key in a if key[0] == "T1w->FLAIR"]
        dice, ssim = ({name: sum(c[key][m] for key in flair) / len(flair) for name, c in ((ref, a), (label, b))}
                      for m in ("dice", "ssim"))
        ok["a"] = dice[label] >= dice[ref] + 0.01 and ssim[label] >= ssim[ref]
        print(f"(a) T1w->FLAIR over its {len(flair)} settings: Dice {dice[ref]:.4f} -> {dice[label]:.4f}, "
              f"SSIM {ssim[ref]:.4f} -> {ssim[label]:.4f}: {ok['a']}")
        margin = -0.001
    else:
        flair = [("T1w->FLAIR", f"whole head, {s}") for s in ("no source prompt", "source prompt")]
        ok["a"] = all(b[key]["ssim"] >= a[key]["ssim"] + 0.004 for key in flair)
        print("(a) T1w->FLAIR: " + "; ".join(f"{key[1]} {a[key]['ssim']:.4f} -> {b[key]['ssim']:.4f}"
                                             for key in flair) + f": {ok['a']}")
        margin = 0.0
    mean = {name: sum(c["ssim"] for c in cells.values()) / len(cells) for name, cells in ((ref, a), (label, b))}
    ok["b"] = mean[label] >= mean[ref] + margin
    print(f"(b) mean SSIM of {len(a)} held-out cells: {ref} {mean[ref]:.4f}, {label} {mean[label]:.4f}: {ok['b']}")
    crops = [key for key in a if key[0] == "T2w->T1w" and "crop inside the brain, 2 mm" in key[1]]
    ok["c"] = all(b[key]["ssim"] >= a[key]["ssim"] - 0.005 for key in crops)
    print("(c) T2w->T1w 2 mm crops: " + "; ".join(f"{key[1]} {a[key]['ssim']:.4f} -> {b[key]['ssim']:.4f}"
                                                   for key in crops) + f": {ok['c']}")
    rim = json.loads((out / "probe_edge_rim_dice_cases256.json").read_text())["tasks"]["T1w->FLAIR"]
    ok["d"] = rim[label]["dice_inner"] >= rim[ref]["dice_inner"] - 0.01
    print(f"(d) FLAIR Dice inside the eroded mask: {ref} {rim[ref]['dice_inner']}, {label} "
          f"{rim[label]['dice_inner']}: {ok['d']}")
    if "per_case" in rim[ref] and "per_case" in rim[label]:      # multi-Otsu on FLAIR can flip a whole case
        pairs = zip(rim[ref]["per_case"]["dice_inner"], rim[label]["per_case"]["dice_inner"])
        print("    case by case: " + ", ".join(f"{a:.3f} -> {b:.3f}" for a, b in pairs))
    if question == "mixture_sharpness":
        t2w = [key for key in a if key[0] == "T1w->T2w"]
        ok["e"] = all(b[key]["ssim"] >= a[key]["ssim"] - 0.005 for key in t2w)
        print(f"(e) T1w->T2w: worst cell change {min(b[k]['ssim'] - a[k]['ssim'] for k in t2w):+.4f}: {ok['e']}")
    if question in ("flair_ssim", "ti_below_null", "mixture_sharpness"):
        te = "f" if question == "mixture_sharpness" else "e"
        ok[te] = rises and error[label] <= error[ref] + 0.02
        print(f"({te}) {label} rises 45 -> 60 -> 75 ms ({', '.join(f'{r:.3f}' for r in rising)}), error at TE 60 ms "
              f"{ref} {error[ref]:.3f}, {label} {error[label]:.3f}: {ok[te]}")
    moved = [(key, a[key]["ssim"], b[key]["ssim"]) for key in a if abs(b[key]["ssim"] - a[key]["ssim"]) > 0.005]
    print(f"cells moved by more than 0.005 SSIM: {len(moved)}")
    for key, x, y in moved:
        print(f"  {key[0]}, {key[1]}: {x:.4f} -> {y:.4f}")
    print("VERDICT:", "holds" if all(ok.values()) else "fails", ok)
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("ref")
    parser.add_argument("label")
    parser.add_argument("--question", choices=("te_band", "flair_ssim", "ti_below_null", "mixture_sharpness",
                                                 "ti_deep_below_null"), default="te_band")
    args = parser.parse_args()
    sys.exit(0 if all(verdict(Path(args.out), args.ref, args.label, args.question).values()) else 1)
