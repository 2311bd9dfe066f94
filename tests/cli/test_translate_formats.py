"""The translate command with MHA/NRRD files and a simulated DICOM series: geometry is kept."""

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.data.simulator import simulate_volume
from napari_evai2i.io import SYNTHETIC_NOTICE, Volume, read_volume, write_dicom_series, write_volume
from napari_evai2i.prompts import canonical_prompt, fields_from_dicom
from napari_evai2i.translate import main

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def oblique_volume(array: np.ndarray) -> Volume:
    """``array`` with anisotropic spacing, an off-centre origin and an oblique direction."""
    c, s = np.cos(0.3), np.sin(0.3)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])          # about z
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(0.1), -np.sin(0.1)], [0.0, np.sin(0.1), np.cos(0.1)]])
    return Volume(array, spacing=(2.5, 0.9, 1.1), origin=(-31.5, 12.25, 40.0), direction=rotation @ tilt)


def run_translate(args, tiny_checkpoint):
    return main([*map(str, args), "--model", str(tiny_checkpoint), "--device", "cpu", "-q"])


@pytest.mark.parametrize("in_suffix,out_suffix", [(".mha", ".mha"), (".nrrd", ".nrrd"), (".mha", ".nrrd")])
def test_itk_formats_keep_spacing_origin_direction(tmp_path, brain_like_volume, tiny_checkpoint, capsys,
                                                   in_suffix, out_suffix):
    source = oblique_volume(brain_like_volume)
    src_path = write_volume(source, tmp_path / f"t1{in_suffix}")
    out_path = tmp_path / f"t2_synth{out_suffix}"

    assert run_translate([src_path, "-p", PROMPT, "-o", out_path], tiny_checkpoint) == 0
    assert capsys.readouterr().out.strip() == str(out_path)

    back = read_volume(out_path)
    assert back.shape == source.shape
    np.testing.assert_allclose(back.spacing, source.spacing, atol=1e-6)
    np.testing.assert_allclose(back.origin, source.origin, atol=1e-5)
    np.testing.assert_allclose(back.direction, source.direction, atol=1e-6)
    np.testing.assert_allclose(back.affine_lps, read_volume(src_path).affine_lps, atol=1e-5)
    assert back.array.dtype == np.float32 and np.isfinite(back.array).all()

    image = sitk.ReadImage(str(out_path))                    # the header as other tools see it
    np.testing.assert_allclose(image.GetSpacing(), source.spacing_xyz, atol=1e-6)
    np.testing.assert_allclose(image.GetOrigin(), source.origin, atol=1e-5)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), source.direction, atol=1e-6)
    assert src_path.is_file() and read_volume(src_path).array.dtype == brain_like_volume.dtype  # input intact


@pytest.mark.parametrize("out_suffix", [".mha", ".nrrd"])
def test_itk_output_is_marked_synthetic(tmp_path, brain_like_volume, tiny_checkpoint, out_suffix):
    src_path = write_volume(oblique_volume(brain_like_volume), tmp_path / "t1.nrrd")
    out_path = tmp_path / f"out{out_suffix}"
    assert run_translate([src_path, "-p", PROMPT, "-o", out_path], tiny_checkpoint) == 0
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(out_path))
    reader.ReadImageInformation()
    assert reader.HasMetaDataKey("Description")
    assert reader.GetMetaData("Description") == SYNTHETIC_NOTICE


def _series_crop(simulated, first: int, count: int) -> Volume:
    """A few axial slices of a simulated volume as a Volume with the matching geometry."""
    full = simulated.to_volume()
    origin = (full.affine_lps @ np.array([0.0, 0.0, float(first), 1.0]))[:3]
    return Volume(np.ascontiguousarray(full.array[first:first + count]), spacing=full.spacing,
                  origin=tuple(origin), direction=full.direction, tags=dict(full.tags))


@pytest.fixture(scope="module")
def simulated_series(tmp_path_factory):
    """A T1w DICOM series (input) and a T2w DICOM series (prompt source), both simulated, 2 mm."""
    folder = tmp_path_factory.mktemp("simulated")
    out = {}
    for kind, name in (("T1W", "t1"), ("T2W", "t2")):
        volume = _series_crop(simulate_volume(PRESETS[kind], seed=1, resolution_mm=2), first=40, count=4)
        write_dicom_series(volume, folder / name, series_description=volume.tags["SeriesDescription"],
                           image_comments=volume.tags["ImageComments"], derived=False)
        out[name] = (folder / name, volume)
    return out


def test_simulated_dicom_series_to_nifti_with_prompt_from_dicom(tmp_path, simulated_series, tiny_checkpoint):
    t1_folder, t1_volume = simulated_series["t1"]
    t2_folder, _ = simulated_series["t2"]
    expected_prompt = canonical_prompt(fields_from_dicom(t2_folder))
    assert "T2-weighted" in expected_prompt and "TE 100 ms" in expected_prompt

    out = tmp_path / "t2_synth.nii.gz"
    assert run_translate([t1_folder, "--prompt-from-dicom", t2_folder, "-o", out], tiny_checkpoint) == 0

    # What was asked of the model is recorded in the output's provenance sidecar.
    provenance = json.loads((tmp_path / "t2_synth.json").read_text())
    assert provenance["synthetic"] is True and provenance["prompt"] == expected_prompt
    assert "T1-weighted" in provenance["source_prompt"]                 # from the input series' tags
    assert provenance["source_prompt_from"] == "DICOM tags"
    assert len(provenance["checkpoint_sha256"]) == 16 and provenance["precision"] == "fp32"

    series = read_volume(t1_folder)
    np.testing.assert_allclose(series.affine_ras, t1_volume.affine_ras, atol=1e-4)
    result = nib.load(out)
    assert result.shape == series.array.transpose(2, 1, 0).shape == (99, 117, 4)
    np.testing.assert_allclose(result.affine, series.affine_ras, atol=1e-4)
    np.testing.assert_allclose(result.header.get_sform(), series.affine_ras, atol=1e-4)
    assert b"SYNTHETIC" in result.header["descrip"].tobytes()
    assert np.isfinite(result.get_fdata()).all()
