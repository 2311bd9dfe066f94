"""The protocol sweep probe moving the T2w prompt's echo time: the truth's CSF/GM rises with TE as
the signal equations say, and every model row carries ratios and scores at each TE."""

import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_protocol_sweep.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_protocol_sweep import main  # noqa: E402


def test_truth_follows_te_and_the_demo_is_scored_at_each(tmp_path, capsys):
    out = tmp_path / "te.json"
    assert main(["demo=demo", "--target", "T2W", "--quantity", "te", "--values", "45", "100",
                 "--first-case", "6", "--cases", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert report["target"] == "TR 4000 ms, 1.5 T" and report["task"] == "T1w->T2w, whole head"
    short, long = report["by TE"]["45 ms"], report["by TE"]["100 ms"]
    assert long["truth"]["CSF/GM"] > short["truth"]["CSF/GM"] + 0.1     # CSF keeps its signal longest
    for row in (short, long):
        assert set(row) == {"truth", "demo, no source prompt", "demo, source prompt"}
        for key in ("demo, no source prompt", "demo, source prompt"):
            assert 0.5 < row[key]["ssim"] <= 1 and 0 < row[key]["dice"] <= 1 and row[key]["CSF/GM"] > 0


def test_the_field_strength_moves_flairs_grey_white_contrast_and_the_demo_follows(tmp_path, capsys):
    out = tmp_path / "field.json"
    assert main(["demo=demo", "--target", "FLAIR", "--quantity", "field_strength", "--values", "1.5", "3",
                 "--first-case", "6", "--cases", "1", "--json", str(out)]) == 0
    capsys.readouterr()
    report = json.loads(out.read_text())
    assert report["target"] == "TR 9000 ms, TE 120 ms, TI 2500 ms"                 # the field is what moves
    low, high = report["by FIELD_STRENGTH"]["1.5 T"], report["by FIELD_STRENGTH"]["3 T"]
    assert high["truth"]["GM/WM"] < low["truth"]["GM/WM"] - 0.05    # longer T1 at 3 T: grey and white closer
    for key in ("demo, no source prompt", "demo, source prompt"):   # the text tower reads the field
        assert high[key]["GM/WM"] < low[key]["GM/WM"] - 0.03
