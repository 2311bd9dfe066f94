"""Reading and writing medical volumes with their geometry (engine code: no napari, Qt or torch).

:class:`Volume` holds a (Z, Y, X) array with spacing, LPS origin and ITK direction; see
:mod:`napari_evai2i.io.volume` for the conventions. :func:`read_volume` reads NIfTI,
MetaImage, NRRD, single DICOM files (including Enhanced multi-frame) and DICOM series folders;
:func:`read_series_header` gives the header of the series a folder means (no pixels);
:func:`write_volume` and :func:`write_dicom_series` write atomically and never overwrite inputs.
"""

from __future__ import annotations

from ._dicom import SeriesInfo, list_dicom_series, read_series_header
from .errors import VolumeReadError, VolumeWriteError
from .read import SUPPORTED_EXTENSIONS, is_readable_path, read_volume
from .volume import Volume
from .write import SYNTHETIC_NOTICE, write_dicom_series, write_volume

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "SYNTHETIC_NOTICE",
    "SeriesInfo",
    "Volume",
    "VolumeReadError",
    "VolumeWriteError",
    "is_readable_path",
    "list_dicom_series",
    "read_series_header",
    "read_volume",
    "write_dicom_series",
    "write_volume",
]
