"""The generalisation issue's targets, checked against a checkpoint's ``evaluation.json``.

Prints a Markdown table (target, value per task, met) for the model card and a closing note,
so the verdicts are computed from the recorded numbers rather than read off by hand.
``--previous`` names the evaluation of the version being replaced, for the target "the
template tasks each hold (at least the previous value - 0.02)". ``--wide`` names a held-out
report on more cases (``evaluate --suite held-out --cases N``, every case's scores kept): the
held-out targets are then also given as mean +- standard error over its cases, since the
suite's 6 cases move with the block drawn. ``--factors`` prints the held-out table, setting by
setting, instead of the targets; ``--by-anatomy`` prints where in the anatomy the wide block's
whole-head SSIM is lost (its report must come from ``evaluate --suite held-out`` since it
records each case's plane and partial-volume CSF).

    python src_training/launch/targets_table.py runs/demo/eval.json \
        --previous napari_evai2i/weights/demo/evaluation.json
    python src_training/launch/targets_table.py napari_evai2i/weights/demo/evaluation.json \
        --wide docs/results/held_out_demo_v9_cases484-531.json [--factors | --by-anatomy]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CANONICAL = ("T1w->T2w", "T1w->FLAIR", "T2w->T1w", "T1w->PDw")
HEAD = "whole head, no source prompt"
BRAIN_ONLY = "brain only, no source prompt"
PROMPTED = "whole head, source prompt"
THICK = "whole head, 5 mm slices, no source prompt"
#: the issue's held-out targets that bound one setting's metric from below: label, setting, metric,
#: least value (the same on the suite's cases and on a wider block, ``wide_rows``)
SSIM_TARGET = ("whole head, no source prompt: SSIM >= 0.85", HEAD, "ssim", 0.85)
DICE_TARGET = ("... and tissue Dice >= 0.80", HEAD, "dice", 0.80)
PROMPTED_TARGET = ("with the source prompt: SSIM >= 0.90", PROMPTED, "ssim", 0.90)
THICK_TARGET = ("5 mm slices: SSIM >= 0.80", THICK, "ssim", 0.80)
HEAD_GAP_MAX = 0.03     #: whole head against brain only, SSIM


def _values(values: list[float], digits: int = 2) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values)


def _verdict(passed: list[bool], names=CANONICAL) -> str:
    if all(passed):
        return "yes"
    if not any(passed):
        return "no"
    return "only " + ", ".join(n for n, ok in zip(names, passed) if ok)


def mean_and_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample SD / sqrt n; 0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, (var / n) ** 0.5


def _wide_cell(wide: dict, task: str, setting: str, key: str) -> tuple[float, float]:
    return mean_and_se(wide["held_out_heads"][task][setting]["per_case"][key])


def _wide_verdict(cells: list[tuple[float, float]], passes) -> str:
    """Met where the mean passes; "within 2 SE" names the tasks whose mean lies that close to the threshold."""
    verdicts = []
    for name, (mean, se) in zip(CANONICAL, cells):
        sure = passes(mean - 2 * se) == passes(mean + 2 * se)
        verdicts.append((name, passes(mean), sure))
    met = [ok for _, ok, _ in verdicts]
    unsettled = [n for n, _, sure in verdicts if not sure]
    return _verdict(met) + (f" (within 2 SE: {', '.join(unsettled)})" if unsettled else "")


def wide_rows(wide: dict) -> list[tuple[str, str, str]]:
    """The held-out targets on a wider block of cases: mean +- SE per task, and the verdict of the mean."""
    n, first = wide["cases"], wide["first_case"]
    where = f"cases {first}-{first + n - 1}, mean +- SE"
    rows = []
    for label, setting, key, least in (SSIM_TARGET, DICE_TARGET, PROMPTED_TARGET, THICK_TARGET):
        cells = [_wide_cell(wide, t, setting, key) for t in CANONICAL]
        rows.append((f"{label} ({where})", " / ".join(f"{m:.3f} ± {e:.3f}" for m, e in cells),
                     _wide_verdict(cells, lambda v, least=least: v >= least)))
    gaps = []
    for t in CANONICAL:
        cases = wide["held_out_heads"][t]
        gaps.append(mean_and_se([h - b for h, b in zip(cases[HEAD]["per_case"]["ssim"],
                                                       cases[BRAIN_ONLY]["per_case"]["ssim"])]))
    rows.append((f"whole head vs brain only: SSIM within {HEAD_GAP_MAX} ({where}, case by case)",
                 " / ".join(f"{m:+.3f} ± {e:.3f}" for m, e in gaps),
                 _wide_verdict(gaps, lambda v: abs(v) <= HEAD_GAP_MAX)))
    return rows


def factor_table(evaluation: dict, wide: dict | None = None) -> str:
    """The held-out heads setting by setting, SSIM / Dice per task; with ``wide``, its mean +- SE beside."""
    heads = evaluation["robustness"]["held_out_heads"]
    settings = [name for name in heads[CANONICAL[0]] if name != "lesions"]
    lines = ["| setting | " + " | ".join(CANONICAL) + " |", "|---|" + "---|" * len(CANONICAL)]
    for name in settings:
        cells = []
        for t in CANONICAL:
            cell = f"{heads[t][name]['ssim']:.3f} / {heads[t][name]['dice']:.2f}"
            if wide is not None:
                (s, se), (d, de) = (_wide_cell(wide, t, name, k) for k in ("ssim", "dice"))
                cell += f" ({s:.3f} ± {se:.3f} / {d:.2f} ± {de:.2f})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_rows(evaluation: dict, previous: dict | None = None) -> list[tuple[str, str, str]]:
    """(target, values, met) rows, in the issue's order."""
    heads = evaluation["robustness"]["held_out_heads"]
    rows = []

    def factor(name: str, key: str) -> list[float]:
        return [heads[t][name][key] for t in CANONICAL]

    def least_row(target: tuple, digits: int = 2, prefix: str = "") -> tuple[str, str, str]:
        label, setting, key, least = target
        values = factor(setting, key)
        return prefix + label, _values(values, digits), _verdict([v >= least for v in values])

    ssim = factor(HEAD, "ssim")
    rows.append(least_row(SSIM_TARGET, prefix="held-out "))
    rows.append(least_row(DICE_TARGET))
    oracle = evaluation["robustness"].get("anatomy_oracle")     # a yardstick added after v2
    if oracle:
        rows.append(("reported: exact anatomy, textbook tissue values (SSIM / Dice; the yardstick)",
                     " / ".join(f"{oracle[t]['ssim']:.2f}, {oracle[t]['dice']:.2f}" for t in CANONICAL), "-"))
    rows.append(least_row(PROMPTED_TARGET, digits=3))                      # 0.896 is not 0.90
    gap = [h - b for h, b in zip(ssim, factor(BRAIN_ONLY, "ssim"))]
    rows.append((f"whole head vs brain only: SSIM within {HEAD_GAP_MAX}", " / ".join(f"{g:+.3f}" for g in gap),
                 _verdict([abs(g) <= HEAD_GAP_MAX for g in gap])))
    rows.append(least_row(THICK_TARGET))
    for reported in ("crop inside the brain, no source prompt",            # factors added after v2 and
                     "whole head, 2 mm pixels, no source prompt",          # v4 (reported, no target)
                     "crop inside the brain, 2 mm pixels, no source prompt",
                     "whole head, source read from the image",             # the contrast reader's prompt,
                     "crop inside the brain, 2 mm pixels, source read from the image"):   # as the product runs
        if all(reported in heads[t] for t in CANONICAL):
            rows.append((f"reported: {reported} (SSIM / Dice)",
                         " / ".join(f"{heads[t][reported]['ssim']:.2f}, {heads[t][reported]['dice']:.2f}"
                                    for t in CANONICAL), "-"))
    lesions = heads["lesions"]
    errors = [lesions[t]["relative_error"] for t in ("T1w->T2w", "T1w->FLAIR")]
    rows.append(("lesion/WM contrast within 25 % (T2w, FLAIR)", " / ".join(f"{100 * e:.0f} % off" for e in errors),
                 _verdict([e <= 0.25 for e in errors], ("T2w", "FLAIR"))))
    real = {name: entry for name, entry in evaluation["robustness"]["real_t1"].items() if name != "figure"}
    for key in ("no source prompt", "source prompt", "source read from the image"):
        if not all(key in entry for entry in real.values()):       # the reader's key came after v4's first report
            continue
        orders = {name.split(" (")[0]: all(entry[key][k]["order_ok"] for k in ("T2W", "FLAIR", "PDW"))
                  for name, entry in real.items()}
        rows.append((f"real T1 ({key}): right tissue order for T2w, FLAIR and PDw",
                     ", ".join(f"{n} {'yes' if ok else 'no'}" for n, ok in orders.items()),
                     _verdict(list(orders.values()), list(orders))))
    within = {f"{name.split(' (')[0]} {k}": real[name]["no source prompt"][k]["csf_to_gm_within_30pct"]
              for name in real for k in ("T2W", "FLAIR", "PDW")}
    rows.append(("real T1 (no source prompt): CSF/GM within 30 % of physics",
                 f"{sum(within.values())} of {len(within)}", _verdict(list(within.values()), list(within))))
    if all("source read from the image" in entry for entry in real.values()):
        within = {f"{name.split(' (')[0]} {k}": real[name]["source read from the image"][k]["csf_to_gm_within_30pct"]
                  for name in real for k in ("T2W", "FLAIR", "PDW")}
        rows.append(("reported: real T1 (source read from the image): CSF/GM within 30 % of physics",
                     f"{sum(within.values())} of {len(within)}", "-"))
    if all("csf_to_gm_partial_volume_physics" in entry["no source prompt"]["T2W"] for entry in real.values()):
        for key in ("no source prompt", "source prompt"):        # a second reference, added after v4
            within = {f"{name.split(' (')[0]} {k}":
                      real[name][key][k]["csf_to_gm_within_30pct_of_partial_volume_physics"]
                      for name in real for k in ("T2W", "FLAIR", "PDW")}
            rows.append((f"reported: real T1 ({key}): CSF/GM within 30 % of physics on the masks' partial volume",
                         f"{sum(within.values())} of {len(within)}: "
                         + ", ".join(n for n, ok in within.items() if not ok) + " missed", "-"))
    for name, entry in evaluation["robustness"].get("real_t2", {}).items():     # added after v4
        rows.append((f"reported: real T2w ({name.split(' (')[0]}, b=0 EPI): right tissue order for T1w / FLAIR / PDw",
                     "; ".join(f"{key}: " + " / ".join("yes" if entry[key][k]["order_ok"] else "no"
                                                      for k in ("T1W", "FLAIR", "PDW"))
                               for key in ("no source prompt", "source prompt", "source read from the image")), "-"))
    mask_check = evaluation["robustness"].get("real_t2_mask_check")
    if mask_check:
        rows.append(("reported: held-out T2w heads (brain only, 2 mm pixels) in the real-T2 masks: share with the "
                     "right order for T1w / FLAIR / PDw (truth; no source prompt; source prompt)",
                     " / ".join("; ".join(f"{c[key]['order_ok']:.2f}" for key in ("truth", "no source prompt", "source prompt"))
                                for c in mask_check.values()), "-"))
    for name, entry in evaluation["robustness"].get("real_anatomy", {}).items():    # added after v4
        rows.append((f"reported: real anatomy ({name}), its tissues rendered as each source: SSIM "
                     "(no source prompt; source prompt; histogram matching to the truth)",
                     " / ".join("; ".join(f"{entry[task][key]['ssim']:.2f}" for key in
                                          ("no source prompt", "source prompt", "histogram_matching"))
                                for task in CANONICAL), "-"))
    off = evaluation["robustness"].get("off_template")
    if off:                                                                       # added after v4
        rows.append(("reported: a layout that is no brain (ring phantom): right tissue order, no source prompt; "
                     "source prompt", ", ".join(f"{task} {'yes' if e['no source prompt']['order_ok'] else 'no'}; "
                                                f"{'yes' if e['source prompt']['order_ok'] else 'no'}"
                                                for task, e in off.items()), "-"))
    check = evaluation["robustness"].get("partial_volume_check")
    if check:
        rows.append(("reported: held-out heads, T1-weighted sources, CSF/GM in the real-T1 masks for T2w / FLAIR / "
                     "PDw (truth; partial-volume estimate; pure tissues; truth within 30 % of pure)",
                     " / ".join(f"{c['csf_to_gm_truth']:.2f}; {c['csf_to_gm_estimate']:.2f}; "
                                f"{c['csf_to_gm_pure_tissues']:.2f}; {c['truth_within_30pct_of_pure_tissues']:.2f}"
                                for c in check.values()), "-"))
    reader = evaluation["robustness"].get("contrast_reader")
    if reader:
        factors = reader["held_out_heads"]
        rows.append(("reported: contrast reader on held-out heads, per factor (weighting right / used / "
                     "used with the wrong weighting)",
                     ", ".join(f"{name} {f['weighting_accuracy']:.2f}/{f['used']:.2f}/{f['used_and_wrong_weighting']:.2f}"
                               for name, f in factors.items()), "-"))
        rows.append(("reported: contrast reader on real scans", ", ".join(
            f"{name.split(' (')[0]} {r['kind']}, {r['weighting']} p {r['probability']:.2f} "
            f"({'right' if r['right'] else 'WRONG'}, {'used' if r['used'] else 'not used'})"
            for name, r in reader["real"].items()), "-"))
    if previous is not None:
        change = [evaluation["tasks"][t]["model"]["ssim"] - previous["tasks"][t]["model"]["ssim"] for t in CANONICAL]
        rows.append(("template tasks each >= previous - 0.02 (SSIM)", " / ".join(f"{c:+.3f}" for c in change),
                     _verdict([c >= -0.02 for c in change])))
    stir = evaluation["tasks"]["T1w->STIR (held out)"]
    beats = [stir["model"][m] > max(stir["identity"][m], stir["histogram_matching"][m]) for m in ("psnr", "ssim")]
    rows.append(("zero-shot STIR beats both baselines (PSNR, SSIM)",
                 f"{stir['model']['psnr']:.2f} dB, {stir['model']['ssim']:.3f}", _verdict(beats, ("PSNR", "SSIM"))))
    sweep = evaluation.get("te_sweep")
    if sweep:
        rows.append(("T2w CSF/GM rises with TE (30, 60, 90, 120 ms)",
                     _values([sweep[f"TE {te}"] for te in (30, 60, 90, 120)]), "yes" if sweep["monotonic"] else "no"))
    response = evaluation.get("te_response")           # added after v4: the truth beside each point
    if response:
        rows.append(("reported: T2w CSF/GM by TE, translation (truth); * a prompt training never shows",
                     ", ".join(f"{name[3:]}{'' if p['seen_in_training'] else '*'}: {p['translation']:.2f} "
                               f"({p['truth']:.2f})" for name, p in response["points"].items())
                     + f"; rises over the points training shows: {'yes' if response['rises_over_seen_points'] else 'no'}",
                     "-"))
    return rows


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return sxy / (sxx * syy) ** 0.5


def anatomy_table(wide: dict) -> str:
    """Where in the anatomy a block's whole-head SSIM is lost: its mean by slice plane, its
    correlation with each case's share of partial-volume CSF, the sixth of the cases with the
    most of it against the rest, and the anatomy-exact yardstick on the same cases."""
    anatomy, oracle = wide["case_anatomy"], wide["anatomy_oracle"]
    planes, share = anatomy["plane"], anatomy["partial_csf_share"]
    n = len(share)
    most = set(sorted(range(n), key=lambda i: share[i], reverse=True)[:max(1, n // 6)])
    names = ("axial", "coronal", "sagittal")
    lines = [f"cases {wide['first_case']}-{wide['first_case'] + n - 1}; planes: "
             + ", ".join(f"{p} {planes.count(p)}" for p in names)
             + f"; the sixth with most partial-volume CSF: {len(most)} cases, "
             + ", ".join(sorted({planes[i] for i in most})) + f", share {min(share[i] for i in most):.2f}"
             + f"-{max(share[i] for i in most):.2f} (the rest {min(share[i] for i in range(n) if i not in most):.2f}"
             + f"-{max(share[i] for i in range(n) if i not in most):.2f})", "",
             "| task | setting | SSIM, all | axial / coronal / sagittal | r (partial CSF, SSIM) "
             "| most partial CSF / the rest | anatomy-exact yardstick |", "|---|---|---|---|---|---|---|"]
    for task in CANONICAL:
        yardstick = oracle[task]["per_case"]["ssim"]
        for setting in (HEAD, PROMPTED):
            ssim = wide["held_out_heads"][task][setting]["per_case"]["ssim"]
            by_plane = [mean_and_se([v for v, p in zip(ssim, planes) if p == name])[0] for name in names]
            split = (mean_and_se([ssim[i] for i in most])[0], mean_and_se([ssim[i] for i in range(n) if i not in most])[0])
            lines.append(f"| {task} | {setting} | {mean_and_se(ssim)[0]:.3f} | {_values(by_plane, 3)} "
                         f"| {_pearson(share, ssim):+.2f} | {_values(split, 3)} | {mean_and_se(yardstick)[0]:.3f} |")
    return "\n".join(lines)


def markdown(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| target | value (T1w->T2w / T1w->FLAIR / T2w->T1w / T1w->PDw where four) | met |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", help="evaluation.json of the checkpoint (evaluate --suite all)")
    parser.add_argument("--previous", help="evaluation.json of the version it replaces")
    parser.add_argument("--wide", help="a held-out report on more cases (evaluate --suite held-out --json)")
    parser.add_argument("--factors", action="store_true", help="print the held-out table setting by setting")
    parser.add_argument("--by-anatomy", action="store_true",
                        help="with --wide: where in the anatomy its whole-head SSIM is lost (slice plane, "
                             "partial-volume CSF, the anatomy-exact yardstick)")
    args = parser.parse_args(argv)
    try:
        evaluation = json.loads(Path(args.evaluation).read_text())
        previous = json.loads(Path(args.previous).read_text()) if args.previous else None
        wide = json.loads(Path(args.wide).read_text())["held_out"] if args.wide else None
        if args.by_anatomy:
            if wide is None:
                raise ValueError("--by-anatomy reads the block given to --wide")
            print(anatomy_table(wide))
        elif args.factors:
            print(factor_table(evaluation, wide))
        else:
            print(markdown(target_rows(evaluation, previous) + (wide_rows(wide) if wide else [])))
    except (OSError, ValueError, KeyError) as exc:
        print(f"targets_table: {exc!r} (give the evaluation.json of `evaluate --suite all`, "
              "and to --wide the report of `evaluate --suite held-out`)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
