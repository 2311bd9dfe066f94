"""figure_zero_shot.py draws a real subject, its truth and the shipped demo's translation."""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src_training" / "launch"))
from figure_zero_shot import main  # noqa: E402


def test_the_figure_has_a_panel_per_image(tmp_path, capsys):
    import matplotlib.image

    out = tmp_path / "stir.png"
    assert main([str(out), "v10=demo", "--resolution", "2"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    image = matplotlib.image.imread(out)
    assert image.shape[1] > 2.5 * image.shape[0]             # three panels side by side
    assert np.ptp(image[..., :3]) > 0.5                      # not blank
