"""The CPU continuations' ship rule, rules 1, 2 and 4, on two robustness reports (the shipped
model's and a candidate's, ``evaluate --suite robustness --cases 6 --json``). Rule 3, the
standard suite, needs its own run and is only worth making when these pass.

    python src_training/launch/ship_rule.py napari_evai2i/weights/demo/evaluation.json CANDIDATE.json

1. no held-out SSIM cell down by more than 0.01, no Dice cell by more than 0.02;
2. no real-scan tissue order lost (real T1 and real T2w, every source-prompt setting);
4. the ring phantom with the source prompt gets T1w->T2w's order right, or the real-anatomy SSIM
   with the source prompt rises by 0.02 or more on average over its 16 cells with none down by
   more than 0.02.
Prints each rule's verdict and the cells that broke it; exits 0 only if all three hold.
"""

from __future__ import annotations

import argparse
import sys

from summarize_ablation import TASKS, read_report      # this folder: the script's own sys.path entry


#: rule 1: how far a held-out cell may drop, per metric
RULE_1_LIMITS = {"ssim": 0.01, "dice": 0.02}


def held_out_loss_cells(old: dict, new: dict) -> list[tuple[str, str, str, float, float]]:
    """(task, setting, metric, old value, new value) of every held-out cell past its rule-1 limit."""
    out = []
    for task in TASKS:
        for setting, cell in old["held_out_heads"][task].items():
            for metric, limit in RULE_1_LIMITS.items():
                after = new["held_out_heads"][task][setting][metric]
                if after - cell[metric] < -limit:
                    out.append((task, setting, metric, cell[metric], after))
    return out


def held_out_losses(old: dict, new: dict) -> list[str]:
    return [f"{task}, {setting}: {metric} {before:.3f} -> {after:.3f}"
            for task, setting, metric, before, after in held_out_loss_cells(old, new)]


def orders_lost(old: dict, new: dict) -> list[str]:
    out = []
    for section in ("real_t1", "real_t2"):
        for scan, settings in old[section].items():
            if not isinstance(settings, dict):              # the figure's path
                continue
            for setting, targets in settings.items():
                if not isinstance(targets, dict) or setting in ("source_means",):
                    continue
                for kind, entry in targets.items():
                    after = (new[section][scan].get(setting) or {}).get(kind)
                    if isinstance(entry, dict) and entry.get("order_ok") and not (after or {}).get("order_ok"):
                        out.append(f"{scan}, {setting}: {kind}")
    return out


def off_template_gain(old: dict, new: dict) -> tuple[bool, str]:
    ring = new["off_template"]["T1W->T2W"]["source prompt"]
    cells = [(scan, task, new["real_anatomy"][scan][task]["source prompt"]["ssim"]
              - old["real_anatomy"][scan][task]["source prompt"]["ssim"])
             for scan in old["real_anatomy"] for task in TASKS]
    mean = sum(c for _, _, c in cells) / len(cells)
    worst = min(cells, key=lambda c: c[2])
    text = (f"ring T1w->T2w with the prompt: order {'right' if ring['order_ok'] else 'wrong'} "
            f"(CSF/GM {ring['csf_to_gm']}); real anatomy with the prompt: mean {mean:+.3f}, "
            f"worst cell {worst[2]:+.3f} ({worst[0]}, {worst[1]})")
    return bool(ring["order_ok"]) or (mean >= 0.02 and worst[2] >= -0.02), text


def main(old_path: str, new_path: str) -> int:
    old, new = read_report(old_path), read_report(new_path)
    losses, lost = held_out_losses(old, new), orders_lost(old, new)
    gain, text = off_template_gain(old, new)
    print(f"rule 1 (held-out cells): {'holds' if not losses else 'broken'}")
    for line in losses:
        print("   ", line)
    print(f"rule 2 (real-scan orders): {'holds' if not lost else 'broken'}")
    for line in lost:
        print("    lost:", line)
    print(f"rule 4 (a gain off the template): {'holds' if gain else 'broken'}\n    {text}")
    return 0 if not losses and not lost and gain else 1


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="Rules 1, 2 and 4 of the CPU continuations' ship rule.")
    cli.add_argument("old", help="the reference model's robustness report (e.g. the shipped evaluation.json)")
    cli.add_argument("new", help="the candidate's robustness report")
    args = cli.parse_args()
    sys.exit(main(args.old, args.new))
