"""``tune_text``: stage 2 trains the text tower (and exports its average) only when asked."""

import pytest
import torch

from napari_evai2i.model import load_pretrained
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.trainer import Trainer

QUICK = ["clip_steps=0", "init_steps=3", "finetune_steps=0", "clip_batch=3", "gen_batch=2", "crop_size=64",
         "device=cpu", "text_lr=1e-3", "ema_decay=0.5", "log_every=1"]


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items())


@pytest.mark.parametrize("tune", [False, True])
def test_text_tower_trains_in_stage_2_only_when_tuned(tmp_path, tune):
    trainer = Trainer(load_train_config(None, [f"out={tmp_path}", f"tune_text={tune}", *QUICK]))
    text, image = _snapshot(trainer.model.dclip.text), _snapshot(trainer.model.dclip.image)
    folder = trainer.run("init")
    assert _changed(text, trainer.model.dclip.text) is tune
    assert not _changed(image, trainer.model.dclip.image)          # the image tower stays frozen

    exported, _ = load_pretrained(folder)
    averaged = trainer.ema.module
    for name, module in (("generator", exported.generator), ("text", exported.dclip.text)):
        expected = averaged[name].state_dict() if name in averaged else trainer.model.dclip.text.state_dict()
        for key, value in module.state_dict().items():
            assert torch.allclose(value, expected[key].float()), (name, key)
