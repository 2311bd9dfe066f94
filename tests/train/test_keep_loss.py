"""w_keep: a continuation holds its brain items' translations to the generator it started from."""

import json

import pytest
import torch

from napari_evai2i.model import create_model, load_pretrained
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.steps import keep_loss
from napari_evai2i.train.trainer import Trainer

QUICK = ["clip_steps=0", "finetune_steps=0", "gen_batch=2", "crop_size=64", "device=cpu", "log_every=1",
         "ckpt_every=100", "simulator=randomized"]


def test_keep_loss_is_zero_for_the_reference_itself_and_ignores_shape_items():
    generator = create_model("tiny", seed=0).generator.eval()
    other = create_model("tiny", seed=1).generator.eval()
    x = torch.rand(3, 1, 32, 32)
    target, source = torch.randn(3, generator.config.style_dim), torch.randn(3, generator.config.style_dim)
    known, mask = torch.tensor([True, False, True]), torch.ones(3, 1, 32, 32)
    with torch.no_grad():
        own = generator(x, target, source, known)
        theirs = other(x, target, source, known)
    assert float(keep_loss(generator, own, x, target, source, known, mask, None)) == pytest.approx(0, abs=1e-7)
    assert float(keep_loss(other, own, x, target, source, known, mask, None)) > 1e-3
    # items that are no brain are left out: only the first differs, and it is a shape item
    mixed = torch.cat([theirs[:1], own[1:]])
    shapes = torch.tensor([True, False, False])
    assert float(keep_loss(generator, mixed, x, target, source, known, mask, shapes)) == pytest.approx(0, abs=1e-7)
    assert float(keep_loss(generator, mixed, x, target, source, known, mask, ~shapes)) > 1e-3
    assert float(keep_loss(generator, mixed, x, target, source, known, mask, torch.ones(3, dtype=torch.bool))) == 0


def test_a_continuation_with_w_keep_logs_it_and_needs_a_starting_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="w_keep keeps the translations of the init_from model"):
        load_train_config(None, ["w_keep=1"])
    first = Trainer(load_train_config(None, [f"out={tmp_path / 'a'}", "init_steps=1", *QUICK])).run("init")
    trainer = Trainer(load_train_config(None, [f"out={tmp_path / 'b'}", "init_steps=2", f"init_from={first}",
                                               "w_keep=10", "shapes=0.5", *QUICK]))
    start = {k: v.clone() for k, v in trainer.model.generator.state_dict().items()}
    folder = trainer.run("init")
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert any("keep" in row for row in rows)
    for key, value in trainer.reference.state_dict().items():       # the reference never trains
        assert torch.equal(value, start[key]), key
    assert not any(p.requires_grad for p in trainer.reference.parameters())
    load_pretrained(folder, "cpu")


def test_partial_csf_pixels_are_found_and_reweigh_the_l1(tmp_path):
    from napari_evai2i.train.steps import partial_csf_mask

    tissue = torch.zeros(1, 4, 2, 3)
    tissue[0, 2] = torch.tensor([[0.0, 0.1, 0.3], [0.59, 0.6, 1.0]])             # the CSF channel
    mask = partial_csf_mask({"tissue": tissue.numpy()}, torch.device("cpu"))
    assert mask.shape == (1, 1, 2, 3)
    assert mask[0, 0].tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="w_partial_csf weighs pixels by their CSF fraction"):
        load_train_config(None, ["w_partial_csf=4", "simulator=template"])
    first = Trainer(load_train_config(None, [f"out={tmp_path / 'a'}", "init_steps=1", *QUICK])).run("init")
    logs = {}
    for w in (0, 4):                 # the same items and start: only the weight differs
        Trainer(load_train_config(None, [f"out={tmp_path / str(w)}", "init_steps=1", f"init_from={first}",
                                         "w_keep=10", f"w_partial_csf={w}", *QUICK])).run("init")
        logs[w] = json.loads((tmp_path / str(w) / "metrics.jsonl").read_text().splitlines()[0])
    # the L1 is a weighted mean: other weights give another value on the very same first step
    assert logs[4]["rec"] != pytest.approx(logs[0]["rec"], rel=1e-4)
    for w in (0, 4):                                  # step 1: the generator is still the reference
        assert logs[w]["keep"] == pytest.approx(0, abs=1e-5)
