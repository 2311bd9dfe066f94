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
from pydicom.dataset import Dataset

from ._dicom import dataset_to_tags, library_detail, read_dataset, select_series
from ._quiet import captured_native_stderr
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


def _int_tag(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    """An integer element, or ``default`` when absent; malformed values are the file's fault."""
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise VolumeReadError(f"{ds.filename or 'DICOM file'}: {keyword} {value!r} is not an integer: the header "
                              "is corrupt") from None


def _pixel_description(ds: Dataset, path: str) -> tuple[int, int, int, int]:
    """(rows, columns, frames, bits allocated), refused where no image can have them."""
    rows, columns = _int_tag(ds, "Rows", 0), _int_tag(ds, "Columns", 0)
    frames = _int_tag(ds, "NumberOfFrames", 1) or 1
    bits = _int_tag(ds, "BitsAllocated", None)
    stored = _int_tag(ds, "BitsStored", bits)
    if not rows or not columns or rows < 0 or columns < 0 or frames < 0:
        raise VolumeReadError(f"{path}: image header declares {rows} rows x {columns} columns x {frames} frames; "
                              "the file is corrupt")
    if bits not in (1, 8, 16, 32, 64):
        raise VolumeReadError(f"{path}: BitsAllocated is {bits}; a DICOM image has 1, 8, 16, 32 or 64: the "
                              "header is corrupt")
    if stored is None or not 1 <= stored <= bits:
        raise VolumeReadError(f"{path}: BitsStored {stored} does not fit BitsAllocated {bits}: the header is corrupt")
    if _int_tag(ds, "PixelRepresentation", 0) not in (0, 1):
        raise VolumeReadError(f"{path}: PixelRepresentation {ds.get('PixelRepresentation')!r} is neither 0 "
                              "(unsigned) nor 1 (signed): the header is corrupt")
    return rows, columns, frames, bits


def _is_encapsulated(ds: Dataset) -> bool:
    element = ds["PixelData"]
    value = element.value
    return bool(getattr(element, "is_undefined_length", False)) or (
        isinstance(value, (bytes, bytearray)) and value[:4] == b"\xfe\xff\x00\xe0"
    )


def _check_pixel_bytes(ds: Dataset, path: str, syntax: Any, description: tuple[int, int, int, int]) -> None:
    """Refuse pixel data whose form contradicts the declared transfer syntax or image size."""
    if "PixelData" not in ds:
        return  # float pixel data: pydicom checks it
    rows, columns, frames, bits = description
    encapsulated = _is_encapsulated(ds)
    if syntax.is_compressed and not encapsulated:
        raise VolumeReadError(
            f"{path}: the transfer syntax says {syntax.name} (compressed) but the pixel data are stored "
            "uncompressed (not encapsulated); the file was written wrongly: ask for it to be exported "
            "again, or fix its TransferSyntaxUID with a DICOM tool"
        )
    if syntax.is_compressed:
        return
    if encapsulated:
        raise VolumeReadError(
            f"{path}: the transfer syntax says {syntax.name} (uncompressed) but the pixel data are "
            "encapsulated (compressed); the file's TransferSyntaxUID is wrong"
        )
    voxels = rows * columns * frames
    needed = (voxels + 7) // 8 if bits == 1 else voxels * bits // 8
    held = len(ds.PixelData)
    if held < needed:
        raise VolumeReadError(
            f"{path}: pixel data holds {held} bytes but the header's {rows} x {columns} x {frames} frame(s) at "
            f"{bits} bits need {needed}: the file is truncated, or its Rows/Columns/BitsAllocated/"
            "NumberOfFrames are wrong"
        )


def _decode(ds: Dataset, path: str, *, allow_gdcm_rescaled: bool) -> tuple[np.ndarray, bool]:
    """Decode pixel data; returns (array, already_rescaled).

    pydicom first (native, RLE, deflate, and JPEG/JPEG 2000 through Pillow); where it has no
    decoder or fails on a compressed syntax, GDCM inside SimpleITK (JPEG lossless, JPEG-LS,
    12-bit JPEG). Both libraries' console output is captured, never shown.
    """
    from pydicom.uid import UID

    samples = _int_tag(ds, "SamplesPerPixel", 1)
    if samples is None or samples < 1:
        raise VolumeReadError(f"{path}: SamplesPerPixel is {samples}: the header is corrupt")
    if samples != 1:
        raise VolumeReadError(f"{path}: colour DICOM images (SamplesPerPixel > 1) are not supported")
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None:
        raise VolumeReadError(f"{path}: no TransferSyntaxUID in the file meta header; the pixel data cannot be "
                              "interpreted (the file is corrupt)")
    syntax = UID(str(syntax))
    if not syntax.is_transfer_syntax:
        raise VolumeReadError(f"{path}: unknown transfer syntax {syntax}; its pixel data cannot be decoded")
    description = _pixel_description(ds, path)
    _check_pixel_bytes(ds, path, syntax, description)
    try:
        with captured_native_stderr():
            return np.asarray(ds.pixel_array), False
    except Exception as exc:  # noqa: BLE001 - pydicom reports missing decoders and bad data in various types
        pydicom_error = exc
    if not syntax.is_compressed:
        raise VolumeReadError(
            f"{path}: pixel data cannot be decoded as {syntax.name}: {library_detail(pydicom_error, path)}"
        ) from pydicom_error
    import SimpleITK as sitk  # GDCM inside SimpleITK decodes JPEG-LS and friends

    try:
        with captured_native_stderr() as console:
            array = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    except RuntimeError as exc:
        gdcm = (console.lines or [library_detail(exc)])[-1][:150]
        raise VolumeReadError(
            f"{path}: pixel data cannot be decoded as {syntax.name} ({syntax}): the data are corrupt or do "
            f"not match the declared transfer syntax (pydicom: {_short_pydicom(pydicom_error)}; GDCM: {gdcm})"
        ) from exc
    # GDCM applies a top-level rescale itself; anything else would be applied twice.
    if not allow_gdcm_rescaled:
        raise VolumeReadError(
            f"{path}: {syntax.name} pixel data with a per-frame rescale needs a pydicom "
            "decoder plugin (pylibjpeg or python-gdcm)"
        )
    return array, _rescale_of(ds) not in (None, (1.0, 0.0))


def _short_pydicom(exc: BaseException) -> str:
    """pydicom's decode failure in one short clause (its plugin lists run over several lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 1 and "plugins" in lines[0]:
        return "; ".join(lines[1:3])[:200]
    return library_detail(exc)


def _single_frame(array: np.ndarray, path: str, rows: int, columns: int) -> np.ndarray:
    """The one (rows, columns) frame of a single-frame file; GDCM returns it as (1, rows, columns)."""
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.shape != (rows, columns):
        raise VolumeReadError(
            f"{path}: the pixel data decode to shape {array.shape} but the header declares one {rows} x {columns} "
            "frame; the pixel data do not match the image header (Rows, Columns, NumberOfFrames)"
        )
    return array


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
    multi_frame = [p for p, header in members if (_int_tag(header, "NumberOfFrames", 1) or 1) > 1]
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
    ds = read_dataset(path)
    if ds.get("Rows") is None or ds.get("Columns") is None:
        kind = ds.get("SOPClassUID")
        kind = f" ({kind.name})" if kind is not None and getattr(kind, "name", "") else ""
        raise VolumeReadError(f"{path}: DICOM file holds no image{kind}: it has no Rows/Columns")
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise VolumeReadError(
            f"{path}: DICOM header declares a {ds.get('Rows')} x {ds.get('Columns')} image but the file has no "
            "pixel data: it is truncated, or the pixels were stripped"
        )
    if (_int_tag(ds, "NumberOfFrames", 1) or 1) > 1:
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
    shapes = [(_int_tag(h, "Rows", 0), _int_tag(h, "Columns", 0)) for h in headers]
    sizes = set(shapes)
    if len(sizes) > 1:
        by_size = {}
        for label, shape in zip(labels, shapes, strict=True):
            by_size.setdefault(shape, label)
        detail = ", ".join(f"{r}x{c} in {name}" for (r, c), name in by_size.items())
        raise VolumeReadError(f"{where}: inconsistent slice sizes: {detail}")
    rows, columns = shapes[0]

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
            ds = read_dataset(file_path)
            if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
                raise VolumeReadError(f"{file_path}: no pixel data: the file is truncated, or the pixels were stripped")
        if (_int_tag(ds, "NumberOfFrames", 1) or 1) > 1:
            raise VolumeReadError(f"{file_path}: multi-frame file inside a single-frame series; open it on its own")
        array, already_rescaled = _decode(ds, file_path, allow_gdcm_rescaled=True)
        frames.append(_single_frame(array, file_path, rows, columns))
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
    n = _int_tag(ds, "NumberOfFrames", 1) or 1
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
    rows, columns = _int_tag(ds, "Rows", 0), _int_tag(ds, "Columns", 0)
    if array.shape != (n, rows, columns):
        raise VolumeReadError(
            f"{path}: the header declares {n} frames of {rows} x {columns} but the pixel data decode to shape "
            f"{array.shape}"
        )
    frames = [array[i] for i in geometry.order]
    data = _apply_rescales(frames, [rescales[i] for i in geometry.order] if not already_rescaled else [None] * n)
    return _volume(data, geometry, ds, source_path)
