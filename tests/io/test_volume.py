"""Volume geometry conventions, checked against SimpleITK's own index -> physical mapping."""

import numpy as np
import pytest
import SimpleITK as sitk

from napari_evai2i.io import Volume


def _as_sitk(volume):
    image = sitk.GetImageFromArray(volume.array)
    image.SetSpacing(volume.spacing[::-1])
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(volume.direction.ravel()))
    return image


@pytest.mark.parametrize("name", ["axial", "oblique", "lefthanded"])
def test_affines_match_itk_index_to_physical(make_volume, direction_of, name):
    volume = make_volume(direction=direction_of(name))
    image = _as_sitk(volume)
    for ijk in [(0, 0, 0), (19, 0, 0), (0, 23, 0), (0, 0, 7), (5, 17, 3)]:
        lps = np.array(image.TransformIndexToPhysicalPoint(ijk))
        np.testing.assert_allclose(volume.affine_lps @ [*ijk, 1], [*lps, 1], atol=1e-9)
        ras = lps * [-1, -1, 1]
        np.testing.assert_allclose(volume.affine_ras @ [*ijk, 1], [*ras, 1], atol=1e-9)
        kji = ijk[::-1]
        np.testing.assert_allclose(volume.world_affine_zyx() @ [*kji, 1], [*lps[::-1], 1], atol=1e-9)
    assert volume.is_oblique == (name != "axial")


def test_from_ras_affine_inverts_affine_ras(make_volume, direction_of):
    volume = make_volume(direction=direction_of("oblique"))
    again = Volume.from_ras_affine(volume.array, volume.affine_ras, tags={"Modality": "MR"})
    np.testing.assert_allclose(again.spacing, volume.spacing, atol=1e-12)
    np.testing.assert_allclose(again.origin, volume.origin, atol=1e-12)
    np.testing.assert_allclose(again.direction, volume.direction, atol=1e-12)
    assert again.tags == {"Modality": "MR"}
    # A nibabel-style RAS affine with a flipped x axis (radiological "LAS" storage).
    las = np.diag([-2.0, 1.5, 3.0, 1.0])
    flipped = Volume.from_ras_affine(np.zeros((4, 5, 6)), las)
    assert flipped.spacing == (3.0, 1.5, 2.0)
    np.testing.assert_allclose(flipped.direction, np.diag([1.0, -1.0, 1.0]))


def test_with_array_keeps_geometry_and_checks_shape(make_volume, direction_of, mr_tags):
    volume = make_volume(direction=direction_of("oblique"), tags=mr_tags, source_path="/data/in.nii.gz")
    derived = volume.with_array(volume.array * 2)
    assert derived.spacing == volume.spacing and derived.origin == volume.origin
    np.testing.assert_array_equal(derived.direction, volume.direction)
    assert derived.tags == volume.tags and derived.tags is not volume.tags
    assert derived.source_path == "/data/in.nii.gz"
    with pytest.raises(ValueError, match=r"\(8, 24, 19\).*\(8, 24, 20\)"):
        volume.with_array(np.zeros((8, 24, 19)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"array": np.zeros((4, 5))}, "3-D"),
        ({"spacing": (1.0, 0.0, 1.0)}, "positive"),
        ({"spacing": (1.0, np.nan, 1.0)}, "finite"),
        ({"direction": np.array([[1, 0.2, 0], [0, 1, 0], [0, 0, 1]])}, "orthonormal"),
        ({"direction": np.eye(2)}, "3x3"),
    ],
)
def test_validation_errors(kwargs, message):
    arguments = {"array": np.zeros((2, 3, 4)), "spacing": (1.0, 1.0, 1.0)} | kwargs
    with pytest.raises(ValueError, match=message):
        Volume(**arguments)
