"""Checkpoints from strangers (issue 12, section 5): absurd sizes, tensors that disagree with
the config, truncated weights, and pickle payloads that must never run.

Every case is a real folder on disk: a real tiny checkpoint, its config.json or its
model.safetensors edited the way a damaged download or a hostile author would.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

from napari_evai2i.model import CheckpointInfo, ModelConfig, create_model, get_preset, load_pretrained, \
    read_checkpoint_config, save_pretrained
from napari_evai2i.model.config import MAX_PARAMETERS, estimated_parameters, parameter_counts
from napari_evai2i.model.factory import EVAModel, read_weights

# --- 1. sizes --------------------------------------------------------------------------------------


def _variants():
    tiny = get_preset("tiny").to_dict()
    off = json.loads(json.dumps(tiny))
    off["text"]["number_features"] = 0
    off["generator"].update(skips=False, global_context=False, source_conditioning=False, tissue_classes=0,
                            tissue_mixture=False, enc_depths=[0, 0, 3, 4], enc_attn=9, dec_blocks=[0, 3, 0, 1])
    off["image"].update(first_stride=2, stem_kernel=3, depths=[0, 2, 0, 1])
    off["discriminator"].update(hyper_blocks=0, dims=[8])
    return {"paper": get_preset("paper"), "tiny": get_preset("tiny"), "options-off": ModelConfig.from_dict(off)}


@pytest.mark.parametrize("name", ["paper", "tiny", "options-off"])
def test_the_estimate_from_the_config_is_the_exact_parameter_count(name):
    config = _variants()[name]
    with torch.device("meta"):                    # built without memory, to count what it would hold
        model = EVAModel(config, with_discriminator=True)
    built = {"text": model.dclip.text, "image": model.dclip.image, "generator": model.generator,
             "discriminator": model.discriminator}
    counts = parameter_counts(config)
    assert counts == {k: sum(p.numel() for p in m.parameters()) for k, m in built.items()}
    assert estimated_parameters(config) == sum(counts.values()) < MAX_PARAMETERS


#: Edits of the tiny config.json and the words the refusal must contain.
ABSURD = {
    "1e6-channels": (lambda m: m["generator"].update(enc_dims=[10**6] * 4),
                     "generator (1.48e+14), set by generator.enc_dims"),
    "depth-1e4": (lambda m: m["text"].update(layers=10**4), "10033 blocks and levels"),
    "embedding-1e7": (lambda m: m["text"].update(width=10**7), "text tower"),
    "vocabulary-1e9": (lambda m: m["text"].update(vocab_size=10**9), "above the 1e+09-parameter / 4 GiB limit"),
    "image-1e5": (lambda m: m["image"].update(image_size=10**5), "image tower"),
    "200-digit-width": (lambda m: m["image"].update(dims=[10**200] * 4), "about 10^"),
    "negative": (lambda m: m["image"].update(dims=[24, 48, -96, 128]), "image.dims[2] must be a whole number >= 1"),
    "zero": (lambda m: m["generator"].update(latent_dim=0), "generator.latent_dim must be a whole number >= 1"),
    "fraction": (lambda m: m["generator"].update(enc_dims=[16, 32.5, 64, 96]), "generator.enc_dims[1]"),
    "bool-size": (lambda m: m["discriminator"].update(dims=[32, True, 96]), "discriminator.dims[1]"),
    "bool-switch": (lambda m: m["generator"].update(skips="yes"), "generator.skips must be true or false"),
    "text-size": (lambda m: m["text"].update(heads="four"), "heads must be a whole number"),
    "nan-ratio": (lambda m: m["text"].update(mlp_ratio=float("nan")), "text.mlp_ratio must be a positive number"),
    "list-of-lists": (lambda m: m["image"].update(depths=[[1], 1, 2, 1]), "image.depths[0]"),
    "lengths": (lambda m: m["generator"].update(dec_blocks=[1, 1]), "generator.dec_blocks has 2 entries"),
    "heads": (lambda m: m["text"].update(heads=7), "text.width (96) must be divisible by text.heads (7)"),
    "small-vocabulary": (lambda m: m["text"].update(vocab_size=100), "the CLIP tokenizer needs at least 49408"),
    "unknown-key": (lambda m: m["generator"].update(colour=3), "unknown model config generator keys: colour"),
    "part-not-a-mapping": (lambda m: m.update(text=[96, 4]), "model config text must be a mapping"),
    "unknown-activation": (lambda m: m["text"].update(act="os.system"), "text.act 'os.system' is not an activation"),
}


def _stranger(tmp_path, tiny_checkpoint, edit):
    """A checkpoint folder whose config.json is the tiny one edited by ``edit`` (weights unchanged)."""
    folder = tmp_path / "stranger"
    folder.mkdir()
    meta = json.loads((tiny_checkpoint / "config.json").read_text())
    edit(meta["model"])
    (folder / "config.json").write_text(json.dumps(meta))
    os.link(tiny_checkpoint / "model.safetensors", folder / "model.safetensors")   # a real file, not copied
    return folder


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_absurd_sizes_are_refused_with_the_key_and_the_estimate(tmp_path, tiny_checkpoint, case):
    edit, words = ABSURD[case]
    folder = _stranger(tmp_path, tiny_checkpoint, edit)
    started = time.perf_counter()
    with pytest.raises(ValueError) as error:
        load_pretrained(folder)
    assert time.perf_counter() - started < 2.0
    assert words in str(error.value)
    if case != "unknown-activation":              # the rest is refused by the config reader alone
        with pytest.raises(ValueError, match="config"):
            read_checkpoint_config(folder)


def test_a_config_without_a_model_mapping_is_refused(tmp_path, tiny_checkpoint):
    folder = _stranger(tmp_path, tiny_checkpoint, lambda m: None)
    for meta in ({"format_version": 1}, [1, 2], {"model": "paper"}):
        (folder / "config.json").write_text(json.dumps(meta))
        with pytest.raises(ValueError, match=rf'{folder}/config.json: it has no "model" mapping'):
            load_pretrained(folder)


def test_refusing_absurd_sizes_allocates_nothing_big(tmp_path, tiny_checkpoint):
    """The peak resident memory of a fresh process (VmHWM, reset through /proc/self/clear_refs)
    stays within a few MiB of where it started while every absurd config is refused; loading
    the real tiny checkpoint afterwards shows that the measure does move (> 30 MiB)."""
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak memory")
    folders = []
    for case in sorted(ABSURD):
        sub = tmp_path / case
        sub.mkdir()
        folders.append(str(_stranger(sub, tiny_checkpoint, ABSURD[case][0])))
    script = textwrap.dedent("""
        import json, re, sys, time, tracemalloc
        from napari_evai2i.model import load_pretrained
        from transformers.activations import ACT2FN   # imported by a refusal that gets that far

        def status(key):
            return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024

        def peak_rise(action):
            open("/proc/self/clear_refs", "w").write("5")          # the peak starts again from now
            start = status("VmRSS")
            action()
            return status("VmHWM") - start

        def refuse_all():
            for folder in folders:
                started = time.perf_counter()
                try:
                    load_pretrained(folder)
                except ValueError:
                    pass
                else:
                    raise SystemExit(f"{folder} was loaded")
                times.append(time.perf_counter() - started)

        folders, good, times = json.loads(sys.argv[1]), sys.argv[2], []
        tracemalloc.start()
        refusals = peak_rise(refuse_all)
        python_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        real = peak_rise(lambda: load_pretrained(good))
        print(json.dumps({"refusals": refusals, "python_peak": python_peak, "slowest": max(times),
                          "real_load": real, "cases": len(times)}))
    """)
    run = subprocess.run([sys.executable, "-c", script, json.dumps(folders), str(tiny_checkpoint)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    assert measured["cases"] == len(ABSURD)
    assert measured["refusals"] < 16, measured           # MiB of peak resident memory, all refusals together
    assert measured["python_peak"] < 16, measured
    assert measured["slowest"] < 2.0, measured
    assert measured["real_load"] > 30, measured          # the measure does see a model being built


# --- 2. tensors that disagree with the config --------------------------------------------------------


@pytest.fixture
def tiny_copy(tmp_path):
    return save_pretrained(create_model("tiny", seed=0), tmp_path / "ckpt", CheckpointInfo())


def _edit_weights(folder, edit):
    path = folder / "model.safetensors"
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path), metadata={"format": "pt"})


def test_a_tensor_of_another_shape_is_named_with_both_shapes(tiny_copy):
    _edit_weights(tiny_copy, lambda s: s.update({"generator.encoder.stem.weight": torch.zeros(32, 1, 7, 7)}))
    with pytest.raises(ValueError) as error:
        load_pretrained(tiny_copy)
    message = str(error.value)
    assert message.startswith(f"checkpoint {tiny_copy}: model.safetensors does not match its config (")
    assert "1 with another shape: generator.encoder.stem.weight: checkpoint (32, 1, 7, 7), " \
           "config expects (16, 1, 7, 7)" in message
    assert "missing" not in message and "unexpected" not in message


def test_missing_and_unexpected_tensors_are_listed_five_at_most_with_a_count(tiny_copy):
    removed = sorted(k for k in load_file(str(tiny_copy / "model.safetensors")) if k.startswith("dclip.image."))
    assert len(removed) > 7

    def edit(state):
        for key in removed:
            del state[key]
        state["generator.backdoor.weight"] = torch.zeros(3)

    _edit_weights(tiny_copy, edit)
    with pytest.raises(ValueError) as error:
        load_pretrained(tiny_copy)
    message = str(error.value)
    assert f"{len(removed)} missing: {'; '.join(removed[:5])}; and {len(removed) - 5} more" in message
    assert "1 unexpected: generator.backdoor.weight" in message
    assert removed[5] not in message


def test_a_discriminator_in_an_inference_checkpoint_is_ignored_but_needed_for_training(tmp_path):
    folder = save_pretrained(create_model("tiny", seed=0), tmp_path / "c", CheckpointInfo())
    assert load_pretrained(folder)[0].discriminator is None
    with pytest.raises(ValueError, match=r"missing: discriminator\."):
        load_pretrained(folder, with_discriminator=True)


# --- 3. truncated and corrupt weights -----------------------------------------------------------------

CORRUPT = "truncated or corrupt weights file (safetensors header/data do not match); " \
          "re-download or re-export the checkpoint"


@pytest.mark.parametrize("keep", ["half", "all-but-one-byte", "five-bytes", "nothing", "garbage-header"])
def test_a_truncated_or_corrupt_weights_file_gets_one_plain_message(tiny_copy, keep):
    path = tiny_copy / "model.safetensors"
    data = path.read_bytes()
    cut = {"half": data[: len(data) // 2], "all-but-one-byte": data[:-1], "five-bytes": data[:5], "nothing": b"",
           "garbage-header": (100).to_bytes(8, "little") + b"{not json" + b" " * 91 + data[108:]}[keep]
    path.write_bytes(cut)
    for load in (load_pretrained, lambda folder: read_weights(folder / "model.safetensors")):
        with pytest.raises(ValueError) as error:
            load(tiny_copy)
        assert str(error.value) == f"{path}: {CORRUPT}"
        assert "incomplete metadata" not in str(error.value) and "not fully covered" not in str(error.value)
    assert path.read_bytes() == cut                       # the damaged file is left as it was


def test_a_missing_weights_file_says_what_is_missing(tiny_copy):
    (tiny_copy / "model.safetensors").unlink()
    with pytest.raises(ValueError, match=rf"{tiny_copy} has no model\.safetensors \(the checkpoint's weights\)"):
        load_pretrained(tiny_copy)


# --- 4. loading never executes code -------------------------------------------------------------------


class _Payload:
    """Unpickling this runs ``touch MARKER``: what a hostile .pt file does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _unpickles_in_a_subprocess(path):
    code = "import pickle, sys, zipfile\n" \
           "p = sys.argv[1]\n" \
           "if zipfile.is_zipfile(p):\n" \
           "    import torch; torch.load(p, weights_only=False)\n" \
           "else:\n" \
           "    pickle.loads(open(p, 'rb').read())\n"
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, timeout=120)


@pytest.fixture
def payloads(tmp_path):
    """Pickle bytes and a torch.save zip, each proven to create its marker when unpickled."""
    marker = tmp_path / "MARKER"
    raw, zipped = tmp_path / "payload.pkl", tmp_path / "payload.pt"
    raw.write_bytes(pickle.dumps(_Payload(marker), protocol=4))
    torch.save(_Payload(marker), zipped)
    for path in (raw, zipped):
        _unpickles_in_a_subprocess(path)
        assert marker.exists(), f"{path.name} did not run: the test below could not fail"
        marker.unlink()
    return marker, {"pickle": raw.read_bytes(), "torch-zip": zipped.read_bytes()}


def _entry_points(folder):
    from napari_evai2i.engine.translator import load_model

    return {"load_pretrained": lambda: load_pretrained(folder),
            "read_checkpoint_config": lambda: read_checkpoint_config(folder),
            "engine.load_model": lambda: load_model(str(folder), device="cpu")}


@pytest.mark.parametrize("kind", ["pickle", "torch-zip"])
def test_pickle_renamed_as_safetensors_is_refused_without_running(tmp_path, tiny_checkpoint, payloads, kind):
    marker, data = payloads
    folder = tmp_path / "hostile"
    folder.mkdir()
    shutil.copy(tiny_checkpoint / "config.json", folder / "config.json")
    (folder / "model.safetensors").write_bytes(data[kind])
    for name, load in _entry_points(folder).items():
        if name == "read_checkpoint_config":
            read_checkpoint_config(folder)            # reads config.json only: fine, and runs nothing
            continue
        with pytest.raises(ValueError, match="a pickle .* not safetensors; it is not loaded, since unpickling"):
            load()
        assert not marker.exists(), name


@pytest.mark.parametrize("name", ["model.pt", "model.pth", "last.ckpt", "pytorch_model.bin"])
def test_pickle_weights_beside_a_config_are_never_opened(tmp_path, tiny_checkpoint, payloads, name):
    marker, data = payloads
    folder = tmp_path / "hostile"
    folder.mkdir()
    shutil.copy(tiny_checkpoint / "config.json", folder / "config.json")
    (folder / name).write_bytes(data["torch-zip"])
    for entry, load in _entry_points(folder).items():
        if entry == "read_checkpoint_config":
            continue
        with pytest.raises(ValueError, match=rf"has no model\.safetensors, only {name}: pickle files are never"):
            load()
        assert not marker.exists(), entry


def test_a_pickle_as_config_json_is_refused_without_running(tmp_path, tiny_checkpoint, payloads):
    marker, data = payloads
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "config.json").write_bytes(data["pickle"])
    os.link(tiny_checkpoint / "model.safetensors", folder / "model.safetensors")
    for name, load in _entry_points(folder).items():
        with pytest.raises(ValueError, match=r"config\.json: it is not text \(binary data, perhaps a pickle\)"):
            load()
        assert not marker.exists(), name


def test_training_resume_refuses_pickled_state_without_running(tmp_path, payloads):
    """A whole training checkpoint (checksums consistent, as a hostile author would make them)
    with each of its weight files in turn replaced by a pickle."""
    from napari_evai2i.train.checkpoint import (CHECKSUM_FILE, EMA_FILE, OPTIM_FILE, STATE_FILE,
                                                DamagedCheckpointError, checkpoint_problem,
                                                checkpoint_to_resume, load_training_checkpoint,
                                                save_training_checkpoint)

    marker, data = payloads
    model = create_model("tiny", with_discriminator=True, seed=0)
    optimizers = {"gen": torch.optim.Adam(model.generator.parameters())}
    saved = save_training_checkpoint(tmp_path / "last", model, model.generator, optimizers, {"step": 1},
                                     CheckpointInfo())
    for name in ("model.safetensors", EMA_FILE, OPTIM_FILE):
        folder = tmp_path / f"hostile-{name}"
        shutil.copytree(saved, folder)
        (folder / name).write_bytes(data["pickle"])
        sums = json.loads((folder / CHECKSUM_FILE).read_text())
        sums[name] = {"bytes": len(data["pickle"]),
                      "sha256": __import__("hashlib").sha256(data["pickle"]).hexdigest()}
        (folder / CHECKSUM_FILE).write_text(json.dumps(sums))
        assert checkpoint_problem(folder) is None and checkpoint_to_resume([folder])[0] == folder
        with pytest.raises(ValueError, match=rf"{name}: a pickle .* it is not loaded"):
            load_training_checkpoint(folder, model, model.generator, optimizers)
        assert not marker.exists(), name
    folder = tmp_path / f"hostile-{STATE_FILE}"                     # the JSON state as a pickle
    shutil.copytree(saved, folder)
    (folder / STATE_FILE).write_bytes(data["pickle"])
    with pytest.raises(DamagedCheckpointError, match=rf"{STATE_FILE}: not text \(binary data, perhaps a pickle"):
        load_training_checkpoint(folder, model, model.generator, optimizers)
    assert not marker.exists()


def test_perceptual_weights_that_are_a_payload_are_refused_without_running(tmp_path, payloads):
    """The one pickle format the project reads (torchvision's VGG19 .pth, perceptual_weights=PATH)
    goes through torch.load(weights_only=True): the payload's os.system is refused, not called."""
    from napari_evai2i.train.losses import _load_vgg19

    marker, data = payloads
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    path.write_bytes(data["torch-zip"])
    with pytest.raises(ValueError, match=rf"{path}: not a plain file of weights; refused without running it "
                                         r"\(.*GLOBAL posix\.system"):
        _load_vgg19(path)
    assert not marker.exists()
