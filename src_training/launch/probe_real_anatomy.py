"""The robustness suite's real-anatomy check (train/robustness.py real_anatomy_check) for several
models side by side: SSIM / tissue Dice of each canonical task on the tissues of real scans, with
no source prompt and with the preset's (docs/model_history.md, "Other people's brains").

    git show 61f9ad0^:napari_evai2i/weights/demo/config.json > runs/v1/config.json   # and model.safetensors
    python src_training/launch/probe_real_anatomy.py v1=runs/v1 v2=runs/v2 v4=demo \\
        --json docs/results/real_anatomy_v1_v2_v4.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from napari_evai2i.engine import load_model
from napari_evai2i.train.robustness import TASKS, real_anatomy_check

SETTINGS = ("no source prompt", "source prompt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a model name or checkpoint folder)")
    parser.add_argument("--json", required=True, help="where to write the reports, by label")
    args = parser.parse_args(argv)
    reports = {}
    for spec in args.models:
        label, _, model = spec.partition("=")
        reports[label] = {"model": model or label, "real_anatomy": real_anatomy_check(load_model(model or label, "cpu"))}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reports, indent=1) + "\n")
    scans = next(iter(reports.values()))["real_anatomy"]
    for scan in scans:
        print(scan)
        for task in TASKS:
            cells = [f"{label} " + "; ".join(f"{r['real_anatomy'][scan][task][s]['ssim']:.2f}/"
                                               f"{r['real_anatomy'][scan][task][s]['dice']:.2f}" for s in SETTINGS)
                     for label, r in reports.items()]
            print(f"  {task:11s} " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
