"""DICOM volumes: classic single-frame series and Enhanced multi-frame files, with geometry.

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

from ._dicom import dataset_to_tags, select_series
from .errors import VolumeReadError
from .volume import Volume

__all__ = ["read_dicom_file", "read_dicom_folder"]

#: Tolerances on geometry read from DS strings.
_ORIENTATION_TOL = 1e-4  # direction cosines
_POSITION_TOL = 1e-4  # mm: two slices closer than this along the normal are "the same position"
_SHEAR_TOL = 1e-3  # sin(angle) between the slice stacking direction and the normal
_SPACING_REL_TOL = 1e-2  # relative deviation of one slice gap from the mean gap


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


def _real_world_of(ds: Dataset) -> tuple[float, float] | None:
    """A linear Real World Value Mapping, used only where no Modality LUT maps the stored values.

    Our own float series carry their scale there (the MR IOD has no Rescale Slope). Where a
    Rescale Slope is present (Philips, for example, writes both) the Modality LUT wins, as before.
    """
    if ds.get("RescaleSlope") is not None or ds.get("RescaleIntercept") is not None:
        return None
    for item in ds.get("RealWorldValueMappingSequence") or ():
        slope, intercept = item.get("RealWorldValueSlope"), item.get("RealWorldValueIntercept")
        if slope is not None:
            try:
                return float(slope), float(intercept or 0.0)
            except (TypeError, ValueError):
                return None
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


# --------------------------------------------------------------------------- readers
def read_dicom_folder(folder: str | os.PathLike[str], series_uid: str | None = None) -> Volume:
    """The volume of one series of a folder (see :func:`select_series`)."""
    path = Path(folder)
    series_uid, members = select_series(path, series_uid)
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

    orientation, spacing, positions = _common_plane(
        where, "slices", labels,
        [_floats(h.get("ImageOrientationPatient"), 6) for h in headers],
        [_floats(h.get("PixelSpacing"), 2) for h in headers],
        [_floats(h.get("ImagePositionPatient"), 3) for h in headers],
        "a localizer or several stacks share this series",
    )
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
        spacing,
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
        rescales.append(None if already_rescaled else _rescale_of(ds) or _real_world_of(ds))
        if reference is None:
            reference = ds
    assert reference is not None
    return _volume(_apply_rescales(frames, rescales), geometry, reference, source_path)


def _volume(data: np.ndarray, geometry: _Geometry, header: Dataset, source_path: str) -> Volume:
    """Stacked frames as a volume; ``header`` gives its tags and is kept without pixel data."""
    return Volume(
        array=data,
        spacing=geometry.spacing_zyx,
        origin=tuple(geometry.origin),
        direction=geometry.direction,
        tags=dataset_to_tags(header),
        reference_dataset=_header_only(header),
        source_path=source_path,
    )


def _common_plane(
    where: str,
    noun: str,
    labels: Sequence[str],
    orientations: list[np.ndarray | None],
    spacings: list[np.ndarray | None],
    positions: list[np.ndarray | None],
    stacks_hint: str,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One orientation and pixel spacing for all slices (or frames), and their (n, 3) positions.

    Raises when slices disagree (``stacks_hint`` says why that happens) or only some have a
    position; a single slice, or slices none of which have one, give ``positions=None``.
    """
    first = orientations[0]
    for label, other in zip(labels, orientations, strict=True):
        if (other is None) != (first is None) or (
            other is not None and np.abs(other - first).max() > _ORIENTATION_TOL
        ):
            raise VolumeReadError(
                f"{where}: {noun} have different orientations ({labels[0]} vs {label}); {stacks_hint}"
            )
    spacing = spacings[0]
    for label, other in zip(labels, spacings, strict=True):
        if (other is None) != (spacing is None) or (
            other is not None and np.abs(other - spacing).max() > 1e-4 * max(1.0, spacing.max())
        ):
            raise VolumeReadError(f"{where}: {noun} have different PixelSpacing ({labels[0]} vs {label})")
    if all(p is not None for p in positions):
        return first, spacing, np.stack(positions)  # type: ignore[arg-type]
    if len(positions) == 1 or all(p is None for p in positions):
        return first, spacing, None
    raise VolumeReadError(f"{where}: some {noun} have no ImagePositionPatient")


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

    orientation, spacing, positions = _common_plane(
        path, "frames", labels,
        _per_frame(ds, n, "PlaneOrientationSequence", "ImageOrientationPatient", 6),
        _per_frame(ds, n, "PixelMeasuresSequence", "PixelSpacing", 2),
        _per_frame(ds, n, "PlanePositionSequence", "ImagePositionPatient", 3),
        "multi-stack multi-frame images are not supported",
    )
    measures = _functional_item(ds, 0, "PixelMeasuresSequence")
    fallback_dz = _first_float(
        measures.get("SpacingBetweenSlices") if measures is not None else None,
        ds.get("SpacingBetweenSlices"),
        measures.get("SliceThickness") if measures is not None else None,
        ds.get("SliceThickness"),
    )
    geometry = _stack_geometry(path, positions, orientation, spacing, fallback_dz, labels)

    rescales = [_rescale_of(_functional_item(ds, f, "PixelValueTransformationSequence")) or _rescale_of(ds) for f in range(n)]
    identity = all(r is None or r == (1.0, 0.0) for r in rescales)
    array, already_rescaled = _decode(ds, path, allow_gdcm_rescaled=identity)
    if array.shape[0] != n or array.ndim != 3:
        raise VolumeReadError(f"{path}: NumberOfFrames is {n} but the pixel data has shape {array.shape}")
    frames = [array[i] for i in geometry.order]
    data = _apply_rescales(frames, [rescales[i] for i in geometry.order] if not already_rescaled else [None] * n)
    return _volume(data, geometry, ds, source_path)
