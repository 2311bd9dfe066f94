"""The training command line: no Qt on import, one-line errors, a real tiny run end to end."""

import json
import subprocess
import sys

import pytest


def test_help_imports_no_gui_toolkit():
    code = ("import sys, runpy; sys.argv=['x','--help']\n"
            "try:\n    runpy.run_module('napari_evai2i.train', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "bad=[m for m in ('napari','qtpy','magicgui','PyQt6') if m in sys.modules]\n"
            "print('BAD', bad)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "BAD []" in proc.stdout, proc.stdout + proc.stderr


def test_unknown_key_is_a_one_line_error():
    proc = subprocess.run([sys.executable, "-m", "napari_evai2i.train", "learning_rate=3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown training config keys: learning_rate"


@pytest.mark.slow
def test_tiny_run_writes_model_metrics_samples_and_dclip_report(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "napari_evai2i.train", "--config", "demo",
                           f"out={tmp_path}", "clip_steps=2", "init_steps=2", "finetune_steps=2", "clip_batch=3",
                           "gen_batch=2", "crop_size=64", "image_every=1", "eval_slices=4", "log_every=1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("model")
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in rows} == {"clip", "init", "finetune"}
    assert any("zero_shot_sequence_accuracy" in r for r in rows)
    assert all("adv" in r for r in rows if r["stage"] == "finetune" and "loss" in r)
    assert (tmp_path / "samples" / "latest.png").is_file()
    assert (tmp_path / "dclip_prompt_embeddings.png").is_file()
    from napari_evai2i.model import load_pretrained

    _, info = load_pretrained(tmp_path / "model")
    assert info.trained and info.provenance["steps_done"] == {"clip": 2, "init": 2, "finetune": 2}
