"""The mixture-sharpness probe on the demo grown with a sharpness that reads the structure code: at
its zero start it reports a factor of exactly 1 for every target and input, and once its network
says otherwise it reports what the engine used, differently for different inputs."""

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "src_training" / "launch" / "probe_mixture_sharpness.py"
sys.path.insert(0, str(SCRIPT.parent))
from probe_mixture_sharpness import main  # noqa: E402


def _factors(text: str) -> list[float]:
    return [float(line.split("factor ")[1].split()[0]) for line in text.splitlines() if "factor " in line]


def test_the_probe_reports_the_factor_the_engine_used(tmp_path, capsys):
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model import create_model
    from napari_evai2i.model.factory import load_pretrained, save_pretrained
    from napari_evai2i.model.generator import load_adding_zero_start_parts

    demo, info = load_pretrained(demo_checkpoint_path())
    config = dataclasses.replace(demo.config, generator=dataclasses.replace(
        demo.config.generator, mixture_sharpness=True, sharpness_reads_code=True))
    grown = create_model(config, seed=0).eval()
    grown.dclip.load_state_dict(demo.dclip.state_dict())
    load_adding_zero_start_parts(grown.generator, demo.generator.state_dict(), ("mixture_sharpness",))
    save_pretrained(grown, tmp_path / "start", info)
    assert main([str(tmp_path / "start"), "--first-case", "256", "--cases", "1"]) == 0
    start = _factors(capsys.readouterr().out)
    assert len(start) == 12 and set(start) == {1.0}
    with torch.no_grad():
        torch.nn.init.normal_(grown.generator.mixture_sharpness[-1].weight, std=0.3)   # as if trained
    save_pretrained(grown, tmp_path / "moved", info)
    assert main([str(tmp_path / "moved"), "--first-case", "256", "--cases", "1"]) == 0
    moved = _factors(capsys.readouterr().out)
    assert all(1 / 3 <= f <= 3 for f in moved) and len(set(moved)) > 3       # input and prompt both count


def test_a_model_without_the_option_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--cases", "1"])
    assert "has no mixture_sharpness" in capsys.readouterr().err
