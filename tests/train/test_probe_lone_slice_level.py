"""The lone-slice level probe: its examples carry the rule's own error, its correction is clipped,
and its evaluation's "rule" row is the engine's default translation, on a real held-out case."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_lone_slice_level.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_lone_slice_level import CLIP, corrected_scale, evaluate, example, level_network, main  # noqa: E402


def test_an_example_is_the_source_as_the_rule_normalises_it_and_the_rules_distance_from_the_training_level():
    from napari_evai2i.engine.normalization import BRAIN_LEVEL, brain_core_level

    targets = []
    for i in range(4):
        image, target, pixel = example(np.random.default_rng([5, 0, i]))
        # divided by the rule's scale, the image's brain core sits at the brain level
        assert brain_core_level(image, (pixel, pixel)) == pytest.approx(BRAIN_LEVEL, rel=1e-4)
        # times that scale it is back at the training level, where the same rule finds exp(target)
        assert brain_core_level(image * math.exp(target), (pixel, pixel)) / BRAIN_LEVEL == \
            pytest.approx(math.exp(target), rel=1e-4)
        targets.append(target)
    assert np.std(targets) > 0.005                  # lone slices are not all at the training level


def test_training_writes_weights_whose_correction_is_clipped(tmp_path):
    from safetensors.torch import load_file

    from napari_evai2i.engine.normalization import IntensityScale
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase

    weights = tmp_path / "level.safetensors"
    assert main(["train", "--out", str(weights), "--steps", "2", "--batch", "2"]) == 0
    network = level_network()
    network.load_state_dict(load_file(str(weights)))
    network.eval()
    source = HeldOutCase(6, CASE_SIZE).render("T1W", "FLAIR")["src"]
    rule = IntensityScale("MR", 0.0, 1.0, 0.0, "brain-core-median")
    with_weights = corrected_scale(network, source, rule)
    assert math.exp(-CLIP) - 1e-6 <= with_weights.scale <= math.exp(CLIP) + 1e-6
    for value in (5.0, -5.0):                       # a reading far off is clipped to CLIP either way
        for parameter in network.classify.parameters():
            parameter.data.zero_()
        network.classify.bias.data.fill_(value)
        assert corrected_scale(network, source, rule).scale == pytest.approx(math.exp(-math.copysign(CLIP, value)))


def test_the_evaluation_scores_the_engines_own_translation_as_the_rule(tmp_path):
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase, _translate, slice_scores

    weights = tmp_path / "level.safetensors"
    main(["train", "--out", str(weights), "--steps", "1", "--batch", "2"])
    report = evaluate(str(weights), 7, 1)
    cell = report["tasks"]["T1w->FLAIR, source prompt"]
    case = HeldOutCase(7, CASE_SIZE).render("T1W", "FLAIR", whole_head=True)
    plain = slice_scores(_translate(load_model("demo", "cpu"), case, True), case["tgt"], case["brain"])
    assert cell["rule"]["ssim"] == pytest.approx(plain["ssim"], abs=5e-5)
    gain, _ = cell["corrected - rule, SSIM"]
    assert gain == pytest.approx(cell["corrected"]["ssim"] - cell["rule"]["ssim"], abs=2e-4)
    assert len(report["tasks"]) == 8 and set(report["rms log scale"]) == {"rule", "corrected"}
    json.dumps(report)
