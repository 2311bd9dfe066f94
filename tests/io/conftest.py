"""Small volumes with known geometry for the io tests."""

import numpy as np
import pytest

from napari_evai2i.io import Volume


def rotation(axis, degrees):
    """Right-handed rotation matrix about ``axis`` (Rodrigues)."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    angle = np.deg2rad(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


DIRECTIONS = {
    "axial": np.eye(3),
    "oblique": rotation([0.3, -0.5, 0.8], 23.0),
    # Radiological NIfTI storage: x index runs to the patient's right (det = -1 in LPS).
    "lefthanded": np.diag([-1.0, 1.0, 1.0]) @ rotation([0, 0, 1], 10.0),
}


@pytest.fixture
def direction_of():
    """Name -> 3x3 direction matrix (names usable in parametrize ids)."""
    return lambda name: DIRECTIONS[name].copy()


@pytest.fixture
def make_volume():
    """Factory: a (8, 24, 20) float volume with anisotropic spacing and a non-trivial origin."""

    def factory(*, direction=None, shape=(8, 24, 20), dtype=np.float32, seed=0, tags=None, source_path=None):
        rng = np.random.default_rng(seed)
        z, y, x = np.indices(shape)
        data = 300.0 + 40.0 * z + 5.0 * y - 3.0 * x + rng.uniform(0, 50, shape)
        data[:, :3, :] = 0.0  # background stays exactly zero through DICOM rescaling
        return Volume(
            array=data.astype(dtype),
            spacing=(2.5, 0.9, 1.1),
            origin=(-10.5, 20.25, 33.0),
            direction=np.eye(3) if direction is None else direction,
            tags=dict(tags or {}),
            source_path=source_path,
        )

    return factory


@pytest.fixture
def mr_tags():
    """Series tags as a DICOM reader would produce them."""
    return {
        "Modality": "MR",
        "PatientName": "Doe^Jane",
        "PatientID": "PID-123",
        "PatientBirthDate": "19700101",
        "PatientSex": "F",
        "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1",
        "StudyDescription": "Brain",
        "FrameOfReferenceUID": "1.2.826.0.1.3680043.8.498.2",
        "SeriesNumber": 7,
        "RepetitionTime": 4000.0,
        "EchoTime": 90.5,
        "FlipAngle": 90.0,
        "MagneticFieldStrength": 3.0,
        "ScanningSequence": ["SE"],
        "SequenceVariant": ["SK", "SP"],
        "ScanOptions": "",
        "BodyPartExamined": "HEAD",
        "Manufacturer": "ACME",
        "NotAKeyword": "dropped",
        "EchoTrainLength": "not a number",
    }
