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

import os
from pathlib import Path

import numpy as np

from ._dicom import SeriesInfo, has_dicm_preamble, list_dicom_series
from ._dicom_volume import read_dicom_file, read_dicom_folder
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


def _read_nifti(path: Path) -> Volume:
    import nibabel as nib

    try:
        image = nib.load(str(path), mmap=False)  # no file-backed arrays
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for bad files
        raise VolumeReadError(f"{path}: not a readable NIfTI file: {exc}") from exc
    if data.dtype.fields is not None:
        raise VolumeReadError(f"{path}: RGB/structured NIfTI data ({data.dtype}) is not supported")
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    elif data.ndim == 2:
        data = data[..., np.newaxis]
    if data.ndim != 3:
        raise VolumeReadError(
            f"{path}: {data.ndim}-D NIfTI with shape {data.shape}; only 3-D volumes (or 4-D with "
            "one volume) are supported - extract one volume first"
        )
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    candidates = [image.affine]
    qform = image.get_qform()
    if qform is not None:
        candidates.append(qform)
    errors = []
    for affine in candidates:
        try:
            return Volume.from_ras_affine(array, affine, source_path=str(path))
        except ValueError as exc:
            errors.append(str(exc))
    raise VolumeReadError(f"{path}: unusable NIfTI affine: {'; '.join(errors)}")


def _read_itk(path: Path) -> Volume:
    import SimpleITK as sitk

    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        raise VolumeReadError(f"{path}: SimpleITK cannot read this file: {detail}") from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeReadError(
            f"{path}: {image.GetNumberOfComponentsPerPixel()} components per voxel; only scalar "
            "images are supported"
        )
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
