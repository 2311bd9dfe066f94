"""Compare the logged losses of two training runs of one recipe, point by point.

Usage (from the repository root; the second run is typically the recipe stopped early by its
wall-time guard: ``python -m napari_evai2i.train --config demo --out runs/repro max_minutes=10``):

    python src_training/launch/check_reproduction.py runs/demo/metrics.jsonl runs/repro/metrics.jsonl

Prints JSON: how many logged (stage, step) points both runs reached, how many of them agree
bit for bit in every logged number, and the largest difference. Exit status 1 when any
shared point differs. Timing fields (``seconds``, ``time``) are ignored; every other number,
the learning rate included, must match. Where a run folder holds ``machine.json`` (written by
the trainer at each start), the report names the CPUs both runs trained on: float kernels differ
between CPU models, so two runs repeat bit for bit only on the same kind of CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

_IGNORED = {"seconds", "time"}


def logged_points(path: Path) -> dict[tuple[str, int], dict[str, float]]:
    """(stage, step) -> the numbers logged there; records of one point merge, the last value of a
    name winning (as after a resume); an evaluation logged at a step joins that step's losses."""
    points = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if "stage" not in record or "step" not in record:
            continue
        numbers = {k: float(v) for k, v in record.items()
                   if k not in _IGNORED and k not in ("stage", "step", "total") and isinstance(v, (int, float))}
        points.setdefault((str(record["stage"]), int(record["step"])), {}).update(numbers)
    return points


def compare(reference: Path, candidate: Path) -> dict:
    a, b = logged_points(reference), logged_points(candidate)
    shared = sorted(set(a) & set(b))
    identical, largest, first_difference = 0, 0.0, None
    for key in shared:
        # a number logged by one run only, or NaN in either, counts as an infinite difference
        gaps = [abs(a[key][n] - b[key][n]) if n in a[key] and n in b[key] else math.inf
                for n in set(a[key]) | set(b[key])]
        gap = max((math.inf if math.isnan(g) else g for g in gaps), default=0.0)
        if gap == 0.0:
            identical += 1
        elif first_difference is None:
            first_difference = {"stage": key[0], "step": key[1], "max_abs_difference": gap}
        largest = max(largest, gap)
    stages = {}
    for stage, step in shared:
        stages[stage] = max(stages.get(stage, 0), step)
    return {"reference": str(reference), "candidate": str(candidate), "shared_points": len(shared),
            "identical_points": identical, "max_abs_difference": largest,
            "last_shared_step_per_stage": stages, "first_difference": first_difference}


def trained_on(metrics: Path) -> list[str] | None:
    """The CPU models of every start of the run whose ``metrics.jsonl`` this is (None: not recorded)."""
    path = metrics.parent / "machine.json"
    if not path.is_file():
        return None
    return sorted({start.get("cpu", "?") for start in json.loads(path.read_text())})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="metrics.jsonl of the shipped run")
    parser.add_argument("candidate", type=Path, help="metrics.jsonl of the rerun")
    args = parser.parse_args(argv)
    report = compare(args.reference, args.candidate)
    machines = {"reference": trained_on(args.reference), "candidate": trained_on(args.candidate)}
    report["trained_on"] = machines
    if report["first_difference"] is not None:
        if None in machines.values():
            report["note"] = "a run has no machine.json: whether both trained on one kind of CPU is unknown"
        elif machines["reference"] != machines["candidate"]:
            report["note"] = "the runs trained on different CPUs, whose float kernels differ: not expected to agree bit for bit"
    print(json.dumps(report, indent=1))
    return 0 if report["shared_points"] and report["identical_points"] == report["shared_points"] else 1


if __name__ == "__main__":
    sys.exit(main())
