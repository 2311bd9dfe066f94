"""Derived DICOM series: one MR Image Storage file per z-slice, written atomically.

Safety rules as in :mod:`.write`: never over or inside an input, an existing non-empty folder
only with ``overwrite=True`` and only when it holds nothing but DICOM files.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._safety import (check_folder_target, check_target, prepare_parent, protected_paths, replace_folder, sync_file,
                      temporary_sibling, write_failure)
from .errors import VolumeWriteError
from .volume import Volume

_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

#: Patient module (copied from the reference, replaced or dropped by ``deidentify``).
_PATIENT_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "OtherPatientIDs",
    "OtherPatientNames",
    "EthnicGroup",
    "PatientComments",
)
#: General Study module and Frame of Reference (copied from the reference).
_STUDY_KEYWORDS = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)
#: Acquisition and equipment tags copied from ``volume.tags`` when valid.
_ACQUISITION_KEYWORDS = (
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "FlipAngle",
    "EchoTrainLength",
    "NumberOfAverages",
    "ImagingFrequency",
    "ImagedNucleus",
    "MagneticFieldStrength",
    "PixelBandwidth",
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "MRAcquisitionType",
    "SequenceName",
    "ProtocolName",
    "ContrastBolusAgent",
    "BodyPartExamined",
    "PatientPosition",
    "Laterality",
    "Manufacturer",
    "ManufacturerModelName",
    "InstitutionName",
    "StationName",
)
#: Emptied by ``deidentify`` (the modules require them); PatientName and PatientID are replaced.
_IDENTIFYING_EMPTY = ("PatientBirthDate", "PatientSex", "ReferringPhysicianName", "AccessionNumber", "StudyID")
_IDENTIFYING_REPLACED = ("PatientName", "PatientID")
#: Dropped by ``deidentify``: every other patient identifier, and the institution's.
_IDENTIFYING_REMOVE = tuple(k for k in _PATIENT_KEYWORDS if k not in _IDENTIFYING_EMPTY + _IDENTIFYING_REPLACED) + (
    "InstitutionName",
    "StationName",
)
_ANONYMOUS = "ANONYMOUS"
#: LUTLabel of the Real World Value Mapping that carries a float series' scale factor.
REAL_WORLD_LABEL = "EVAI2I_FLOAT"


def _encode_pixels(array: np.ndarray, where: Path) -> tuple[np.ndarray, float, float]:
    """Integer pixels plus (slope, intercept) such that ``stored * slope + intercept ~ array``.

    Exact for integer-valued data within int16 or uint16 range (slope 1, intercept 0).
    Otherwise every voxel reads back within ``slope / 2`` and ``slope <= 2 * (max - min) / 65535``;
    zero stays exactly zero whenever the range includes it and that costs at most a factor 2.
    """
    from pydicom.valuerep import DSfloat

    def ds_value(value: float) -> float:  # what a reader will parse back from the DS string
        return float(str(DSfloat(value, auto_format=True)))

    data = np.asarray(array)
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise VolumeWriteError(f"{where}: cannot store {data.dtype} voxels in DICOM")
    if np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        raise VolumeWriteError(f"{where}: volume holds NaN or infinite values; DICOM cannot store them")
    lo, hi = float(data.min()), float(data.max())
    integral = np.issubdtype(data.dtype, np.integer) or bool(np.all(data == np.round(data)))
    if integral and -32768 <= lo and hi <= 32767:
        return data.astype(np.int16), 1.0, 0.0
    if integral and 0 <= lo and hi <= 65535:
        return data.astype(np.uint16), 1.0, 0.0
    values = data.astype(np.float64)
    # Zero-preserving scale (intercept 0) unless an offset scale is more than twice as fine.
    offset_slope = (hi - lo) / 65535.0
    if lo >= 0:
        zero_slope, dtype, low, high = hi / 65535.0, np.uint16, 0, 65535
    else:
        zero_slope, dtype, low, high = max(-lo, hi) / 32767.0, np.int16, -32767, 32767
    if zero_slope <= 2 * offset_slope:
        slope, intercept = ds_value(zero_slope), 0.0
    else:
        slope, intercept, dtype, low, high = ds_value(offset_slope), ds_value(lo), np.uint16, 0, 65535
    stored = np.clip(np.round((values - intercept) / slope), low, high).astype(dtype)
    return stored, slope, intercept


def _real_world_mapping(dtype: np.dtype, slope: float, intercept: float) -> Any:
    """A Real World Value Mapping item: ``value = stored * slope + intercept`` over the whole range."""
    from pydicom.dataset import Dataset

    signed = np.issubdtype(dtype, np.signedinteger)
    info = np.iinfo(dtype)
    item = Dataset()
    item.add_new("RealWorldValueFirstValueMapped", "SS" if signed else "US", int(info.min))
    item.add_new("RealWorldValueLastValueMapped", "SS" if signed else "US", int(info.max))
    item.RealWorldValueIntercept = float(intercept)
    item.RealWorldValueSlope = float(slope)
    item.LUTExplanation = "synthetic intensity, arbitrary units"
    item.LUTLabel = REAL_WORLD_LABEL
    unit = Dataset()
    unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = "[arb'U]", "UCUM", "arbitrary unit"
    item.MeasurementUnitsCodeSequence = [unit]
    return item


def _fill_synthetic_identifiers(base: Any) -> None:
    """Generate PatientID and StudyID where none is known, visibly synthetic and stable per study.

    A series made from a NIfTI or MHA file has no patient: an empty ID makes archives and
    DICOMDIR builders complain, and a real-looking one could be mistaken for a person.
    """
    import hashlib

    key = hashlib.sha256(str(base.StudyInstanceUID).encode()).hexdigest()[:8].upper()
    if not str(base.get("PatientID") or "").strip():
        base.PatientID = f"SYNTHETIC-{key}"
    if not str(base.get("StudyID") or "").strip():
        base.StudyID = f"SYN{key}"


def _element_value(vr: str, value: Any) -> Any:
    """Convert a plain value (or pydicom value) for an element of ``vr``; raise if invalid."""
    from pydicom import config
    from pydicom.multival import MultiValue
    from pydicom.valuerep import DSfloat, validate_value

    items = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    converted = []
    for item in items:
        if item is None or item == "":
            converted.append(item)
            continue
        if vr == "DS":
            item = DSfloat(float(item), auto_format=True)
        elif vr == "IS" or vr in ("US", "SS", "UL", "SL", "UV", "SV"):
            if float(item) != int(float(item)):
                raise ValueError(f"{item!r} is not an integer")
            item = int(float(item))
        elif vr in ("FD", "FL"):
            item = float(item)
        else:
            item = str(item)
        validate_value(vr, str(item) if vr in ("DS", "IS") else item, config.RAISE)
        converted.append(item)
    if not isinstance(value, (list, tuple, MultiValue)):
        return converted[0]
    return converted


def _set_if_valid(ds: Any, keyword: str, value: Any) -> bool:
    """Set ``ds.<keyword>`` when ``keyword`` is a plain DICOM keyword and ``value`` fits its VR."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:
        return False
    vr = dictionary_VR(tag)
    if vr in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN") or " or " in vr:
        return False
    try:
        converted = _element_value(vr, value)
    except (TypeError, ValueError, OverflowError):
        return False
    ds.add_new(tag, vr, converted)
    return True


def _check_text(keyword: str, vr: str, text: str) -> str:
    from pydicom import config
    from pydicom.valuerep import validate_value

    if not isinstance(text, str):
        raise VolumeWriteError(f"{keyword} must be a string, got {type(text).__name__}")
    try:
        validate_value(vr, text, config.RAISE)
    except ValueError as exc:
        raise VolumeWriteError(f"{keyword} {text!r} is not a valid DICOM {vr} value: {exc}") from exc
    return text


def _now() -> tuple[str, str]:
    now = _dt.datetime.now()
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S.%f")


def _source_value(source: Any, keyword: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(keyword)
    element = source.get(keyword)  # pydicom Dataset: raw value with its own VR
    return element


def write_dicom_series(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    series_description: str,
    image_comments: str | None = None,
    derived: bool = True,
    reference: Volume | None = None,
    deidentify: bool = False,
    protect: Sequence[str | os.PathLike[str]] = (),
    overwrite: bool = False,
) -> list[Path]:
    """Write ``volume`` as an MR Image Storage series, one file per z-slice, into ``folder``.

    * New SeriesInstanceUID and SOPInstanceUIDs. Patient and study modules (with
      StudyInstanceUID) and FrameOfReferenceUID come from ``reference`` (its
      ``reference_dataset``, else its ``tags``); without a reference a new study is made and the
      FrameOfReferenceUID is taken from ``volume.tags`` when present.
    * ``deidentify=True`` sets PatientName/PatientID to ``ANONYMOUS``, empties birth date,
      sex, referring physician, accession number and study ID, drops other patient and
      institution identifiers and sets PatientIdentityRemoved. UIDs and dates are kept.
    * ImageType ``DERIVED\\SECONDARY`` when ``derived`` (else ``ORIGINAL\\PRIMARY``).
    * Geometry: ImagePositionPatient per slice from the affine, ImageOrientationPatient from
      the first two direction columns, PixelSpacing ``[sy, sx]``, SpacingBetweenSlices ``sz``.
      Readers order slices along ``row x column``; a volume whose ``k`` axis points the other
      way (left-handed direction) therefore reads back with ``k`` reversed - same image in space.
    * Pixels: int16/uint16 and no Modality LUT (the MR IOD has none, and viewers window stored
      values). Integer data within range are stored exactly; float data are scaled to the integer
      range by one per-series factor, kept in a Real World Value Mapping item (``LUTLabel``
      :data:`REAL_WORLD_LABEL`), so each voxel reads back within ``slope / 2 <= (max - min) / 65535``.
      Window centre and width are in stored units.
    * Conformance (``dciodvfy``): ImageType has value 3 (``OTHER``); PatientPosition is present
      (empty when unknown), Laterality too while BodyPartExamined is unknown; without patient
      data, PatientID and StudyID are generated and say ``SYNTHETIC``; a derived series without acquisition tags says
      ScanningSequence ``RM`` (research mode) with RepetitionTime, EchoTime and the other type 2
      attributes present and empty: no acquisition made the image.
    * Acquisition/equipment tags listed in ``_ACQUISITION_KEYWORDS`` are copied from
      ``volume.tags`` when they are valid for their VR; others are skipped. Modality is MR.
    * ``series_description`` must fit DICOM LO (64 characters, no backslash); ``image_comments``
      (LT, e.g. :data:`SYNTHETIC_NOTICE`) goes into ImageComments of every slice.

    Returns the written file paths in slice order. Raises :class:`VolumeWriteError`.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid
    from pydicom.valuerep import DSfloat

    from .. import __version__

    target = Path(folder).expanduser()
    check_target(target, protected_paths(volume, protect, reference), folder=True)
    _check_text("SeriesDescription", "LO", series_description)
    if image_comments is not None:
        _check_text("ImageComments", "LT", image_comments)
    replace_existing = check_folder_target(target, overwrite)
    stored, slope, intercept = _encode_pixels(volume.array, target)

    def ds_number(value: float) -> DSfloat:
        return DSfloat(float(value), auto_format=True)

    date, time = _now()
    base = Dataset()
    base.SpecificCharacterSet = "ISO_IR 192"

    # Patient, study, frame of reference.
    source: Any = None
    if reference is not None:
        source = reference.reference_dataset if reference.reference_dataset is not None else reference.tags
    for keyword in _PATIENT_KEYWORDS + _STUDY_KEYWORDS:
        value = _source_value(source, keyword)
        if value is not None:
            _set_if_valid(base, keyword, value)
    if "StudyInstanceUID" not in base:
        base.StudyInstanceUID = generate_uid()
        base.StudyDate, base.StudyTime = date, time
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "ReferringPhysicianName", "StudyID", "AccessionNumber"):
        if keyword not in base:
            setattr(base, keyword, "")  # type 2: present, may be empty
    frame_of_reference = _source_value(source, "FrameOfReferenceUID") or volume.tags.get("FrameOfReferenceUID")
    if not frame_of_reference or not _set_if_valid(base, "FrameOfReferenceUID", frame_of_reference):
        base.FrameOfReferenceUID = generate_uid()
    base.PositionReferenceIndicator = ""

    # Acquisition and equipment description of the volume.
    for keyword in _ACQUISITION_KEYWORDS:
        if keyword in volume.tags and volume.tags[keyword] is not None:
            _set_if_valid(base, keyword, volume.tags[keyword])
    if "ScanningSequence" not in base:
        base.ScanningSequence = "RM"  # type 1: "research mode" when unknown
    if "SequenceVariant" not in base:
        base.SequenceVariant = "NONE"
    # Type 2 (and 2C whose condition holds for RM / NONE): present, empty when unknown.
    for keyword in ("ScanOptions", "MRAcquisitionType", "RepetitionTime", "EchoTime", "EchoTrainLength",
                    "Manufacturer", "PatientPosition"):
        if keyword not in base:
            setattr(base, keyword, None)
    if "Laterality" not in base and not str(base.get("BodyPartExamined") or "").strip():
        base.Laterality = None  # 2C: empty while the body part is unknown, absent for an unpaired one

    if deidentify:
        for keyword in _IDENTIFYING_REMOVE:
            if keyword in base:
                delattr(base, keyword)
        for keyword in _IDENTIFYING_EMPTY:
            setattr(base, keyword, "")
        base.PatientName = _ANONYMOUS
        base.PatientID = _ANONYMOUS
        base.PatientIdentityRemoved = "YES"
        base.DeidentificationMethod = "napari-evai2i: identifiers replaced; UIDs, dates kept"

    _fill_synthetic_identifiers(base)

    # Series.
    base.Modality = "MR"
    base.SeriesInstanceUID = generate_uid()
    number = volume.tags.get("SeriesNumber")
    try:
        base.SeriesNumber = 1000 + int(number) if number is not None and 0 <= int(number) < 2**30 else 1000
    except (TypeError, ValueError):
        base.SeriesNumber = 1000
    base.SeriesDescription = series_description
    base.SeriesDate, base.SeriesTime = date, time
    base.SoftwareVersions = f"napari-evai2i {__version__}"

    # Image.
    base.SOPClassUID = _MR_IMAGE_STORAGE
    base.ImageType = ["DERIVED", "SECONDARY", "OTHER"] if derived else ["ORIGINAL", "PRIMARY", "OTHER"]
    base.ContentDate, base.ContentTime = date, time
    base.InstanceCreationDate, base.InstanceCreationTime = date, time
    if derived:
        base.DerivationDescription = (image_comments or series_description)[:1024]
    if image_comments is not None:
        base.ImageComments = image_comments
    base.BurnedInAnnotation = "NO"

    # Geometry (plane module) shared by all slices.
    nz, ny, nx = volume.shape
    sz, sy, sx = volume.spacing
    base.ImageOrientationPatient = [ds_number(v) for v in np.concatenate([volume.direction[:, 0], volume.direction[:, 1]])]
    base.PixelSpacing = [ds_number(sy), ds_number(sx)]
    thickness = volume.tags.get("SliceThickness")
    try:
        thickness = float(thickness) if thickness is not None and float(thickness) > 0 else sz
    except (TypeError, ValueError):
        thickness = sz
    base.SliceThickness = ds_number(thickness)
    base.SpacingBetweenSlices = ds_number(sz)

    # Pixels.
    base.SamplesPerPixel = 1
    base.PhotometricInterpretation = "MONOCHROME2"
    base.Rows, base.Columns = ny, nx
    base.BitsAllocated, base.BitsStored, base.HighBit = 16, 16, 15
    base.PixelRepresentation = 1 if stored.dtype == np.int16 else 0
    if (slope, intercept) != (1.0, 0.0):
        base.RealWorldValueMappingSequence = [_real_world_mapping(stored.dtype, slope, intercept)]
    lo, hi = float(stored.min()), float(stored.max())
    base.WindowCenter = ds_number((lo + hi) / 2)
    base.WindowWidth = ds_number(max(hi - lo, 1.0))

    normal = np.cross(volume.direction[:, 0], volume.direction[:, 1])
    affine = volume.affine_lps
    width = max(4, len(str(nz)))
    names = [f"slice_{k + 1:0{width}d}.dcm" for k in range(nz)]

    prepare_parent(target)
    temporary = temporary_sibling(target)
    try:
        temporary.mkdir()
        for k in range(nz):
            ds = copy.deepcopy(base)
            position = affine @ np.array([0.0, 0.0, float(k), 1.0])
            ds.SOPInstanceUID = generate_uid()
            ds.InstanceNumber = k + 1
            ds.ImagePositionPatient = [ds_number(v) for v in position[:3]]
            ds.SliceLocation = ds_number(float(position[:3] @ normal))
            ds.PixelData = np.ascontiguousarray(stored[k]).astype(stored.dtype.newbyteorder("<")).tobytes()
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = _MR_IMAGE_STORAGE
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
            ds.file_meta = meta
            pydicom.dcmwrite(temporary / names[k], ds, enforce_file_format=True)
            sync_file(temporary / names[k])
        replace_folder(temporary, target, replace_existing)
    except BaseException as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(exc, (VolumeWriteError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, Exception):
            raise write_failure(target, exc, "writing the DICOM series failed") from exc
        raise
    return [target / name for name in names]
