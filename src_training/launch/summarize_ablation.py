"""One line per ablation arm from its robustness JSON (``evaluate --suite robustness --json``):
the numbers the model card's ablation table compares.

    python src_training/launch/summarize_ablation.py docs/results/ablation_*.json

ring orders   how many of the ring phantom's 6 tasks keep the truth's tissue order, with the
              source prompt ; without one
ring T2w      the ring phantom's T1w->T2w CSF/GM with the source prompt (the truth's in brackets)
real anatomy  mean SSIM over 4 real anatomies x 4 tasks, no source prompt ; source prompt
held out      mean SSIM over the 4 tasks on held-out whole heads, no source prompt ; source prompt

    python src_training/launch/summarize_ablation.py --settings OLD.json NEW.json

compares two reports setting by setting instead: every held-out setting's mean SSIM over the 4
tasks, old and new, and the change (verdict B of src_training/configs/demo_cpu_plain_sources.yaml).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TASKS = ("T1w->T2w", "T1w->FLAIR", "T2w->T1w", "T1w->PDw")


def summary(report: dict) -> dict:
    """The compared numbers of one robustness report."""
    ring = report["off_template"]
    real = report["real_anatomy"]
    held_out = held_out_setting_means(report)

    def real_mean(setting: str) -> float:
        values = [real[a][t][setting]["ssim"] for a in real for t in TASKS if t in real[a]]
        return sum(values) / len(values)

    return {"ring_orders_prompt": sum(e["source prompt"]["order_ok"] for e in ring.values()),
            "ring_orders_none": sum(e["no source prompt"]["order_ok"] for e in ring.values()),
            "ring_t1w_t2w_csf_gm_prompt": ring["T1W->T2W"]["source prompt"]["csf_to_gm"],
            "ring_t1w_t2w_csf_gm_truth": ring["T1W->T2W"]["truth"]["csf_to_gm"],
            "real_anatomy_none": real_mean("no source prompt"),
            "real_anatomy_prompt": real_mean("source prompt"),
            "held_out_none": held_out["whole head, no source prompt"],
            "held_out_prompt": held_out["whole head, source prompt"]}


def held_out_setting_means(report: dict) -> dict[str, float]:
    """Mean SSIM over the 4 tasks of each held-out setting."""
    heads = report["held_out_heads"]
    return {setting: sum(heads[t][setting]["ssim"] for t in TASKS) / len(TASKS)
            for setting, cell in heads[TASKS[0]].items() if isinstance(cell, dict) and "ssim" in cell}


def compare_settings(old_path: str, new_path: str) -> None:
    old, new = (held_out_setting_means(read_report(p)) for p in (old_path, new_path))
    print(f"{'held-out setting (mean SSIM of 4 tasks)':62s}   old    new  change")
    for setting, before in old.items():
        print(f"{setting:62s} {before:.3f}  {new[setting]:.3f}  {new[setting] - before:+.3f}")


def read_report(path: str) -> dict:
    """A robustness report, whether saved alone or inside an evaluation.json, or the held-out
    suite's report (``evaluate --suite held-out``)."""
    report = json.loads(Path(path).read_text())
    return report.get("robustness") or report.get("held_out") or report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Compare robustness reports (evaluate --suite robustness --json).")
    parser.add_argument("reports", nargs="+", help="robustness JSON files (or evaluation.json files)")
    parser.add_argument("--settings", action="store_true",
                        help="compare two reports (OLD NEW) setting by setting on the held-out heads")
    args = parser.parse_args(argv)
    if args.settings:
        if len(args.reports) != 2:
            parser.error(f"--settings compares two reports, OLD and NEW; got {len(args.reports)}")
        compare_settings(*args.reports)
        return
    print(f"{'arm':34s} ring orders  ring T2w      real anatomy  held out")
    for path in args.reports:
        s = summary(read_report(path))
        print(f"{Path(path).stem:34s} {s['ring_orders_prompt']} ; {s['ring_orders_none']}"
              f"        {s['ring_t1w_t2w_csf_gm_prompt']:.3f} ({s['ring_t1w_t2w_csf_gm_truth']:.3f})"
              f"   {s['real_anatomy_none']:.2f} ; {s['real_anatomy_prompt']:.2f}"
              f"   {s['held_out_none']:.2f} ; {s['held_out_prompt']:.2f}")


if __name__ == "__main__":
    main()
