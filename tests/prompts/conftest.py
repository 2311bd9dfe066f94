"""Real DICOM headers shipped in pydicom, pydicom-data and nibabel (see offline_assets.md).

Every fixture checks that its file is really on disk and skips otherwise, so a missing optional
data package shows up as a skip, never as a download attempt or a confusing failure.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _pydicom_file(name: str, *, needs_data_store: bool = False) -> Path:
    if needs_data_store and importlib.util.find_spec("data_store") is None:
        pytest.skip("pydicom-data is not installed")
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None or not Path(path).is_file():
        pytest.skip(f"{name} is not available offline")
    return Path(path)


def _nibabel_file(name: str) -> Path:
    nibabel = pytest.importorskip("nibabel")
    path = Path(nibabel.__file__).parent / "nicom" / "tests" / "data" / name
    if not path.is_file():
        pytest.skip(f"nibabel test file {name} is missing")
    return path


@pytest.fixture
def mr_small() -> Path:
    return _pydicom_file("MR_small.dcm")


@pytest.fixture
def ct_small() -> Path:
    return _pydicom_file("CT_small.dcm")


@pytest.fixture
def overlay_example() -> Path:
    return _pydicom_file("examples_overlay.dcm")


@pytest.fixture
def siemens_overlays() -> Path:
    return _pydicom_file("MR-SIEMENS-DICOM-WithOverlays.dcm", needs_data_store=True)


@pytest.fixture
def enhanced_mr() -> Path:
    return _pydicom_file("emri_small.dcm", needs_data_store=True)


@pytest.fixture
def philips_t1_se() -> Path:
    return _pydicom_file("MR2_UNCR.dcm", needs_data_store=True)


@pytest.fixture
def dicomdir_file() -> Path:
    return _pydicom_file("DICOMDIR")


@pytest.fixture
def mra_series_folder() -> Path:
    folder = _pydicom_file("DICOMDIR").parent / "98892003" / "MR700"
    if not folder.is_dir():
        pytest.skip("pydicom's dicomdirtests/98892003/MR700 series is missing")
    return folder


@pytest.fixture
def siemens_ir() -> Path:
    return _nibabel_file("decimal_rescale.dcm")


@pytest.fixture
def siemens_tof() -> Path:
    return _nibabel_file("slicethickness_empty_string.dcm")


@pytest.fixture
def all_real_files(mr_small, ct_small, overlay_example, siemens_ir, siemens_tof) -> list[Path]:
    """The files every install has (pydicom and nibabel only)."""
    return [mr_small, ct_small, overlay_example, siemens_ir, siemens_tof]


@pytest.fixture
def simulated_t2() -> dict:
    """A header the way the simulator writes it: plain keyword -> value."""
    return {
        "Modality": "MR",
        "ScanningSequence": "SE",
        "SequenceVariant": "NONE",
        "RepetitionTime": 4000,
        "EchoTime": 100,
        "MagneticFieldStrength": 3,
        "SeriesDescription": "T2w",
        "BodyPartExamined": "BRAIN",
    }
