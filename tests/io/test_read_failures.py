"""Reading compressed DICOM, and every way a damaged file fails: one VolumeReadError that names
the file and the real cause, no library wording or console output reaching the user (issue 12)."""

import gzip
import io
import shutil
import tracemalloc

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, JPEGBaseline8Bit

from napari_evai2i.io import Volume, VolumeReadError, read_volume
from napari_evai2i.io._size import available_memory_bytes, check_declared_size, format_bytes

# pydicom's test files mostly lack geometry; the reader warns about it, which is not under test here.
pytestmark = pytest.mark.filterwarnings("ignore:.*geometry is incomplete:UserWarning")


def _testdata(name):
    """A file pydicom or pydicom-data ships; skip, saying which, where it is not installed."""
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} is not installed (it ships with pydicom-data: pip install pydicom-data)")
    return path


def _read_quiet(path, capfd):
    """read_volume, asserting that no C library printed to the terminal meanwhile."""
    capfd.readouterr()
    try:
        return read_volume(path)
    finally:
        assert capfd.readouterr().err == ""


# (file, its transfer syntax, the uncompressed twin or None, mean |difference| allowed as a
# fraction of the twin's range: 0 for lossless). Without a twin the file is compared with an
# independent decode by SimpleITK/GDCM of the same file.
COMPRESSED = [
    ("JPEG-lossy.dcm", "1.2.840.10008.1.2.4.51", "JPEG-LL.dcm", 0.02),  # 12-bit JPEG extended, 76:1
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51", "JPEG-LL.dcm", 0.02),
    ("JPEG-LL.dcm", "1.2.840.10008.1.2.4.70", None, 0),
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", "1.2.840.10008.1.2.4.70", None, 0),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80", "MR_small.dcm", 0),
    ("emri_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80", "emri_small.dcm", 0),
    ("JPEGLSNearLossless_08.dcm", "1.2.840.10008.1.2.4.81", None, 0),
    ("JPEGLSNearLossless_16.dcm", "1.2.840.10008.1.2.4.81", None, 0),
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90", "MR_small.dcm", 0),
    ("emri_small_jpeg_2k_lossless.dcm", "1.2.840.10008.1.2.4.90", "emri_small.dcm", 0),
    ("693_J2KR.dcm", "1.2.840.10008.1.2.4.90", "693_UNCR.dcm", 0),
    ("MR2_J2KR.dcm", "1.2.840.10008.1.2.4.90", "MR2_UNCR.dcm", 0),
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91", "JPEG2000_UNC.dcm", 0),  # _UNC is its decoded copy
    ("693_J2KI.dcm", "1.2.840.10008.1.2.4.91", "693_UNCR.dcm", 0.02),
    ("MR2_J2KI.dcm", "1.2.840.10008.1.2.4.91", "MR2_UNCR.dcm", 0.02),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5", "MR_small.dcm", 0),
    ("emri_small_RLE.dcm", "1.2.840.10008.1.2.5", "emri_small.dcm", 0),
    ("rtdose_rle_1frame.dcm", "1.2.840.10008.1.2.5", "rtdose_1frame.dcm", 0),
    ("OBXXXX1A_rle.dcm", "1.2.840.10008.1.2.5", "OBXXXX1A.dcm", 0),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99", None, 0),
]


def test_the_list_covers_every_compressed_family():
    families = {UID(syntax).name.split(" (")[0].split(" Image")[0] for _, syntax, _, _ in COMPRESSED}
    assert families >= {"JPEG Extended", "JPEG Lossless, Non-Hierarchical, First-Order Prediction",
                        "JPEG-LS Lossless", "JPEG-LS Lossy", "JPEG 2000", "RLE Lossless",
                        "Deflated Explicit VR Little Endian"}  # JPEG baseline: test below


@pytest.mark.parametrize(("name", "syntax", "twin", "tolerance"), COMPRESSED, ids=[c[0] for c in COMPRESSED])
def test_compressed_dicom_reads_like_its_uncompressed_twin(name, syntax, twin, tolerance, capfd):
    path = _testdata(name)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    volume = _read_quiet(path, capfd)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert volume.shape == (int(header.get("NumberOfFrames", 1) or 1), header.Rows, header.Columns)
    if twin is None:
        expected = sitk.GetArrayFromImage(sitk.ReadImage(path)).astype(np.float64)
    else:
        expected = read_volume(_testdata(twin)).array.astype(np.float64)
    got = volume.array.astype(np.float64)
    assert got.shape == expected.shape
    if tolerance == 0:
        np.testing.assert_array_equal(got, expected)
    else:
        assert np.abs(got - expected).mean() <= tolerance * (expected.max() - expected.min())


def test_jpeg_baseline_and_deflate_made_from_a_real_slice(tmp_path, capfd):
    """pydicom ships JPEG baseline only in colour; an 8-bit grey one is made with Pillow."""
    source = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    grey = (source.pixel_array.astype(np.float64) / source.pixel_array.max() * 255).round().astype(np.uint8)
    stream = io.BytesIO()
    Image.fromarray(grey, mode="L").save(stream, format="JPEG", quality=95)
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate([stream.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.LossyImageCompression = "01"
    ds.save_as(tmp_path / "baseline.dcm")
    volume = _read_quiet(tmp_path / "baseline.dcm", capfd)
    assert volume.shape == (1, 64, 64)
    assert np.abs(volume.array[0].astype(float) - grey).mean() < 2.0

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "deflated.dcm")
    np.testing.assert_array_equal(_read_quiet(tmp_path / "deflated.dcm", capfd).array[0], ds.pixel_array)


def test_colour_jpeg_is_refused_clearly(capfd):
    path = get_testdata_file("SC_jpeg_no_color_transform.dcm")
    capfd.readouterr()
    with pytest.raises(VolumeReadError, match="SC_jpeg_no_color_transform.dcm: colour DICOM"):
        read_volume(path)
    assert capfd.readouterr().err == ""


# --------------------------------------------------------------------------- broken DICOM
def _mr_small(tmp_path, name="in.dcm", **changes):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.save_as(tmp_path / name)
    return tmp_path / name


def test_unknown_transfer_syntax_is_named(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = UID("1.2.3.4")
    ds.save_as(tmp_path / "odd.dcm")
    with pytest.raises(VolumeReadError) as info:
        read_volume(tmp_path / "odd.dcm")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'odd.dcm'}: unknown transfer syntax 1.2.3.4")
    assert type(info.value.__cause__) is not ValueError  # nothing of pydicom's "UID is not a transfer syntax"

    folder = tmp_path / "series"
    folder.mkdir()
    for k in range(3):
        ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{k}"
        ds.ImagePositionPatient = [0, 0, 5.0 * k]
        if k == 1:
            ds.file_meta.TransferSyntaxUID = UID("1.2.3.4")
        ds.save_as(folder / f"im{k}.dcm")
    with pytest.raises(VolumeReadError, match=r"im1\.dcm: unknown transfer syntax 1\.2\.3\.4"):
        read_volume(folder)


def test_pixel_data_that_contradict_the_transfer_syntax(tmp_path):
    # Declared RLE (compressed) over raw pixels: the two UIDs have the same length, so the
    # byte swap leaves a well-formed file.
    raw = _mr_small(tmp_path, "raw.dcm").read_bytes()
    explicit, rle = b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2.5\0"
    assert raw.count(explicit) == 1
    (tmp_path / "rle_declared.dcm").write_bytes(raw.replace(explicit, rle))
    with pytest.raises(VolumeReadError, match=r"rle_declared\.dcm: the transfer syntax says RLE Lossless "
                                              r"\(compressed\) but the pixel data are stored uncompressed"):
        read_volume(tmp_path / "rle_declared.dcm")

    # Declared JPEG baseline, encapsulated, but the fragment holds raw pixels, not a JPEG stream.
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PixelData = encapsulate([ds.PixelData])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(tmp_path / "fake_jpeg.dcm")
    with pytest.raises(VolumeReadError) as info:
        read_volume(tmp_path / "fake_jpeg.dcm")
    message = str(info.value)
    assert "fake_jpeg.dcm: pixel data cannot be decoded as JPEG Baseline" in message
    assert "do not match the declared transfer syntax" in message and "frame" not in message

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.PixelData = ds.PixelData[:1000]
    ds.save_as(tmp_path / "short.dcm")
    with pytest.raises(VolumeReadError, match=r"short\.dcm: pixel data holds 1000 bytes but the header's "
                                              r"64 x 64 x 1 frame\(s\) at 16 bits need 8192: the file is truncated"):
        read_volume(tmp_path / "short.dcm")


def test_truncated_dicom_files(tmp_path):
    whole = _mr_small(tmp_path).read_bytes()
    (tmp_path / "half.dcm").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(VolumeReadError, match=r"half\.dcm: pixel data holds \d+ bytes .* truncated"):
        read_volume(tmp_path / "half.dcm")
    encapsulated = _testdata("emri_small_jpeg_2k_lossless_too_short.dcm")
    with pytest.raises(VolumeReadError, match="too_short.dcm: truncated or corrupt DICOM file"):
        read_volume(encapsulated)
    (tmp_path / "empty.dcm").write_bytes(b"")
    with pytest.raises(VolumeReadError, match=r"empty\.dcm: empty file \(0 bytes\)"):
        read_volume(tmp_path / "empty.dcm")


def test_not_a_dicom_file_says_so_without_pydicom_advice(tmp_path):
    target = tmp_path / "scan.dcm"
    target.write_bytes(b"this is a text file, not an image\n" * 20)
    with pytest.raises(VolumeReadError) as info:
        read_volume(target)
    message = str(info.value)
    assert message.startswith(f"{target}: not a DICOM file")
    assert "force=True" not in message and message.count(str(target)) == 1


def test_dicom_without_preamble_is_read(tmp_path):
    """The 128-byte preamble and 'DICM' are optional for files that came over a network."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    buffer = io.BytesIO()
    ds.save_as(buffer)
    (tmp_path / "bare.dcm").write_bytes(buffer.getvalue()[132:])
    volume = read_volume(tmp_path / "bare.dcm")
    np.testing.assert_array_equal(volume.array[0], ds.pixel_array)


# --------------------------------------------------------------------------- MetaImage / NRRD
@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "zlib"])
@pytest.mark.parametrize(("extension", "kind"), [(".mha", "MetaImage"), (".nrrd", "NRRD")])
def test_truncated_itk_files_say_so_and_print_nothing(tmp_path, capfd, extension, kind, compressed):
    data = np.random.default_rng(0).integers(0, 1000, (4, 20, 20)).astype(np.int16)
    whole = tmp_path / f"whole{extension}"
    sitk.WriteImage(sitk.GetImageFromArray(data), str(whole), useCompression=compressed)
    content = whole.read_bytes()
    for name, cut in (("tail", content[:-200]), ("header", content[:60])):
        target = tmp_path / f"{name}{extension}"
        target.write_bytes(cut)
        capfd.readouterr()
        with pytest.raises(VolumeReadError) as info:
            read_volume(target)
        assert capfd.readouterr().err == ""
        assert str(info.value).startswith(f"{target}: truncated or corrupt {kind} file")
        assert "No such file or directory" not in str(info.value)


def test_complex_images_are_refused(tmp_path):
    values = (np.arange(60).reshape(5, 4, 3) + 1j).astype(np.complex64)
    nib.save(nib.Nifti1Image(values, np.eye(4)), tmp_path / "complex.nii.gz")
    with pytest.raises(VolumeReadError, match=r"complex\.nii\.gz: complex-valued image \(complex64\).*magnitude"):
        read_volume(tmp_path / "complex.nii.gz")
    sitk.WriteImage(sitk.GetImageFromArray(values), str(tmp_path / "complex.nrrd"))
    with pytest.raises(VolumeReadError, match=r"complex\.nrrd: complex-valued image"):
        read_volume(tmp_path / "complex.nrrd")
    sitk.WriteImage(sitk.GetImageFromArray(values), str(tmp_path / "complex.mha"))  # MetaImage: 2 channels
    with pytest.raises(VolumeReadError, match=r"complex\.mha: 2 components per voxel.*magnitude"):
        read_volume(tmp_path / "complex.mha")


def test_non_finite_voxels_are_read_as_they_are(tmp_path):
    """Counting and handling NaN/Inf is the engine's business; the reader hands them over."""
    values = np.ones((4, 5, 6), np.float32)
    values[0, 0, 0], values[1, 1, 1], values[2, 2, 2] = np.nan, np.inf, -np.inf
    nib.save(nib.Nifti1Image(values, np.eye(4)), tmp_path / "nan.nii")
    sitk.WriteImage(sitk.GetImageFromArray(values.transpose(2, 1, 0)), str(tmp_path / "nan.mha"))
    for name in ("nan.nii", "nan.mha"):
        volume = read_volume(tmp_path / name)
        assert np.isnan(volume.array).sum() == 1 and np.isinf(volume.array).sum() == 2


# --------------------------------------------------------------------------- NIfTI wording
def test_nifti_damage_is_named_once_and_plainly(tmp_path):
    noise = np.random.default_rng(0).integers(-3000, 3000, (10, 10, 10)).astype(np.int16)  # incompressible
    nib.save(nib.Nifti1Image(noise, np.eye(4)), tmp_path / "whole.nii")
    content = (tmp_path / "whole.nii").read_bytes()
    cases = {
        "cut.nii": (content[:500], "truncated or corrupt NIfTI file: header declares 10x10x10 int16 = 2.0 KiB "
                                   "but the file holds only 148 bytes of voxel data"),
        "stub.nii": (content[:200], "200 bytes, too short for a NIfTI header"),
        "junk.nii": (b"x" * 400, "not a NIfTI file"),
        "plain.nii.gz": (content, "named .nii.gz but not gzip-compressed; if it is a plain NIfTI file, rename it"),
        "cut.nii.gz": (gzip.compress(content)[:1200], "truncated or corrupt NIfTI file: the voxel data end early"),
    }
    for name, (data, expected) in cases.items():
        target = tmp_path / name
        target.write_bytes(data)
        with pytest.raises(VolumeReadError) as info:
            read_volume(target)
        message = str(info.value)
        assert message.startswith(f"{target}: ") and expected in message, message
        assert message.count(str(target)) == 1, message


# --------------------------------------------------------------------------- declared size
def _nifti_claiming(path, shape, dtype, data=b"\0" * 64):
    """A real NIfTI file whose header declares ``shape`` over only ``data``."""
    header = nib.Nifti1Header()
    header.set_data_dtype(dtype)
    header.set_data_shape(shape)
    header.set_sform(np.eye(4), code=1)
    header["vox_offset"] = 352
    content = header.binaryblock + b"\0" * 4 + data
    path.write_bytes(gzip.compress(content) if path.name.endswith(".gz") else content)
    return path


def test_huge_declared_nifti_is_refused_before_allocating(tmp_path):
    target = _nifti_claiming(tmp_path / "huge.nii", (4000, 4000, 4000), np.int16)
    tracemalloc.start()
    try:
        with pytest.raises(VolumeReadError) as info:
            read_volume(target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{target}: truncated or corrupt NIfTI file: header declares 4000x4000x4000 int16 = 119.2 GiB but the "
        "file holds only 64 bytes of voxel data (a damaged header, or a file cut short)"
    )
    assert peak < 16 * 2**20  # nothing near the declared size was allocated


def test_declared_size_beyond_memory_is_refused_with_both_sizes(tmp_path):
    available = available_memory_bytes()
    assert available is None or available > 0
    if available is None:
        pytest.skip("this platform does not tell the available memory")
    # Compressed: the file size says nothing, so only memory can refuse it.
    side = int(round((available / 8 * 4) ** (1 / 3))) + 1  # float64: about 4x what is available
    target = _nifti_claiming(tmp_path / "big.nii.gz", (side, side, side), np.float64)
    with pytest.raises(VolumeReadError) as info:
        read_volume(target)
    message = str(info.value)
    assert message.startswith(f"{target}: header declares {side}x{side}x{side} float64 = ")
    assert "of memory available" in message and "crop/downsample" in message
    # The function itself, as the engine uses it: needed versus available, and what to do.
    rows = 1 + available // 2           # twice what was available: other processes may free some meanwhile
    needed = format_bytes(rows * 4)
    with pytest.raises(VolumeReadError, match=rf"x\.nii: header declares {rows}x2x2 uint8 = {needed}, more than "
                                              r"the [\d.]+ [KMGT]iB of memory available; free memory"):
        check_declared_size(tmp_path / "x.nii", (rows, 2, 2), np.uint8)
    assert check_declared_size(tmp_path / "x.nii", (2, 2, 2), np.uint8, data_bytes_in_file=8) == 8


def test_huge_declared_metaimage_is_refused(tmp_path):
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 3, 4), np.int16)), str(tmp_path / "small.mha"))
    content = (tmp_path / "small.mha").read_bytes().replace(b"DimSize = 4 3 2", b"DimSize = 4000 4000 4000")
    (tmp_path / "huge.mha").write_bytes(content)
    with pytest.raises(VolumeReadError, match=r"huge\.mha: truncated or corrupt MetaImage file: header declares "
                                              r"4000x4000x4000 int16 = 119\.2 GiB but the file holds only 48 bytes"):
        read_volume(tmp_path / "huge.mha")


def test_a_small_nifti_still_reads(tmp_path):
    """The size checks do not refuse an ordinary file (the offset and size arithmetic)."""
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "ok.nii")
    shutil.copy(tmp_path / "ok.nii", tmp_path / "copy.nii")
    volume = read_volume(tmp_path / "copy.nii")
    assert isinstance(volume, Volume)
    np.testing.assert_array_equal(volume.array, data.transpose(2, 1, 0))
