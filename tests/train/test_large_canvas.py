"""Mixed canvases: every large_canvas_every-th generator step draws larger slices, and a resumed
stage draws the same items as an unbroken one."""

import pytest
import torch

from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.trainer import Trainer

QUICK = ["simulator=randomized", "crop_size=32", "device=cpu", "clip_steps=0", "init_steps=6",
         "finetune_steps=2", "gen_batch=4", "log_every=1", "ckpt_every=100", "image_every=100", "eval_slices=2"]


def test_large_canvas_keys_are_checked():
    with pytest.raises(ValueError, match="large_canvas_size must be a positive multiple of 8"):
        load_train_config(None, ["large_canvas_size=50"])
    with pytest.raises(ValueError, match="large_canvas_every must be at least 1"):
        load_train_config(None, ["large_canvas_size=48", "large_canvas_every=0"])
    with pytest.raises(ValueError, match="do not work together"):
        load_train_config(None, ["large_canvas_size=48", "curriculum_steps=10"])


def test_every_second_step_is_a_large_canvas_with_the_same_pixels(tmp_path):
    trainer = Trainer(load_train_config(None, [*QUICK, f"out={tmp_path}", "large_canvas_size=64"]))
    shapes = [tuple(batch["src"].shape) for batch in trainer._batches("init", 0, 4)]
    # 4 pairs of 32 x 32 pixels, then 1 pair of 64 x 64: the default large batch keeps the pixels
    assert shapes == [(4, 1, 32, 32), (1, 1, 64, 64)] * 3


def test_a_resumed_stage_draws_the_same_items_as_an_unbroken_one(tmp_path):
    trainer = Trainer(load_train_config(None, [*QUICK, f"out={tmp_path}", "large_canvas_size=48",
                                               "large_canvas_batch=2", "large_canvas_every=3"]))
    unbroken = list(trainer._batches("init", 0, 4))
    resumed = list(trainer._batches("init", 4, 4))
    assert [tuple(b["src"].shape) for b in unbroken] == [(4, 1, 32, 32)] * 2 + [(2, 1, 48, 48)] \
        + [(4, 1, 32, 32)] * 2 + [(2, 1, 48, 48)]
    assert len(resumed) == 2
    for late, again in zip(unbroken[4:], resumed):
        assert torch.equal(late["src"], again["src"]) and torch.equal(late["tgt"], again["tgt"])


def test_a_run_with_large_canvases_trains_both_generator_stages(tmp_path):
    trainer = Trainer(load_train_config(None, [*QUICK, f"out={tmp_path}", "large_canvas_size=48"]))
    folder = trainer.run()
    assert trainer.steps_done == {"clip": 0, "init": 6, "finetune": 2}
    assert (folder / "model.safetensors").is_file()
