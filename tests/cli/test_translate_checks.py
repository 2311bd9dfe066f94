"""What the translate command refuses before it loads a model or reads a voxel, and how it says so."""

import json

import nibabel as nib
import numpy as np
import pytest

from napari_evai2i.io import Volume, write_dicom_series
from napari_evai2i.translate import command_wording, main

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."
#: A model that cannot load: an output check that says its piece first ran before the model did.
NO_MODEL = "no-such-model-folder"


@pytest.fixture
def nifti(tmp_path, brain_like_volume):
    path = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(brain_like_volume.transpose(2, 1, 0).astype(np.float32), np.eye(4)), path)
    return path


def run(capsys, *args):
    code = main([*map(str, args), "-q"])
    return code, capsys.readouterr().err


def test_an_unknown_output_extension_is_refused_before_the_model_loads(tmp_path, nifti, capsys):
    code, err = run(capsys, nifti, "-p", PROMPT, "-o", tmp_path / "out.xyz", "--model", NO_MODEL)
    assert code == 2 and "unknown extension '.xyz'" in err and "--format dicom" in err
    assert "neither a built-in" not in err                       # the model was never looked for
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t1.nii.gz"]


def test_format_dicom_makes_any_name_a_series_folder_and_refuses_a_file_name(tmp_path, nifti, tiny_checkpoint,
                                                                           capsys):
    code, err = run(capsys, nifti, "-p", PROMPT, "-o", tmp_path / "out.xyz", "--format", "dicom",
                    "--model", tiny_checkpoint, "--planes", "1")
    assert code == 0, err
    assert (tmp_path / "out.xyz").is_dir() and len(list((tmp_path / "out.xyz").glob("*.dcm"))) == 10
    code, err = run(capsys, nifti, "-p", PROMPT, "-o", tmp_path / "b.nii.gz", "--format", "dicom", "--model", NO_MODEL)
    assert code == 2 and "--format dicom writes a folder" in err
    code, err = run(capsys, nifti, "-p", PROMPT, "-o", tmp_path / "b.nii", "--format", "mha", "--model", NO_MODEL)
    assert code == 2 and "does not end in .mha" in err


def test_an_output_under_a_file_is_refused_before_the_model_loads(tmp_path, nifti, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    code, err = run(capsys, nifti, "-p", PROMPT, "-o", blocker / "sub" / "t2.nii.gz", "--model", NO_MODEL)
    assert code == 2 and f"{blocker} is a file, not a folder" in err
    assert blocker.read_text() == "not a folder"


def test_an_existing_output_or_sidecar_is_refused_early_naming_the_flag(tmp_path, nifti, capsys):
    (tmp_path / "t2.json").write_text("{}")
    code, err = run(capsys, nifti, "-p", PROMPT, "-o", tmp_path / "t2.nii.gz", "--model", NO_MODEL)
    assert code == 2 and "t2.json: already exists; pass --overwrite to replace it" in err
    assert "overwrite=True" not in err and (tmp_path / "t2.json").read_text() == "{}"


def test_a_prompt_too_long_for_the_text_encoder_is_refused_before_the_input_is_read(tmp_path, tiny_checkpoint,
                                                                                    capsys):
    empty = tmp_path / "empty"                  # reading it would fail: no DICOM series inside
    empty.mkdir()
    code, err = run(capsys, empty, "-p", PROMPT * 40, "-o", tmp_path / "o.nii.gz", "--model", tiny_checkpoint)
    assert code == 2 and "context length" in err and "DICOM" not in err


def test_nonfinite_voxels_are_counted_and_named_then_zeroed_on_request(tmp_path, brain_like_volume,
                                                                      tiny_checkpoint, capsys):
    data = brain_like_volume.astype(np.float32)
    data[2, 5, :7] = np.nan
    data[4, 0, 0] = np.inf
    path = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(data.transpose(2, 1, 0), np.eye(4)), path)
    code, err = run(capsys, path, "-p", PROMPT, "-o", tmp_path / "o.nii.gz", "--model", tiny_checkpoint,
                    "--planes", "1")
    assert code == 2 and f"{path}: 8 of {data.size:,} voxels are NaN or infinite" in err
    assert "--nonfinite zero" in err and not (tmp_path / "o.nii.gz").exists()
    code, err = run(capsys, path, "-p", PROMPT, "-o", tmp_path / "o.nii.gz", "--model", tiny_checkpoint,
                    "--planes", "1", "--nonfinite", "zero")
    assert code == 0, err
    assert np.isfinite(nib.load(tmp_path / "o.nii.gz").get_fdata()).all()
    assert json.loads((tmp_path / "o.json").read_text())["nonfinite_voxels_set_to_zero"] == 8


def test_a_folder_of_two_series_as_prompt_source_names_the_flag(tmp_path, brain_like_volume, nifti, capsys):
    folder = tmp_path / "two"
    folder.mkdir()
    for name, tr in (("a", 500), ("b", 4000)):
        volume = Volume(brain_like_volume[:2], spacing=(3, 1, 1), tags={"Modality": "MR", "RepetitionTime": tr})
        write_dicom_series(volume, tmp_path / name, series_description=name, derived=False)
        for f in (tmp_path / name).iterdir():
            f.rename(folder / f"{name}_{f.name}")
    code, err = run(capsys, nifti, "--prompt-from-dicom", folder, "-o", tmp_path / "o.nii.gz", "--model", NO_MODEL)
    assert code == 2 and "choose one with --series-uid" in err and "series_uid=" not in err


def test_command_wording_names_flags_not_parameters():
    assert command_wording("x: pass overwrite=True to replace it") == "x: pass --overwrite to replace it"
    assert command_wording("choose one with series_uid=...:") == "choose one with --series-uid:"
    assert command_wording("set them to 0 (nonfinite=zero)") == "set them to 0 (--nonfinite zero)"
    assert command_wording("translate one plane (planes=1)") == "translate one plane (--planes 1)"
    assert command_wording("lines=3 stay") == "lines=3 stay"
