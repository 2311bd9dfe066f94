"""Atomic writes, refusal to overwrite inputs, clear errors, and the cheap reader check."""

import shutil

import nibabel as nib
import numpy as np
import pytest
from pydicom.data import get_testdata_file

from napari_evai2i.io import (
    SUPPORTED_EXTENSIONS,
    VolumeReadError,
    VolumeWriteError,
    is_readable_path,
    read_volume,
    write_dicom_series,
    write_volume,
)


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_writes_leave_only_their_outputs(tmp_path, make_volume):
    out = tmp_path / "out"
    volume = make_volume()
    write_volume(volume, out / "a.nii.gz")  # parent folders are created
    write_volume(volume, out / "b.mha")
    write_volume(volume, out / "c.nrrd")
    files = write_dicom_series(volume, out / "series", series_description="s")
    assert _names(out) == ["a.nii.gz", "b.mha", "c.nrrd", "series"]
    assert _names(out / "series") == [f.name for f in files]


def test_failed_writes_leave_nothing(tmp_path, make_volume):
    volume = make_volume()
    bad = volume.with_array(np.full(volume.shape, "x"))  # cannot become float32
    with pytest.raises(VolumeWriteError, match=r"bad\.nii\.gz: writing failed"):
        write_volume(bad, tmp_path / "bad.nii.gz")
    nan = volume.with_array(np.where(volume.array > 500, np.nan, volume.array))
    with pytest.raises(VolumeWriteError, match="NaN"):
        write_dicom_series(nan, tmp_path / "series", series_description="s")
    assert _names(tmp_path) == []


def test_refuses_to_overwrite_the_input_file(tmp_path, make_volume):
    source = write_volume(make_volume(), tmp_path / "in.nii.gz")
    before = source.read_bytes()
    volume = read_volume(source)
    for target in (source, tmp_path / "." / "in.nii.gz"):
        with pytest.raises(VolumeWriteError, match="refusing to overwrite an input"):
            write_volume(volume, target, overwrite=True)
    with pytest.raises(VolumeWriteError, match="refusing"):
        write_volume(make_volume(), tmp_path / "other.mha", protect=[tmp_path / "other.mha"])
    assert source.read_bytes() == before
    assert _names(tmp_path) == ["in.nii.gz"]


def test_refuses_to_write_into_or_around_an_input_dicom_folder(tmp_path, make_volume):
    write_dicom_series(make_volume(), tmp_path / "study" / "t1", series_description="t1")
    volume = read_volume(tmp_path / "study" / "t1")
    before = _names(tmp_path / "study" / "t1")
    for target in (tmp_path / "study" / "t1", tmp_path / "study", tmp_path / "study" / "t1" / "sub"):
        with pytest.raises(VolumeWriteError, match="refusing"):
            write_dicom_series(volume, target, series_description="x", overwrite=True)
    with pytest.raises(VolumeWriteError, match="inside the input folder"):
        write_volume(volume, tmp_path / "study" / "t1" / "out.nii.gz")
    # The reference's folder is protected too.
    with pytest.raises(VolumeWriteError, match="refusing"):
        write_dicom_series(make_volume(), tmp_path / "study" / "t1", series_description="x",
                           reference=volume, overwrite=True)
    assert _names(tmp_path / "study" / "t1") == before
    assert _names(tmp_path / "study") == ["t1"]


def test_existing_outputs_need_overwrite(tmp_path, make_volume):
    first, second = make_volume(seed=0), make_volume(seed=1)
    path = write_volume(first, tmp_path / "out.nii.gz")
    with pytest.raises(VolumeWriteError, match="already exists; pass overwrite=True"):
        write_volume(second, path)
    write_volume(second, path, overwrite=True)
    np.testing.assert_array_equal(read_volume(path).array, second.array)

    old = write_dicom_series(first, tmp_path / "series", series_description="first")
    with pytest.raises(VolumeWriteError, match="not empty; pass overwrite=True"):
        write_dicom_series(second, tmp_path / "series", series_description="second")
    write_dicom_series(second, tmp_path / "series", series_description="second", overwrite=True)
    again = read_volume(tmp_path / "series")
    assert again.tags["SeriesDescription"] == "second" and len(old) == len(_names(tmp_path / "series"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nii.gz", "series"]

    (tmp_path / "empty").mkdir()
    write_dicom_series(first, tmp_path / "empty", series_description="into empty folder")
    assert len(_names(tmp_path / "empty")) == 8

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(VolumeWriteError, match="non-DICOM"):
        write_dicom_series(first, tmp_path / "mine", series_description="x", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_read_errors_name_the_path_and_the_problem(tmp_path):
    with pytest.raises(VolumeReadError, match=r"missing\.nii\.gz: no such file"):
        read_volume(tmp_path / "missing.nii.gz")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(VolumeReadError) as info:
        read_volume(tmp_path / "notes.txt")
    assert "notes.txt: unsupported file type" in str(info.value)
    assert all(extension in str(info.value) for extension in SUPPORTED_EXTENSIONS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(VolumeReadError, match=r"empty: no DICOM image files"):
        read_volume(tmp_path / "empty")
    (tmp_path / "broken.nii").write_bytes(b"\0" * 400)
    with pytest.raises(VolumeReadError, match=r"broken\.nii: not a NIfTI file"):
        read_volume(tmp_path / "broken.nii")
    assert issubclass(VolumeReadError, ValueError)


def test_write_refuses_unknown_extensions(tmp_path, make_volume):
    with pytest.raises(VolumeWriteError, match=r"out\.png.*supported: \.nii, \.nii\.gz, \.mha, \.nrrd"):
        write_volume(make_volume(), tmp_path / "out.png")
    with pytest.raises(VolumeWriteError, match="write_dicom_series"):
        write_volume(make_volume(), tmp_path / "out.dcm")
    assert _names(tmp_path) == []


def test_is_readable_path(tmp_path, make_volume):
    write_dicom_series(make_volume(), tmp_path / "series", series_description="s")
    shutil.copy(get_testdata_file("MR_small.dcm"), tmp_path / "IM0001")
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), tmp_path / "v.nii.gz")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    assert is_readable_path(tmp_path / "series")
    assert is_readable_path(str(tmp_path / "IM0001"))
    assert is_readable_path(tmp_path / "v.nii.gz")
    assert is_readable_path(tmp_path / "not_yet.mha")  # by extension only
    assert not is_readable_path(tmp_path / "notes.txt")
    assert not is_readable_path(tmp_path / "empty")
    assert not is_readable_path(tmp_path / "missing")
    assert not is_readable_path(None)
    assert not is_readable_path([str(tmp_path / "v.nii.gz")])
    assert not is_readable_path("\0bad")


def test_io_package_imports_no_gui_or_torch():
    import subprocess
    import sys

    code = (
        "import sys, napari_evai2i.io\n"
        "bad = [m for m in ('napari', 'qtpy', 'magicgui', 'torch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
