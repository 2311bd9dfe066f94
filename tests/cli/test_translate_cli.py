"""The translate command on real files: geometry kept, outputs marked, errors one line."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pydicom
import pytest

from napari_evai2i.io import Volume, read_volume, write_dicom_series
from napari_evai2i.translate import main

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


@pytest.fixture
def nifti_input(tmp_path, brain_like_volume):
    c, s = np.cos(0.2), np.sin(0.2)                      # oblique: rotated 11.5 degrees in-plane
    affine = np.eye(4)
    affine[:3, :3] = np.array([[-c, s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([0.9, 1.1, 2.5])
    affine[:3, 3] = [90, -120, -60]
    path = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(brain_like_volume.transpose(2, 1, 0), affine), path)
    return path


def test_nifti_in_nifti_out_keeps_shape_and_affine(tmp_path, nifti_input, tiny_checkpoint, capsys):
    out = tmp_path / "t2_synth.nii.gz"
    assert main([str(nifti_input), "-p", PROMPT, "-o", str(out), "--model", str(tiny_checkpoint),
                 "--device", "cpu", "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    src, res = nib.load(nifti_input), nib.load(out)
    assert res.shape == src.shape
    assert np.allclose(res.affine, src.affine, atol=1e-5)
    assert b"SYNTHETIC" in res.header["descrip"].tobytes()
    assert np.isfinite(res.get_fdata()).all()


def test_a_file_stored_lps_is_turned_for_the_model_unless_told_not_to(tmp_path, brain_like_volume, tiny_checkpoint,
                                                                    capsys):
    path = tmp_path / "lps.nii.gz"
    nib.save(nib.Nifti1Image(brain_like_volume.transpose(2, 1, 0), np.diag([-1.0, -1.0, 2.0, 1.0])), path)
    outputs = {}
    for flags in ([], ["--no-reorient"]):
        out = tmp_path / f"out{len(flags)}.nii.gz"
        assert main([str(path), "-p", PROMPT, "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu",
                     "--planes", "1", *flags]) == 0
        err = capsys.readouterr().err
        said = "stored LPS, turned to the model's training axes RAS" in err
        assert said == (not flags), err
        orientation = json.loads(out.with_name(out.name.replace(".nii.gz", ".json")).read_text())["orientation"]
        assert orientation["turned"] is (not flags)
        outputs[bool(flags)] = nib.load(out).get_fdata()
        assert np.allclose(nib.load(out).affine, nib.load(path).affine)
    assert not np.allclose(outputs[False], outputs[True], atol=1e-3)


def test_bf16_on_request_runs_where_native_else_warns_and_runs_fp32(tmp_path, nifti_input, tiny_checkpoint,
                                                                     capsys):
    from napari_evai2i.engine.translator import native_bf16_on_cpu

    outputs, said = {}, {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / f"{precision}.nii.gz"
        assert main([str(nifti_input), "-p", PROMPT, "-o", str(out), "--model", str(tiny_checkpoint),
                     "--device", "cpu", "--precision", precision, "-q"]) == 0
        outputs[precision] = nib.load(out).get_fdata()
        said[precision] = capsys.readouterr().err
        sidecar = json.loads((tmp_path / f"{precision}.json").read_text())
        assert sidecar["precision_requested"] == precision
    fp32, bf16 = outputs["fp32"], outputs["bf16"]
    if native_bf16_on_cpu():
        assert 0 < np.abs(fp32 - bf16).max() / np.abs(fp32).max() < 2e-2
        assert sidecar["precision"] == "bf16"
    else:
        assert "warning: bf16 requested but this CPU" in said["bf16"] and "running fp32 instead" in said["bf16"]
        assert "RuntimeWarning" not in said["bf16"]             # one line for a person, not a source location
        assert np.array_equal(fp32, bf16) and sidecar["precision"] == "fp32"


def test_dicom_series_in_dicom_series_out(tmp_path, brain_like_volume, tiny_checkpoint):
    source = Volume(brain_like_volume, spacing=(3.0, 0.8, 0.8), origin=(-20.0, 10.0, 30.0),
                    tags={"Modality": "MR", "RepetitionTime": 500, "EchoTime": 15, "ScanningSequence": "SE",
                          "SeriesDescription": "T1 SE", "BodyPartExamined": "BRAIN"})
    write_dicom_series(source, tmp_path / "src", series_description="T1 SE", derived=False)
    assert main([str(tmp_path / "src"), "--prompt-from-dicom", str(next((tmp_path / "src").iterdir())),
                 "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "-q"]) == 0
    back = read_volume(tmp_path / "out")
    assert back.shape == source.shape
    assert np.allclose(back.origin, read_volume(tmp_path / "src").origin, atol=1e-4)
    ds = pydicom.dcmread(next((tmp_path / "out").iterdir()))
    assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert ds.SeriesDescription.startswith("SYNTHETIC")
    assert "not an acquired image" in ds.ImageComments
    assert ds["RepetitionTime"].is_empty and ds["EchoTime"].is_empty   # the source's acquisition does not describe this image


@pytest.mark.parametrize("args,message", [
    (["missing.nii.gz", "-p", PROMPT, "-o", "x.nii.gz"], "missing.nii.gz"),
    (["IN", "-p", "   ", "-o", "x.nii.gz"], "prompt is empty"),
    (["IN", "-p", PROMPT, "-o", "IN"], "is the input"),
    (["IN", "-p", PROMPT, "-o", "x.nii.gz", "--model", "demoo"],
     "'demoo' is neither a built-in model (demo, tiny-random, paper-random) nor a checkpoint folder"),
    (["IN", "-p", PROMPT, "-o", "x.nii.gz", "--model", "EMPTY_FOLDER"], "not a napari-evai2i checkpoint"),
])
def test_errors_are_one_line_without_traceback(tmp_path, nifti_input, args, message):
    (tmp_path / "empty").mkdir()
    args = [str(nifti_input) if a == "IN" else str(tmp_path / "empty") if a == "EMPTY_FOLDER"
            else (str(tmp_path / a) if a.endswith(".nii.gz") else a) for a in args]
    proc = subprocess.run([sys.executable, "-m", "napari_evai2i.translate", *args, "-q"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr
    assert not (tmp_path / "x.nii.gz").exists()


def test_batch_size_zero_is_auto_and_negative_is_refused_before_loading(tmp_path, nifti_input, tiny_checkpoint):
    out = tmp_path / "auto.nii.gz"
    assert main([str(nifti_input), "-p", PROMPT, "-o", str(out), "--batch-size", "0",
                 "--model", str(tiny_checkpoint), "-q"]) == 0
    assert json.loads((tmp_path / "auto.json").read_text())["batch_size"] >= 1
    proc = subprocess.run([sys.executable, "-m", "napari_evai2i.translate", str(nifti_input), "-p", PROMPT,
                           "-o", str(tmp_path / "neg.nii.gz"), "--batch-size", "-1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--batch-size: must be 0 (auto) or more, not -1" in proc.stderr
    assert not (tmp_path / "neg.nii.gz").exists()


def test_planes_uncertainty_and_tag_effects_from_the_command(tmp_path, nifti_input, tiny_checkpoint, capsys):
    from napari_evai2i.engine.source_contrast import known_prompts

    out = tmp_path / "t2.nii.gz"
    assert main([str(nifti_input), "-p", known_prompts()["T2W"], "-o", str(out), "--model", str(tiny_checkpoint),
                 "--device", "cpu", "--planes", "3", "--fusion", "median", "--uncertainty", "3",
                 "--tag-effects", "2"]) == 0
    err = capsys.readouterr().err
    assert "planes used" in err and "tag effects on slices" in err and "TE" in err
    sidecar = json.loads((tmp_path / "t2.json").read_text())
    assert sidecar["planes"]["fusion"] == "median" and sidecar["planes"]["axes"]
    assert len(sidecar["uncertainty"]["passes"]) >= 3
    assert {t["tag"] for t in sidecar["tag_effects"]["tags"]} >= {"TE", "TR"}
    spread = nib.load(tmp_path / sidecar["uncertainty_output"])
    assert spread.shape == nib.load(out).shape and b"uncertainty" in spread.header["descrip"].tobytes()


def test_tag_effects_of_free_text_and_bad_counts_are_one_line_errors(tmp_path, nifti_input, tiny_checkpoint, capsys):
    assert main([str(nifti_input), "-p", "a bright fluid image", "-o", str(tmp_path / "x.nii.gz"),
                 "--model", str(tiny_checkpoint), "--tag-effects", "2", "-q"]) == 2
    assert "free text has no tags" in capsys.readouterr().err
    assert not (tmp_path / "x.nii.gz").exists()
    with pytest.raises(SystemExit):
        main([str(nifti_input), "-p", PROMPT, "-o", str(tmp_path / "y.nii.gz"), "--uncertainty", "-1"])
    assert "--uncertainty" in capsys.readouterr().err


def test_a_coarse_file_is_translated_on_a_1_mm_grid_and_says_so(tmp_path, brain_like_volume, tiny_checkpoint,
                                                                  capsys):
    """A 2 x 2 x 3 mm NIfTI: its 2 x 2 mm slices go through the 1 mm working grid (the only plane
    here: the others are under 16 pixels a side), the sidecar says so, and the output keeps the
    input's shape and affine."""
    path = tmp_path / "coarse.nii.gz"
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    nib.save(nib.Nifti1Image(brain_like_volume.transpose(2, 1, 0), affine), path)
    out = tmp_path / "coarse_synth.nii.gz"
    assert main([str(path), "-p", PROMPT, "-o", str(out), "--model", str(tiny_checkpoint), "--device", "cpu"]) == 0
    record = json.loads(out.with_name("coarse_synth.json").read_text())["in_plane_resampling"]
    assert record == ["axis 0: 2 x 2 mm slices translated on a 1 mm grid and averaged back"]
    assert f"coarse.nii.gz: {record[0]}" in capsys.readouterr().err
    assert nib.load(out).shape == nib.load(path).shape and np.allclose(nib.load(out).affine, affine)
    fine = tmp_path / "fine.nii.gz"
    nib.save(nib.Nifti1Image(brain_like_volume.transpose(2, 1, 0), np.diag([1.0, 1.0, 3.0, 1.0])), fine)
    assert main([str(fine), "-p", PROMPT, "-o", str(tmp_path / "fine_synth.nii.gz"), "--model",
                 str(tiny_checkpoint), "--device", "cpu", "-q", "--planes", "1"]) == 0
    assert "in_plane_resampling" not in json.loads((tmp_path / "fine_synth.json").read_text())
