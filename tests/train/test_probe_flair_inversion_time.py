"""The FLAIR inversion-time probe on the shipped demo: the truth moves with TI the way the signal
equations say, every model row carries ratios and scores, and the demo (v9: v7's map of TI, and a
correction below the CSF null) follows the truth's direction on both sides of the null."""

import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_flair_inversion_time.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_flair_inversion_time import main  # noqa: E402


def test_truth_follows_ti_and_the_demo_is_scored_at_each(tmp_path, capsys):
    out = tmp_path / "ti.json"
    assert main(["demo=demo", "--first-case", "6", "--cases", "1", "--tis", "1950", "2210", "2500",
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    below, at_null, at_preset = (report["by TI"][key] for key in ("1950 ms (0.882 x null)", "2210 ms (0.999 x null)",
                                                                 "2500 ms (1.131 x null)"))
    # below the null, the magnitude image brightens CSF again
    assert below["truth"]["CSF/GM"] > at_null["truth"]["CSF/GM"]
    # past the null, CSF recovers and grey matter gains on white (both relax more slowly)
    assert at_preset["truth"]["CSF/GM"] > at_null["truth"]["CSF/GM"]
    assert at_preset["truth"]["GM/WM"] > at_null["truth"]["GM/WM"]
    for row in (below, at_null, at_preset):
        assert set(row) == {"truth", "demo, no source prompt", "demo, source prompt"}
        for key in ("demo, no source prompt", "demo, source prompt"):
            assert 0.5 < row[key]["ssim"] <= 1 and 0 < row[key]["dice"] <= 1 and row[key]["GM/WM"] > 0
    # v7 to v9 read the prompt's TI (v6 drew one FLAIR whatever the TI: +0.003 over cases 6-17), and
    # v9 turns at the null as the truth does (v7 and v8 darkened CSF below it)
    for key in ("demo, no source prompt", "demo, source prompt"):
        assert at_preset[key]["GM/WM"] > at_null[key]["GM/WM"] + 0.01
        assert at_preset[key]["CSF/GM"] > at_null[key]["CSF/GM"] + 0.01
        assert below[key]["CSF/GM"] > at_null[key]["CSF/GM"] + 0.01
