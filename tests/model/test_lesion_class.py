"""Lesions as a tissue class of their own (``generator.tissue_classes`` 5).

A 4-class checkpoint grows into it without changing a single translation, the training
target takes lesions out of white matter, and a continuation run grows and then trains it.
"""

import dataclasses
import json

import pytest
import torch

from napari_evai2i.model import ModelConfig, create_model, get_preset, load_pretrained, read_checkpoint_config
from napari_evai2i.model.config import TISSUE_CHANNELS
from napari_evai2i.model.generator import grows_tissue_classes, load_growing_tissue_classes
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.steps import tissue_target
from napari_evai2i.train.trainer import Trainer


def _with_classes(config: ModelConfig, classes: int) -> ModelConfig:
    return dataclasses.replace(config, generator=dataclasses.replace(config.generator, tissue_classes=classes))


def test_a_grown_generator_translates_exactly_as_the_one_it_grew_from():
    old = create_model(get_preset("tiny"), seed=0).generator.eval()
    torch.manual_seed(1)
    with torch.no_grad():       # tissue heads far from their initial values, so they matter
        for module in (old.tissue_head, old.code_tissue_head, old.tissue_intensity[2]):
            for p in module.parameters():
                p.normal_(0.0, 0.5)
    grown = create_model(_with_classes(get_preset("tiny"), 5), seed=3).generator.eval()
    load_growing_tissue_classes(grown, old.state_dict())

    x = torch.rand(2, 1, 48, 40)
    style = torch.nn.functional.normalize(torch.randn(1, old.config.style_dim), dim=-1)
    with torch.no_grad():
        y_old, _, tissue_old = old(x, style, return_features=True)
        y_new, _, tissue_new = grown(x, style, return_features=True)
    assert torch.allclose(y_old, y_new, atol=1e-5)
    p_old, p_new = tissue_old.softmax(1), tissue_new.softmax(1)
    wm, lesion = TISSUE_CHANNELS[5].index("WM"), TISSUE_CHANNELS[5].index("LESION")
    assert torch.allclose(p_new[:, wm] + p_new[:, lesion], p_old[:, 1], atol=1e-5)
    assert torch.allclose(p_new[:, 4], p_old[:, 3], atol=1e-5)          # the rest keeps its probability


def test_classes_are_never_taken_away_and_only_known_layouts_load():
    five = create_model(_with_classes(get_preset("tiny"), 5), seed=0).generator
    four = create_model(get_preset("tiny"), seed=0).generator
    with pytest.raises(ValueError, match="cannot grow tissue classes 5 -> 4"):
        load_growing_tissue_classes(four, five.state_dict())
    with pytest.raises(ValueError, match="tissue_classes is 3; use 0"):
        ModelConfig.from_dict({**get_preset("tiny").to_dict(),
                               "generator": {**get_preset("tiny").to_dict()["generator"], "tissue_classes": 3}})


def test_only_a_generator_that_differs_in_added_tissue_classes_grows():
    tiny = get_preset("tiny").generator
    assert grows_tissue_classes(tiny, _with_classes(get_preset("tiny"), 5).generator)
    assert not grows_tissue_classes(tiny, tiny)
    assert not grows_tissue_classes(_with_classes(get_preset("tiny"), 5).generator, tiny)
    headless = dataclasses.replace(tiny, tissue_classes=0, tissue_mixture=False)     # no head to grow from
    assert not grows_tissue_classes(headless, dataclasses.replace(tiny, tissue_mixture=False))
    wider = dataclasses.replace(tiny, tissue_classes=5, latent_dim=tiny.latent_dim * 2)
    assert not grows_tissue_classes(tiny, wider)


def test_the_five_class_target_takes_lesions_out_of_white_matter():
    tissue = torch.zeros(1, 4, 2, 2)
    tissue[0, 0] = torch.tensor([[1.0, 0.0], [0.2, 0.0]])     # GM
    tissue[0, 1] = torch.tensor([[0.0, 1.0], [0.8, 0.0]])     # WM, lesions counted in
    tissue[0, 3] = torch.tensor([[0.0, 0.0], [0.0, 1.0]])     # the rest
    lesion = torch.tensor([[[[0.0, 0.6], [0.5, 0.0]]]])
    batch = {"tissue": tissue, "lesion": lesion}
    assert torch.equal(tissue_target(batch, 4), tissue)
    five = tissue_target(batch, 5)
    assert torch.allclose(five[0, 1], torch.tensor([[0.0, 0.4], [0.3, 0.0]]))
    assert torch.equal(five[0, 3], lesion[0, 0])
    assert torch.allclose(five.sum(1), tissue.sum(1))
    without_lesions = tissue_target({"tissue": tissue}, 5)      # the template simulator draws none
    assert torch.equal(without_lesions[0, 3], torch.zeros(2, 2))


def test_a_continuation_grows_a_four_class_checkpoint_and_trains_the_new_class(tmp_path):
    quick = ["clip_steps=0", "finetune_steps=0", "gen_batch=2", "crop_size=64", "device=cpu", "ckpt_every=100",
             "simulator=randomized", "w_tissue=1"]
    first = Trainer(load_train_config(None, [f"out={tmp_path / 'a'}", "init_steps=1", *quick])).run("init")
    model_file = tmp_path / "tiny_lesion_class.json"
    model_file.write_text(json.dumps(_with_classes(get_preset("tiny"), 5).to_dict()))
    second = Trainer(load_train_config(None, [f"out={tmp_path / 'b'}", "init_steps=1", f"model={model_file}",
                                              f"init_from={first}", *quick])).run("init")

    assert read_checkpoint_config(second)[0].generator.tissue_classes == 5
    before, _ = load_pretrained(first, "cpu")
    after, _ = load_pretrained(second, "cpu")
    bias = after.generator.tissue_head.bias.detach()
    assert bias[1] != bias[3]              # the lesion class has left WM's copy
    # everything outside the tissue heads started from the first run, not from a fresh init
    decoder_first = before.generator.decoder.state_dict()
    decoder_second = after.generator.decoder.state_dict()
    moved = max(float((decoder_first[k].float() - decoder_second[k].float()).abs().max()) for k in decoder_first)
    fresh = create_model(_with_classes(get_preset("tiny"), 5), seed=0).generator.decoder.state_dict()
    from_fresh = max(float((fresh[k].float() - decoder_second[k].float()).abs().max()) for k in fresh)
    assert moved < from_fresh


def test_the_lesion_value_loss_teaches_the_lesion_intensity_and_nothing_else():
    from napari_evai2i.data.head import ALL_TISSUE_NAMES
    from napari_evai2i.train.steps import lesion_value_loss

    torch.manual_seed(0)
    generator = create_model(_with_classes(get_preset("tiny"), 5), seed=0).generator
    styles = torch.nn.functional.normalize(torch.randn(4, generator.config.style_dim), dim=-1).requires_grad_()
    values = torch.zeros(4, len(ALL_TISSUE_NAMES))
    values[:, ALL_TISSUE_NAMES.index("WM")] = 0.8
    values[:, ALL_TISSUE_NAMES.index("LESION")] = torch.tensor([1.6, 0.5, 1.2, 0.9])
    before = generator.tissue_intensity(styles.detach()).detach()
    optimizer = torch.optim.Adam(generator.tissue_intensity.parameters(), lr=3e-3)
    first = float(lesion_value_loss(generator, styles, values).detach())
    for _ in range(400):
        optimizer.zero_grad()
        lesion_value_loss(generator, styles, values).backward()
        optimizer.step()
    assert float(lesion_value_loss(generator, styles, values).detach()) < 0.1 * first
    assert styles.grad is None                  # prompts are not pushed by it
    intensity = generator.tissue_intensity(styles.detach()).detach()
    wm, lesion = TISSUE_CHANNELS[5].index("WM"), TISSUE_CHANNELS[5].index("LESION")
    torch.testing.assert_close(intensity[:, lesion] - intensity[:, wm],
                               2 * (values[:, ALL_TISSUE_NAMES.index("LESION")] - 0.8), atol=0.15, rtol=0)
    others = [i for i in range(5) if i != lesion]
    torch.testing.assert_close(intensity[:, others], before[:, others], atol=0, rtol=0)   # WM is not pulled
    four = create_model(get_preset("tiny"), seed=0).generator
    with pytest.raises(ValueError, match="LESION tissue class"):
        lesion_value_loss(four, styles, values)
