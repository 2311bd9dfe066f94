"""Kill the training command with SIGKILL and resume it, many times; check nothing is lost.

Each trial starts the same tiny recipe as an uninterrupted reference run, kills it
(``kill -9``) at a random moment or while a checkpoint is being written, runs
``--resume`` to the end, and compares the result with the reference: every logged metric
of every step and every tensor of the exported model must be identical (training on CPU
is deterministic, so no tolerance is allowed). Corruption trials truncate a file of the
newest checkpoint before resuming (resume must fall back to the previous one) or of both
(resume must refuse with a clear message and train nothing).

    .venv/bin/python benchmarks/kill_trials.py --trials 8 --write-kills 3 --corruptions 2

Prints one JSON object per trial and a summary line; exit status 1 when any trial failed.
The test suite runs a short version of the same functions (tests/train/test_resume.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: A recipe that runs every stage in about 20 s on 2 cores, checkpointing every step.
RECIPE = ["clip_steps=2", "init_steps=6", "finetune_steps=2", "clip_batch=3", "gen_batch=2", "crop_size=64",
          "log_every=1", "ckpt_every=1", "eval_slices=4", "device=cpu", "w_tissue=1",
          "source_prompt_probability=0.5", "lr_schedule=cosine", "warmup_steps=2", "tune_text=true"]
TIMEOUT_S = 600


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "napari_evai2i.train", f"out={out}", *RECIPE, *extra]


def _environment() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def train(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(out, *extra), capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=_environment())


def metrics(out: Path) -> dict:
    """Every logged number per (stage, step) except wall-clock times; a re-run step's last row wins."""
    rows: dict = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        key = (row.get("stage"), row.get("step"), "loss" in row)
        rows[key] = {k: v for k, v in row.items() if k not in ("seconds", "time", "elapsed")}
    return rows


def model_tensors(out: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(out / "model" / "model.safetensors"))


def _writing(checkpoints: Path) -> bool:
    """A checkpoint is being written: a hidden temporary folder exists next to ``last``."""
    try:
        return any(p.name.startswith(".") for p in checkpoints.iterdir())
    except FileNotFoundError:
        return False


def kill(out: Path, rng: random.Random, during_write: bool, remaining_s: float, needs_previous: bool) -> dict:
    """Start a run and SIGKILL it; returns when and where it was killed."""
    proc = subprocess.Popen(_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=_environment())
    started = time.monotonic()
    checkpoints = out / "checkpoints"
    if during_write:
        # Skip the first write or two, then kill a random few milliseconds into one.
        skip, seen = rng.randint(1, 6), 0
        while proc.poll() is None:
            if _writing(checkpoints):
                seen += 1
                if seen > skip:
                    time.sleep(rng.uniform(0.0, 0.05))
                    break
                while _writing(checkpoints) and proc.poll() is None:
                    time.sleep(0.002)
            time.sleep(0.002)
    else:
        # After the first checkpoint (two for a corruption trial, so there is a previous
        # one to fall back to), a random moment in the rest of the run.
        first = checkpoints / ("previous" if needs_previous else "last")
        while proc.poll() is None and not first.exists():
            time.sleep(0.01)
        deadline = time.monotonic() + rng.uniform(0.0, remaining_s)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        # A checkpoint write briefly has no `previous` (it is retired before `last` takes its
        # place), so a corruption trial that landed in one waits for the write to end.
        while needs_previous and proc.poll() is None and _writing(checkpoints):
            time.sleep(0.002)
    mid_write = _writing(checkpoints)
    finished_first = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"killed_after_s": round(time.monotonic() - started, 3), "mid_write": mid_write and not finished_first,
            "finished_before_kill": finished_first,
            "left_behind": sorted(p.name for p in checkpoints.iterdir()) if checkpoints.exists() else []}


def truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def compare(reference: Path, run: Path) -> list[str]:
    """What differs between two runs (empty when everything is identical)."""
    problems = []
    want, got = metrics(reference), metrics(run)
    if set(want) != set(got):
        problems.append(f"logged points differ: missing {sorted(set(want) - set(got))[:3]}, "
                        f"extra {sorted(set(got) - set(want))[:3]}")
    problems += [f"{key}: {got[key]} != {want[key]}" for key in sorted(set(want) & set(got))
                 if got[key] != want[key]][:3]
    a, b = model_tensors(reference), model_tensors(run)
    if set(a) != set(b):
        problems.append("exported model tensors differ in names")
    else:
        problems += [f"model tensor {k} differs" for k in sorted(a) if not bool((a[k] == b[k]).all())][:3]
    return problems


def kill_trial(reference: Path, out: Path, rng: random.Random, during_write: bool,
               remaining_s: float, corrupt: str | None = None) -> dict:
    """Kill, optionally truncate checkpoint files, resume, compare. ``corrupt``: None, "last" or "both"."""
    record = {"during_write": during_write, "corrupt": corrupt, **kill(out, rng, during_write, remaining_s, corrupt is not None)}
    return resume_trial(reference, out, rng, corrupt, record)


def resume_trial(reference: Path, out: Path, rng: random.Random, corrupt: str | None = None,
                 record: dict | None = None) -> dict:
    """Truncate a file of the newest checkpoint of ``out`` (or of both, or none), ``--resume``,
    and check the outcome: identical to ``reference``, or a clean refusal where nothing intact
    is left. ``out`` may be a killed run or a finished one."""
    record = {"corrupt": corrupt} if record is None else record
    checkpoints = out / "checkpoints"
    if corrupt:
        for name in ("last", "previous") if corrupt == "both" else ("last",):
            victim = rng.choice(["model.safetensors", "optim.safetensors", "ema.safetensors", "train_state.json"])
            if (checkpoints / name / victim).exists():
                truncate(checkpoints / name / victim)
                record.setdefault("truncated", []).append(f"{name}/{victim}")
    from napari_evai2i.train.checkpoint import checkpoint_problem

    left = [c for c in (checkpoints / "last", checkpoints / "previous") if c.exists()]
    must_refuse = bool(left) and all(checkpoint_problem(c) for c in left)
    before = (out / "metrics.jsonl").read_bytes() if (out / "metrics.jsonl").exists() else b""
    resumed = train(out, "--resume")
    record["resume_rc"] = resumed.returncode
    record["resume_said"] = [line[:300] for line in resumed.stderr.splitlines()
                             if line.startswith(("--resume", "error"))][-3:]
    if must_refuse:                     # nothing intact is left: refuse, and train nothing
        after = (out / "metrics.jsonl").read_bytes() if (out / "metrics.jsonl").exists() else b""
        refused = resumed.returncode == 2 and "no intact training checkpoint" in resumed.stderr
        record["expected"] = "refusal"
        record["problems"] = [] if refused and after == before else ["resume did not refuse cleanly"]
        record["ok"] = not record["problems"]
        return record
    record["expected"] = "identical to the reference"
    record["problems"] = ([f"resume exit {resumed.returncode}: {resumed.stderr[-300:]}"]
                          if resumed.returncode else compare(reference, out))
    record["ok"] = not record["problems"]
    return record


def run_trials(workdir: Path, trials: int, write_kills: int, corruptions: int, seed: int) -> dict:
    """The reference run, then the trials; returns the summary (also printed by :func:`main`)."""
    rng = random.Random(seed)
    reference = workdir / "reference"
    started = time.monotonic()
    done = train(reference)
    if done.returncode:
        raise RuntimeError(f"the reference run failed: {done.stderr[-1000:]}")
    length = time.monotonic() - started
    remaining_s = 0.4 * length          # about what is left of a run after its first checkpoint
    records = []
    plan = ([("write", None)] * write_kills + [("random", None)] * (trials - write_kills)
            + [("random", "last")] * corruptions + [("random", "both")] * (1 if corruptions else 0))
    for index, (kind, corrupt) in enumerate(plan):
        out = workdir / f"trial{index}"
        record = kill_trial(reference, out, rng, kind == "write", remaining_s, corrupt)
        record["trial"] = index
        records.append(record)
        print(json.dumps(record), flush=True)
        shutil.rmtree(out, ignore_errors=True)
    kills = [r for r in records if r["corrupt"] is None]
    return {"summary": True, "seed": seed, "reference_s": round(length, 1), "kill_trials": len(kills),
            "killed_mid_write": sum(r["mid_write"] for r in kills),
            "identical_after_resume": sum(r["ok"] for r in kills),
            "corruption_trials": len(records) - len(kills),
            "corruption_handled": sum(r["ok"] for r in records if r["corrupt"]),
            "failed": [r["trial"] for r in records if not r["ok"]]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="kill-and-resume trials (corruption ones extra)")
    parser.add_argument("--write-kills", type=int, default=3, help="of the trials, killed during a checkpoint write")
    parser.add_argument("--corruptions", type=int, default=2,
                        help="trials that truncate a file of the newest checkpoint (plus one that truncates both)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kill_trials.") as workdir:
        summary = run_trials(Path(workdir), args.trials, args.write_kills, args.corruptions, args.seed)
    print(json.dumps(summary), flush=True)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
