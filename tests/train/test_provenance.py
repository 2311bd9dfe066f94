"""A continued run records what it started from, and a run cut short records why, in the
exported checkpoint's config.json (what the model card's provenance is read from)."""

from napari_evai2i.model import read_checkpoint_config
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.trainer import Trainer

QUICK = ["clip_steps=0", "finetune_steps=0", "gen_batch=2", "crop_size=64", "device=cpu", "log_every=1",
         "ckpt_every=100"]


def _provenance(folder):
    return read_checkpoint_config(folder)[1].provenance


def test_continuations_chain_their_provenance_and_early_stops_say_why(tmp_path):
    first = Trainer(load_train_config(None, [f"out={tmp_path / 'a'}", "init_steps=2", *QUICK])).run("init")
    assert "continued_from" not in _provenance(first) and "stopped_by" not in _provenance(first)

    # a continuation stopped by the Train widget's stop button (Trainer.stop) after its first step
    second = Trainer(load_train_config(None, [f"out={tmp_path / 'b'}", "init_steps=3", f"init_from={first}",
                                              "name=second", *QUICK]))
    second.on_metrics = lambda logs: second.stop()
    second_folder = second.run("init")
    record = _provenance(second_folder)
    assert record["stopped_by"] == "a stop request at init step 1 of 3"
    assert record["continued_from"]["checkpoint"] == str(first)
    assert record["continued_from"]["steps_done"] == {"clip": 0, "init": 2, "finetune": 0}
    assert "continued_from" not in record["continued_from"]

    # a continuation of the continuation, cut by the wall-time guard: the chain reaches the first run
    third = Trainer(load_train_config(None, [f"out={tmp_path / 'c'}", "init_steps=3", f"init_from={second_folder}",
                                             "max_minutes=1e-6", *QUICK])).run("init")
    record = _provenance(third)
    assert record["stopped_by"] == "the wall-time guard (max_minutes 1e-06) at init step 1 of 3"
    assert record["continued_from"]["recipe"] == "second"
    assert record["continued_from"]["stopped_by"] == "a stop request at init step 1 of 3"
    assert record["continued_from"]["continued_from"]["checkpoint"] == str(first)
