"""distill_prompt_numbers.py on the shipped demo, briefly: the student keeps every weight but the
number network, its styles come near the teacher's, it is repeatable, and it loads and translates
through the engine with its provenance; fitting v9's correction below the CSF null keeps every
other prompt's style; and a student with ``prompt_physics`` (v10's) takes a teacher's whole style."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src_training" / "launch"))
from distill_prompt_numbers import main  # noqa: E402

ARGS = ["--model", str(ROOT / "src_training" / "configs" / "tiny_prompt_apart.json"),
        "--recipe", str(ROOT / "src_training" / "configs" / "demo_cpu_v6_ti_only.yaml"),
        "--prompts", "150", "--steps", "60", "--seed", "3"]


@pytest.fixture(scope="module")
def number_teacher(tmp_path_factory) -> str:
    """A v8-like teacher: the shipped demo's weights in tiny_prompt_apart.json (no physics, no
    correction below the null), its number network's last layer drawn at random (seeded), so that
    the numbers move its styles."""
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model import create_model, load_config, load_pretrained, save_pretrained

    demo, info = load_pretrained(demo_checkpoint_path(), "cpu")
    teacher = create_model(load_config(ROOT / "src_training" / "configs" / "tiny_prompt_apart.json"), seed=0)
    teacher.dclip.load_state_dict(demo.dclip.state_dict())
    missing, unexpected = teacher.generator.load_state_dict(
        {k: v for k, v in demo.generator.state_dict().items() if not k.startswith("prompt_numbers.")}, strict=False)
    assert not unexpected and all(k.startswith("prompt_numbers.") for k in missing)
    last = teacher.generator.prompt_numbers[-1].weight
    with torch.no_grad():
        last.copy_(0.02 * torch.randn(last.shape, generator=torch.Generator().manual_seed(0)))
    return str(save_pretrained(teacher, tmp_path_factory.mktemp("v8") / "numbers", info))


def test_a_short_distillation_fits_repeats_and_translates(tmp_path, capsys, number_teacher):
    from safetensors.torch import load_file

    from napari_evai2i.data.physics import PRESETS
    from napari_evai2i.engine import load_model
    from napari_evai2i.model import load_pretrained

    demo = number_teacher
    for run in ("a", "b"):
        assert main([demo, str(tmp_path / run), *ARGS, "--json", str(tmp_path / f"{run}.json")]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "a.json").read_text())
    error = report["style_error_unseen_prompts"]
    assert report["prompts"] == 300 and report["scored_prompts"] == 30
    assert error["mean_distance"] < error["distance_to_the_tower_without_numbers"]   # the network carries the numbers
    a, b = (load_file(tmp_path / run / "model.safetensors") for run in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)        # the same seed, the same weights

    teacher, _ = load_pretrained(demo, "cpu")
    student, info = load_pretrained(tmp_path / "a", "cpu")
    assert student.config.generator.prompt_numbers_apart and info.provenance["distillation"]["seed"] == 3
    for name, value in teacher.generator.state_dict().items():                     # nothing else moved
        if not name.startswith("prompt_numbers."):
            assert torch.equal(student.generator.state_dict()[name], value.float()), name
    image = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    translator = load_model(str(tmp_path / "a"), "cpu")
    assert translator.trained_modalities == ("MR",)         # the teacher's recipes, through the fit
    out = translator.translate(image, PRESETS["T2W"].prompt("axial"))
    assert out.shape == image.shape and np.isfinite(out).all()


def test_prompts_below_the_csf_null_take_the_second_teachers_styles(tmp_path, capsys, number_teacher):
    from distill_prompt_numbers import training_prompts

    from napari_evai2i.data._signal import csf_null_ti
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model.factory import read_checkpoint_config
    from napari_evai2i.prompts.parse import fields_from_prompt

    recipe = str(ROOT / "src_training" / "configs" / "pilots_v8" / "ti_below_null.yaml")
    texts, below = training_prompts(recipe, 300, seed=5)
    assert len(texts) == len(below) == 600 and 0 < sum(below) < 300
    for text, flagged in list(zip(texts, below))[1::2]:       # the canonical prompts state every number
        fields = fields_from_prompt(text)
        if "gradient recalled" in fields.scanning_sequence or fields.inversion_time is None:   # MPRAGE, no TI
            assert not flagged, text
        else:
            null = csf_null_ti(fields.repetition_time, fields.field_strength)
            assert flagged == (fields.inversion_time < null), text

    demo = str(demo_checkpoint_path())
    args = [number_teacher, str(tmp_path / "b"), *ARGS[:2], "--recipe", recipe, "--prompts", "150", "--steps", "30",
            "--below-null-teacher", demo, "--json", str(tmp_path / "b.json")]
    assert main(args) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["below_null_teacher"] == demo and report["prompts_below_the_csf_null"] > 0
    _, info = read_checkpoint_config(tmp_path / "b")
    assert info.provenance["below_null_teacher"]["checkpoint"] == demo
    _, teachers = read_checkpoint_config(demo)
    assert len(info.recipes()) == 2 * len(teachers.recipes()) > 0      # the recipes behind both teachers


def test_the_correction_below_the_null_is_fitted_alone(tmp_path, capsys, number_teacher):
    from napari_evai2i.data.physics import preset
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model import load_pretrained

    demo = str(demo_checkpoint_path())
    args = [number_teacher, str(tmp_path / "c"), "--model",
            str(ROOT / "src_training" / "configs" / "tiny_prompt_apart_below_null.json"),
            "--recipe", str(ROOT / "src_training" / "configs" / "pilots_v8" / "ti_below_null.yaml"),
            "--prompts", "400", "--steps", "200", "--below-null-teacher", demo, "--json", str(tmp_path / "c.json")]
    assert main(args) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["fitted"] == "below_null_correction" and report["prompts_below_the_csf_null"] > 0
    error = report["style_error_unseen_prompts"]
    assert error["mean_distance"] < error["distance_of_the_teacher"]            # nearer the second teacher
    teacher, student, target = (load_pretrained(path, "cpu")[0].float().eval()
                                for path in (number_teacher, tmp_path / "c", demo))
    kept = [preset(k).prompt("axial") for k in ("T1w", "T2w", "FLAIR", "STIR")]
    below = [preset("FLAIR").replace(ti=1950.0).prompt("axial")]
    with torch.no_grad():
        a, b, c = (m.prompt_styles(kept + below, "cpu") for m in (teacher, student, target))
    assert torch.equal(a[:len(kept)], b[:len(kept)])                           # every other prompt as before
    assert (b[-1] - c[-1]).norm() < (a[-1] - c[-1]).norm()
    with pytest.raises(SystemExit):                                             # the correction needs its teacher
        main(args[:-4] + ["--json", str(tmp_path / "d.json")])


def test_the_near_null_share_ramps_across_its_band():
    from distill_prompt_numbers import near_null_share

    depth = 1.0 - torch.tensor([0.5, 0.8, 0.85, 0.9, 0.99])            # TI / null as given
    assert torch.allclose(near_null_share(depth, (0.8, 0.9)), torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]), atol=1e-6)
    with pytest.raises(ValueError, match="LOW < HIGH"):
        near_null_share(depth, (0.9, 0.8))


def test_a_near_null_teacher_takes_over_its_band(tmp_path, capsys, number_teacher):
    """With the near-null teacher the uncorrected model and a band that covers almost every depth,
    the fitted correction stays near zero where the below-null teacher alone pulls it away."""
    from napari_evai2i.data.physics import preset
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model import load_pretrained
    from napari_evai2i.model.factory import read_checkpoint_config

    demo = str(demo_checkpoint_path())
    args = [number_teacher, str(tmp_path / "e"), "--model",
            str(ROOT / "src_training" / "configs" / "tiny_prompt_apart_below_null.json"),
            "--recipe", str(ROOT / "src_training" / "configs" / "pilots_v9" / "ti_deep_below_null.yaml"),
            "--prompts", "400", "--steps", "200", "--below-null-teacher", demo,
            "--near-null-teacher", number_teacher, "--near-null-band", "0.5", "0.55", "--json", str(tmp_path / "e.json")]
    assert main(args) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["near_null_teacher"] == number_teacher and report["near_null_band"] == [0.5, 0.55]
    _, info = read_checkpoint_config(tmp_path / "e")
    assert info.provenance["near_null_teacher"]["band"] == [0.5, 0.55]
    _, teachers = read_checkpoint_config(demo)
    assert len(info.recipes()) == 3 * len(teachers.recipes()) > 0      # the recipes behind all three teachers
    uncorrected, student, below = (load_pretrained(path, "cpu")[0].float().eval()
                                   for path in (number_teacher, tmp_path / "e", demo))
    prompts = [preset("FLAIR").replace(ti=ti).prompt("axial") for ti in (1400.0, 1700.0)]
    with torch.no_grad():
        a, b, c = (m.prompt_styles(prompts, "cpu") for m in (uncorrected, student, below))
    assert ((b - a).norm(dim=1) < 0.5 * (c - a).norm(dim=1)).all()
    with pytest.raises(SystemExit):                      # only a model with the correction mixes teachers
        main([number_teacher, str(tmp_path / "f"), *ARGS, "--below-null-teacher", demo, "--near-null-teacher", demo])


def test_a_physics_student_takes_the_whole_style_of_a_teacher_with_a_correction(tmp_path, capsys):
    """``prompt_physics`` (tiny_prompt_physics.json): the demo's below-null correction is folded into
    the student's one network, and every other weight is the demo's."""
    from napari_evai2i.engine.translator import demo_checkpoint_path
    from napari_evai2i.model import load_pretrained

    demo = str(demo_checkpoint_path())
    args = [demo, str(tmp_path / "p"), "--model", str(ROOT / "src_training" / "configs" / "tiny_prompt_physics.json"),
            "--recipe", str(ROOT / "src_training" / "configs" / "demo_cpu_v8_ti_below_null.yaml"),
            "--prompts", "300", "--steps", "300", "--seed", "3", "--json", str(tmp_path / "p.json")]
    assert main(args) == 0
    capsys.readouterr()
    error = json.loads((tmp_path / "p.json").read_text())["style_error_unseen_prompts"]
    assert error["mean_distance"] < error["distance_to_the_tower_without_numbers"]
    teacher, student = (load_pretrained(path, "cpu")[0].float().eval() for path in (demo, tmp_path / "p"))
    assert student.config.generator.prompt_physics and not student.config.generator.below_null_correction
    refitted = ("prompt_numbers.", "below_null_correction.")
    assert {k for k in teacher.generator.state_dict() if not k.startswith(refitted)} == \
        {k for k in student.generator.state_dict() if not k.startswith(refitted)}
    for name, value in teacher.generator.state_dict().items():
        if not name.startswith(refitted):
            assert torch.equal(student.generator.state_dict()[name], value), name
