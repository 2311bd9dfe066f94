"""The targets table reads its verdicts off an evaluation.json: the shipped demo's, and a changed copy."""

import copy
import json
import statistics
import subprocess
import sys
from pathlib import Path

from napari_evai2i.engine.translator import demo_checkpoint_path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "src_training" / "launch" / "targets_table.py"
sys.path.insert(0, str(SCRIPT.parent))
from targets_table import CANONICAL, HEAD, PROMPTED, anatomy_table, factor_table, target_rows, wide_rows  # noqa: E402

#: the shipped demo's held-out heads on 48 fresh cases, every case's scores (docs/model_card.md)
WIDE = ROOT / "docs" / "results" / "held_out_demo_v9_cases484-531.json"


def _shipped() -> dict:
    return json.loads((demo_checkpoint_path() / "evaluation.json").read_text())


def test_rows_are_the_recorded_numbers_and_verdicts_follow_them():
    evaluation = _shipped()
    rows = {target: (values, met) for target, values, met in target_rows(evaluation, evaluation)}
    heads = evaluation["robustness"]["held_out_heads"]
    ssim = [heads[t][HEAD]["ssim"] for t in CANONICAL]
    values, met = rows["held-out whole head, no source prompt: SSIM >= 0.85"]
    assert values == " / ".join(f"{v:.2f}" for v in ssim)
    assert met == ("yes" if min(ssim) >= 0.85 else met)
    assert rows["template tasks each >= previous - 0.02 (SSIM)"][1] == "yes"       # against itself
    changed = copy.deepcopy(evaluation)
    changed["robustness"]["held_out_heads"]["T1w->FLAIR"][HEAD]["ssim"] = 0.5
    changed["tasks"]["T1w->PDw"]["model"]["ssim"] -= 0.05
    rows = {target: (values, met) for target, values, met in target_rows(changed, evaluation)}
    assert "T1w->FLAIR" not in rows["held-out whole head, no source prompt: SSIM >= 0.85"][1]
    assert rows["held-out whole head, no source prompt: SSIM >= 0.85"][1].startswith("only ")
    assert rows["template tasks each >= previous - 0.02 (SSIM)"][1] == "only T1w->T2w, T1w->FLAIR, T2w->T1w"


def test_the_command_prints_a_table_and_refuses_a_wrong_file(tmp_path):
    shipped = demo_checkpoint_path() / "evaluation.json"
    done = subprocess.run([sys.executable, str(SCRIPT), str(shipped)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("| target |")
    wrong = tmp_path / "config.json"
    wrong.write_text("{}")
    done = subprocess.run([sys.executable, str(SCRIPT), str(wrong)], capture_output=True, text=True)
    assert done.returncode == 2 and "evaluate --suite all" in done.stderr


def test_the_yardstick_row_shows_when_the_evaluation_has_it():
    evaluation = copy.deepcopy(_shipped())
    evaluation["robustness"]["anatomy_oracle"] = {t: {"ssim": 0.9 + i / 100, "dice": 0.7} for i, t in enumerate(CANONICAL)}
    rows = {target: values for target, values, _ in target_rows(evaluation)}
    yardstick = [values for target, values in rows.items() if target.startswith("reported: exact anatomy")]
    assert yardstick == ["0.90, 0.70 / 0.91, 0.70 / 0.92, 0.70 / 0.93, 0.70"]
    del evaluation["robustness"]["anatomy_oracle"]
    assert not any(t.startswith("reported: exact anatomy") for t, _, _ in target_rows(evaluation))


def test_the_partial_volume_rows_count_the_recorded_verdicts():
    evaluation = copy.deepcopy(_shipped())
    real = {n: e for n, e in evaluation["robustness"]["real_t1"].items() if n != "figure"}
    key = "csf_to_gm_within_30pct_of_partial_volume_physics"
    name = "reported: real T1 (no source prompt): CSF/GM within 30 % of physics on the masks' partial volume"
    hits = sum(e["no source prompt"][k][key] for e in real.values() for k in ("T2W", "FLAIR", "PDW"))
    rows = {target: values for target, values, _ in target_rows(evaluation)}
    assert rows[name].startswith(f"{hits} of {3 * len(real)}")
    first = next(iter(real))
    evaluation["robustness"]["real_t1"][first]["no source prompt"]["T2W"][key] = not real[first]["no source prompt"]["T2W"][key]
    rows = {target: values for target, values, _ in target_rows(evaluation)}
    assert not rows[name].startswith(f"{hits} of")                          # the row follows the file
    for entry in real.values():                                             # an evaluation from before
        for k in ("T2W", "FLAIR", "PDW"):
            for setting in entry.values():
                if isinstance(setting, dict):
                    setting[k].pop(key, None)
                    setting[k].pop("csf_to_gm_partial_volume_physics", None)
    del evaluation["robustness"]["partial_volume_check"]
    assert not any("partial volume" in t for t, _, _ in target_rows(evaluation))


def test_the_te_response_row_marks_prompts_training_never_shows():
    evaluation = copy.deepcopy(_shipped())
    rows = {target: values for target, values, _ in target_rows(evaluation)}
    row = rows["reported: T2w CSF/GM by TE, translation (truth); * a prompt training never shows"]
    for name, point in evaluation["te_response"]["points"].items():
        mark = "" if point["seen_in_training"] else "*"
        assert f"{name[3:]}{mark}: {point['translation']:.2f} ({point['truth']:.2f})" in row
    del evaluation["te_response"]
    assert not any(t.startswith("reported: T2w CSF/GM by TE") for t, _, _ in target_rows(evaluation))


def test_the_real_t2_rows_follow_the_recorded_orders_and_vanish_for_older_files():
    evaluation = copy.deepcopy(_shipped())
    (name, entry), = evaluation["robustness"]["real_t2"].items()
    title = "reported: real T2w (dipy S0_10slices.nii.gz, b=0 EPI): right tissue order for T1w / FLAIR / PDw"
    rows = {target: values for target, values, _ in target_rows(evaluation)}
    expected = " / ".join("yes" if entry["source prompt"][k]["order_ok"] else "no" for k in ("T1W", "FLAIR", "PDW"))
    assert f"; source prompt: {expected};" in rows[title]
    entry["source prompt"]["T1W"]["order_ok"] = not entry["source prompt"]["T1W"]["order_ok"]
    assert {t: v for t, v, _ in target_rows(evaluation)}[title] != rows[title]
    mask_title = next(t for t in rows if t.startswith("reported: held-out T2w heads"))
    assert rows[mask_title].startswith(f"{evaluation['robustness']['real_t2_mask_check']['T1W']['truth']['order_ok']:.2f}; ")
    del evaluation["robustness"]["real_t2"], evaluation["robustness"]["real_t2_mask_check"]
    assert not any("T2w heads" in t or "real T2w" in t for t, _, _ in target_rows(evaluation))


def test_the_ring_phantom_row_follows_the_recorded_orders():
    evaluation = copy.deepcopy(_shipped())
    off = evaluation["robustness"]["off_template"]
    title = "reported: a layout that is no brain (ring phantom): right tissue order, no source prompt; source prompt"
    value = {t: v for t, v, _ in target_rows(evaluation)}[title]
    first = next(iter(off))
    expected = (f"{first} {'yes' if off[first]['no source prompt']['order_ok'] else 'no'}; "
                f"{'yes' if off[first]['source prompt']['order_ok'] else 'no'}")
    assert value.startswith(expected)
    del evaluation["robustness"]["off_template"]
    assert title not in {t for t, _, _ in target_rows(evaluation)}


def test_the_real_anatomy_rows_follow_the_recorded_scores():
    evaluation = copy.deepcopy(_shipped())
    anatomy = evaluation["robustness"]["real_anatomy"]
    name = next(iter(anatomy))
    title = next(t for t, _, _ in target_rows(evaluation) if t.startswith(f"reported: real anatomy ({name})"))
    first = anatomy[name]["T1w->T2w"]
    value = {t: v for t, v, _ in target_rows(evaluation)}[title]
    assert value.startswith(f"{first['no source prompt']['ssim']:.2f}; {first['source prompt']['ssim']:.2f}; "
                            f"{first['histogram_matching']['ssim']:.2f} / ")
    del evaluation["robustness"]["real_anatomy"]
    assert not any(t.startswith("reported: real anatomy") for t, _, _ in target_rows(evaluation))


def test_the_wide_rows_are_each_cells_mean_and_standard_error_and_their_verdict_follows_them():
    wide = json.loads(WIDE.read_text())["held_out"]
    assert wide["cases"] == 48
    label = "with the source prompt: SSIM >= 0.90 (cases 484-531, mean +- SE)"
    values = dict((target, (values, met)) for target, values, met in wide_rows(wide))[label][0]
    for task, text in zip(CANONICAL, values.split(" / ")):
        cases = wide["held_out_heads"][task][PROMPTED]["per_case"]["ssim"]
        mean, se = sum(cases) / 48, statistics.stdev(cases) / 48 ** 0.5
        assert text == f"{mean:.3f} ± {se:.3f}"
    changed = copy.deepcopy(wide)
    cell = changed["held_out_heads"]["T1w->FLAIR"][PROMPTED]["per_case"]
    cell["ssim"] = [0.95 + (0.001 if i % 2 else -0.001) for i in range(48)]       # far above 0.90
    met = dict((t, m) for t, _, m in wide_rows(changed))[label]
    assert "within 2 SE" not in met or "T1w->FLAIR" not in met.split("within 2 SE")[1]
    assert met == "yes" or ("T1w->FLAIR" in met and met.startswith("only"))
    cell["ssim"] = [0.90 + (0.05 if i % 2 else -0.05) for i in range(48)]         # mean on the line, wide spread
    met = dict((t, m) for t, _, m in wide_rows(changed))[label]
    assert "within 2 SE:" in met and "T1w->FLAIR" in met.split("within 2 SE:")[1]


def test_the_factor_table_prints_the_recorded_cells_with_the_wide_block_beside():
    evaluation = _shipped()
    wide = json.loads(WIDE.read_text())["held_out"]
    table = factor_table(evaluation, wide).splitlines()
    line = next(x for x in table if x.startswith(f"| {HEAD} |"))
    recorded = evaluation["robustness"]["held_out_heads"]["T1w->FLAIR"][HEAD]
    cases = wide["held_out_heads"]["T1w->FLAIR"][HEAD]["per_case"]["dice"]
    flair = line.split(" | ")[2]
    assert flair.startswith(f"{recorded['ssim']:.3f} / {recorded['dice']:.2f} (")
    assert f"/ {sum(cases) / 48:.2f} ± {statistics.stdev(cases) / 48 ** 0.5:.2f})" in flair
    done = subprocess.run([sys.executable, str(SCRIPT), str(demo_checkpoint_path() / "evaluation.json"),
                           "--wide", str(WIDE), "--factors"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines() == table
    wrong = subprocess.run([sys.executable, str(SCRIPT), str(demo_checkpoint_path() / "evaluation.json"),
                            "--wide", str(demo_checkpoint_path() / "evaluation.json")], capture_output=True, text=True)
    assert wrong.returncode == 2 and "--suite held-out" in wrong.stderr


def test_the_anatomy_table_splits_each_task_by_plane_and_partial_volume_csf():
    import numpy as np

    wide = json.loads(WIDE.read_text())["held_out"]
    planes, share = wide["case_anatomy"]["plane"], np.array(wide["case_anatomy"]["partial_csf_share"])
    table = anatomy_table(wide).splitlines()
    row = next(x for x in table if x.startswith(f"| T1w->FLAIR | {PROMPTED} |")).split(" | ")
    ssim = np.array(wide["held_out_heads"]["T1w->FLAIR"][PROMPTED]["per_case"]["ssim"])
    assert row[2] == f"{ssim.mean():.3f}"
    assert row[3] == " / ".join(f"{ssim[np.array(planes) == p].mean():.3f}" for p in ("axial", "coronal", "sagittal"))
    assert row[4] == f"{np.corrcoef(share, ssim)[0, 1]:+.2f}"
    most = np.argsort(-share, kind="stable")[:8]                      # the sixth of 48 cases
    rest = np.setdiff1d(np.arange(48), most)
    assert row[5] == f"{ssim[most].mean():.3f} / {ssim[rest].mean():.3f}"
    yardstick = wide["anatomy_oracle"]["T1w->FLAIR"]["per_case"]["ssim"]
    assert row[6] == f"{np.mean(yardstick):.3f} |"
    changed = copy.deepcopy(wide)                                     # the split follows the shares
    changed["case_anatomy"]["partial_csf_share"] = list(-share)
    moved = next(x for x in anatomy_table(changed).splitlines() if x.startswith(f"| T1w->FLAIR | {PROMPTED} |"))
    assert moved.split(" | ")[4] == f"{-np.corrcoef(share, ssim)[0, 1]:+.2f}"
    least = np.argsort(share, kind="stable")
    assert moved.split(" | ")[5] == f"{ssim[least[:8]].mean():.3f} / {ssim[least[8:]].mean():.3f}"
    done = subprocess.run([sys.executable, str(SCRIPT), str(demo_checkpoint_path() / "evaluation.json"),
                           "--wide", str(WIDE), "--by-anatomy"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.splitlines() == table
    alone = subprocess.run([sys.executable, str(SCRIPT), str(demo_checkpoint_path() / "evaluation.json"),
                            "--by-anatomy"], capture_output=True, text=True)
    assert alone.returncode == 2 and "--by-anatomy reads the block given to --wide" in alone.stderr
