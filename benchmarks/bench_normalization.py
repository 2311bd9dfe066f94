"""What the brain-core normalisation costs per volume, today's rule against an older checkout's.

    python benchmarks/bench_normalization.py --baseline-tree DIR [--repeats 7]

DIR is a checkout of an older commit (``git worktree add DIR COMMIT``); its
``napari_evai2i/engine/normalization.py`` is loaded beside ours. Both find the brain-core level
of the sample subject's 1 mm T2w volume (simulated, 197 x 233 x 189), alternating, once per
repeat; the rule runs once per input volume, so the figure is comparable to a whole
translation (docs/performance.md). Prints both medians and their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

from _common import emit, machine


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module              # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-tree", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    baseline_file = args.baseline_tree / "napari_evai2i" / "engine" / "normalization.py"
    if not baseline_file.is_file():
        parser.error(f"{baseline_file} does not exist: give a checkout of this repository")

    from napari_evai2i.data.samples import sample_volumes
    from napari_evai2i.engine import normalization as ours

    baseline = _load(baseline_file, "baseline_normalization")
    t2 = sample_volumes(1)["T2W"]
    emit({"machine": machine(), "volume": list(t2.array.shape), "spacing_mm": list(t2.spacing)})
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    levels = {}
    for _ in range(args.repeats):
        for name, module in (("ours", ours), ("baseline", baseline)):
            start = time.perf_counter()
            levels[name] = module.brain_core_level(t2.array, t2.spacing)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    emit({"seconds_ours": round(medians["ours"], 4), "seconds_baseline": round(medians["baseline"], 4),
          "ours_over_baseline": round(medians["ours"] / medians["baseline"], 3),
          "level_ours": round(levels["ours"], 4), "level_baseline": round(levels["baseline"], 4),
          "repeats": args.repeats})


if __name__ == "__main__":
    main()
