"""The volume-prompt probe on small held-out volumes and the shipped demo: each setting reaches the
engine as asked, and the scores are the volume suite's of that translation."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_volume_prompt.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_volume_prompt import main  # noqa: E402


def test_each_setting_is_scored_as_the_volume_suite_scores_that_translation(tmp_path):
    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
    from napari_evai2i.io import Volume
    from napari_evai2i.train.volume_quality import held_out_volume, volume_scores

    out = tmp_path / "volumes.json"
    assert main(["--first", "3", "--volumes", "1", "--size", "64", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["planes"] == ["axial"] and len(report["source_read_as"]) == 1
    # the contrast reader was asked (the volume has no tags and no name), and said what it did
    assert report["source_read_as"][0].startswith(("read from the image: ", "unknown: the image reads as "))
    case = held_out_volume(3, "T1W", "FLAIR", 64, 64)
    translator = load_model("demo", "cpu")
    for name, source in (("source prompt", case["src_protocol"].prompt()), ("no source prompt", "")):
        request = TranslationRequest(target=case["tgt_protocol"].prompt(), axis=0, planes=1, source_prompt=source)
        array = VolumeTranslation(Volume(case["src"], spacing=(1.0, 1.0, 1.0)), request, translator).run().volume.array
        expected = volume_scores(array, case["tgt"], case["brain"])
        mean, se = report["settings"][name]["ssim"]
        assert mean == pytest.approx(expected["ssim"], abs=5e-5) and se == 0
    with_prompt, without = (report["settings"][k]["per_volume_ssim"][0] for k in ("source prompt", "no source prompt"))
    assert with_prompt != without                   # the prompt reached the translator
    assert np.isfinite(report["settings"]["source read from the image"]["dice"][0])
