"""Checkpoints: safetensors + JSON, atomic, strict on load, no pickle."""

import json

import pytest
import torch

from napari_evai2i.model import CheckpointInfo, create_model, load_pretrained, save_pretrained


def test_round_trip_gives_identical_outputs(tmp_path):
    model = create_model("tiny", seed=3)
    folder = save_pretrained(model, tmp_path / "ckpt", CheckpointInfo(trained=True, description="t"))
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded, info = load_pretrained(folder)
    assert info.trained and info.description == "t"
    x = torch.rand(1, 1, 40, 40)
    s = torch.nn.functional.normalize(torch.randn(1, model.config.embed_dim), dim=-1)
    with torch.no_grad():
        assert torch.equal(model.eval().generator(x, s), loaded.generator(x, s))


def test_half_precision_checkpoint_loads_as_float32(tmp_path):
    model = create_model("tiny", seed=3)
    folder = save_pretrained(model, tmp_path / "half", CheckpointInfo(), dtype=torch.float16)
    loaded, _ = load_pretrained(folder)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    ref = model.generator.decoder.convs[-1].weight
    assert torch.allclose(loaded.generator.decoder.convs[-1].weight, ref, atol=1e-3)


def test_overwriting_is_atomic_and_leaves_no_temporaries(tmp_path):
    save_pretrained(create_model("tiny", seed=1), tmp_path / "c", CheckpointInfo(description="one"))
    save_pretrained(create_model("tiny", seed=2), tmp_path / "c", CheckpointInfo(description="two"))
    assert [p.name for p in tmp_path.iterdir()] == ["c"]
    assert load_pretrained(tmp_path / "c")[1].description == "two"


def test_mismatched_weights_are_an_error_not_skipped(tmp_path):
    folder = save_pretrained(create_model("tiny", seed=1), tmp_path / "c", CheckpointInfo())
    meta = json.loads((folder / "config.json").read_text())
    meta["model"]["generator"]["enc_dims"] = [16, 32, 64, 128]
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not match its config"):
        load_pretrained(folder)


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a napari-evai2i checkpoint"):
        load_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read checkpoint config"):
        load_pretrained(tmp_path)


def test_saved_checkpoints_are_readable_like_ordinary_files(tmp_path):
    import os
    import stat

    from napari_evai2i.model import CheckpointInfo, create_model, save_pretrained

    umask = os.umask(0o022)
    try:
        folder = save_pretrained(create_model("tiny", seed=0), tmp_path / "ckpt", CheckpointInfo())
    finally:
        os.umask(umask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o644}


def test_is_checkpoint_folder_needs_config_and_weights(tmp_path, tiny_checkpoint):
    from napari_evai2i.model import is_checkpoint_folder

    assert is_checkpoint_folder(tiny_checkpoint)
    (tmp_path / "config.json").write_text("{}")
    assert not is_checkpoint_folder(tmp_path)                 # weights missing
    assert not is_checkpoint_folder(tmp_path / "no-such-folder")


def test_a_failed_write_keeps_the_previous_folder(tmp_path):
    from napari_evai2i.model.files import atomic_folder

    save_pretrained(create_model("tiny", seed=1), tmp_path / "c", CheckpointInfo(description="one"))
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_folder(tmp_path / "c") as tmp:
            (tmp / "config.json").write_text("half")
            raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["c"]
    assert load_pretrained(tmp_path / "c")[1].description == "one"


def test_old_prompt_field_is_ignored_and_another_normalisation_refused(tmp_path):
    folder = save_pretrained(create_model("tiny", seed=1), tmp_path / "c", CheckpointInfo())
    meta = json.loads((folder / "config.json").read_text())
    assert "prompt" not in meta and meta["normalization"] == {"MR": "p99.5", "CT": "hu"}
    meta["prompt"] = {}                                        # what earlier versions wrote
    (folder / "config.json").write_text(json.dumps(meta))
    assert load_pretrained(folder)[1].trained is False
    meta["normalization"]["MR"] = "zscore"
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="normalised by 'zscore'"):
        load_pretrained(folder)


def test_recorded_normalisation_is_the_one_the_engine_applies():
    from napari_evai2i.engine.normalization import MR_PERCENTILE, MR_RULES
    from napari_evai2i.model.factory import ACCEPTED_NORMALIZATION, NORMALIZATION

    assert NORMALIZATION["MR"] == f"p{MR_PERCENTILE:g}"
    assert set(ACCEPTED_NORMALIZATION["MR"]) == set(MR_RULES)


def test_loading_leaves_the_callers_random_stream_alone(tiny_checkpoint):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    load_pretrained(tiny_checkpoint)
    assert torch.equal(torch.rand(3), expected)
