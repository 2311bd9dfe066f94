"""DICOM reading: series discovery, classic single-frame series and Enhanced multi-frame files.

pydicom parses headers and decodes pixels; SimpleITK (GDCM) is used only to decode a
transfer syntax pydicom has no plugin for. Slices are ordered by their position projected
on the slice normal ``row x column`` (never by file name or InstanceNumber when positions
exist), which makes the ``k`` axis of the volume point along that normal.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from .errors import VolumeReadError
from .volume import Volume

__all__ = [
    "SeriesInfo",
    "dataset_to_tags",
    "has_dicm_preamble",
    "list_dicom_series",
    "read_dicom_file",
    "read_dicom_folder",
]

#: Value representations that hold bytes or nested datasets; never copied into ``tags``.
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "SQ"})
#: Per-slice or already-applied values that do not describe the series as a whole.
_PER_INSTANCE_KEYWORDS = frozenset(
    {
        "SOPInstanceUID",
        "InstanceNumber",
        "ImagePositionPatient",
        "SliceLocation",
        "RescaleSlope",
        "RescaleIntercept",
        "RescaleType",
        "SmallestImagePixelValue",
        "LargestImagePixelValue",
        "InstanceCreationDate",
        "InstanceCreationTime",
    }
)
#: Tolerances on geometry read from DS strings.
_ORIENTATION_TOL = 1e-4  # direction cosines
_POSITION_TOL = 1e-4  # mm: two slices closer than this along the normal are "the same position"
_SHEAR_TOL = 1e-3  # sin(angle) between the slice stacking direction and the normal
_SPACING_REL_TOL = 1e-2  # relative deviation of one slice gap from the mean gap


@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series found in a folder."""

    uid: str
    description: str
    modality: str
    n_files: int
    files: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.uid} {self.description!r} ({self.modality or '?'}, {self.n_files} files)"


# --------------------------------------------------------------------------- small helpers
def has_dicm_preamble(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file with the 'DICM' marker at byte 128 (never raises)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _plain(value: Any) -> Any:
    """A pydicom element value as a JSON-serialisable Python value, or ``_SKIP``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (bytes, bytearray, Dataset)):
        return _SKIP
    if isinstance(value, (MultiValue, list, tuple)):
        items = [_plain(v) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, float):  # DSfloat and FD/FL
        return float(value)
    if isinstance(value, int):  # IS and US/SS/UL/SL
        return int(value)
    if isinstance(value, str):  # UID, plain strings
        return str(value)
    try:  # DSdecimal and other numeric wrappers
        return float(value)
    except (TypeError, ValueError):
        return _SKIP


_SKIP = object()


def dataset_to_tags(ds: Dataset) -> dict[str, Any]:
    """Top-level public elements of ``ds`` as ``{keyword: plain value}``.

    Sequences, binary elements, private tags and per-slice values are left out.
    """
    tags: dict[str, Any] = {}
    for element in ds:
        keyword = element.keyword
        if not keyword or element.tag.is_private or element.VR in _BINARY_VRS:
            continue
        if keyword in _PER_INSTANCE_KEYWORDS or element.tag.group == 0x7FE0:
            continue
        value = _plain(element.value)
        if value is not _SKIP:
            tags[keyword] = value
    return tags


def _floats(value: Any, count: int) -> np.ndarray | None:
    """``value`` as ``count`` floats, or None when absent/malformed."""
    if value is None:
        return None
    try:
        result = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if result.shape != (count,) or not np.all(np.isfinite(result)):
        return None
    return result


def _first_float(*values: Any) -> float | None:
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if np.isfinite(number) and number > 0:
            return number
    return None


# --------------------------------------------------------------------------- geometry
@dataclass
class _Geometry:
    order: np.ndarray  # permutation of slices/frames into k order
    origin: np.ndarray
    direction: np.ndarray
    spacing_zyx: tuple[float, float, float]


def _stack_geometry(
    where: str,
    positions: np.ndarray | None,
    orientation: np.ndarray | None,
    pixel_spacing: np.ndarray | None,
    fallback_dz: float | None,
    labels: Sequence[str],
) -> _Geometry:
    """Order slices along the normal and derive origin, direction and spacing.

    ``positions`` is (n, 3) LPS mm per slice (or None), ``orientation`` the 6 DICOM direction
    cosines (row direction, then column direction), ``pixel_spacing`` DICOM's
    ``[row spacing, column spacing]`` = ``[sy, sx]``. ``labels`` names slices in messages.
    """
    n = len(labels)
    missing = []
    if orientation is None:
        missing.append("ImageOrientationPatient")
        orientation = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    if pixel_spacing is None or not np.all(pixel_spacing > 0):
        missing.append("PixelSpacing")
        pixel_spacing = np.array([1.0, 1.0])
    if positions is None:
        missing.append("ImagePositionPatient")
    row, col = orientation[:3], orientation[3:]
    row_norm, col_norm = np.linalg.norm(row), np.linalg.norm(col)
    if row_norm == 0 or col_norm == 0 or abs(row @ col) > 1e-3 * row_norm * col_norm:
        raise VolumeReadError(
            f"{where}: ImageOrientationPatient {orientation.tolist()} is not two orthogonal "
            "direction vectors"
        )
    row, col = row / row_norm, col / col_norm
    normal = np.cross(row, col)

    if positions is None:
        order = np.arange(n)
        origin = np.zeros(3)
        dz = fallback_dz or 1.0
    else:
        projections = positions @ normal
        order = np.argsort(projections, kind="stable")
        sorted_proj = projections[order]
        gaps = np.diff(sorted_proj)
        if n > 1 and gaps.min() < _POSITION_TOL:
            dup = int(np.argmin(gaps))
            raise VolumeReadError(
                f"{where}: slices {labels[order[dup]]} and {labels[order[dup + 1]]} lie at the same "
                "position; the series holds several volumes (echoes, time points or stacks), "
                "which is not supported"
            )
        origin = positions[order[0]]
        if n > 1:
            dz = float((sorted_proj[-1] - sorted_proj[0]) / (n - 1))
            deviation = np.abs(gaps - dz).max()
            if deviation > _SPACING_REL_TOL * dz:
                raise VolumeReadError(
                    f"{where}: slice gaps are not uniform ({gaps.min():.4g} to {gaps.max():.4g} mm); "
                    "slices are missing or the series mixes stacks"
                )
            stacking = positions[order[-1]] - positions[order[0]]
            stacking = stacking / np.linalg.norm(stacking)
            if np.linalg.norm(np.cross(stacking, normal)) > _SHEAR_TOL:
                raise VolumeReadError(
                    f"{where}: slices are not stacked along their normal (gantry tilt or shear); "
                    "such series cannot be represented without resampling"
                )
        else:
            dz = fallback_dz or 1.0
    if missing:
        warnings.warn(
            f"{where}: no {', '.join(missing)}; geometry is incomplete "
            "(identity orientation / 1 mm / zero origin assumed where missing)",
            UserWarning,
            stacklevel=4,
        )
    direction = np.column_stack([row, col, normal])
    spacing_zyx = (float(dz), float(pixel_spacing[0]), float(pixel_spacing[1]))
    return _Geometry(order=order, origin=np.asarray(origin, float), direction=direction, spacing_zyx=spacing_zyx)


# --------------------------------------------------------------------------- pixels
def _rescale_of(item: Dataset | None) -> tuple[float, float] | None:
    if item is None:
        return None
    slope, intercept = item.get("RescaleSlope"), item.get("RescaleIntercept")
    if slope is None and intercept is None:
        return None
    try:
        return (float(slope) if slope is not None else 1.0, float(intercept) if intercept is not None else 0.0)
    except (TypeError, ValueError):
        return None


def _decode(ds: Dataset, path: str, *, allow_gdcm_rescaled: bool) -> tuple[np.ndarray, bool]:
    """Decode pixel data; returns (array, already_rescaled)."""
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise VolumeReadError(f"{path}: colour DICOM images (SamplesPerPixel > 1) are not supported")
    try:
        return np.asarray(ds.pixel_array), False
    except Exception as exc:  # pydicom reports missing decoders and bad data in various types
        pydicom_error = exc
    transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if transfer_syntax is None or not transfer_syntax.is_compressed:
        raise VolumeReadError(f"{path}: cannot decode pixel data: {pydicom_error}") from pydicom_error
    import SimpleITK as sitk  # GDCM inside SimpleITK decodes JPEG-LS and friends

    try:
        array = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    except RuntimeError as exc:
        raise VolumeReadError(
            f"{path}: cannot decode {transfer_syntax.name} pixel data (pydicom: {pydicom_error}; "
            f"GDCM: {str(exc).strip().splitlines()[-1]})"
        ) from exc
    # GDCM applies a top-level rescale itself; anything else would be applied twice.
    if not allow_gdcm_rescaled:
        raise VolumeReadError(
            f"{path}: {transfer_syntax.name} pixel data with a per-frame rescale needs a pydicom "
            "decoder plugin (pylibjpeg or python-gdcm)"
        )
    return array, _rescale_of(ds) not in (None, (1.0, 0.0))


def _apply_rescales(frames: list[np.ndarray], rescales: list[tuple[float, float] | None]) -> np.ndarray:
    """Stack frames; float32 ``stored * slope + intercept`` unless every rescale is identity."""
    if all(r is None or r == (1.0, 0.0) for r in rescales):
        return np.stack(frames)
    out = np.empty((len(frames),) + frames[0].shape, dtype=np.float32)
    for index, (frame, rescale) in enumerate(zip(frames, rescales, strict=True)):
        slope, intercept = rescale or (1.0, 0.0)
        out[index] = frame.astype(np.float64) * slope + intercept
    return out


def _header_only(ds: Dataset) -> Dataset:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in ds:
            delattr(ds, keyword)
    return ds


# --------------------------------------------------------------------------- discovery
def _candidate_files(folder: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise VolumeReadError(f"{folder}: cannot list folder: {exc}") from exc
    return [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_file()]


def _scan(folder: Path) -> dict[str, list[tuple[str, Dataset]]]:
    """Headers of the DICOM image files directly inside ``folder``, grouped by series UID."""
    groups: dict[str, list[tuple[str, Dataset]]] = {}
    seen: set[str] = set()
    for path in _candidate_files(folder):
        if not has_dicm_preamble(path):
            continue
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - unreadable files are ignored like non-DICOM ones
            continue
        if header.get("Rows") is None or header.get("Columns") is None:
            continue  # DICOMDIR, structured reports, presentation states...
        instance = str(header.get("SOPInstanceUID", "") or "")
        if instance and instance in seen:
            continue  # the same image copied twice
        seen.add(instance)
        uid = str(header.get("SeriesInstanceUID", "") or "")
        groups.setdefault(uid, []).append((str(path), header))
    return groups


def _series_info(uid: str, members: list[tuple[str, Dataset]]) -> SeriesInfo:
    header = members[0][1]
    return SeriesInfo(
        uid=uid,
        description=str(header.get("SeriesDescription", "") or ""),
        modality=str(header.get("Modality", "") or ""),
        n_files=len(members),
        files=tuple(path for path, _ in members),
    )


def _series_sort_key(item: tuple[str, list[tuple[str, Dataset]]]) -> tuple[int, str]:
    number = item[1][0][1].get("SeriesNumber")
    try:
        return (int(number), item[0])
    except (TypeError, ValueError):
        return (2**31, item[0])


def list_dicom_series(folder: str | os.PathLike[str]) -> list[SeriesInfo]:
    """The DICOM image series directly inside ``folder`` (sub-folders are not searched).

    Files without the DICOM preamble, hidden files and non-image objects are ignored.
    """
    path = Path(folder)
    if not path.is_dir():
        raise VolumeReadError(f"{path}: not a folder" if path.exists() else f"{path}: no such folder")
    groups = _scan(path)
    return [_series_info(uid, members) for uid, members in sorted(groups.items(), key=_series_sort_key)]


# --------------------------------------------------------------------------- readers
def read_dicom_folder(folder: str | os.PathLike[str], series_uid: str | None = None) -> Volume:
    path = Path(folder)
    groups = _scan(path)
    if not groups:
        subfolders = [p.name for p in path.iterdir() if p.is_dir()] if path.is_dir() else []
        hint = f" (it has sub-folders: {', '.join(sorted(subfolders)[:5])}; open one of them)" if subfolders else ""
        raise VolumeReadError(f"{path}: no DICOM image files in this folder{hint}")
    if series_uid is None:
        if len(groups) > 1:
            listing = "\n".join(
                f"  - {_series_info(uid, members)}" for uid, members in sorted(groups.items(), key=_series_sort_key)
            )
            raise VolumeReadError(
                f"{path}: folder holds {len(groups)} DICOM series; choose one with series_uid=...:\n{listing}"
            )
        series_uid = next(iter(groups))
    elif series_uid not in groups:
        raise VolumeReadError(
            f"{path}: no series with SeriesInstanceUID {series_uid!r}; found: {', '.join(sorted(groups))}"
        )
    members = groups[series_uid]
    where = f"{path} (series {series_uid})"
    multi_frame = [p for p, header in members if int(header.get("NumberOfFrames", 1) or 1) > 1]
    if multi_frame:
        if len(members) == 1:
            return read_dicom_file(multi_frame[0], source_path=str(path))
        raise VolumeReadError(
            f"{where}: {len(multi_frame)} of {len(members)} files are multi-frame; open the multi-frame "
            "file itself"
        )
    return _read_classic(where, members, source_path=str(path))


def read_dicom_file(path: str | os.PathLike[str], *, source_path: str | None = None) -> Volume:
    """One DICOM file: a single slice, or every frame of a multi-frame (Enhanced) image."""
    path = str(path)
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001 - pydicom raises several types for bad files
        raise VolumeReadError(f"{path}: not a readable DICOM file: {exc}") from exc
    if ds.get("Rows") is None or ds.get("Columns") is None or "PixelData" not in ds:
        raise VolumeReadError(f"{path}: DICOM file holds no image (no Rows/Columns/PixelData)")
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        return _read_multiframe(path, ds, source_path=source_path or path)
    return _read_classic(path, [(path, ds)], source_path=source_path or path, datasets={path: ds})


def _read_classic(
    where: str,
    members: list[tuple[str, Dataset]],
    *,
    source_path: str,
    datasets: dict[str, Dataset] | None = None,
) -> Volume:
    labels = [os.path.basename(p) for p, _ in members]
    headers = [h for _, h in members]
    sizes = {(int(h.Rows), int(h.Columns)) for h in headers}
    if len(sizes) > 1:
        by_size = {}
        for label, h in zip(labels, headers, strict=True):
            by_size.setdefault((int(h.Rows), int(h.Columns)), label)
        detail = ", ".join(f"{r}x{c} in {name}" for (r, c), name in by_size.items())
        raise VolumeReadError(f"{where}: inconsistent slice sizes: {detail}")

    orientations = [_floats(h.get("ImageOrientationPatient"), 6) for h in headers]
    orientation = orientations[0]
    for label, other in zip(labels, orientations, strict=True):
        if (other is None) != (orientation is None) or (
            other is not None and np.abs(other - orientation).max() > _ORIENTATION_TOL
        ):
            raise VolumeReadError(
                f"{where}: slices have different orientations ({labels[0]} vs {label}); "
                "a localizer or several stacks share this series"
            )
    spacings = [_floats(h.get("PixelSpacing"), 2) for h in headers]
    for label, other in zip(labels, spacings, strict=True):
        if (other is None) != (spacings[0] is None) or (
            other is not None and np.abs(other - spacings[0]).max() > 1e-4 * max(1.0, spacings[0].max())
        ):
            raise VolumeReadError(f"{where}: slices have different PixelSpacing ({labels[0]} vs {label})")

    positions_list = [_floats(h.get("ImagePositionPatient"), 3) for h in headers]
    if all(p is not None for p in positions_list):
        positions = np.stack(positions_list)  # type: ignore[arg-type]
    elif len(headers) == 1 or all(p is None for p in positions_list):
        positions = None
    else:
        raise VolumeReadError(f"{where}: some slices have no ImagePositionPatient")
    if positions is None and len(headers) > 1:
        # Without positions the only order left is the acquisition numbering.
        numbers = [h.get("InstanceNumber") for h in headers]
        order = np.argsort([int(n) if n is not None else i for i, n in enumerate(numbers)], kind="stable")
        members = [members[i] for i in order]
        labels = [labels[i] for i in order]
        headers = [headers[i] for i in order]
    first = headers[0]
    geometry = _stack_geometry(
        where,
        positions,
        orientation,
        spacings[0],
        _first_float(first.get("SpacingBetweenSlices"), first.get("SliceThickness")),
        labels,
    )

    frames: list[np.ndarray] = []
    rescales: list[tuple[float, float] | None] = []
    reference: Dataset | None = None
    for index in geometry.order:
        file_path = members[index][0]
        ds = (datasets or {}).get(file_path)
        if ds is None:
            try:
                ds = pydicom.dcmread(file_path)
            except Exception as exc:  # noqa: BLE001
                raise VolumeReadError(f"{file_path}: not a readable DICOM file: {exc}") from exc
        array, already_rescaled = _decode(ds, file_path, allow_gdcm_rescaled=True)
        if array.ndim != 2:
            raise VolumeReadError(f"{file_path}: expected one 2-D frame, got pixel array of shape {array.shape}")
        frames.append(array)
        rescales.append(None if already_rescaled else _rescale_of(ds))
        if reference is None:
            reference = ds
    data = _apply_rescales(frames, rescales)
    assert reference is not None
    return Volume(
        array=data,
        spacing=geometry.spacing_zyx,
        origin=tuple(geometry.origin),
        direction=geometry.direction,
        tags=dataset_to_tags(reference),
        reference_dataset=_header_only(reference),
        source_path=source_path,
    )


def _functional_item(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """The item of functional group ``sequence`` for ``frame``: per-frame first, then shared."""
    for groups_keyword, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(groups_keyword)
        if groups is not None and len(groups) > index:
            inner = groups[index].get(sequence)
            if inner:
                return inner[0]
    return None


def _per_frame(ds: Dataset, n: int, sequence: str, keyword: str, count: int) -> list[np.ndarray | None]:
    values = []
    for frame in range(n):
        item = _functional_item(ds, frame, sequence)
        value = item.get(keyword) if item is not None else None
        if value is None:
            value = ds.get(keyword)
        values.append(_floats(value, count))
    return values


def _read_multiframe(path: str, ds: Dataset, *, source_path: str) -> Volume:
    n = int(ds.NumberOfFrames)
    labels = [f"frame {i + 1}" for i in range(n)]

    orientations = _per_frame(ds, n, "PlaneOrientationSequence", "ImageOrientationPatient", 6)
    orientation = orientations[0]
    for label, other in zip(labels, orientations, strict=True):
        if (other is None) != (orientation is None) or (
            other is not None and np.abs(other - orientation).max() > _ORIENTATION_TOL
        ):
            raise VolumeReadError(
                f"{path}: frames have different orientations (frame 1 vs {label}); "
                "multi-stack multi-frame images are not supported"
            )
    spacings = _per_frame(ds, n, "PixelMeasuresSequence", "PixelSpacing", 2)
    for label, other in zip(labels, spacings, strict=True):
        if (other is None) != (spacings[0] is None) or (
            other is not None and np.abs(other - spacings[0]).max() > 1e-4 * max(1.0, spacings[0].max())
        ):
            raise VolumeReadError(f"{path}: frames have different PixelSpacing (frame 1 vs {label})")
    positions_list = _per_frame(ds, n, "PlanePositionSequence", "ImagePositionPatient", 3)
    if all(p is not None for p in positions_list):
        positions = np.stack(positions_list)  # type: ignore[arg-type]
    elif all(p is None for p in positions_list):
        positions = None
    else:
        raise VolumeReadError(f"{path}: some frames have no ImagePositionPatient")
    measures = _functional_item(ds, 0, "PixelMeasuresSequence")
    fallback_dz = _first_float(
        measures.get("SpacingBetweenSlices") if measures is not None else None,
        ds.get("SpacingBetweenSlices"),
        measures.get("SliceThickness") if measures is not None else None,
        ds.get("SliceThickness"),
    )
    geometry = _stack_geometry(path, positions, orientation, spacings[0], fallback_dz, labels)

    rescales = [_rescale_of(_functional_item(ds, f, "PixelValueTransformationSequence")) or _rescale_of(ds) for f in range(n)]
    identity = all(r is None or r == (1.0, 0.0) for r in rescales)
    array, already_rescaled = _decode(ds, path, allow_gdcm_rescaled=identity)
    if array.shape[0] != n or array.ndim != 3:
        raise VolumeReadError(f"{path}: NumberOfFrames is {n} but the pixel data has shape {array.shape}")
    frames = [array[i] for i in geometry.order]
    data = _apply_rescales(frames, [rescales[i] for i in geometry.order] if not already_rescaled else [None] * n)
    return Volume(
        array=data,
        spacing=geometry.spacing_zyx,
        origin=tuple(geometry.origin),
        direction=geometry.direction,
        tags=dataset_to_tags(ds),
        reference_dataset=_header_only(ds),
        source_path=source_path,
    )
