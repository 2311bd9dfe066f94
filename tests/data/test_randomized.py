"""The domain-randomised generator: shared anatomy, clean targets, corrupted inputs, unknown sources."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from napari_evai2i.data.head import ALL_TISSUE_NAMES, template_head
from napari_evai2i.data.physics import PRESETS, all_tissue_parameters
from napari_evai2i.data.randomized import (BRAIN_LEVEL, HeadSliceGenerator, RandomizationRanges, level_of,
                                          signal_vector, training_level)
from napari_evai2i.engine.normalization import fit_intensity_scale
from napari_evai2i.data.simulated_dataset import SimulatedDataConfig, SimulatedPairs, collate_items

SIZE = 64
LESION = ALL_TISSUE_NAMES.index("LESION")
EXTRA = [ALL_TISSUE_NAMES.index(n) for n in ("FAT", "MUSCLE", "SKIN", "BONE", "MARROW")]


@pytest.fixture(scope="module")
def data():
    return SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=3, generator="randomized"))


def test_items_are_deterministic_and_batch(data):
    a, b = data[11], data[11]
    for key in ("src", "src_in", "tgt", "tgt_in", "tissue", "mask"):
        assert a[key].shape[-2:] == (SIZE, SIZE) and a[key].dtype == np.float32
        np.testing.assert_array_equal(a[key], b[key])
    assert a["src_text"] == b["src_text"] and a["src_known"] == b["src_known"]
    batch = collate_items([data[i] for i in range(4)])
    assert batch["src_in"].shape == (4, 1, SIZE, SIZE) and batch["src_known"].dtype == torch.bool
    assert not np.array_equal(data[12]["src"], a["src"])


def test_targets_are_clean_and_inputs_are_scanned(data):
    for i in range(6):
        item = data[i]
        background = item["mask"][0] < 0.5
        if background.any() and not item["brain_crop"]:
            assert np.mean(item["tgt"][0][background] == 0) > 0.5       # air is exactly 0 in a target
            assert np.mean(item["tgt_in"][0][background] == 0) < 0.01    # noise covers it in an input
        assert not np.allclose(item["tgt_in"], item["tgt"])


def test_whole_heads_have_extra_cerebral_tissue_and_brain_only_has_none():
    gen = HeadSliceGenerator(SIZE)
    head = gen.draw_anatomy(np.random.default_rng(0), "axial", whole_head=True, lesions=False, thickness_mm=0)
    only = gen.draw_anatomy(np.random.default_rng(0), "axial", whole_head=False, lesions=False, thickness_mm=0)
    assert head["fractions"][EXTRA].sum() > 50                   # pixels' worth of skull and scalp
    assert only["fractions"][EXTRA].sum() == 0
    torch.testing.assert_close(head["fractions"][:2], only["fractions"][:2])   # the same brain,
    assert bool((head["fractions"][2] >= only["fractions"][2] - 1e-6).all())     # a CSF rim around it
    assert float(head["fractions"].sum(0).max()) <= 1.0 + 1e-5


@pytest.mark.parametrize("contrast, brighter", [("T1W", False), ("T2W", True), ("FLAIR", True)])
def test_lesions_follow_the_physics(contrast, brighter):
    gen = HeadSliceGenerator(SIZE)
    anatomy = gen.draw_anatomy(np.random.default_rng(5), "axial", whole_head=True, lesions=True, thickness_mm=0)
    fractions = anatomy["fractions"][:, 0]
    lesion = fractions[LESION] > 0.9
    wm = fractions[1] > 0.9
    assert lesion.any() and wm.any()
    params = gen.parameters(gen.jitter(np.random.default_rng(1)), 1.5)
    image = gen.render(fractions[:, None], signal_vector(PRESETS[contrast], params))[0]
    assert (float(image[lesion].mean()) > float(image[wm].mean())) == brighter


def test_unknown_sources_withhold_the_prompt_and_vary_the_contrast():
    data = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=0, generator="randomized",
                                              randomization=RandomizationRanges(unknown_source=1.0,
                                                                                random_contrast=1.0)))
    items = [data[i] for i in range(4)]
    assert not any(item["src_known"] for item in items)
    for item in items:                 # the input is another contrast than the (physics) source target
        inside = item["mask"][0] > 0.5
        corr = np.corrcoef(item["src_in"][0][inside], item["src"][0][inside])[0, 1]
        assert corr < 0.97
    clip = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=0, generator="randomized", unknown_sources=False,
                                              randomization=RandomizationRanges(unknown_source=1.0)))
    assert all(clip[i]["src_known"] for i in range(4))


def test_thick_slices_blur_the_source_only():
    gen = HeadSliceGenerator(SIZE, RandomizationRanges(thick_probability=0.0, resolution_mm=(0.8, 0.8),
                                                       snr=(1e4, 1e4), bias=(0, 0), gamma_std=0.0, gain=(1, 1)))
    thin = gen.draw_anatomy(np.random.default_rng(2), "coronal", whole_head=False, lesions=False, thickness_mm=0)
    thick = gen.draw_anatomy(np.random.default_rng(2), "coronal", whole_head=False, lesions=False, thickness_mm=8)
    signals = signal_vector(PRESETS["T1W"], gen.parameters(gen.jitter(np.random.default_rng(0)), 1.5))
    sharp = gen.render(thin["fractions"], signals)[0]
    slab = gen.render(thick["fractions"], signals).mean(0)
    centre = gen.render(thick["fractions"][:, thick["fractions"].shape[1] // 2:][:, :1], signals)[0]
    torch.testing.assert_close(centre, sharp)                   # the centre plane is the thin slice

    def edges(img):
        return float((img[1:] - img[:-1]).abs().mean() + (img[:, 1:] - img[:, :-1]).abs().mean())
    assert edges(slab) < 0.9 * edges(sharp)


def test_levels_put_the_brain_core_at_the_brain_level():
    signals = signal_vector(PRESETS["T2W"], HeadSliceGenerator.parameters(
        {n: np.ones(4) for n in ALL_TISSUE_NAMES}, 3.0))
    assert level_of(signals) > 0
    assert level_of(signals * 7) == pytest.approx(7 * level_of(signals), rel=1e-5)
    assert BRAIN_LEVEL == 0.5


# MPRAGE is left out on purpose: its nearly black CSF shrinks the foreground the rule finds, so its
# core is deeper and its level 17 % above the training level (docs/model_card.md, Limits).
@pytest.mark.parametrize("kind", ("T1W", "T2W", "PDW", "FLAIR", "STIR", "FLASH"))
def test_training_level_is_the_level_the_inference_rule_finds_in_the_template_head(kind):
    fractions, spacing = template_head()
    signals = signal_vector(PRESETS[kind], all_tissue_parameters(PRESETS[kind].field_strength))
    image = HeadSliceGenerator.render(fractions, signals).numpy()
    found = fit_intensity_scale(image, "MR", "brain-core-median", spacing).scale * BRAIN_LEVEL
    assert training_level(PRESETS[kind]) == pytest.approx(found, rel=0.01)


def test_prompt_text_matches_its_fields(data):
    from napari_evai2i.prompts import build_slots, is_rendering_of
    from napari_evai2i.prompts.fields import ProtocolFields

    item = data[2]
    for role in ("src", "tgt"):
        assert is_rendering_of(item[f"{role}_text"], build_slots(ProtocolFields.from_dict(item[f"{role}_fields"])))


def test_brain_crops_cut_every_image_to_a_box_inside_the_brain():
    data = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=4, generator="randomized",
                                              randomization=RandomizationRanges(brain_crop=1.0)))
    cropped = [data[i] for i in range(8)]
    cropped = [item for item in cropped if item["brain_crop"]]
    assert len(cropped) >= 6                          # only slices with little brain are left whole
    for item in cropped:
        box = item["tgt"][0] != 0
        rows, cols = np.nonzero(box)
        window = np.zeros_like(box)
        window[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        assert window.sum() < SIZE * SIZE                                   # smaller than the canvas
        for key in ("src_in", "tgt_in", "src", "tgt"):
            assert np.all(item[key][0][~window] == 0)                       # padding is exact zeros
        assert np.all(item["mask"][0][~window] == 0)
        brain = item["tissue"][0, :3].sum(0) if item["tissue"].ndim == 4 else item["tissue"][:3].sum(0)
        assert brain[window].mean() > 0.5                                   # mostly brain inside


def test_crop_levels_from_the_crop_rescale_each_input_to_the_level_the_engine_finds_in_the_box():
    from napari_evai2i.data.randomized import crop_level
    from napari_evai2i.engine.normalization import brain_core_level

    ranges = dict(brain_crop=1.0)
    plain, rescaled = (SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=4, generator="randomized",
                                                          randomization=RandomizationRanges(**ranges, **flag)))
                       for flag in ({}, {"crop_levels_from_crop": True}))
    factors = []
    for i in range(6):
        a, b = plain[i], rescaled[i]
        assert a["brain_crop"] == b["brain_crop"]
        for key in ("src", "tgt"):
            assert np.array_equal(a[key], b[key])                  # targets keep the prompt's level
        if not a["brain_crop"]:
            assert np.array_equal(a["src_in"], b["src_in"])
            continue
        for key in ("src_in", "tgt_in", "int_in"):
            inside = a[key] != 0
            ratio = b[key][inside] / a[key][inside]
            np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)  # one factor per input image
            factors.append(float(ratio[0]))
    assert factors and max(abs(f - 1) for f in factors) > 0.02
    # the level is the box's alone: more zero padding around it changes nothing
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.uniform(0.5, 1.5, (40, 40)).astype(np.float32))
    for n in (48, 96):
        canvas, window = torch.zeros(n, n), torch.zeros(n, n)
        canvas[4:44, 4:44], window[4:44, 4:44] = image, 1.0
        assert crop_level(canvas, window, 1.2) == pytest.approx(brain_core_level(image.numpy(), (1.2, 1.2)))


def test_lesion_map_marks_the_lesions():
    protocols = [PRESETS[k] for k in ("T1W", "T2W", "FLAIR")]
    maps = {}
    for p in (0.0, 1.0):
        gen = HeadSliceGenerator(SIZE, RandomizationRanges(lesion_probability=p, brain_crop=0.0))
        item = gen.item(np.random.default_rng(2), protocols, random.Random(0), 0.0, True, allow_unknown=False)
        maps[p] = item["lesion"]
        assert item["lesion"].shape == (1, SIZE, SIZE) and item["lesion"].min() >= 0
    assert maps[0.0].sum() == 0 and maps[1.0].sum() > 3          # pixels' worth of lesion


def test_tissue_values_are_the_clean_images_pure_tissue_values():
    protocols = [PRESETS[k] for k in ("T1W", "T2W", "FLAIR")]
    gen = HeadSliceGenerator(SIZE, RandomizationRanges(lesion_probability=1.0, brain_crop=0.0, whole_head=0.0,
                                                       lesion_radius_mm=(6.0, 8.0)))
    item = gen.item(np.random.default_rng(4), protocols, random.Random(0), 0.0, True, allow_unknown=False)
    tissue = item["tissue"]                     # GM, WM (lesions in), CSF, the rest
    wm_only = (tissue[1] > 0.99) & (item["lesion"][0] < 0.01)      # (partial volume: never quite 1)
    lesion_only = item["lesion"][0] > 0.99
    assert wm_only.sum() > 20 and lesion_only.sum() > 20
    for role in ("src", "tgt", "int"):
        values = item[f"{role}_tissue_values"]
        assert values.shape == (len(ALL_TISSUE_NAMES),) and values.dtype == np.float32
        np.testing.assert_allclose(item[role][0][wm_only], values[1], rtol=0.02)
        np.testing.assert_allclose(item[role][0][lesion_only], values[LESION], rtol=0.02)
    # FLAIR (int) shows lesions brighter than WM, T1w (src) darker: the values carry the physics
    assert item["int_tissue_values"][LESION] > item["int_tissue_values"][1]
    assert item["src_tissue_values"][LESION] < item["src_tissue_values"][1]


def test_shape_items_lay_brain_tissues_out_as_no_brain_and_always_give_the_source_prompt():
    shapes = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=4, generator="randomized",
                                                randomization=RandomizationRanges(shapes=1.0)))
    heads = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=4, generator="randomized"))
    for i in range(8):
        item = shapes[i]
        assert item["shapes"] and item["src_known"] and not item["whole_head"] and not item["has_lesions"]
        tissue = item["tissue"]                                   # GM, WM, CSF, the rest
        assert np.allclose(tissue.sum(0), 1, atol=1e-5) and tissue[:3].sum(0).max() > 0.99
        np.testing.assert_allclose(item["tissue"][3], 1 - tissue[:3].sum(0), atol=1e-5)   # air only
        # the target is the prompt's pure tissue values mixed by those fractions
        values = item["tgt_tissue_values"]
        expected = sum(values[ALL_TISSUE_NAMES.index(t)] * tissue[k] for k, t in enumerate(("GM", "WM", "CSF")))
        np.testing.assert_allclose(item["tgt"][0], expected, rtol=1e-4, atol=1e-5)
        assert not heads[i]["shapes"]
    # off by default, and drawing nothing when off: the items of every earlier recipe are unchanged
    assert RandomizationRanges().shapes == 0.0


def test_without_levels_when_prompted_only_prompt_less_sources_get_gamma_and_gain():
    """``levels_when_prompted: False``: prompted inputs are scanned as with no gamma and no gain,
    prompt-less sources as by default; every other draw is the same."""
    def items(unknown: float, **ranges) -> list[dict]:
        data = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=3, generator="randomized",
                                                  randomization=RandomizationRanges(unknown_source=unknown, **ranges)))
        return [data[i] for i in range(3)]

    def inputs(batch: list[dict]) -> np.ndarray:
        return np.stack([item[key] for item in batch for key in ("src_in", "tgt_in")])

    prompted = items(0.0, levels_when_prompted=False)
    np.testing.assert_array_equal(inputs(prompted), inputs(items(0.0, gamma_std=0.0, gain=(1.0, 1.0))))
    assert not np.array_equal(inputs(prompted), inputs(items(0.0)))           # the default has levels
    prompt_less = items(1.0, levels_when_prompted=False)
    assert not any(item["src_known"] for item in prompt_less)
    default = items(1.0)
    for mine, theirs in zip(prompt_less, default):
        np.testing.assert_array_equal(mine["src_in"], theirs["src_in"])
        np.testing.assert_array_equal(mine["tgt"], theirs["tgt"])


def test_prompted_gain_scales_each_prompted_input_by_one_gain_in_its_range_and_draws_nothing_new():
    """``prompted_gain`` (with ``levels_when_prompted`` off): every prompted input is the plain
    prompted input times one factor inside the range, mapped from the gain drawn anyway, so the
    targets and every prompt-less source stay draw for draw as without it."""
    def items(unknown: float, **ranges) -> list[dict]:
        data = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=3, generator="randomized",
                                                  randomization=RandomizationRanges(unknown_source=unknown,
                                                                                    levels_when_prompted=False, **ranges)))
        return [data[i] for i in range(4)]

    plain, gained = items(0.0), items(0.0, prompted_gain=(0.9, 1.1))
    factors = []
    for mine, theirs in zip(gained, plain):
        assert mine["src_known"]
        np.testing.assert_array_equal(mine["tgt"], theirs["tgt"])
        for key in ("src_in", "tgt_in"):
            inside = theirs[key] > 0.05
            ratio = mine[key][inside] / theirs[key][inside]
            np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-4)        # one factor per image
            factors.append(float(ratio.mean()))
    assert all(0.9 - 1e-4 <= f <= 1.1 + 1e-4 for f in factors)
    assert max(factors) - min(factors) > 0.02                                 # drawn, not constant
    for mine, theirs in zip(items(1.0, prompted_gain=(0.9, 1.1)), items(1.0)):   # prompt-less: unchanged
        np.testing.assert_array_equal(mine["src_in"], theirs["src_in"])
    assert RandomizationRanges().prompted_gain is None


def test_a_recipe_refuses_prompted_gain_where_prompted_inputs_already_get_every_level():
    from napari_evai2i.train.config import load_train_config, randomization_ranges

    base = ["simulator=randomized", "out=/tmp/unused"]
    ranges = randomization_ranges(load_train_config(None, base + [
        "randomization={levels_when_prompted: false, prompted_gain: [0.9, 1.1]}"]))
    assert ranges.prompted_gain == (0.9, 1.1)
    with pytest.raises(ValueError, match="levels_when_prompted"):
        load_train_config(None, base + ["randomization={prompted_gain: [0.9, 1.1]}"])
    with pytest.raises(ValueError, match="0 < low <= high"):
        load_train_config(None, base + ["randomization={levels_when_prompted: false, prompted_gain: [1.1, 0.9]}"])


def test_without_resolution_loss_when_prompted_only_prompt_less_sources_get_thick_slices_and_blur():
    """``resolution_loss_when_prompted: False``: a prompted source is scanned from the centre
    plane at the grid's resolution, whatever the thickness and resolution ranges; prompt-less
    sources are as by default, draw for draw."""
    def items(unknown: float, **ranges) -> list[dict]:
        data = SimulatedPairs(SimulatedDataConfig(size=SIZE, seed=5, generator="randomized",
                                                  randomization=RandomizationRanges(unknown_source=unknown, **ranges)))
        return [data[i] for i in range(4)]

    # no bias, noise, gamma or gain: what is left between the clean source and its scan is resolution
    quiet = dict(bias=(0.0, 0.0), snr=(1e6, 1e6), gamma_std=0.0, gain=(1.0, 1.0), thick_probability=1.0,
                 resolution_mm=(2.5, 2.5))
    for item in items(0.0, resolution_loss_when_prompted=False, **quiet):
        assert item["src_known"]
        np.testing.assert_allclose(item["src_in"], item["src"], atol=1e-3)
    blurred = items(0.0, **quiet)
    assert all(np.abs(item["src_in"] - item["src"]).max() > 0.05 for item in blurred)   # the default blurs
    for mine, theirs in zip(items(1.0, resolution_loss_when_prompted=False), items(1.0)):
        assert not mine["src_known"]
        np.testing.assert_array_equal(mine["src_in"], theirs["src_in"])
        np.testing.assert_array_equal(mine["tgt"], theirs["tgt"])
