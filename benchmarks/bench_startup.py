"""Where the translate command's time goes, end to end, on one volume (prints JSON).

    python benchmarks/bench_startup.py [--input VOL.nii.gz] [--repeats 3] [--baseline-tree DIR]

Without ``--input`` a 182 x 218 x 182 T1w volume (1 mm, the sample subject's anatomy) is
written to a temporary folder first. Measured in one run on one machine:

* ``interpreter``: ``python -c pass`` (the floor of any command);
* ``help``: ``python -m napari_evai2i.translate --help`` (must not import torch);
* ``command``: the whole ``python -m napari_evai2i.translate IN -p ... -o OUT.nii.gz``;
* phases, in a fresh process, in the order the command runs them: imports, reading,
  loading the model, preparing (scale, prompt kernels), translating, writing (NIfTI gzip
  at several compression levels, since that is a choice we make).

With ``--baseline-tree DIR`` (a checkout of an older commit, e.g. ``git worktree add DIR
REV``) the whole command is also timed from that tree, alternating with ours, so the
before/after ratio comes from one run. Each figure is the median of ``--repeats`` runs;
the CPU's instruction set is printed with them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."
SHAPE = (182, 218, 182)

PHASES = r"""
import json, sys, time
marks = {}
t = time.perf_counter()
from napari_evai2i.translate import build_parser
marks["import_command"] = time.perf_counter() - t
t = time.perf_counter()
from napari_evai2i.io import read_volume
marks["import_io"] = time.perf_counter() - t
t = time.perf_counter()
from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation, write_translation
marks["import_engine_torch_model"] = time.perf_counter() - t
t = time.perf_counter()
volume = read_volume(sys.argv[1])
marks["read"] = time.perf_counter() - t
t = time.perf_counter()
from napari_evai2i.engine import load_model
translator = load_model("demo", "cpu")
marks["load_model"] = time.perf_counter() - t
t = time.perf_counter()
job = VolumeTranslation(volume, TranslationRequest(sys.argv[3]), translator)
marks["prepare"] = time.perf_counter() - t
t = time.perf_counter()
result = job.run()
marks["translate"] = time.perf_counter() - t
import nibabel.openers
for level in (1, 6, 9):
    nibabel.openers.Opener.default_compresslevel = level
    t = time.perf_counter()
    write_translation(result, f"{sys.argv[2]}/out_{level}.nii.gz", overwrite=True)
    marks[f"write_gzip_{level}"] = time.perf_counter() - t
for name in ("out.nii", "out.mha"):
    t = time.perf_counter()
    write_translation(result, f"{sys.argv[2]}/{name}", overwrite=True)
    marks["write_" + name.split(".")[1]] = time.perf_counter() - t
import os
marks["size_gzip_1_mb"] = os.path.getsize(f"{sys.argv[2]}/out_1.nii.gz") / 1e6
marks["size_gzip_6_mb"] = os.path.getsize(f"{sys.argv[2]}/out_6.nii.gz") / 1e6
print(json.dumps(marks))
"""


def _wall(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def _make_input(folder: Path) -> Path:
    import numpy as np

    from napari_evai2i.data.samples import sample_volumes
    from napari_evai2i.io import Volume, write_volume

    sample = sample_volumes(1)["T1W"]
    start = [(n - m) // 2 for n, m in zip(sample.array.shape, SHAPE)]
    array = sample.array[tuple(slice(s, s + m) for s, m in zip(start, SHAPE))]
    volume = Volume(np.ascontiguousarray(array), spacing=sample.spacing, origin=sample.origin,
                    direction=sample.direction)
    return write_volume(volume, folder / "t1.nii.gz", overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="an older checkout whose command is timed alternately with ours")
    args = parser.parse_args()
    import os
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import machine

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = args.input or _make_input(folder)
        py = sys.executable
        command = [py, "-m", "napari_evai2i.translate", str(source), "-p", PROMPT, "-o", str(folder / "cmd.nii.gz"),
                   "--model", "demo", "--device", "cpu", "--overwrite", "-q"]
        runs: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            runs.setdefault("interpreter", []).append(_wall([py, "-c", "pass"]))
            runs.setdefault("help", []).append(_wall([py, "-m", "napari_evai2i.translate", "--help"]))
            runs.setdefault("command", []).append(_wall(command))
            if args.baseline_tree is not None:
                env = {**os.environ, "PYTHONPATH": str(args.baseline_tree.resolve())}
                runs.setdefault("command_baseline", []).append(_wall(command, env))
            out = subprocess.run([py, "-c", PHASES, str(source), str(folder), PROMPT], check=True,
                                 capture_output=True, text=True).stdout
            for key, value in json.loads(out.strip().splitlines()[-1]).items():
                runs.setdefault(key, []).append(value)
    medians = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    phases = ("import_command", "import_io", "import_engine_torch_model", "read", "load_model", "prepare",
              "translate", "write_gzip_1")
    medians["sum_of_phases"] = round(sum(medians[p] for p in phases), 3)
    medians["outside_translation"] = round(medians["command"] - medians["translate"], 3)
    if "command_baseline" in medians:
        medians["baseline_over_command"] = round(medians["command_baseline"] / medians["command"], 3)
    print(json.dumps({"benchmark": "startup", "shape": list(SHAPE), "repeats": args.repeats,
                      "machine": machine(), "seconds_median": medians}, indent=2))


if __name__ == "__main__":
    main()
