"""Kill a training run with SIGKILL, resume it, and get the result of an uninterrupted run;
damaged checkpoints are found and never trained on."""

import importlib.util
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from napari_evai2i.model import CheckpointInfo, create_model
from napari_evai2i.train.checkpoint import (CHECKSUM_FILE, DamagedCheckpointError, checkpoint_problem,
                                            checkpoint_to_resume, load_training_checkpoint,
                                            remove_unfinished_writes, save_training_checkpoint)

ROOT = Path(__file__).resolve().parents[2]

ARGS = ["clip_steps=2", "init_steps=6", "finetune_steps=2", "clip_batch=3", "gen_batch=2", "crop_size=64",
        "log_every=1", "ckpt_every=2", "eval_slices=4", "device=cpu", "w_tissue=1",
        "source_prompt_probability=0.5", "lr_schedule=cosine", "warmup_steps=2", "tune_text=true"]


def _train(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "napari_evai2i.train", f"out={out}", *ARGS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def training_state():
    """A real tiny model with a stepped optimiser: what the trainer checkpoints."""
    model = create_model("tiny", with_discriminator=True, seed=0)
    optimizer = torch.optim.AdamW(model.generator.parameters(), lr=1e-3)
    loss = sum(p.sum() for p in model.generator.parameters())
    loss.backward()
    optimizer.step()
    return model, optimizer


def _save(folder, state, steps):
    model, optimizer = state
    return save_training_checkpoint(folder / "last", model, model.generator, {"gen": optimizer},
                                    {"steps_done": {"init": steps}}, CheckpointInfo(trained=False),
                                    previous=folder / "previous")


def test_each_write_keeps_the_one_before_and_both_are_sealed(tmp_path, training_state):
    _save(tmp_path, training_state, 1)
    assert checkpoint_problem(tmp_path / "last") is None and not (tmp_path / "previous").exists()
    _save(tmp_path, training_state, 2)
    _save(tmp_path, training_state, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last", "previous"]     # no temporaries left
    steps = {name: json.loads((tmp_path / name / "train_state.json").read_text())["steps_done"]["init"]
             for name in ("last", "previous")}
    assert steps == {"last": 3, "previous": 2}
    assert checkpoint_problem(tmp_path / "previous") is None
    listed = json.loads((tmp_path / "last" / CHECKSUM_FILE).read_text())
    assert {"model.safetensors", "optim.safetensors", "ema.safetensors", "train_state.json"} <= set(listed)


def test_damage_is_found_and_the_previous_checkpoint_taken(tmp_path, training_state):
    _save(tmp_path, training_state, 1)
    _save(tmp_path, training_state, 2)
    last, previous = tmp_path / "last", tmp_path / "previous"
    assert checkpoint_to_resume([last, previous]) == (last, [])

    optim = last / "optim.safetensors"                      # one flipped byte, same size
    data = bytearray(optim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    optim.write_bytes(bytes(data))
    assert "altered" in checkpoint_problem(last)
    folder, skipped = checkpoint_to_resume([last, previous])
    assert folder == previous and "optim.safetensors" in skipped[0]

    model, optimizer = training_state
    state = load_training_checkpoint(folder, model, model.generator, {"gen": optimizer})
    assert state["steps_done"] == {"init": 1}

    with open(previous / "model.safetensors", "r+b") as handle:     # truncated
        handle.truncate(1000)
    with pytest.raises(DamagedCheckpointError, match="no intact training checkpoint.*truncated.*without --resume"):
        checkpoint_to_resume([last, previous])
    assert checkpoint_to_resume([tmp_path / "none"]) == (None, [])


def test_an_unsealed_folder_is_not_a_checkpoint_and_temporaries_are_cleared(tmp_path, training_state):
    _save(tmp_path, training_state, 1)
    (tmp_path / "last" / CHECKSUM_FILE).unlink()              # as if killed before the seal
    assert "incomplete" in checkpoint_problem(tmp_path / "last")
    (tmp_path / ".last.abc123").mkdir()
    (tmp_path / ".last.abc123" / "model.safetensors").write_bytes(b"partial")
    remove_unfinished_writes(tmp_path / "last")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def _kill_trials():
    """benchmarks/kill_trials.py: the full trials are a script; these tests run a few of them."""
    spec = importlib.util.spec_from_file_location("kill_trials", ROOT / "benchmarks" / "kill_trials.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_killed_runs_resume_to_the_uninterrupted_result(tmp_path):
    """SIGKILL mid checkpoint-write, then at a random moment with the newest checkpoint
    truncated, then with both truncated: identical metrics and model, or a clear refusal."""
    trials, rng = _kill_trials(), random.Random(1)
    reference = tmp_path / "reference"
    done = trials.train(reference)
    assert done.returncode == 0, done.stderr[-2000:]

    during_write = trials.kill_trial(reference, tmp_path / "write", rng, True, 6.0)
    assert during_write["mid_write"] and during_write["ok"], during_write

    fallback = trials.kill_trial(reference, tmp_path / "last", rng, False, 6.0, corrupt="last")
    assert fallback["ok"] and fallback["expected"] == "identical to the reference", fallback
    assert any("skipped damaged checkpoint" in line for line in fallback["resume_said"]), fallback

    # both checkpoints of that (now finished) run damaged: a refusal that trains nothing
    refused = trials.resume_trial(reference, tmp_path / "last", rng, corrupt="both")
    assert refused["expected"] == "refusal" and refused["ok"], refused
    assert "truncated or altered" in refused["resume_said"][-1]

    # the comparison can fail: one logged number changed by 1e-7 is found
    altered = tmp_path / "altered"
    shutil.copytree(reference, altered)
    lines = (altered / "metrics.jsonl").read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if '"loss"' in line)
    row = json.loads(lines[last])
    row["loss"] += 1e-7
    lines[last] = json.dumps(row)
    (altered / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert any("!=" in problem for problem in trials.compare(reference, altered))
    # ... and so is one changed weight of the exported model
    from safetensors.torch import load_file, save_file

    shutil.rmtree(altered)
    shutil.copytree(reference, altered)
    tensors = load_file(str(altered / "model" / "model.safetensors"))
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 1e-3
    save_file(tensors, str(altered / "model" / "model.safetensors"))
    assert trials.compare(reference, altered) == [f"model tensor {name} differs"]


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
    changed_report = json.loads(changed.stdout)
    assert changed.returncode == 1 and changed_report["first_difference"] is not None

    # each start of a run records its machine, and the report says where the runs trained
    from napari_evai2i.engine.translator import cpu_model

    starts = json.loads((tmp_path / "b" / "machine.json").read_text())
    assert len(starts) == 1 and starts[0]["cpu"] == cpu_model() and starts[0]["resume"] is False
    assert changed_report["trained_on"] == {"reference": [cpu_model()], "candidate": [cpu_model()]}
    assert "note" not in changed_report                       # same CPU: a difference is a real one
    (tmp_path / "b" / "machine.json").write_text(json.dumps([{**starts[0], "cpu": "Another CPU"}]))
    other = json.loads(subprocess.run([sys.executable, str(script), tmp_path / "a" / "metrics.jsonl",
                                       tmp_path / "b" / "metrics.jsonl"], capture_output=True, text=True,
                                      timeout=60).stdout)
    assert other["trained_on"]["candidate"] == ["Another CPU"] and "different CPUs" in other["note"]
