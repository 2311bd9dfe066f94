"""Read medical volumes into :class:`~napari_evai2i.io.volume.Volume` with their geometry.

* ``.nii`` / ``.nii.gz``: nibabel (RAS affine converted to LPS in :mod:`.volume`).
* ``.mha`` / ``.mhd`` / ``.nrrd`` / ``.nhdr``: SimpleITK (already LPS, ITK conventions).
* one DICOM file (``.dcm``, ``.dicom``, ``.ima``, or any file with the 'DICM' preamble): pydicom;
  an Enhanced multi-frame image becomes one volume with one frame per z-slice.
* a folder: the DICOM series inside it (pydicom), see :func:`list_dicom_series`.

Every failure raises :class:`VolumeReadError` naming the path. nibabel and SimpleITK are
imported on first use so that ``import napari_evai2i.io`` stays cheap for napari's reader hook.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ._dicom import SeriesInfo, has_dicm_preamble, library_detail, list_dicom_series
from ._dicom_volume import read_dicom_file, read_dicom_folder
from ._quiet import captured_native_stderr
from ._size import check_declared_size
from .errors import VolumeReadError
from .volume import Volume

__all__ = [
    "NIFTI_EXTENSIONS",
    "ITK_EXTENSIONS",
    "DICOM_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "SeriesInfo",
    "VolumeReadError",
    "is_readable_path",
    "list_dicom_series",
    "read_volume",
]

NIFTI_EXTENSIONS = (".nii", ".nii.gz")
ITK_EXTENSIONS = (".mha", ".mhd", ".nrrd", ".nhdr")
DICOM_EXTENSIONS = (".dcm", ".dicom", ".ima")
#: File name endings :func:`read_volume` accepts (a folder of DICOM files is accepted too, and
#: so is any file starting with the DICOM preamble whatever its name).
SUPPORTED_EXTENSIONS = NIFTI_EXTENSIONS + ITK_EXTENSIONS + DICOM_EXTENSIONS

#: How many files of a folder :func:`is_readable_path` looks at before giving up.
_PROBE_FILES = 32


def file_extension(path: str | os.PathLike[str]) -> str:
    """The supported extension ``path`` ends with (lower case, ``.nii.gz`` as one), or ``''``."""
    name = Path(path).name.lower()
    for extension in sorted(SUPPORTED_EXTENSIONS, key=len, reverse=True):
        if name.endswith(extension) and len(name) > len(extension):
            return extension
    return ""


def _unsupported_message(path: Path) -> str:
    return (
        f"{path}: unsupported file type; supported: {', '.join(SUPPORTED_EXTENSIONS)}, "
        "a DICOM file (with the 'DICM' preamble) or a folder holding a DICOM series"
    )


def read_volume(path: str | os.PathLike[str], *, series_uid: str | None = None) -> Volume:
    """Read a NIfTI, MetaImage, NRRD or DICOM file, or a folder holding a DICOM series.

    Parameters
    ----------
    path
        File or folder.
    series_uid
        For a folder with several series, the SeriesInstanceUID to read (see
        :func:`list_dicom_series`); without it such a folder raises :class:`VolumeReadError`
        listing the series.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise VolumeReadError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_dicom_folder(path, series_uid)
    extension = file_extension(path)
    if extension in NIFTI_EXTENSIONS:
        volume = _read_nifti(path)
    elif extension in ITK_EXTENSIONS:
        volume = _read_itk(path)
    elif extension in DICOM_EXTENSIONS or has_dicm_preamble(path):
        volume = read_dicom_file(path)
    else:
        raise VolumeReadError(_unsupported_message(path))
    if series_uid is not None and volume.tags.get("SeriesInstanceUID") != series_uid:
        raise VolumeReadError(
            f"{path}: series_uid {series_uid!r} given but the file's SeriesInstanceUID is "
            f"{volume.tags.get('SeriesInstanceUID')!r}"
        )
    return volume


#: Bytes of a NIfTI-1 header; a shorter file cannot be one.
_NIFTI1_HEADER_BYTES = 348


def _complex_message(path: Path, dtype: object) -> str:
    return (
        f"{path}: complex-valued image ({dtype}); napari-evai2i translates real (magnitude) images only, "
        "and casting would silently drop the imaginary part: save the magnitude and open that "
        "(e.g. nibabel: nib.save(nib.Nifti1Image(np.abs(img.get_fdata(dtype=np.complex64)), img.affine), "
        "'magnitude.nii.gz'), or FSL: fslcomplex -realabs in.nii.gz magnitude.nii.gz)"
    )


def _nifti_load_error(path: Path, exc: Exception) -> VolumeReadError:
    """nibabel's load failure as what happened to this file and what to do."""
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    text = str(exc)
    gzipped = path.name.lower().endswith(".gz")
    if size == 0:
        return VolumeReadError(f"{path}: empty file (0 bytes), not a NIfTI image")
    if gzipped and "not a gzip file" in text:
        return VolumeReadError(
            f"{path}: named .nii.gz but not gzip-compressed; if it is a plain NIfTI file, rename it to .nii"
        )
    if gzipped and isinstance(exc, (EOFError, OSError)) or "zlib" in text.lower() or "compressed file ended" in text:
        return VolumeReadError(f"{path}: truncated or corrupt gzip-compressed NIfTI file ({library_detail(exc, path)})")
    if size is not None and not gzipped and size < _NIFTI1_HEADER_BYTES:
        return VolumeReadError(
            f"{path}: {size} bytes, too short for a NIfTI header ({_NIFTI1_HEADER_BYTES} bytes): truncated, "
            "or not a NIfTI file"
        )
    if "Cannot work out file type" in text:
        return VolumeReadError(
            f"{path}: not a NIfTI file (no valid NIfTI-1 or NIfTI-2 header); check that this is the image you meant"
        )
    return VolumeReadError(f"{path}: unreadable NIfTI header: {_nifti_detail(exc, path)}")


def _read_nifti(path: Path) -> Volume:
    import nibabel as nib

    # nibabel logs the header fields it fixes (on load, and when copying headers) straight to
    # the terminal; the reader's own checks say what matters.
    logger = nib.imageglobals.logger
    saved = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        return _read_nifti_quietly(path)
    finally:
        logger.setLevel(saved)


def _read_nifti_quietly(path: Path) -> Volume:
    import nibabel as nib

    try:
        image = nib.load(str(path), mmap=False)  # no file-backed arrays
        header = image.header
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = np.dtype(header.get_data_dtype())
        offset = int(getattr(image.dataobj, "offset", header.get_data_offset()))  # where reading starts
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for bad files
        raise _nifti_load_error(path, exc) from exc
    if dtype.kind == "c":
        raise VolumeReadError(_complex_message(path, dtype))
    if dtype.fields is not None:
        raise VolumeReadError(f"{path}: RGB/structured NIfTI data ({dtype}) is not supported")
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    elif len(shape) == 2:
        shape = shape + (1,)
    if len(shape) != 3:
        raise VolumeReadError(
            f"{path}: {len(shape)}-D NIfTI with shape {shape}; only 3-D volumes (or 4-D with "
            "one volume) are supported - extract one volume first (e.g. fslroi in.nii.gz vol0.nii.gz 0 1)"
        )
    if min(shape) < 1:
        raise VolumeReadError(f"{path}: header declares an empty image (shape {shape}): corrupt header")
    in_file = None if path.name.lower().endswith(".gz") else path.stat().st_size - offset
    check_declared_size(path, shape, dtype, data_bytes_in_file=in_file, kind="NIfTI")
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # noqa: BLE001 - short data, bad gzip stream, bad scaling...
        text = str(exc)
        if "Expected" in text and "bytes" in text or isinstance(exc, EOFError) or "zlib" in text.lower():
            raise VolumeReadError(
                f"{path}: truncated or corrupt NIfTI file: the voxel data end early ({library_detail(exc, path)})"
            ) from exc
        raise VolumeReadError(f"{path}: NIfTI voxel data cannot be read: {library_detail(exc, path)}") from exc
    data = data.reshape(data.shape[:3] if data.ndim == 4 else data.shape + (1,) * (3 - data.ndim))
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    errors = []
    for label, affine_of in (("affine", lambda: image.affine), ("qform", image.get_qform)):
        try:
            affine = affine_of()
            if affine is not None:
                return Volume.from_ras_affine(array, affine, source_path=str(path))
        except Exception as exc:  # noqa: BLE001 - garbage quaternions, NaN scales
            errors.append(f"{label}: {_nifti_detail(exc, path)}")
    raise VolumeReadError(f"{path}: unusable NIfTI affine: {'; '.join(errors)}")


def _nifti_detail(exc: BaseException, path: Path) -> str:
    """nibabel's words for a bad header field, said as which field is wrong."""
    text = library_detail(exc, path)
    if "should be positive, but is" in text:
        return "the qform quaternion (quatern_b, quatern_c, quatern_d) has length above 1: corrupt header"
    if "convert float NaN to integer" in text:
        return "a header field that must be a whole number (e.g. vox_offset) is NaN: corrupt header"
    return text


#: SimpleITK pixel types as numpy types (vector types count their components separately).
def _itk_dtype(pixel_id: int) -> np.dtype | None:
    import SimpleITK as sitk

    table = {
        sitk.sitkUInt8: np.uint8, sitk.sitkInt8: np.int8, sitk.sitkUInt16: np.uint16, sitk.sitkInt16: np.int16,
        sitk.sitkUInt32: np.uint32, sitk.sitkInt32: np.int32, sitk.sitkUInt64: np.uint64, sitk.sitkInt64: np.int64,
        sitk.sitkFloat32: np.float32, sitk.sitkFloat64: np.float64,
        sitk.sitkComplexFloat32: np.complex64, sitk.sitkComplexFloat64: np.complex128,
        sitk.sitkVectorUInt8: np.uint8, sitk.sitkVectorInt8: np.int8, sitk.sitkVectorUInt16: np.uint16,
        sitk.sitkVectorInt16: np.int16, sitk.sitkVectorUInt32: np.uint32, sitk.sitkVectorInt32: np.int32,
        sitk.sitkVectorFloat32: np.float32, sitk.sitkVectorFloat64: np.float64,
    }
    found = table.get(pixel_id)
    return np.dtype(found) if found is not None else None


def _text_header(path: Path, separator: str, data_key: str) -> tuple[dict[str, str], int] | None:
    """Keys and the byte where data begin, of a MetaImage (``key = value`` up to ElementDataFile)
    or NRRD (``key: value`` up to a blank line) header; None when it cannot be found."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    fields: dict[str, str] = {}
    position = 0
    for raw in head.splitlines(keepends=True):
        position += len(raw)
        line = raw.decode("latin-1").strip()
        if separator == ":" and not line:
            return fields, position
        key, sep, value = line.partition(separator)
        if sep:
            fields[key.strip().lower()] = value.strip()
            if key.strip().lower() == data_key:
                return fields, position
    return None


def _itk_data_bytes(path: Path, extension: str) -> int | None:
    """Bytes of uncompressed voxel data a MetaImage/NRRD file holds, None when not knowable cheaply."""
    if extension in (".mha", ".mhd"):
        found = _text_header(path, "=", "elementdatafile")
        if found is None:
            return None
        fields, end = found
        if fields.get("compresseddata", "false").lower() == "true":
            return None
        where = fields.get("elementdatafile", "")
        if where.upper() == "LOCAL":
            return path.stat().st_size - end
        data = path.parent / where
        return data.stat().st_size if data.is_file() else None
    if extension == ".nrrd":
        found = _text_header(path, ":", "")
        if found is None:
            return None
        fields, end = found
        if fields.get("encoding", "").lower() != "raw" or "data file" in fields or "datafile" in fields:
            return None
        return path.stat().st_size - end
    return None


def _itk_failure(path: Path, extension: str, console: list[str], exc: Exception) -> VolumeReadError:
    kind = "MetaImage" if extension in (".mha", ".mhd") else "NRRD"
    text = str(exc)
    if "Unable to determine ImageIO reader" in text:
        return VolumeReadError(
            f"{path}: not a {kind} file (no {kind} header ITK can read); check that this is the image you meant"
        )
    # ITK's own console lines hold the cause; else the last line of the exception (the first
    # is a source file location). "No such file or directory" is a stale errno, not the cause.
    lines = console or [line.strip() for line in text.splitlines() if line.strip()][-1:]
    lines = [line.removeprefix("[nrrd] ") for line in lines if "No such file or directory" not in line]
    detail = f" (ITK: {' '.join(lines)[:240]})" if lines else ""
    return VolumeReadError(f"{path}: truncated or corrupt {kind} file{detail}")


def _read_itk(path: Path) -> Volume:
    import SimpleITK as sitk

    extension = file_extension(path)
    if path.stat().st_size == 0:
        raise VolumeReadError(f"{path}: empty file (0 bytes), not an image")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        with captured_native_stderr() as console:
            reader.ReadImageInformation()
    except RuntimeError as exc:
        raise _itk_failure(path, extension, console.lines, exc) from exc
    size = tuple(int(n) for n in reader.GetSize())
    dtype = _itk_dtype(reader.GetPixelID())
    components = int(reader.GetNumberOfComponents())
    if dtype is not None and dtype.kind == "c":
        raise VolumeReadError(_complex_message(path, dtype))
    if components != 1:
        raise VolumeReadError(
            f"{path}: {components} components per voxel (a vector, colour, or complex image stored as "
            "channels); only scalar images are supported: save one channel, or the magnitude, and open that"
        )
    if dtype is not None and min(size) >= 1:
        check_declared_size(path, size, dtype, data_bytes_in_file=_itk_data_bytes(path, extension),
                            kind="MetaImage" if extension in (".mha", ".mhd") else "NRRD")
    try:
        with captured_native_stderr() as console:
            image = reader.Execute()
    except RuntimeError as exc:
        raise _itk_failure(path, extension, console.lines, exc) from exc
    size = image.GetSize()
    if image.GetDimension() == 4 and size[3] == 1:
        image = sitk.Extract(image, [size[0], size[1], size[2], 0], [0, 0, 0, 0])
    elif image.GetDimension() == 2:
        image = sitk.JoinSeries([image])
    if image.GetDimension() != 3:
        raise VolumeReadError(
            f"{path}: {image.GetDimension()}-D image of size {size}; only 3-D volumes are supported"
        )
    try:
        return Volume(
            array=sitk.GetArrayFromImage(image),
            spacing=image.GetSpacing()[::-1],
            origin=image.GetOrigin(),
            direction=np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3),
            source_path=str(path),
        )
    except ValueError as exc:
        raise VolumeReadError(f"{path}: unusable geometry: {exc}") from exc


def is_readable_path(path: object) -> bool:
    """Cheap guess whether :func:`read_volume` can read ``path``; never raises.

    True for a supported extension, a file with the DICOM preamble, or a folder with such a
    file among its first entries. Lists of paths are not handled (False).
    """
    try:
        if not isinstance(path, (str, os.PathLike)):
            return False
        candidate = Path(path)
        if candidate.is_dir():
            with os.scandir(candidate) as entries:
                for index, entry in enumerate(entries):
                    if index >= _PROBE_FILES:
                        break
                    if entry.is_file() and not entry.name.startswith(".") and has_dicm_preamble(entry.path):
                        return True
            return False
        if file_extension(candidate):
            return True
        return candidate.is_file() and has_dicm_preamble(candidate)
    except Exception:  # noqa: BLE001 - a reader hook must never raise
        return False
