"""The manifest builders of src_training/prepare, run as scripts on small DICOM and BIDS trees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cohort_files import SEQUENCES, anatomy, render, small_config, write_nifti

from napari_evai2i.data.cohort_dataset import CohortPairs
from napari_evai2i.data.manifest import Manifest
from napari_evai2i.prompts import vocabulary as voc

REPO = Path(__file__).resolve().parents[2]
PREPARE = REPO / "src_training" / "prepare"


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREPARE / name), *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_manifest_from_bids(tmp_path):
    root = tmp_path / "bids"
    labels = anatomy()
    (root).mkdir()
    (root / "dataset_description.json").write_text('{"Name": "tiny", "BIDSVersion": "1.8.0"}')
    (root / "T2w.json").write_text(json.dumps({"RepetitionTime": 3.2, "EchoTime": 0.09,
                                               "MagneticFieldStrength": 3, "Manufacturer": "Siemens"}))
    images = {
        "sub-01/anat/sub-01_T1w": ("t1", {"RepetitionTime": 2.3, "EchoTime": 0.00298, "InversionTime": 0.9,
                                          "FlipAngle": 9, "ScanningSequence": "GR_IR", "SequenceVariant": "SK_SP_MP",
                                          "ManufacturersModelName": "Prisma", "MagneticFieldStrength": 3}),
        "sub-01/anat/sub-01_T2w": ("t2", {"EchoTime": 0.1}),   # RepetitionTime inherited
        "sub-01/anat/sub-01_FLAIR": ("flair", None),
        "sub-01/anat/sub-01_ce-gd_T1w": ("t1", {"RepetitionTime": 500, "EchoTime": 0.012}),  # TR in ms by mistake
        "sub-01/anat/sub-01_T1map": ("t1", None),               # quantitative map: skipped
        "sub-02/ses-a/anat/sub-02_ses-a_T1w": ("t1", None),
        "sub-02/ses-a/anat/sub-02_ses-a_PDw": ("t2", None),
    }
    for stem, (name, meta) in images.items():
        write_nifti(root / f"{stem}.nii.gz", render(labels, SEQUENCES[name][0]))
        if meta:
            (root / f"{stem}.json").write_text(json.dumps(meta))
    out = tmp_path / "m.json"
    result = run_script("manifest_from_bids.py", root, "-o", out, "--organ", "brain")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout and "2 subjects, 6 images" in result.stdout and "1 other suffix" in result.stdout
    assert "RepetitionTime 500 is too large for seconds" in result.stderr
    manifest = Manifest.load(out)
    entries = {(e.subject, e.sequence): e for e in manifest}
    assert set(entries) == {("sub-01", "T1w"), ("sub-01", "T2w"), ("sub-01", "FLAIR"), ("sub-01", "ce-gd_T1w"),
                            ("sub-02/ses-a", "T1w"), ("sub-02/ses-a", "PDw")}
    t1 = entries["sub-01", "T1w"].protocol_fields()
    assert t1.repetition_time == pytest.approx(2300) and t1.echo_time == pytest.approx(2.98)
    assert t1.inversion_time == pytest.approx(900) and t1.flip_angle == 9 and t1.field_strength == 3
    assert t1.sequence == voc.MPRAGE and t1.model_name == "Prisma" and t1.organ == "brain"  # refined by sidecar
    t2 = entries["sub-01", "T2w"].protocol_fields()
    assert t2.sequence == voc.T2W and t2.repetition_time == pytest.approx(3200) and t2.echo_time == pytest.approx(100)
    assert t2.manufacturer is not None and t2.field_strength == 3
    assert entries["sub-01", "FLAIR"].protocol_fields().sequence == voc.FLAIR
    ce = entries["sub-01", "ce-gd_T1w"].protocol_fields()
    assert ce.contrast and ce.repetition_time == 500 and ce.echo_time == pytest.approx(12)
    # sub-01_T1w.json also applies to sub-01_ce-gd_T1w (BIDS inheritance); its own sidecar wins
    assert ce.flip_angle == 9 and ce.sequence == voc.MPRAGE
    assert entries["sub-02/ses-a", "PDw"].protocol_fields().sequence == voc.PDW
    assert '"sub-01/anat/sub-01_T1w.nii.gz"' not in out.read_text()  # outside the manifest folder: absolute
    # the manifest trains: real files, items from one session
    item = CohortPairs(manifest, small_config())[0]
    assert item["src"].shape == (1, 32, 32)
    # errors: one line on stderr, exit 2
    bad = run_script("manifest_from_bids.py", tmp_path / "nothing", "-o", tmp_path / "x.json")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and bad.stderr.count("\n") == 1
    again = run_script("manifest_from_bids.py", root, "-o", out)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_manifest_from_dicom(tmp_path):
    from napari_evai2i.io import Volume, write_dicom_series

    root = tmp_path / "dicom"
    labels = {"patA": anatomy(), "patB": anatomy(1.0)}
    tags = {"t1": {"RepetitionTime": 500.0, "EchoTime": 12.0, "ScanningSequence": "SE", "MagneticFieldStrength": 1.5,
                   "BodyPartExamined": "BRAIN"},
            "t2": {"RepetitionTime": 4000.0, "EchoTime": 100.0, "ScanningSequence": "SE",
                   "MagneticFieldStrength": 1.5, "BodyPartExamined": "BRAIN"}}
    for patient, lab in labels.items():
        for name, description in (("t1", "T1 SE tra"), ("t2", "T2 TSE tra")):
            volume = Volume(render(lab, SEQUENCES[name][0]), spacing=(2.0, 1.0, 1.0), tags=tags[name])
            folder = root / patient / "study1" / name
            write_dicom_series(volume, folder, series_description=description, derived=False)
    # patB: both series in one folder (the manifest then needs series_uid), plus a localizer
    for file in (root / "patB" / "study1" / "t2").iterdir():
        file.rename(root / "patB" / "study1" / "t1" / f"t2_{file.name}")
    (root / "patB" / "study1" / "t2").rmdir()
    scout = Volume(render(anatomy()[:2], SEQUENCES["t1"][0]), spacing=(2.0, 1.0, 1.0))
    write_dicom_series(scout, root / "patB" / "scout", series_description="localizer")
    (root / "notes.txt").write_text("not dicom")

    out = root / "manifest.csv"
    result = run_script("manifest_from_dicom.py", root, "-o", out, "--organ", "brain")
    assert result.returncode == 0, result.stderr
    assert "2 subjects, 4 series" in result.stdout and "1 too few slices" in result.stdout
    manifest = Manifest.load(out)
    entries = {(e.subject, e.sequence): e for e in manifest}
    assert set(entries) == {("patA", "t1_se_tra"), ("patA", "t2_tse_tra"), ("patB", "t1_se_tra"),
                            ("patB", "t2_tse_tra")}
    assert all(e.series_uid and e.organ == "brain" for e in manifest)
    assert entries["patB", "t1_se_tra"].path == entries["patB", "t2_tse_tra"].path == "patB/study1/t1"
    t2 = entries["patA", "t2_tse_tra"].protocol_fields()
    assert t2.sequence == voc.T2W and t2.repetition_time == 4000 and t2.echo_time == 100 and t2.field_strength == 1.5
    assert entries["patA", "t1_se_tra"].protocol_fields().sequence == voc.T1W
    ds = CohortPairs(manifest, small_config())
    item, plan = ds[0], ds.plan(0)
    assert item["paired_int"] is False and plan.src.subject != plan.int.subject
    assert np.array_equal(item["src"] > 0, item["tgt"] > 0) and item["mask"].sum() > 50
    # deeper subjects, de-duplicated names, an error line
    deep = run_script("manifest_from_dicom.py", root, "-o", tmp_path / "deep.json", "--subject-depth", "2")
    assert deep.returncode == 0, deep.stderr
    assert Manifest.load(tmp_path / "deep.json").subjects() == ["patA/study1", "patB/study1"]
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run_script("manifest_from_dicom.py", empty, "-o", tmp_path / "e.json")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "no usable DICOM series" in bad.stderr
