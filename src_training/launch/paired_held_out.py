"""Rule 1 of the ship rule, case by case: two held-out reports of the same cases
(``evaluate --suite held-out --cases N --first-case K --json``), the reference model's and a
candidate's.

    python src_training/launch/paired_held_out.py OLD.json NEW.json [--draws 4000]

Prints rule 1 (ship_rule.py: no SSIM cell down by more than 0.01, no Dice cell by more than 0.02)
on the two reports' means, every broken cell with the standard error of its case-by-case
difference, each setting's mean SSIM over the four tasks, and how many cells would break rule 1
by chance alone: the cells' case-by-case differences with random signs (two models whose
differences are noise), averaged over ``--draws`` draws. With 6 cases that count is what tells a
real loss from a bad draw of cases.
``--real-loss`` judges by rule 1' instead: a cell breaks only when its loss is past the limit
and real, change + 2 SE < 0 (SE: the standard error of the case-by-case differences), so a cell
past its limit by a bad draw of cases does not count. ``--show TASK SETTING METRIC`` also prints
one cell's change and standard error whatever its size (a question asked of one cell before a run).
Exits 0 only if the rule judged by holds.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ship_rule import RULE_1_LIMITS, held_out_loss_cells   # this folder: the script's own sys.path entry
from summarize_ablation import TASKS, read_report
from targets_table import mean_and_se


def paired_cells(old: dict, new: dict) -> dict[tuple[str, str, str], np.ndarray]:
    """(task, setting, metric) -> every case's new minus old score."""
    out = {}
    for task in TASKS:
        for setting, cell in old["held_out_heads"][task].items():
            for metric in RULE_1_LIMITS:
                before = np.asarray(cell["per_case"][metric])
                after = np.asarray(new["held_out_heads"][task][setting]["per_case"][metric])
                out[task, setting, metric] = after - before
    return out


def chance_breaks(differences: dict[tuple[str, str, str], np.ndarray], draws: int, seed: int = 0) -> float:
    """Mean number of cells past their rule-1 limit when every difference gets a random sign."""
    rng = np.random.default_rng(seed)
    total = 0
    for (_, _, metric), d in differences.items():
        signs = rng.choice((-1.0, 1.0), size=(draws, d.size))
        total += int(((signs * d).mean(axis=1) < -RULE_1_LIMITS[metric]).sum())
    return total / draws


def check_same_cases(old: dict, new: dict) -> str | None:
    for name, report in (("old", old), ("new", new)):
        if "first_case" not in report or "per_case" not in report["held_out_heads"][TASKS[0]][
                next(iter(report["held_out_heads"][TASKS[0]]))]:
            return (f"the {name} report has no case-by-case scores; make it with "
                    "`python -m napari_evai2i.train.evaluate --suite held-out --json ...`")
    if (old["first_case"], old["cases"]) != (new["first_case"], new["cases"]):
        return (f"the reports score different cases (old: {old['cases']} from {old['first_case']}, "
                f"new: {new['cases']} from {new['first_case']}); run both with the same --cases and --first-case")
    return None


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("old", help="the reference model's held-out report")
    cli.add_argument("new", help="the candidate's held-out report")
    cli.add_argument("--draws", type=int, default=4000, help="random sign draws for the chance count")
    cli.add_argument("--real-loss", action="store_true",
                     help="judge by rule 1': a cell breaks only if its loss is past the limit and change + 2 SE < 0")
    cli.add_argument("--show", nargs=3, action="append", default=[], metavar=("TASK", "SETTING", "METRIC"),
                     help="also print this cell's change +- SE, past its limit or not (repeatable)")
    args = cli.parse_args(argv)
    old, new = read_report(args.old), read_report(args.new)
    problem = check_same_cases(old, new)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    differences = paired_cells(old, new)
    losses = held_out_loss_cells(old, new)
    n = old["cases"]
    print(f"cases {old['first_case']}-{old['first_case'] + n - 1} ({n})")
    print(f"rule 1 (held-out cells): {'holds' if not losses else 'broken'}")
    real = []
    for task, setting, metric, before, after in losses:
        line = f"{task}, {setting}: {metric} {before:.3f} -> {after:.3f}"
        change, se = mean_and_se(list(differences[task, setting, metric]))
        print(f"    {line} (change {change:+.3f} +- {se:.3f})")
        if change + 2 * se < 0:
            real.append(line)
    print(f"rule 1' (past the limit and change + 2 SE < 0): {'holds' if not real else 'broken'}")
    for line in real:
        print("   ", line)
    for task, setting, metric in args.show:
        if (task, setting, metric) not in differences:
            print(f"error: no cell {task!r}, {setting!r}, {metric!r} in the reports", file=sys.stderr)
            return 2
        change, se = mean_and_se(list(differences[task, setting, metric]))
        before = float(np.mean(old["held_out_heads"][task][setting]["per_case"][metric]))
        verdict = "real loss" if change + 2 * se < 0 else "real gain" if change - 2 * se > 0 else "not real"
        print(f"cell {task}, {setting}: {metric} {before:.3f} -> {before + change:.3f} "
              f"(change {change:+.3f} +- {se:.3f}, {verdict})")
    print(f"cells past their limit by chance alone: {chance_breaks(differences, args.draws):.1f} "
          f"of {len(differences)} (random signs, {args.draws} draws)")
    print(f"{'held-out setting (mean SSIM of 4 tasks)':62s}   old    new  change")
    for setting in old["held_out_heads"][TASKS[0]]:
        change, se = mean_and_se(list(np.mean([differences[t, setting, "ssim"] for t in TASKS], axis=0)))
        before = np.mean([old["held_out_heads"][t][setting]["ssim"] for t in TASKS])
        print(f"{setting:62s} {before:.3f}  {before + change:.3f}  {change:+.3f} +- {se:.3f}")
    return 0 if not (real if args.real_loss else losses) else 1


if __name__ == "__main__":
    sys.exit(main())
