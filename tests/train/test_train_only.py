"""``train_only``: stage 2 trains the named generator parts and leaves every other weight as it was."""

from pathlib import Path

import pytest
import torch

from napari_evai2i.model import load_pretrained
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.trainer import Trainer

NUMBERS_MODEL = str(Path(__file__).parents[2] / "src_training" / "configs" / "tiny_prompt_numbers.json")
QUICK = ["clip_steps=0", "finetune_steps=0", "gen_batch=2", "crop_size=64", "device=cpu", "log_every=1",
         "ckpt_every=100", "ema_decay=0.5", f"model={NUMBERS_MODEL}"]


def test_only_the_named_part_trains_and_the_export_keeps_the_rest(tmp_path):
    start = Trainer(load_train_config(None, [f"out={tmp_path / 'a'}", "init_steps=1", *QUICK])).run("init")
    trainer = Trainer(load_train_config(None, [f"out={tmp_path / 'b'}", "init_steps=3", f"init_from={start}",
                                               "train_only=[prompt_numbers]", "lr=1e-2", *QUICK]))
    before = {k: v.clone() for k, v in trainer.model.generator.state_dict().items()}
    folder = trainer.run("init")
    exported, _ = load_pretrained(folder, "cpu")
    for generator in (trainer.model.generator, exported.generator):
        after = generator.state_dict()
        changed = {k for k in before if not torch.allclose(before[k], after[k].float(), atol=1e-3)}
        assert changed == {"prompt_numbers.weight"}


def test_train_only_names_a_real_part_and_needs_a_starting_model(tmp_path):
    with pytest.raises(ValueError, match="train_only trains a part of the init_from model"):
        load_train_config(None, ["train_only=[prompt_numbers]"])
    start = Trainer(load_train_config(None, [f"out={tmp_path / 'a'}", "init_steps=1", *QUICK])).run("init")
    with pytest.raises(ValueError, match=r"no part 'prompt_number'.*decoder.*prompt_numbers"):
        Trainer(load_train_config(None, [f"out={tmp_path / 'b'}", f"init_from={start}",
                                         "train_only=[prompt_number]", *QUICK]))
