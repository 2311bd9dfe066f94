"""compare_contrast_readers.py: one short block per kind of case with the shipped reader under two
labels (the same reader must count the same, and the candidate's verdict must fail where it gains
nothing), and the verdict's rule on a report whose counts are set to test each part."""

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src_training" / "launch"))
from compare_contrast_readers import main, verdict  # noqa: E402

SHIPPED = str(ROOT / "napari_evai2i" / "weights" / "contrast_reader")


def test_one_reader_under_two_labels_counts_the_same_and_gains_nothing(tmp_path, capsys):
    path = tmp_path / "r.json"
    status = main([f"a={SHIPPED}", f"b={SHIPPED}", "--cases", "1", "--json", str(path), "--verdict", "a", "b"])
    printed = capsys.readouterr().out
    report = json.loads(path.read_text())
    assert set(report["blocks"]) == {"suite", "calibration", "fresh"}
    assert report["blocks"]["fresh"]["cases"] == "460-460"
    for block in report["blocks"].values():
        assert block["a"] == block["b"]
        counts = block["a"]["threshold 0.9"]["all"]
        assert counts["images"] == 42 and 0 <= counts["used_wrong_weighting"] <= counts["used"] <= 42
    nibabel = next(v for k, v in report["real"].items() if k.startswith("nibabel"))
    assert nibabel["a"] == nibabel["b"] and nibabel["a"]["right"]
    assert status == 1 and "(v2)" in printed and "VERDICT: fails" in printed      # no gain, no pass


def _report(wrong_fresh=0, share=0.9, crop_share=0.9, wrong_calibration=0, wrong_suite=0, real_p=0.95):
    def block(wrong, share, crop):
        counts = {"images": 504, "used": int(share * 504), "used_share": share, "used_wrong_weighting": wrong}
        crop_counts = dict(counts, images=72, used_share=crop)
        return {f"threshold {t}": {"all": counts, "crop inside the brain, 2 mm pixels": crop_counts}
                for t in (0.8, 0.85, 0.9, 0.95)}

    old = block(1, 0.85, 0.78)
    return {"blocks": {"suite": {"cases": "0-5", "old": old, "new": block(wrong_suite, share, crop_share)},
                       "calibration": {"cases": "100-111", "old": old, "new": block(wrong_calibration, share, crop_share)},
                       "fresh": {"cases": "460-471", "old": old, "new": block(wrong_fresh, share, crop_share)}},
            "real": {name: {"old": {"right": True, "kind": "FLASH", "p": 0.96},
                            "new": {"right": True, "kind": "FLASH", "p": real_p}}
                     for name in ("nibabel crop", "dipy T1 slice", "dipy b=0")}}


def test_each_part_of_the_verdict_can_fail(capsys):
    assert verdict(_report(), "old", "new") == {"threshold": 0.9, "v1": True, "v2": True, "v3": True, "v4": True}
    assert verdict(_report(wrong_calibration=2), "old", "new") == {"threshold": False}
    assert not verdict(_report(wrong_fresh=2), "old", "new")["v1"]
    assert not verdict(_report(crop_share=0.80), "old", "new")["v2"]      # less than + 0.05 on 2 mm crops
    assert not verdict(_report(wrong_suite=1), "old", "new")["v3"]
    assert not verdict(_report(real_p=0.85), "old", "new")["v4"]          # dipy's scans no longer used
    wrong = copy.deepcopy(_report())
    wrong["real"]["nibabel crop"]["new"]["right"] = False
    assert not verdict(wrong, "old", "new")["v4"]
    capsys.readouterr()


def test_the_second_reader_fails_its_recorded_verdict(capsys):
    report = json.loads((ROOT / "docs" / "results" / "contrast_reader_v2_2026-12-07" / "compare.json").read_text())
    assert verdict(report, "shipped", "candidate") == {"threshold": 0.95, "v1": True, "v2": False, "v3": True,
                                                      "v4": False}
    assert "nibabel anatomical.nii (2 mm brain crop): shipped FLASH p 0.7109; candidate FLAIR p 0.6394" in capsys.readouterr().out


def test_the_grey_above_white_reader_fails_its_recorded_verdict(capsys):
    report = json.loads((ROOT / "docs" / "results" / "contrast_reader_grey_above_white_2026-12-07"
                         / "compare.json").read_text())
    assert verdict(report, "shipped", "candidate") == {"threshold": 0.9, "v1": True, "v2": False, "v3": True,
                                                      "v4": False}
    assert "crop inside the brain, 2 mm pixels: 0.528 -> 0.569: False" in capsys.readouterr().out


def test_reading_at_1_mm_holds_its_recorded_verdict(capsys):
    report = json.loads((ROOT / "docs" / "results" / "contrast_reader_read_1mm_2026-12-07" / "compare.json").read_text())
    assert report["blocks"]["fresh"]["cases"] == "472-483"
    assert verdict(report, "shipped", "candidate") == {"threshold": 0.9, "v1": True, "v2": True, "v3": True, "v4": True}
    assert "crop inside the brain, 2 mm pixels: 0.764 -> 0.833: True" in capsys.readouterr().out
