"""DICOM headers: series discovery in a folder, the series a folder means, tags of a header.

Everything that needs only headers (no pixel data) lives here, so the prompt builder reads a
folder's tags exactly as the volume reader (:mod:`._dicom_volume`) chooses its series.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from .errors import VolumeReadError

__all__ = [
    "SeriesInfo",
    "dataset_to_tags",
    "has_dicm_preamble",
    "library_detail",
    "list_dicom_series",
    "read_dataset",
    "read_series_header",
    "select_series",
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


# --------------------------------------------------------------------------- tags
def has_dicm_preamble(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file with the 'DICM' marker at byte 128 (never raises)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def library_detail(exc: BaseException, path: str | os.PathLike[str] | None = None) -> str:
    """A library's exception text, short and fit for users: first line, the path not repeated,
    advice meant for programmers ("Use force=True ...") dropped."""
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0].strip()
    if path is not None:
        for spelling in {str(path), repr(str(path)), f'"{path}"'}:
            line = line.replace(f" from {spelling}", "").replace(f" {spelling}", "").replace(spelling, "")
    for advice in (" Use force=True to force reading.", "Use force=True to force reading.", " - could the file be damaged?"):
        line = line.replace(advice, "")
    line = line.strip().rstrip(":").strip()
    return line[:200] or type(exc).__name__


def _encoding_syntax(ds: Dataset) -> str:
    """The transfer syntax pydicom found a preamble-less file to be encoded in."""
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    implicit, little = getattr(ds, "original_encoding", (True, True))
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def read_dataset(path: str | os.PathLike[str], *, stop_before_pixels: bool = False) -> Dataset:
    """``pydicom.dcmread`` whose every failure is one :class:`VolumeReadError` saying what is wrong.

    A file without the 128-byte preamble (allowed for files that travelled over a network, and
    written by some old tools) is read when it still parses as an image header. An unknown
    transfer syntax is reported as such when pixels are read (a header alone still serves to
    group a folder's files, so that the file is named when its series is decoded).
    """
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import UID

    path = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise VolumeReadError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise VolumeReadError(f"{path}: empty file (0 bytes), not a DICOM image")
    try:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
            _pass_on(caught, path)
        except InvalidDicomError as exc:
            ds = _read_without_preamble(path, stop_before_pixels)
            if ds is None:
                raise VolumeReadError(
                    f"{path}: not a DICOM file (no 'DICM' marker at byte 128 and no DICOM image header "
                    "without it); check that this is the image you meant; if it is a DICOM file "
                    "without the standard preamble that still fails, rewrite it with a DICOM tool "
                    "(e.g. `gdcmconv in.dcm out.dcm` or DCMTK's `dcmconv`) and open the result"
                ) from exc
    except VolumeReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged files
        raise VolumeReadError(
            f"{path}: truncated or corrupt DICOM file; its header cannot be parsed ({library_detail(exc, path)})"
        ) from exc
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if not stop_before_pixels and syntax is not None and not UID(str(syntax)).is_transfer_syntax:
        raise VolumeReadError(
            f"{path}: unknown transfer syntax {syntax} in the file meta header; its pixel data cannot "
            "be decoded (the file is corrupt, or was written by a tool with a private syntax: "
            "convert it to a standard one, e.g. `gdcmconv --raw`, on the machine that made it)"
        )
    return ds


#: pydicom warns (and returns what it got) where a file ends early; that is an error here.
_TRUNCATION_WARNINGS = ("End of file reached", "truncated")


def _pass_on(caught: list[warnings.WarningMessage], path: str) -> None:
    """Turn pydicom's "file ended early" warnings into the error they are; re-issue the rest."""
    for item in caught:
        text = str(item.message)
        if any(marker in text for marker in _TRUNCATION_WARNINGS):
            raise VolumeReadError(
                f"{path}: truncated or corrupt DICOM file: it ends before its last element is complete "
                f"({library_detail(item.message, path)})"
            )
    for item in caught:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


def _read_without_preamble(path: str, stop_before_pixels: bool) -> Dataset | None:
    """The dataset of a preamble-less DICOM image file, or None when the file is not one."""
    from pydicom.dataset import FileMetaDataset

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels, force=True)
        rows, columns = ds.get("Rows"), ds.get("Columns")
        if rows is None or columns is None or ds.get("BitsAllocated") is None:
            return None
        if not stop_before_pixels and "PixelData" not in ds:
            return None
    except Exception:  # noqa: BLE001 - random bytes parse into anything; any failure means "not DICOM"
        return None
    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = _encoding_syntax(ds)
    return ds


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


# --------------------------------------------------------------------------- discovery
def _candidate_files(folder: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise VolumeReadError(f"{folder}: cannot list folder: {exc}") from exc
    return [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_file()]


def _scan(folder: Path, unreadable: list[str] | None = None) -> dict[str, list[tuple[str, Dataset]]]:
    """Headers of the DICOM image files directly inside ``folder``, grouped by series UID.

    Files that start like DICOM but cannot be read are skipped; their messages go to
    ``unreadable`` so that a folder of only such files is reported for what it is.
    """
    groups: dict[str, list[tuple[str, Dataset]]] = {}
    seen: set[str] = set()
    for path in _candidate_files(folder):
        if not has_dicm_preamble(path):
            continue
        try:
            header = read_dataset(path, stop_before_pixels=True)
            rows, columns = header.get("Rows"), header.get("Columns")
        except Exception as exc:  # noqa: BLE001 - unreadable files are skipped like non-DICOM ones
            if unreadable is not None:
                unreadable.append(str(exc) if isinstance(exc, VolumeReadError) else f"{path}: {library_detail(exc)}")
            continue
        if rows is None or columns is None:
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


# --------------------------------------------------------------------------- series of a folder
def select_series(
    folder: str | os.PathLike[str], series_uid: str | None = None
) -> tuple[str, list[tuple[str, Dataset]]]:
    """The series a folder means: its only one, or ``series_uid``; as (uid, [(file, header)]).

    Raises :class:`VolumeReadError` for a folder without image files (naming its sub-folders),
    one holding several series without ``series_uid`` (listing them) or an unknown uid.
    """
    path = Path(folder)
    unreadable: list[str] = []
    groups = _scan(path, unreadable)
    if not groups:
        if unreadable:
            raise VolumeReadError(
                f"{path}: {len(unreadable)} file(s) start like DICOM but none can be read; the first: "
                f"{unreadable[0]}"
            )
        subfolders = [p.name for p in path.iterdir() if p.is_dir()] if path.is_dir() else []
        hint = f" (it has sub-folders: {', '.join(sorted(subfolders)[:5])}; open one of them)" if subfolders else ""
        raise VolumeReadError(f"{path}: no DICOM image files in this folder{hint}")
    if unreadable:
        warnings.warn(
            f"{path}: skipped {len(unreadable)} unreadable DICOM file(s); the first: {unreadable[0]}",
            UserWarning,
            stacklevel=3,
        )
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
    return series_uid, groups[series_uid]


def read_series_header(folder: str | os.PathLike[str], series_uid: str | None = None) -> Dataset:
    """The header (no pixels) of the series :func:`read_volume` reads from ``folder``: the tags
    that describe the volume, from the series' first file."""
    return select_series(folder, series_uid)[1][0][1]
