"""average_weights.py: the mean of one lineage's checkpoints, and a refusal for models that do not match."""

import subprocess
import sys
from pathlib import Path

import torch

from napari_evai2i.model import CheckpointInfo, ModelConfig, create_model, get_preset, load_pretrained, save_pretrained

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "average_weights.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_the_average_of_two_checkpoints_is_the_mean_of_their_weights(tmp_path):
    folders = []
    for seed in (0, 1):
        folder = tmp_path / f"seed{seed}"
        save_pretrained(create_model("tiny", seed=seed), folder,
                        CheckpointInfo(trained=True, provenance={"recipe": {"name": f"run{seed}", "data": "simulator"}}))
        folders.append(folder)
    result = _run(tmp_path / "mean", *folders)
    assert result.returncode == 0, result.stderr
    mean, info = load_pretrained(tmp_path / "mean")
    a, b = (load_pretrained(f)[0].state_dict() for f in folders)
    for key, value in mean.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (a[key] + b[key]) / 2)
    key = "generator.decoder.0.weight" if "generator.decoder.0.weight" in a else next(iter(a))
    assert not torch.equal(a[key], b[key])                          # the two did differ
    assert info.provenance["averaged_weights_of"] == [str(f) for f in folders]
    assert [s["checkpoint"] for s in info.provenance["sources"]] == [str(f) for f in folders]
    assert "mean of the weights of 2" in info.description
    assert [recipe["name"] for recipe in info.recipes()] == ["run0", "run1"]     # both sources' recipes
    from napari_evai2i.train.trainer import continued_from_record

    assert continued_from_record(tmp_path / "mean", info)["averaged_weights_of"] == [str(f) for f in folders]


def test_models_of_another_architecture_or_into_an_input_folder_are_refused(tmp_path):
    tiny, other = tmp_path / "tiny", tmp_path / "other"
    save_pretrained(create_model("tiny", seed=0), tiny, CheckpointInfo(trained=True))
    wider = get_preset("tiny").to_dict()
    wider["generator"]["enc_dims"] = [2 * d for d in wider["generator"]["enc_dims"]]
    save_pretrained(create_model(ModelConfig.from_dict(wider), seed=0), other, CheckpointInfo(trained=True))
    mismatch = _run(tmp_path / "mean", tiny, other)
    assert mismatch.returncode == 2 and "another architecture" in mismatch.stderr
    assert not (tmp_path / "mean").exists()
    into_input = _run(tiny, tiny, other)
    assert into_input.returncode == 2 and "one of the inputs" in into_input.stderr


def test_a_model_without_the_number_map_averages_as_if_its_map_were_zero(tmp_path):
    plain, numbers = tmp_path / "plain", tmp_path / "numbers"
    save_pretrained(create_model("tiny", seed=0), plain, CheckpointInfo(trained=True))
    config = get_preset("tiny").to_dict()
    config["generator"]["prompt_numbers"] = True
    with_map = create_model(ModelConfig.from_dict(config), seed=1)
    with torch.no_grad():
        torch.nn.init.normal_(with_map.generator.prompt_numbers.weight, std=0.1)
    save_pretrained(with_map, numbers, CheckpointInfo(trained=True))
    result = _run(tmp_path / "mean", plain, numbers)         # the one without the map first
    assert result.returncode == 0, result.stderr
    mean = load_pretrained(tmp_path / "mean")[0]
    assert mean.config.generator.prompt_numbers
    a, b = (load_pretrained(f)[0].state_dict() for f in (plain, numbers))
    state = mean.state_dict()
    torch.testing.assert_close(state["generator.prompt_numbers.weight"], b["generator.prompt_numbers.weight"] / 2)
    key = "generator.tissue_intensity.0.weight"
    torch.testing.assert_close(state[key], (a[key] + b[key]) / 2)


def test_a_model_reading_fewer_numbers_averages_as_if_the_others_were_zero(tmp_path):
    from napari_evai2i.model.prompt_numbers import FEATURES_PER_QUANTITY, QUANTITIES

    folders = {}
    for name, quantities in (("ti_te", ["inversion_time", "echo_time"]), ("ti", ["inversion_time"])):
        config = get_preset("tiny").to_dict()
        config["generator"].update(prompt_numbers=True, prompt_number_quantities=quantities)
        model = create_model(ModelConfig.from_dict(config), seed=len(quantities))
        with torch.no_grad():
            torch.nn.init.normal_(model.generator.prompt_numbers.weight, std=0.1)
        folders[name] = tmp_path / name
        save_pretrained(model, folders[name], CheckpointInfo(trained=True))
    result = _run(tmp_path / "mean", folders["ti_te"], folders["ti"])     # the one reading more first
    assert result.returncode == 0, result.stderr
    mean = load_pretrained(tmp_path / "mean")[0].state_dict()["generator.prompt_numbers.weight"]
    a, b = (load_pretrained(folders[n])[0].state_dict()["generator.prompt_numbers.weight"] for n in ("ti_te", "ti"))
    blocks = {q: slice(i * FEATURES_PER_QUANTITY, (i + 1) * FEATURES_PER_QUANTITY) for i, q in enumerate(QUANTITIES)}
    torch.testing.assert_close(mean[:, blocks["inversion_time"]],
                               (a[:, blocks["inversion_time"]] + b[:, blocks["inversion_time"]]) / 2)
    torch.testing.assert_close(mean[:, blocks["echo_time"]], a[:, blocks["echo_time"]] / 2)   # TI-only's TE part: zero
