"""DICOM series and multi-frame files: geometry, values, tags, cross-checks with SimpleITK."""

import json
import os
import shutil
import uuid

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from napari_evai2i.io import (
    SYNTHETIC_NOTICE,
    VolumeReadError,
    VolumeWriteError,
    list_dicom_series,
    read_series_header,
    read_volume,
    write_dicom_series,
    write_volume,
)


def _tolerance(array):
    """Documented worst case of the int16/uint16 + rescale encoding: (max - min) / 65535."""
    return (float(array.max()) - float(array.min())) / 65535 * (1 + 1e-9)


def _scramble(files, seed=0):
    """Rename the slice files to random names without extension, in a shuffled order."""
    order = np.random.default_rng(seed).permutation(len(files))
    for index in order:
        files[index].rename(files[index].parent / uuid.uuid4().hex)


def _assert_same_geometry(actual, expected, atol=1e-4):
    np.testing.assert_allclose(actual.spacing, expected.spacing, atol=atol)
    np.testing.assert_allclose(actual.origin, expected.origin, atol=atol)
    np.testing.assert_allclose(actual.direction, expected.direction, atol=atol)
    # Every voxel corner lands at the same place (positions to 1e-4 mm).
    corners = np.array([[i, j, k, 1] for i in (0, 19) for j in (0, 23) for k in (0, 7)], float).T
    np.testing.assert_allclose(actual.affine_lps @ corners, expected.affine_lps @ corners, atol=atol)


@pytest.mark.parametrize("name", ["axial", "oblique"])
def test_series_round_trip_with_scrambled_file_names(tmp_path, make_volume, direction_of, mr_tags, name):
    volume = make_volume(direction=direction_of(name), tags=mr_tags)
    files = write_dicom_series(volume, tmp_path / "series", series_description="test")
    assert len(files) == 8 and all(f.is_file() for f in files)
    _scramble(files)

    again = read_volume(tmp_path / "series")
    assert again.shape == volume.shape and again.array.dtype == np.float32
    _assert_same_geometry(again, volume)
    assert np.abs(again.array - volume.array).max() <= _tolerance(volume.array)
    assert np.all(again.array[:, :3, :] == 0)  # zero background stays exactly zero
    # Slice positions in the files equal the geometry's, slice by slice.
    by_position = sorted(
        (pydicom.dcmread(p) for p in (tmp_path / "series").iterdir()), key=lambda d: int(d.InstanceNumber)
    )
    for k, ds in enumerate(by_position):
        expected = volume.affine_lps @ [0, 0, k, 1]
        np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], expected[:3], atol=1e-4)


def test_integer_data_are_exact(tmp_path, make_volume):
    volume = make_volume(dtype=np.int16)
    write_dicom_series(volume, tmp_path / "s", series_description="ints")
    again = read_volume(tmp_path / "s")
    assert again.array.dtype == np.int16
    np.testing.assert_array_equal(again.array, volume.array)


def test_negative_and_offset_ranges_stay_within_tolerance(tmp_path, make_volume):
    base = make_volume()
    for index, data in enumerate([base.array - 400.25, base.array * 1e-3 + 5000.0]):
        volume = base.with_array(data.astype(np.float32))
        write_dicom_series(volume, tmp_path / f"s{index}", series_description="range")
        again = read_volume(tmp_path / f"s{index}")
        assert np.abs(again.array - volume.array).max() <= _tolerance(volume.array)


@pytest.mark.parametrize("name", ["axial", "oblique"])
def test_simpleitk_reads_our_series_and_nifti_identically(tmp_path, make_volume, direction_of, name):
    volume = make_volume(direction=direction_of(name))
    write_dicom_series(volume, tmp_path / "series", series_description="cross-check")
    ours = read_volume(tmp_path / "series")

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "series")))
    image = reader.Execute()
    # GDCM reads the stored integers (it applies a Modality LUT, which the MR IOD has not, but
    # not a Real World Value Mapping); times the series' one factor they are our values.
    mapping = pydicom.dcmread(sorted((tmp_path / "series").glob("*.dcm"))[0]).RealWorldValueMappingSequence[0]
    values = sitk.GetArrayFromImage(image) * mapping.RealWorldValueSlope + mapping.RealWorldValueIntercept
    np.testing.assert_allclose(values, ours.array, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(image.GetSpacing(), ours.spacing[::-1], atol=1e-6)
    np.testing.assert_allclose(image.GetOrigin(), ours.origin, atol=1e-6)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), ours.direction, atol=1e-6)

    nifti = write_volume(ours, tmp_path / "ours.nii.gz")
    image = sitk.ReadImage(str(nifti))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), ours.array)
    np.testing.assert_allclose(image.GetOrigin(), ours.origin, atol=1e-4)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), ours.direction, atol=1e-5)


def test_left_handed_volume_reads_back_as_the_same_image_in_space(tmp_path, make_volume, direction_of):
    volume = make_volume(direction=direction_of("lefthanded"))
    write_dicom_series(volume, tmp_path / "s", series_description="lh")
    again = read_volume(tmp_path / "s")
    # Readers stack along row x column, so k is reversed; the voxels sit at the same places.
    assert np.abs(again.array[::-1] - volume.array).max() <= _tolerance(volume.array)
    nz = volume.shape[0]
    for i, j, k in [(0, 0, 0), (19, 23, 7), (4, 9, 2)]:
        np.testing.assert_allclose(
            again.affine_lps @ [i, j, nz - 1 - k, 1], volume.affine_lps @ [i, j, k, 1], atol=1e-4
        )


def test_dicom_to_nifti_to_dicom_keeps_geometry_study_and_patient(tmp_path, make_volume, direction_of, mr_tags):
    original = make_volume(direction=direction_of("oblique"), tags=mr_tags)
    write_dicom_series(original, tmp_path / "acquired", series_description="T1 AX", derived=False,
                       reference=original)  # patient/study from the reference's tags
    acquired = read_volume(tmp_path / "acquired")
    nifti = read_volume(write_volume(acquired, tmp_path / "mid.nii.gz"))
    assert nifti.tags == {}
    files = write_dicom_series(
        nifti, tmp_path / "derived", series_description="SYNTHETIC T2", image_comments=SYNTHETIC_NOTICE,
        reference=acquired,
    )
    derived = read_volume(tmp_path / "derived")
    _assert_same_geometry(derived, acquired)
    assert np.abs(derived.array - acquired.array).max() <= 2 * _tolerance(acquired.array)

    for keyword in ("StudyInstanceUID", "PatientName", "PatientID", "PatientBirthDate", "FrameOfReferenceUID"):
        assert derived.tags[keyword] == acquired.tags[keyword] == mr_tags[keyword], keyword
    assert derived.tags["SeriesInstanceUID"] != acquired.tags["SeriesInstanceUID"]
    assert derived.tags["ImageType"] == ["DERIVED", "SECONDARY", "OTHER"]
    assert acquired.tags["ImageType"] == ["ORIGINAL", "PRIMARY", "OTHER"]
    assert derived.tags["SeriesDescription"] == "SYNTHETIC T2"
    assert derived.tags["ImageComments"] == SYNTHETIC_NOTICE
    sop_uids = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    assert len(sop_uids) == len(files)
    assert not sop_uids & {pydicom.dcmread(f).SOPInstanceUID for f in (tmp_path / "acquired").iterdir()}


def test_acquisition_tags_are_copied_when_valid(tmp_path, make_volume, mr_tags):
    write_dicom_series(make_volume(tags=mr_tags), tmp_path / "s", series_description="tags")
    ds = pydicom.dcmread(next((tmp_path / "s").iterdir()))
    assert float(ds.RepetitionTime) == 4000.0 and float(ds.EchoTime) == 90.5
    assert list(ds.SequenceVariant) == ["SK", "SP"] and ds.ScanningSequence == "SE"
    assert ds.Manufacturer == "ACME" and ds.Modality == "MR"
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4"
    assert ds.EchoTrainLength is None  # "not a number" was skipped, element left empty
    # Without a reference the study is new and the patient is not copied from the volume tags.
    assert ds.StudyInstanceUID != mr_tags["StudyInstanceUID"] and str(ds.PatientName) == ""
    assert ds.FrameOfReferenceUID == mr_tags["FrameOfReferenceUID"]


def test_deidentify_replaces_patient_identifiers(tmp_path, make_volume, mr_tags):
    reference = make_volume(tags=mr_tags)
    write_dicom_series(
        reference.with_array(reference.array + 1), tmp_path / "anon", series_description="anon",
        reference=reference, deidentify=True,
    )
    ds = pydicom.dcmread(next((tmp_path / "anon").iterdir()))
    assert str(ds.PatientName) == "ANONYMOUS" and ds.PatientID == "ANONYMOUS"
    assert ds.PatientBirthDate == "" and ds.PatientSex == ""
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.StudyInstanceUID == mr_tags["StudyInstanceUID"]
    assert "Doe" not in ds.to_json() and "PID-123" not in ds.to_json()


def test_series_description_must_fit_dicom(tmp_path, make_volume):
    with pytest.raises(VolumeWriteError, match="SeriesDescription.*64"):
        write_dicom_series(make_volume(), tmp_path / "s", series_description=SYNTHETIC_NOTICE)
    assert not (tmp_path / "s").exists()


def test_folder_with_two_series(tmp_path, make_volume):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    uids = []
    for index, description in enumerate(["T1 AX", "T2 AX"]):
        files = write_dicom_series(make_volume(seed=index), tmp_path / description, series_description=description)
        uids.append(pydicom.dcmread(files[0]).SeriesInstanceUID)
        for f in files:
            shutil.move(f, mixed / f"{index}_{f.name}")
    (mixed / "README.txt").write_text("not dicom")

    with pytest.raises(VolumeReadError) as info:
        read_volume(mixed)
    message = str(info.value)
    assert str(mixed) in message and "2 DICOM series" in message
    for uid, description in zip(uids, ["T1 AX", "T2 AX"], strict=True):
        assert uid in message and description in message
    assert message.count("8 files") == 2

    series = list_dicom_series(mixed)
    assert {s.uid for s in series} == set(uids)
    assert all(s.n_files == 8 and len(s.files) == 8 and s.modality == "MR" for s in series)
    second = read_volume(mixed, series_uid=uids[1])
    assert second.tags["SeriesDescription"] == "T2 AX"
    assert np.abs(second.array - make_volume(seed=1).array).max() <= _tolerance(second.array)
    with pytest.raises(VolumeReadError, match="no series"):
        read_volume(mixed, series_uid="1.2.3")

    # The header reader means the same series as the volume reader (prompts read it).
    with pytest.raises(VolumeReadError, match="2 DICOM series"):
        read_series_header(mixed)
    header = read_series_header(mixed, series_uid=uids[1])
    assert header.SeriesDescription == "T2 AX" and "PixelData" not in header


def test_inconsistent_and_gappy_series_are_refused(tmp_path, make_volume):
    files = write_dicom_series(make_volume(), tmp_path / "gap", series_description="gap")
    files[3].unlink()
    with pytest.raises(VolumeReadError, match="not uniform"):
        read_volume(tmp_path / "gap")

    files = write_dicom_series(make_volume(), tmp_path / "sizes", series_description="sizes")
    other = write_dicom_series(make_volume(shape=(1, 10, 10)), tmp_path / "small", series_description="x")
    ds = pydicom.dcmread(other[0])
    ds.SeriesInstanceUID = pydicom.dcmread(files[0]).SeriesInstanceUID
    ds.save_as(tmp_path / "sizes" / "odd.dcm")
    with pytest.raises(VolumeReadError, match=r"sizes.*inconsistent slice sizes") as info:
        read_volume(tmp_path / "sizes")
    assert "24x20" in str(info.value) and "10x10 in odd.dcm" in str(info.value)


@pytest.mark.parametrize(("keyword", "value", "message"), [
    ("ImageOrientationPatient", [0, 1, 0, 0, 0, -1], "slices have different orientations.*several stacks"),
    ("PixelSpacing", [0.5, 0.5], "slices have different PixelSpacing"),
    ("ImagePositionPatient", None, "some slices have no ImagePositionPatient"),
])
def test_slices_must_share_one_plane(tmp_path, make_volume, keyword, value, message):
    files = write_dicom_series(make_volume(), tmp_path / "s", series_description="s")
    ds = pydicom.dcmread(files[2])
    if value is None:
        delattr(ds, keyword)
    else:
        setattr(ds, keyword, value)
    ds.save_as(files[2])
    with pytest.raises(VolumeReadError, match=message):
        read_volume(tmp_path / "s")


def test_real_single_file_mr_small():
    path = get_testdata_file("MR_small.dcm")
    volume = read_volume(path)
    ds = pydicom.dcmread(path)
    assert volume.shape == (1, 64, 64)
    np.testing.assert_array_equal(volume.array[0], ds.pixel_array)
    assert volume.spacing == pytest.approx((0.8, 0.3125, 0.3125))
    assert volume.origin == pytest.approx([float(v) for v in ds.ImagePositionPatient])
    assert volume.tags["EchoTime"] == 240.0 and volume.tags["PatientName"] == str(ds.PatientName)
    assert volume.reference_dataset is not None and "PixelData" not in volume.reference_dataset
    json.dumps(volume.tags)  # plain values only


def test_real_enhanced_mr_emri_small():
    path = get_testdata_file("emri_small.dcm")
    with pytest.warns(UserWarning, match="geometry is incomplete"):  # this sample has no functional groups
        volume = read_volume(path)
    assert volume.shape == (10, 64, 64)
    assert volume.spacing == pytest.approx((1.2, 1.0, 1.0))  # SpacingBetweenSlices is present
    np.testing.assert_array_equal(volume.array, pydicom.dcmread(path).pixel_array)
    json.dumps(volume.tags)


def test_enhanced_mr_with_functional_groups(tmp_path, direction_of):
    """Per-frame positions (shuffled), shared orientation and spacing, per-frame rescale."""
    ds = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    raw = ds.pixel_array
    direction = direction_of("oblique")
    origin = np.array([-20.0, 15.5, 40.25])
    slot = np.random.default_rng(3).permutation(10)  # frame f lies at position slot[f]

    def item(**kwargs):
        element = Dataset()
        for key, value in kwargs.items():
            setattr(element, key, value)
        return element

    ds.SharedFunctionalGroupsSequence = [
        item(
            PlaneOrientationSequence=[item(ImageOrientationPatient=[f"{v:.10f}" for v in direction[:, :2].T.ravel()])],
            PixelMeasuresSequence=[item(PixelSpacing=["0.8", "0.7"], SliceThickness="1.5")],
        )
    ]
    ds.PerFrameFunctionalGroupsSequence = [
        item(
            PlanePositionSequence=[
                item(ImagePositionPatient=[f"{v:.8f}" for v in origin + 1.5 * slot[f] * direction[:, 2]])
            ],
            PixelValueTransformationSequence=[
                item(RescaleSlope=f"{0.5 + 0.1 * f:.2f}", RescaleIntercept=f"{-10 * f}", RescaleType="US")
            ],
        )
        for f in range(10)
    ]
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path)

    volume = read_volume(path)
    assert volume.shape == (10, 64, 64) and volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.spacing, (1.5, 0.8, 0.7), atol=1e-9)
    np.testing.assert_allclose(volume.origin, origin, atol=1e-6)
    np.testing.assert_allclose(volume.direction, direction, atol=1e-8)
    for f in range(10):
        expected = raw[f] * (0.5 + 0.1 * f) - 10 * f
        np.testing.assert_allclose(volume.array[slot[f]], expected, rtol=1e-6)


def test_jpeg_ls_multiframe_is_decoded():
    """pydicom has no JPEG-LS plugin here; GDCM (SimpleITK) decodes it."""
    with pytest.warns(UserWarning):
        volume = read_volume(get_testdata_file("emri_small_jpeg_ls_lossless.dcm"))
    reference = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array
    np.testing.assert_array_equal(volume.array, reference)


def test_dicom_file_without_extension_is_read(tmp_path):
    target = tmp_path / "IM0001"
    shutil.copy(get_testdata_file("MR_small.dcm"), target)
    assert read_volume(target).shape == (1, 64, 64)
    os.chmod(target, 0o644)


def test_duplicate_copies_and_foreign_files_are_ignored(tmp_path, make_volume):
    files = write_dicom_series(make_volume(), tmp_path / "s", series_description="dup")
    shutil.copy(files[2], tmp_path / "s" / "copy of slice 3")
    (tmp_path / "s" / "notes.txt").write_text("x")
    (tmp_path / "s" / ".DS_Store").write_bytes(b"\0" * 200)
    assert read_volume(tmp_path / "s").shape == (8, 24, 20)
    json.dumps(read_volume(tmp_path / "s").tags)
