"""NIfTI, MetaImage and NRRD: read -> write -> read keeps array and geometry; other readers agree."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from napari_evai2i.io import SYNTHETIC_NOTICE, VolumeReadError, read_volume, write_volume

RAS_AFFINES = {
    "ras_axial": np.array([[1.2, 0, 0, -40.0], [0, 0.9, 0, 12.5], [0, 0, 2.5, -7.0], [0, 0, 0, 1]]),
    # x and y stored flipped (what DICOM-converted data usually look like in RAS terms)
    "lps_storage": np.array([[-0.8, 0, 0, 90.0], [0, -0.8, 0, 110.0], [0, 0, 3.0, -60.0], [0, 0, 0, 1]]),
    # radiological storage: only x flipped (left-handed index frame)
    "las_storage": np.array([[-1.0, 0, 0, 50.0], [0, 1.1, 0, -20.0], [0, 0, 1.3, 0.0], [0, 0, 0, 1]]),
}


def _oblique_ras(direction_of):
    affine = np.eye(4)
    affine[:3, :3] = direction_of("oblique") @ np.diag([1.1, 0.9, 2.5])
    affine[:3, 3] = [-31.25, 17.5, 44.125]
    return affine


def _sitk_geometry(image):
    return (
        np.array(image.GetSpacing()),
        np.array(image.GetOrigin()),
        np.array(image.GetDirection()).reshape(3, 3),
    )


@pytest.mark.parametrize("name", [*RAS_AFFINES, "oblique"])
def test_nifti_read_write_read_is_exact(tmp_path, direction_of, name):
    affine = _oblique_ras(direction_of) if name == "oblique" else RAS_AFFINES[name]
    rng = np.random.default_rng(1)
    data_xyz = rng.normal(100, 30, (20, 24, 8)).astype(np.float32)
    source = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(data_xyz, affine), source)
    stored_affine = nib.load(source).affine  # float32-rounded header values

    first = read_volume(source)
    assert first.shape == (8, 24, 20)
    np.testing.assert_array_equal(first.array, data_xyz.transpose(2, 1, 0))
    np.testing.assert_allclose(first.affine_ras, stored_affine, rtol=0, atol=1e-9)

    written = write_volume(first, tmp_path / "out.nii", description=SYNTHETIC_NOTICE)
    second = read_volume(written)
    np.testing.assert_array_equal(second.array, first.array)
    np.testing.assert_array_equal(second.affine_ras, nib.load(source).affine)
    header = nib.load(written).header
    assert header["descrip"].item().decode() == SYNTHETIC_NOTICE
    assert int(header["sform_code"]) == 1 and int(header["qform_code"]) == 1
    np.testing.assert_allclose(nib.load(written).get_qform(), stored_affine, atol=1e-4)

    # SimpleITK reads the file we wrote to the same LPS geometry and voxel values.
    image = sitk.ReadImage(str(written))
    spacing, origin, direction = _sitk_geometry(image)
    np.testing.assert_allclose(spacing, second.spacing[::-1], atol=1e-5)
    np.testing.assert_allclose(origin, second.origin, atol=1e-4)
    np.testing.assert_allclose(direction, second.direction, atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), second.array)


@pytest.mark.parametrize("extension", [".mha", ".nrrd"])
@pytest.mark.parametrize("name", ["axial", "oblique", "lefthanded"])
def test_itk_formats_round_trip(tmp_path, make_volume, direction_of, extension, name):
    volume = make_volume(direction=direction_of(name), dtype=np.float64)
    path = write_volume(volume, tmp_path / f"vol{extension}", description=SYNTHETIC_NOTICE)
    again = read_volume(path)
    np.testing.assert_array_equal(again.array, volume.array)
    assert again.array.dtype == np.float64
    np.testing.assert_allclose(again.spacing, volume.spacing, rtol=1e-12)
    np.testing.assert_allclose(again.origin, volume.origin, atol=1e-9)
    np.testing.assert_allclose(again.direction, volume.direction, atol=1e-9)

    image = sitk.ReadImage(str(path))
    assert image.GetMetaData("Description") == SYNTHETIC_NOTICE
    spacing, origin, direction = _sitk_geometry(image)
    np.testing.assert_allclose(spacing, volume.spacing[::-1], rtol=1e-12)
    np.testing.assert_allclose(origin, volume.origin, atol=1e-9)
    np.testing.assert_allclose(direction, volume.direction, atol=1e-9)


def test_nifti_written_from_itk_geometry_matches_nibabel(tmp_path, make_volume, direction_of):
    """Our LPS -> RAS conversion agrees with nibabel's reading of what SimpleITK writes."""
    volume = make_volume(direction=direction_of("oblique"))
    mha = write_volume(volume, tmp_path / "v.mha")
    sitk.WriteImage(sitk.ReadImage(str(mha)), str(tmp_path / "by_itk.nii.gz"))
    image = nib.load(tmp_path / "by_itk.nii.gz")
    np.testing.assert_allclose(image.affine, volume.affine_ras, atol=1e-4)
    np.testing.assert_array_equal(np.asanyarray(image.dataobj), volume.array.transpose(2, 1, 0))


def test_descrip_is_truncated_to_79_bytes(tmp_path, make_volume):
    path = write_volume(make_volume(), tmp_path / "v.nii.gz", description="é" * 60)
    descrip = nib.load(path).header["descrip"].item()
    assert len(descrip) <= 79 and descrip.decode("utf-8") == "é" * 39


def test_4d_nifti(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6, 1), np.float32), np.eye(4)), tmp_path / "one.nii")
    assert read_volume(tmp_path / "one.nii").shape == (6, 5, 4)
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6, 2), np.float32), np.eye(4)), tmp_path / "two.nii")
    with pytest.raises(VolumeReadError, match=r"two\.nii.*4-D"):
        read_volume(tmp_path / "two.nii")
