"""Series we write pass the DICOM standard's validator and convert back with the source's geometry.

The tools are the ones imaging sites use: ``dciodvfy`` (David Clunie's dicom3tools) and
``dcm2niix``. ``.ci/setup_system.sh`` installs both on Debian/Ubuntu.
"""

import subprocess

import nibabel as nib
import numpy as np
import pydicom
import pytest

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.data.simulator import simulate_volume
from napari_evai2i.io import Volume, read_volume, write_dicom_series, write_volume
from napari_evai2i.io._dicom_write import REAL_WORLD_LABEL
from napari_evai2i.translate import main

PROMPT = "A T2-weighted magnetic resonance imaging of the brain, TR 4000 ms, TE 100 ms"


@pytest.fixture(scope="module")
def series(tmp_path_factory, tiny_checkpoint):
    """The simulator's series, and translations of it from DICOM and from NIfTI (4 slices, 2 mm)."""
    root = tmp_path_factory.mktemp("conformance")
    full = simulate_volume(PRESETS["T1W"], seed=3, resolution_mm=2).to_volume()
    first, count = 40, 4
    origin = (full.affine_lps @ np.array([0.0, 0.0, float(first), 1.0]))[:3]
    source = Volume(np.ascontiguousarray(full.array[first:first + count]), spacing=full.spacing,
                    origin=tuple(origin), direction=full.direction, tags=dict(full.tags))
    write_dicom_series(source, root / "simulated", series_description=source.tags["SeriesDescription"],
                       image_comments=source.tags["ImageComments"], derived=False)
    nifti = write_volume(Volume(source.array, spacing=source.spacing, origin=source.origin,
                                direction=source.direction), root / "source.nii.gz")
    out = {"simulated": root / "simulated", "nifti_source": nifti}
    for name, input_path, extra in (("from_dicom", root / "simulated", []),
                                    ("from_dicom_deidentified", root / "simulated", ["--deidentify"]),
                                    ("from_nifti", nifti, [])):
        assert main([str(input_path), "-o", str(root / name), "--prompt", PROMPT, *extra,
                     "--model", str(tiny_checkpoint), "--device", "cpu", "-q"]) == 0
        out[name] = root / name
    return out


@pytest.mark.parametrize("name", ["simulated", "from_dicom", "from_dicom_deidentified", "from_nifti"])
def test_validator_finds_no_errors(series, name, dicom_validator):
    lines = dicom_validator.report(series[name])
    assert lines, "dciodvfy printed nothing; is it the dicom3tools validator?"
    assert dicom_validator.errors(lines) == []


def test_validator_flags_a_broken_file(series, tmp_path, dicom_validator):
    """The check can fail: the same file without ImageType's third value is an error again."""
    ds = pydicom.dcmread(sorted(series["from_dicom"].glob("*.dcm"))[0])
    ds.ImageType = ["DERIVED", "SECONDARY"]
    del ds.PatientPosition
    broken = tmp_path / "broken"
    broken.mkdir()
    ds.save_as(broken / "slice.dcm")
    errors = " ".join(dicom_validator.errors(dicom_validator.report(broken)))
    assert "ImageType" in errors and "PatientPosition" in errors


@pytest.mark.parametrize("name", ["simulated", "from_dicom", "from_nifti"])
def test_dcm2niix_gives_back_the_source_geometry(series, name, tmp_path, dcm2niix):
    subprocess.run([dcm2niix, "-z", "y", "-f", "converted", "-o", str(tmp_path), str(series[name])],
                   check=True, capture_output=True, timeout=120)
    converted = nib.as_closest_canonical(nib.load(tmp_path / "converted.nii.gz"))
    source = nib.as_closest_canonical(nib.load(series["nifti_source"]))
    assert converted.shape == source.shape
    np.testing.assert_allclose(converted.affine, source.affine, atol=1e-4)


def test_float_pixels_need_no_modality_lut_and_read_back_within_one_step(series):
    """Stored integers window well on their own; the scale sits in a Real World Value Mapping."""
    files = sorted(series["from_nifti"].glob("*.dcm"))
    ours = read_volume(series["from_nifti"])
    for k, path in enumerate(files):
        ds = pydicom.dcmread(path)
        assert "RescaleSlope" not in ds and "RescaleIntercept" not in ds and "RescaleType" not in ds
        (mapping,) = ds.RealWorldValueMappingSequence
        assert mapping.LUTLabel == REAL_WORLD_LABEL
        stored = ds.pixel_array.astype(np.float64)
        # the window is in stored units and covers the stored values
        centre, width = float(ds.WindowCenter), float(ds.WindowWidth)
        assert width >= 1 and centre - width / 2 <= stored.min() and stored.max() <= centre + width / 2
        assert stored.max() - stored.min() > 10000           # the integer range is used, not 0..1
        # pydicom plus the mapping, and our reader, agree within one stored step
        values = stored * mapping.RealWorldValueSlope + mapping.RealWorldValueIntercept
        np.testing.assert_allclose(ours.array[k], values, atol=mapping.RealWorldValueSlope)


def test_simulated_series_describes_its_protocol_and_a_translation_does_not(series):
    acquired = pydicom.dcmread(sorted(series["simulated"].glob("*.dcm"))[0])
    assert list(acquired.ImageType) == ["ORIGINAL", "PRIMARY", "OTHER"]
    assert float(acquired.RepetitionTime) == PRESETS["T1W"].tr and acquired.PatientPosition == "HFS"
    derived = pydicom.dcmread(sorted(series["from_nifti"].glob("*.dcm"))[0])
    assert list(derived.ImageType) == ["DERIVED", "SECONDARY", "OTHER"]
    assert derived.ScanningSequence == "RM"
    for keyword in ("RepetitionTime", "EchoTime", "PatientPosition", "Laterality"):
        assert keyword in derived and derived[keyword].is_empty, keyword
    assert derived.PatientID.startswith("SYNTHETIC-") and derived.StudyID.startswith("SYN")
    anonymous = pydicom.dcmread(sorted(series["from_dicom_deidentified"].glob("*.dcm"))[0])
    assert anonymous.PatientID == "ANONYMOUS" and anonymous.StudyID.startswith("SYN")
