"""Many inputs in one command: the model loads once, a bad input is skipped, a summary ends the run."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pydicom

from napari_evai2i.io import Volume, read_volume, write_dicom_series
from napari_evai2i.translate import main

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def _series(volume, folder, description, number):
    source = Volume(volume, spacing=(3.0, 0.8, 0.8), origin=(-20.0, 10.0, 30.0),
                    tags={"Modality": "MR", "RepetitionTime": 500, "EchoTime": 15, "ScanningSequence": "SE",
                          "SeriesDescription": description, "SeriesNumber": number})
    write_dicom_series(source, folder, series_description=description, derived=False)


def test_files_and_a_folder_of_series_with_one_bad_input(tmp_path, brain_like_volume, tiny_checkpoint, capsys):
    inputs = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(brain_like_volume[:4].transpose(2, 1, 0).astype(np.float32), np.eye(4)), path)
        inputs.append(path)
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"this is not a NIfTI file")
    study = tmp_path / "study"                      # one folder holding two series, one per sub-folder
    _series(brain_like_volume[:3], study / "s1", "T1 SE", 1)
    _series(brain_like_volume[:5], study / "s2", "T1 SE repeat", 2)
    out = tmp_path / "out"
    before = bad.read_bytes()

    code = main([str(inputs[0]), str(bad), str(inputs[1]), str(study), "-p", PROMPT, "-o", str(out),
                 "--model", str(tiny_checkpoint), "--device", "cpu", "-q"])

    captured = capsys.readouterr()
    assert code == 1                                                   # some failed, the rest done
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.nii.gz" in errors[0] and "skipped" in errors[0]
    assert "translated 4 of 5 series" in captured.err.splitlines()[-1]
    assert bad.read_bytes() == before                                  # inputs are never touched
    written = sorted(p.name for p in out.iterdir())
    assert written == ["a_SYNTHETIC.json", "a_SYNTHETIC.nii.gz", "b_SYNTHETIC.json", "b_SYNTHETIC.nii.gz",
                       "s1_SYNTHETIC", "s1_SYNTHETIC.json", "s2_SYNTHETIC", "s2_SYNTHETIC.json"]
    assert captured.out.split() == [str(out / n) for n in ("a_SYNTHETIC.nii.gz", "b_SYNTHETIC.nii.gz",
                                                           "s1_SYNTHETIC", "s2_SYNTHETIC")]
    assert read_volume(out / "s2_SYNTHETIC").shape == (5, 40, 36)       # DICOM in, DICOM out
    ds = pydicom.dcmread(next((out / "s1_SYNTHETIC").iterdir()))
    assert ds.SeriesDescription.startswith("SYNTHETIC")
    provenance = json.loads((out / "a_SYNTHETIC.json").read_text())
    assert provenance["checkpoint_sha256"] in ds.ImageComments          # same provenance, every format
    reading = provenance["source_contrast_reading"]                    # NIfTI: no tags, so the reader was asked
    assert provenance["source_prompt_from"].startswith("read from the image" if reading["used"] else "unknown: ")
    assert json.loads((out / "s1_SYNTHETIC.json").read_text())["source_prompt_from"] == "DICOM tags"


def test_one_folder_with_two_series_side_by_side(tmp_path, brain_like_volume, tiny_checkpoint):
    folder = tmp_path / "mixed"
    _series(brain_like_volume[:3], tmp_path / "x", "first", 1)
    _series(brain_like_volume[:3], tmp_path / "y", "second", 2)
    folder.mkdir()
    for sub in ("x", "y"):
        for f in (tmp_path / sub).iterdir():
            f.rename(folder / f"{sub}_{f.name}")
    assert main([str(folder), "-p", PROMPT, "-o", str(tmp_path / "out"), "--format", "nii.gz",
                 "--model", str(tiny_checkpoint), "--device", "cpu", "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").glob("*.nii.gz"))
    assert len(names) == 2 and all(n.startswith("mixed_") and n.endswith("_SYNTHETIC.nii.gz") for n in names)


def test_help_does_not_import_torch():
    code = ("import sys; from napari_evai2i.translate import build_parser; build_parser().format_help(); "
            "import napari_evai2i.io, napari_evai2i.engine.request; "
            "print(sorted(m for m in ('torch', 'napari', 'qtpy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
