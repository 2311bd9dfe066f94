"""The mirror-average probe on a real held-out case and the shipped demo: the mirrored pass is the
mirrored input's translation mirrored back, and the mean's score and gain are those of the average."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_mirror_average.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_mirror_average import MIRROR_AXIS, main, mirrored_translation  # noqa: E402


def test_the_mean_of_both_passes_is_scored_as_the_average_of_the_two_translations(tmp_path):
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.robustness import CASE_SIZE, HeldOutCase, _translate, slice_scores

    out = tmp_path / "mirror.json"
    assert main(["--first-case", "7", "--cases", "1", "--json", str(out)]) == 0
    cell = json.loads(out.read_text())["tasks"]["T1w->T2w, source prompt"]
    translator = load_model("demo", "cpu")
    case = HeldOutCase(7, CASE_SIZE).render("T1W", "T2W", whole_head=True)
    plain = _translate(translator, case, True)
    mirrored_source = {**case, "src": np.ascontiguousarray(case["src"][:, ::-1])}
    mirrored = _translate(translator, mirrored_source, True)[:, ::-1]
    np.testing.assert_allclose(mirrored_translation(translator, case, True), mirrored, atol=1e-6)
    assert MIRROR_AXIS == 1 and np.abs(mirrored - plain).max() > 1e-3      # the demo is not mirror-symmetric
    mean = slice_scores((plain + mirrored) / 2, case["tgt"], case["brain"])
    assert cell["mean of both"]["ssim"] == pytest.approx(mean["ssim"], abs=5e-5)
    assert cell["plain"]["ssim"] == pytest.approx(slice_scores(plain, case["tgt"], case["brain"])["ssim"], abs=5e-5)
    gain, se = cell["mean of both - plain, ssim"]
    assert gain == pytest.approx(cell["mean of both"]["ssim"] - cell["plain"]["ssim"], abs=2e-4) and se == 0
