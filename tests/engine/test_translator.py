"""The translator on real checkpoints: shapes, intensity scale, batching, progress, cancel."""

import numpy as np
import pytest
import torch

from napari_evai2i.engine import (TranslationCancelled, fit_intensity_scale, load_model,
                                  resolve_device)
from napari_evai2i.engine.translator import effective_precision, native_bf16_on_cpu, run_steps

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def test_untrained_builtin_model_is_labelled():
    translator = load_model("tiny-random", "cpu")
    assert not translator.trained
    assert "UNTRAINED" in translator.label
    assert translator.provenance(PROMPT)["synthetic"] is True


def test_load_by_checkpoint_folder_is_cached(tiny_checkpoint):
    a = load_model(tiny_checkpoint, "cpu")
    assert a is load_model(str(tiny_checkpoint), "cpu")
    assert len(a.checkpoint_hash) == 16


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_translate_keeps_shape_and_dtype(tiny_checkpoint, brain_like_volume, axis):
    translator = load_model(tiny_checkpoint, "cpu")
    out = translator.translate(brain_like_volume, PROMPT, axis=axis, batch_size=3)
    assert out.shape == brain_like_volume.shape and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_batch_size_does_not_change_the_result(tiny_checkpoint, brain_like_volume):
    translator = load_model(tiny_checkpoint, "cpu")
    a = translator.translate(brain_like_volume, PROMPT, batch_size=1)
    b = translator.translate(brain_like_volume, PROMPT, batch_size=7)
    assert np.allclose(a, b, atol=1e-4 * max(1.0, float(np.abs(a).max())))


def test_output_is_in_the_input_intensity_scale(tiny_checkpoint, brain_like_volume):
    translator = load_model(tiny_checkpoint, "cpu")
    out = translator.translate(brain_like_volume, PROMPT)
    scale = fit_intensity_scale(brain_like_volume)
    direct = translator.translate(brain_like_volume.astype(np.float32) / scale.scale, PROMPT)
    # Same image in other units: same normalised translation, so output scales with the input.
    rescale = fit_intensity_scale(brain_like_volume.astype(np.float32) / scale.scale).scale
    assert np.allclose(out / scale.scale, direct / rescale, atol=1e-4)


def test_single_slice_input(tiny_checkpoint, brain_like_volume):
    translator = load_model(tiny_checkpoint, "cpu")
    out = translator.translate(brain_like_volume[5], PROMPT)
    assert out.shape == brain_like_volume[5].shape


def test_progress_reports_every_batch_and_can_cancel(tiny_checkpoint, brain_like_volume):
    translator = load_model(tiny_checkpoint, "cpu")
    seen = []
    translator.translate(brain_like_volume, PROMPT, batch_size=4, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    with pytest.raises(TranslationCancelled, match="after 4 of 10"):
        translator.translate(brain_like_volume, PROMPT, batch_size=4, progress=lambda d, t: d < 4)


def test_prompt_embedding_is_cached_and_interpolates_on_the_sphere(tiny_checkpoint):
    translator = load_model(tiny_checkpoint, "cpu")
    a = translator.embed_prompt(PROMPT)
    assert translator.embed_prompt("  " + PROMPT) is a
    b = translator.embed_prompt("A T1-weighted magnetic resonance imaging of the brain.")
    mid = translator.interpolate(a, b, 0.5)
    assert torch.allclose(mid.norm(dim=-1), torch.ones(1), atol=1e-5)
    assert torch.allclose(translator.interpolate(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(translator.interpolate(a, b, 1.0), b, atol=1e-5)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((0, 4, 4)), "empty volume"),
    (np.zeros((2, 2, 2, 2)), "2-D slice or a 3-D volume"),
    (np.full((2, 8, 8), np.nan), "NaN"),
])
def test_bad_volumes_raise_one_clear_error(tiny_checkpoint, bad, match):
    with pytest.raises(ValueError, match=match):
        load_model(tiny_checkpoint, "cpu").translate(bad, PROMPT)


def test_empty_prompt_and_bad_device_are_clear_errors(tiny_checkpoint, brain_like_volume):
    with pytest.raises(ValueError, match="empty prompt"):
        load_model(tiny_checkpoint, "cpu").translate(brain_like_volume, "   ")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_large_batches_are_split_into_chunks_with_the_same_result(tiny_checkpoint, brain_like_volume):
    translator = load_model(tiny_checkpoint, "cpu")
    scale = fit_intensity_scale(brain_like_volume)
    slices = scale.normalize(brain_like_volume[:5])
    target = translator.embed_prompt(PROMPT)
    whole = translator.translate_slices(slices, target)
    chunked = translator.translate_slices(slices, target, chunk=2)
    assert np.allclose(whole, chunked, atol=1e-5)


def test_cpu_bf16_runs_only_where_native_and_provenance_says_what_ran(brain_like_volume):
    fp32 = load_model("demo", "cpu")
    assert fp32.precision == "auto" and not fp32.uses_bf16()       # CPU default: fp32
    if native_bf16_on_cpu():
        bf16 = load_model("demo", "cpu", precision="bf16")
        a, b = fp32.translate(brain_like_volume[:4], PROMPT), bf16.translate(brain_like_volume[:4], PROMPT)
        assert 0 < float(np.abs(a - b).max()) / float(np.abs(a).max()) < 2e-2
        assert bf16.provenance(PROMPT)["precision"] == "bf16"
    else:                                   # AVX2 only: emulated bf16 would be about 12x slower
        with pytest.warns(RuntimeWarning, match="no native bf16.*running fp32"):
            bf16 = load_model("demo", "cpu", precision="bf16")
        assert not bf16.uses_bf16()
        a, b = fp32.translate(brain_like_volume[:4], PROMPT), bf16.translate(brain_like_volume[:4], PROMPT)
        assert np.array_equal(a, b)
        assert bf16.provenance(PROMPT)["precision"] == "fp32"
    assert bf16.provenance(PROMPT)["precision_requested"] == "bf16"
    assert bf16.model is fp32.model and load_model("demo", "cpu") is fp32    # one copy of the weights
    with pytest.raises(ValueError, match="precision must be one of"):
        load_model("demo", "cpu", precision="fp16")


def test_bf16_is_native_exactly_where_the_cpu_says_so():
    flags = set()
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    expected = bool(flags & {"avx512_bf16", "amx_bf16"}) or "AMX" in capability or "BF16" in capability
    assert native_bf16_on_cpu() is expected
    assert effective_precision("bf16", torch.device("cpu")) == ("bf16" if expected else "fp32")
    assert effective_precision("auto", torch.device("cpu")) == "fp32"
    assert effective_precision("auto", torch.device("cuda")) == "bf16"


def test_paper_chunks_stay_under_the_32_bit_index_limit():
    # The official code crashed at batch 256 of 256 x 256 ("must fit into 32-bit index math").
    translator = load_model("paper-random", "cpu")
    chunk = translator.chunk_size(256, 256)
    peak = translator.model.generator.peak_activation_elements(256, 256)
    assert 1 <= chunk < 256
    assert chunk * peak < 2**31


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_translation_matches_cpu_at_any_batch_size(tiny_checkpoint, brain_like_volume):
    cpu = load_model(tiny_checkpoint, "cpu").translate(brain_like_volume, PROMPT)
    gpu = load_model(tiny_checkpoint, "cuda")
    big_batch = gpu.translate(brain_like_volume, PROMPT, batch_size=4096)
    small_batch = gpu.translate(brain_like_volume, PROMPT, batch_size=1)
    scale = float(np.abs(cpu).max())
    assert float(np.abs(big_batch - cpu).max()) / scale < 2e-2
    assert float(np.abs(small_batch - big_batch).max()) / scale < 2e-2


FLAIR_PROMPT = ("A FLAIR magnetic resonance imaging of the brain. TR 9000 ms, TE 90 ms, "
                "TI 2500 ms.")


def test_concurrent_translations_with_different_prompts_never_mix(brain_like_volume):
    """Two threads share the one cached model and alternate batch by batch (a barrier after
    every batch), so if a prompt were bound into the model, one thread would run with the
    other's kernels. Each result must equal its own single-threaded translation."""
    import threading

    translator = load_model("demo", "cpu")
    prompts = {"t2": PROMPT, "flair": FLAIR_PROMPT}
    alone = {k: translator.translate(brain_like_volume, p, batch_size=1) for k, p in prompts.items()}
    assert np.abs(alone["t2"] - alone["flair"]).max() > 50 * np.abs(alone["t2"]).max() * 1e-3

    barrier = threading.Barrier(len(prompts), timeout=120)
    results, errors = {}, []

    def work(key: str) -> None:
        try:
            steps = translator.iter_translate(brain_like_volume, prompts[key], batch_size=1)
            while True:
                try:
                    next(steps)
                except StopIteration as finished:
                    results[key] = finished.value
                    return
                barrier.wait()                  # the other thread runs its next batch now
        except BaseException as exc:            # reported below, not lost in the thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(key,)) for key in prompts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for key in prompts:
        np.testing.assert_allclose(results[key], alone[key], rtol=1e-5, atol=1e-3 * np.abs(alone[key]).max())


def test_coarse_pixels_are_translated_on_a_1_mm_grid_and_score_higher():
    """Held-out simulated heads rendered on a 2 mm grid (the robustness suite's cases; never
    trained on): translated on a 1 mm working grid and averaged back, the demo scores clearly
    higher than on the 2 mm grid itself; a 1 mm slice is translated exactly as before."""
    from napari_evai2i.engine.planes import in_plane_zoom
    from napari_evai2i.train.robustness import HeldOutCase, slice_scores

    assert in_plane_zoom((5.0, 1.0, 1.0), 0) is None                    # thick slices, fine pixels
    assert in_plane_zoom((1.0, 2.0, 1.5), 0) == (2.0, 1.5)
    assert in_plane_zoom((1.0, 2.0, 2.0), 0, working_pixel_mm=None) is None
    translator = load_model("demo", "cpu")
    gains = []
    for index in (0, 1):
        case = HeldOutCase(index, 160).render("T2W", "T1W", whole_head=True, pixel_mm=2.0)
        prompt = case["tgt_protocol"].prompt(case["plane"])
        fine = translator.translate(case["src"], prompt, spacing=(2.0, 2.0))
        assert fine.shape == case["src"].shape
        coarse = run_steps(translator.iter_translate(case["src"], prompt, spacing=(2.0, 2.0), working_pixel_mm=None))
        gains.append(slice_scores(fine, case["tgt"], case["brain"])["ssim"]
                     - slice_scores(coarse[0], case["tgt"], case["brain"])["ssim"])
    assert min(gains) > 0.05, gains
    case = HeldOutCase(0, 96).render("T1W", "T2W", whole_head=True)
    prompt = case["tgt_protocol"].prompt(case["plane"])
    np.testing.assert_array_equal(
        translator.translate(case["src"], prompt, spacing=(1.0, 1.0)),
        run_steps(translator.iter_translate(case["src"], prompt, spacing=(1.0, 1.0), working_pixel_mm=None))[0])
