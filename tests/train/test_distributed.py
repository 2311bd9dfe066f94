"""Data parallel on CPU with gloo and two real processes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from napari_evai2i.train.losses import multi_positive_contrastive_loss

HERE = Path(__file__).parent


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_gathered_contrastive_loss_and_gradients_equal_single_process(tmp_path):
    out = tmp_path / "rank0.pt"
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, str(HERE / "_ddp_worker.py"), str(r), "2", port, str(out)])
             for r in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    result = torch.load(out, weights_only=True)

    torch.manual_seed(0)
    proj = torch.nn.Linear(6, 4)
    data = torch.randn(8, 6)
    match = torch.eye(8, dtype=torch.bool)
    match[1, 5] = match[5, 1] = match[2, 6] = True
    emb = F.normalize(proj(data), dim=1)
    loss = multi_positive_contrastive_loss(emb, emb.flip(1), match)
    loss.backward()
    assert torch.allclose(result["loss"], loss.detach(), atol=1e-5)
    # Each rank's loss is the mean over its own anchors, so the rank-averaged gradient
    # equals the single-process gradient of the mean over all anchors.
    assert torch.allclose(result["grad"], proj.weight.grad, atol=1e-5)


@pytest.mark.slow
def test_torchrun_two_processes_train_and_only_rank0_writes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", _free_port(),
           "-m", "napari_evai2i.train", f"out={out}", "clip_steps=2", "init_steps=2", "finetune_steps=1",
           "clip_batch=3", "gen_batch=2", "crop_size=64", "log_every=1", "eval_slices=4", "device=cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [(l["stage"], l["step"]) for l in lines if "loss" in l]
    assert steps == sorted(set(steps), key=steps.index)            # one writer: no duplicates
    assert ("finetune", 1) in steps
    assert (out / "model" / "model.safetensors").is_file()
