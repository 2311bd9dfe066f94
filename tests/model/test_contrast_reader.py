"""The contrast reader's network, its files and its training run (tiny runs on real generated data)."""

import json

import pytest
import torch

from napari_evai2i.model.contrast_reader import (ContrastReader, ContrastReaderConfig, load_contrast_reader,
                                                 save_contrast_reader)
from napari_evai2i.train.contrast_reader import examples, train_contrast_reader


def test_a_saved_reader_loads_with_the_same_outputs_and_any_slice_size(tmp_path):
    torch.manual_seed(0)
    reader = ContrastReader(ContrastReaderConfig(widths=(8, 16), threshold=0.7)).eval()
    slices = torch.rand(2, 1, 40, 56)
    folder = save_contrast_reader(reader, tmp_path / "reader")
    loaded = load_contrast_reader(folder)
    assert loaded.config == reader.config
    assert torch.equal(loaded(slices), reader(slices))
    assert loaded(torch.rand(1, 1, 97, 31)).shape == (1, len(reader.config.kinds))


def test_a_damaged_reader_folder_gets_one_clear_error(tmp_path):
    folder = save_contrast_reader(ContrastReader(ContrastReaderConfig(widths=(8,))), tmp_path / "reader")
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"model.safetensors: truncated or corrupt weights file"):
        load_contrast_reader(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="not a contrast reader folder"):
        load_contrast_reader(folder)
    with pytest.raises(ValueError, match="unknown keys"):
        ContrastReaderConfig.from_dict({"kinds": ["T1W"], "colour": "red"})


def test_training_examples_are_the_sources_of_the_randomised_generator():
    images, labels = examples(seed=5, step=0, count=6, kinds=("T1W", "T2W"), size=64)
    again, _ = examples(seed=5, step=0, count=6, kinds=("T1W", "T2W"), size=64)
    assert images.shape == (6, 1, 64, 64) and torch.equal(images, again)          # (seed, step, i) decide
    assert set(labels.tolist()) <= {0, 1} and images.amax() > 0.3


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    settings = dict(steps=4, batch=3, size=48, save_every=2, log=lambda _: None)
    whole = load_contrast_reader(train_contrast_reader(tmp_path / "run", **settings))
    state = json.loads((tmp_path / "run" / "resume" / "state.json").read_text())
    assert state["step"] == 2                     # the state written half way
    resumed = load_contrast_reader(train_contrast_reader(tmp_path / "run", resume=True, **settings))
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    record = resumed.config.record
    assert record["steps_this_session"] == 2 and record["steps"] == 4
    assert resumed.config.canvas == 48                  # its training images' side, for reading crops
    with pytest.raises(ValueError, match="started with other settings"):
        train_contrast_reader(tmp_path / "run", resume=True, **{**settings, "batch": 5})


def test_flair_can_be_drawn_with_grey_matter_above_white():
    import numpy as np

    from napari_evai2i.train.contrast_reader import reader_protocol

    def white_over_grey(flag):
        rng = np.random.default_rng(3)
        signals = [reader_protocol(rng, "FLAIR", flag).tissue_signals() for _ in range(300)]
        return np.array([s["WM"] / s["GM"] for s in signals])

    assert (white_over_grey(False) >= 1).any()            # the generator's own ranges allow it
    assert (white_over_grey(True) < 1).all()
    rng = np.random.default_rng(3)
    assert reader_protocol(rng, "T1W", True).short_name == "T1w"      # other contrasts as drawn
