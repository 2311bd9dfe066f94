"""pilot_verdict.py on recorded pilot reports: it prints the verdict each pilot printed when it ran
(docs/results), so a change to how a question is judged shows up here."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src_training" / "launch"))
from pilot_verdict import verdict  # noqa: E402


def test_the_first_mixture_sharpness_pilot_fails_a_alone(capsys):
    out = ROOT / "docs" / "results" / "v9_sharpness_2026-12-07" / "mixture_sharpness"
    ok = verdict(out, "v9", "sharp", "mixture_sharpness")
    assert ok == {"a": False, "b": True, "c": True, "d": True, "e": True, "f": True}
    printed = capsys.readouterr().out
    assert "(a) T1w->FLAIR over its 10 settings: Dice 0.5551 -> 0.5553, SSIM 0.8649 -> 0.8647: False" in printed
    assert printed.strip().endswith(str(ok)) and "VERDICT: fails" in printed


def test_the_deeper_below_null_pilot_fails_at_1950_and_2210_ms(capsys):
    out = ROOT / "docs" / "results" / "v9_ti_deep_2026-12-07"
    ok = verdict(out, "v9", "deep", "ti_deep_below_null")
    assert ok == {"a1": True, "a2": False, "a3": True, "a4": True, "a5": False}
    assert "(a1) CSF/GM error at 1700 ms: v9 0.109, deep 0.011: True" in capsys.readouterr().out


def test_the_blended_below_null_pilot_fails_at_1950_ms_alone(capsys):
    out = ROOT / "docs" / "results" / "v9_ti_blended_2026-12-07"
    ok = verdict(out, "v9", "blend", "ti_deep_below_null")
    assert ok == {"a1": True, "a2": False, "a3": True, "a4": True, "a5": True}
    assert "(a2) CSF/GM error at 1950 ms: v9 0.003, blend 0.023: False" in capsys.readouterr().out
