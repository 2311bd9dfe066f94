"""The ship rule and the setting-by-setting comparison read their verdicts off robustness reports:
the shipped demo's evaluation.json against itself, and against a copy with one cell changed."""

import copy
import json
import subprocess
import sys
from pathlib import Path

from napari_evai2i.engine.translator import demo_checkpoint_path

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "src_training" / "launch"
sys.path.insert(0, str(LAUNCH))
from ship_rule import held_out_losses, off_template_gain, orders_lost  # noqa: E402
from summarize_ablation import TASKS, held_out_setting_means, read_report  # noqa: E402

SHIPPED = demo_checkpoint_path() / "evaluation.json"
SETTING = "whole head, no source prompt"


def test_a_report_against_itself_loses_nothing_and_gains_nothing():
    report = read_report(str(SHIPPED))
    assert held_out_losses(report, report) == []
    assert orders_lost(report, report) == []


def test_rule_four_asks_for_a_gain_on_real_anatomy_when_the_ring_order_is_wrong():
    report = read_report(str(SHIPPED))
    report["off_template"]["T1W->T2W"]["source prompt"]["order_ok"] = False
    assert off_template_gain(report, report)[0] is False
    better = copy.deepcopy(report)
    for scan in better["real_anatomy"].values():
        for task in TASKS:
            scan[task]["source prompt"]["ssim"] += 0.03
    holds, text = off_template_gain(report, better)
    assert holds and "mean +0.030" in text


def test_a_lowered_cell_breaks_rule_one_and_moves_its_setting_mean(tmp_path):
    report = read_report(str(SHIPPED))
    worse = copy.deepcopy(report)
    worse["held_out_heads"]["T2w->T1w"][SETTING]["ssim"] -= 0.08
    losses = held_out_losses(report, worse)
    assert len(losses) == 1 and losses[0].startswith(f"T2w->T1w, {SETTING}: ssim")
    change = held_out_setting_means(worse)[SETTING] - held_out_setting_means(report)[SETTING]
    assert abs(change + 0.02) < 1e-9                          # one task of four, 0.08 lower

    path = tmp_path / "worse.json"
    path.write_text(json.dumps({"robustness": worse}))
    ship = subprocess.run([sys.executable, str(LAUNCH / "ship_rule.py"), str(SHIPPED), str(path)],
                          capture_output=True, text=True)
    assert ship.returncode == 1 and "rule 1 (held-out cells): broken" in ship.stdout
    settings = subprocess.run([sys.executable, str(LAUNCH / "summarize_ablation.py"), "--settings",
                               str(SHIPPED), str(path)], capture_output=True, text=True, check=True)
    line = next(x for x in settings.stdout.splitlines() if x.startswith(SETTING + " "))
    assert line.split()[-1] == "-0.020"


def test_wrong_arguments_get_a_usage_error():
    one = subprocess.run([sys.executable, str(LAUNCH / "summarize_ablation.py"), "--settings", str(SHIPPED)],
                         capture_output=True, text=True)
    assert one.returncode == 2 and "compares two reports" in one.stderr
    none = subprocess.run([sys.executable, str(LAUNCH / "ship_rule.py"), str(SHIPPED)],
                          capture_output=True, text=True)
    assert none.returncode == 2 and "new" in none.stderr


def _held_out_report(tmp_path, first_case: int, cases: int) -> Path:
    from napari_evai2i.train.evaluate import main

    out = tmp_path / f"held_out_{first_case}.json"
    assert main(["--suite", "held-out", "--model", "demo", "--device", "cpu", "--cases", str(cases),
                 "--first-case", str(first_case), "--json", str(out)]) == 0
    return out


def test_the_held_out_suite_keeps_every_case_and_the_paired_rule_reads_it(tmp_path):
    path = _held_out_report(tmp_path, 6, 2)
    report = json.loads(path.read_text())
    assert set(report) == {"model", "held_out"}                     # nothing else was run
    assert (report["held_out"]["first_case"], report["held_out"]["cases"]) == (6, 2)
    heads = report["held_out"]["held_out_heads"]
    assert set(heads) == set(TASKS)                                 # no lesion section
    for task in TASKS:
        for cell in heads[task].values():
            for metric in ("ssim", "dice"):
                scores = cell["per_case"][metric]
                assert len(scores) == 2 and abs(sum(scores) / 2 - cell[metric]) < 2e-4
    cell = heads["T1w->T2w"][SETTING]["per_case"]["ssim"]
    assert cell[0] != cell[1]                                       # two different heads
    anatomy = report["held_out"]["case_anatomy"]
    assert anatomy["plane"] == ["axial", "coronal"]                 # cases 6 and 7: the plane cycles with the index
    assert all(0 <= share < 1 for share in anatomy["partial_csf_share"])
    for task in TASKS:                                              # the yardstick on the same two cases
        oracle = report["held_out"]["anatomy_oracle"][task]
        assert len(oracle["per_case"]["ssim"]) == 2 and abs(sum(oracle["per_case"]["ssim"]) / 2 - oracle["ssim"]) < 2e-4

    same = subprocess.run([sys.executable, str(LAUNCH / "paired_held_out.py"), str(path), str(path)],
                          capture_output=True, text=True)
    assert same.returncode == 0 and "rule 1 (held-out cells): holds" in same.stdout
    assert "by chance alone: 0.0 of 80" in same.stdout

    worse = copy.deepcopy(report)
    worse_cell = worse["held_out"]["held_out_heads"]["T2w->T1w"][SETTING]
    worse_cell["per_case"]["ssim"] = [s - 0.04 for s in worse_cell["per_case"]["ssim"]]
    worse_cell["ssim"] -= 0.04
    worse_path = tmp_path / "worse.json"
    worse_path.write_text(json.dumps(worse))
    lowered = subprocess.run([sys.executable, str(LAUNCH / "paired_held_out.py"), str(path), str(worse_path)],
                             capture_output=True, text=True)
    assert lowered.returncode == 1 and f"T2w->T1w, {SETTING}: ssim" in lowered.stdout
    assert "(change -0.040 +- 0.000)" in lowered.stdout
    # both cases -0.04: with random signs the mean is -0.04 a quarter of the time, else 0 or +0.04
    chance = float(lowered.stdout.split("by chance alone: ")[1].split()[0])
    assert 0.15 < chance < 0.35
    shown = subprocess.run([sys.executable, str(LAUNCH / "paired_held_out.py"), str(path), str(worse_path),
                            "--show", "T2w->T1w", SETTING, "ssim", "--show", "T1w->PDw", SETTING, "dice"],
                           capture_output=True, text=True)
    assert f"cell T2w->T1w, {SETTING}: ssim" in shown.stdout and "(change -0.040 +- 0.000, real loss)" in shown.stdout
    assert "(change +0.000 +- 0.000, not real)" in shown.stdout     # an unchanged cell is shown too
    unknown = subprocess.run([sys.executable, str(LAUNCH / "paired_held_out.py"), str(path), str(worse_path),
                              "--show", "T1w->PDw", "no such setting", "dice"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "no cell" in unknown.stderr

    shifted = copy.deepcopy(report)
    shifted["held_out"]["first_case"] = 0
    shifted_path = tmp_path / "shifted.json"
    shifted_path.write_text(json.dumps(shifted))
    mismatch = subprocess.run([sys.executable, str(LAUNCH / "paired_held_out.py"), str(path), str(shifted_path)],
                              capture_output=True, text=True)
    assert mismatch.returncode == 2 and "score different cases" in mismatch.stderr
    robustness = subprocess.run([sys.executable, str(LAUNCH / "paired_held_out.py"), str(SHIPPED), str(path)],
                                capture_output=True, text=True)
    assert robustness.returncode == 2 and "--suite held-out" in robustness.stderr


def test_a_negative_first_case_is_refused(capsys):
    from napari_evai2i.train.evaluate import main

    try:
        main(["--suite", "held-out", "--model", "demo", "--first-case", "-1"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "--first-case at least 0" in capsys.readouterr().err
