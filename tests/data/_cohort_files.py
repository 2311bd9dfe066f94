"""Small real cohort files for the data tests: a few ellipsoid "heads" in three sequences."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from napari_evai2i.data.cohort_dataset import CohortDataConfig
from napari_evai2i.prompts import fields_from_tags

SHAPE = (12, 40, 36)  # (Z, Y, X)

#: Per sequence: (head, ventricles, lesion) intensities and the tags the prompt comes from.
SEQUENCES = {
    "t1": ((600, 200, 900), {"SeriesDescription": "t1_se_tra", "RepetitionTime": 500, "EchoTime": 12}),
    "t2": ((400, 1200, 300), {"SeriesDescription": "t2_tse_tra", "RepetitionTime": 4000, "EchoTime": 100}),
    "flair": ((500, 40, 1000), {"SeriesDescription": "t2_flair_tra", "RepetitionTime": 9000, "EchoTime": 90,
                                "InversionTime": 2500}),
}


def anatomy(shift: float = 0.0, shape=SHAPE) -> np.ndarray:
    """Labels 0 background, 1 head, 2 ventricles, 3 lesion: a few ellipsoids."""
    nz, ny, nx = shape
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx].astype(np.float32)
    cz, cy, cx = (nz - 1) / 2, (ny - 1) / 2 + shift, (nx - 1) / 2 - shift / 2

    def ellipsoid(c, r):
        return ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1

    labels = np.zeros(shape, np.uint8)
    labels[ellipsoid((cz, cy, cx), (nz / 2 - 0.5, ny / 2 - 4, nx / 2 - 4))] = 1
    labels[ellipsoid((cz, cy - 2, cx), (nz / 4, ny / 8, nx / 6))] = 2
    labels[ellipsoid((cz + 1, cy + 8, cx + 5), (2, 3, 3))] = 3
    return labels


def render(labels: np.ndarray, values) -> np.ndarray:
    lut = np.array((0, *values), np.float32)
    image = lut[labels]
    gradient = np.linspace(0.9, 1.1, labels.shape[2], dtype=np.float32)  # some texture
    return np.where(labels > 0, image * gradient, 0).astype(np.int16)


def write_nifti(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # nibabel stores (i, j, k) = (X, Y, Z); read_volume gives (Z, Y, X) back.
    nib.save(nib.Nifti1Image(array.transpose(2, 1, 0), np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return path


def cohort_fields(name: str, organ: str = "brain") -> dict:
    return fields_from_tags(dict(SEQUENCES[name][1], BodyPartExamined=organ.upper())).to_dict()


def small_config(**changes) -> CohortDataConfig:
    return CohortDataConfig(**{"size": 32, "length": 64, "seed": 3, **changes})
