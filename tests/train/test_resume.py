"""Kill a training run with SIGKILL, resume it, and get the losses of an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARGS = ["clip_steps=2", "init_steps=6", "finetune_steps=2", "clip_batch=3", "gen_batch=2", "crop_size=64",
        "log_every=1", "ckpt_every=2", "eval_slices=4", "device=cpu", "w_tissue=1",
        "source_prompt_probability=0.5", "lr_schedule=cosine", "warmup_steps=2", "tune_text=true"]


def _train(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "napari_evai2i.train", f"out={out}", *ARGS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _losses(path):
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if "loss" in row and "seconds" in row:
            rows[(row["stage"], row["step"])] = row["loss"]       # the last run of a step wins
    return rows


@pytest.mark.slow
def test_killed_run_resumes_exactly(tmp_path):
    reference = _train(tmp_path / "ref")
    assert reference.wait(timeout=300) == 0, reference.stderr.read()[-2000:]
    expected = _losses(tmp_path / "ref" / "metrics.jsonl")

    run = tmp_path / "killed"
    proc = _train(run)
    deadline = time.time() + 300
    while time.time() < deadline:                      # kill it mid-way through stage 2
        metrics = run / "metrics.jsonl"
        if metrics.exists() and ("init", 3) in _losses(metrics):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ("finetune", 2) not in _losses(run / "metrics.jsonl")

    resumed = subprocess.run([sys.executable, "-m", "napari_evai2i.train", f"out={run}", *ARGS, "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = _losses(run / "metrics.jsonl")
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


@pytest.mark.slow
def test_randomized_recipe_is_deterministic_by_the_reproduction_check(tmp_path):
    """Two runs of one seed on the domain-randomised generator log identical numbers (CPU)."""
    script = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "check_reproduction.py"
    for name in ("a", "b"):
        run = _train(tmp_path / name, "simulator=randomized")
        assert run.wait(timeout=300) == 0, run.stderr.read()[-2000:]
    same = subprocess.run([sys.executable, str(script), tmp_path / "a" / "metrics.jsonl",
                           tmp_path / "b" / "metrics.jsonl"], capture_output=True, text=True, timeout=60)
    report = json.loads(same.stdout)
    assert same.returncode == 0 and report["shared_points"] == report["identical_points"] >= 10, report

    # the check can fail: one changed loss is found
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if '"loss"' in line and '"stage"' in line)
    row = json.loads(lines[last])
    row["loss"] += 1e-7
    lines[last] = json.dumps(row)
    (tmp_path / "b" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    changed = subprocess.run([sys.executable, str(script), tmp_path / "a" / "metrics.jsonl",
                              tmp_path / "b" / "metrics.jsonl"], capture_output=True, text=True, timeout=60)
    assert changed.returncode == 1 and json.loads(changed.stdout)["first_difference"] is not None
