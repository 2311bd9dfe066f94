"""The writers' safety rules: never over an input, atomic files and folders.

The atomic writing itself (temporary sibling, rename into place, folder swap) is
:mod:`napari_evai2i._atomic`, re-exported here for the writers.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

from .._atomic import atomic_file, replace_folder, sync_file, temporary_sibling
from ._dicom import has_dicm_preamble
from .errors import VolumeWriteError
from .volume import Volume

__all__ = ["atomic_file", "check_file_target", "check_folder_target", "check_target", "is_disk_full", "is_within",
           "prepare_parent", "protected_paths", "replace_folder", "resolved", "sync_file", "temporary_sibling", "write_failure"]

#: "No space left", "file too large" (a file size limit, RLIMIT_FSIZE) and "quota exceeded".
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


def resolved(path: str | os.PathLike[str]) -> Path:
    """The absolute path with links resolved, so one file is never compared under two names."""
    return Path(path).expanduser().resolve()


def protected_paths(volume: Volume, protect: Sequence[str | os.PathLike[str]], reference: Volume | None) -> list[Path]:
    """The inputs a write must not touch: ``protect`` plus the volumes' own source paths."""
    paths = [*protect]
    for source in (volume.source_path, reference.source_path if reference is not None else None):
        if source:
            paths.append(source)
    return [resolved(p) for p in paths]


def is_within(child: Path, parent: Path) -> bool:
    return child != parent and child.is_relative_to(parent)


def check_target(target: Path, protected: list[Path], *, folder: bool) -> None:
    """Refuse a target that is, lies inside, or (for a folder) contains a protected input."""
    where = resolved(target)
    for path in protected:
        if where == path:
            raise VolumeWriteError(f"{target}: refusing to overwrite an input ({path})")
        if is_within(where, path) and path.is_dir():
            raise VolumeWriteError(f"{target}: refusing to write inside the input folder {path}")
        if folder and is_within(path, where):
            raise VolumeWriteError(f"{target}: refusing to write a folder that contains the input {path}")


def check_file_target(target: Path, overwrite: bool) -> None:
    """Refuse a file target that is a folder, or that exists without ``overwrite``."""
    if target.is_dir():
        raise VolumeWriteError(f"{target}: is a folder")
    if target.exists() and not overwrite:
        raise VolumeWriteError(f"{target}: already exists; pass overwrite=True to replace it")


def check_folder_target(folder: Path, overwrite: bool) -> bool:
    """Validate a DICOM series target folder; True when it exists and must be replaced.

    An empty folder may be filled; one holding anything but DICOM files is never replaced.
    """
    if not folder.exists():
        return False
    if not folder.is_dir():
        raise VolumeWriteError(f"{folder}: exists and is not a folder")
    entries = list(folder.iterdir())
    if not entries:
        return True
    if not overwrite:
        raise VolumeWriteError(f"{folder}: folder is not empty; pass overwrite=True to replace it")
    foreign = [e.name for e in entries if not (e.is_file() and has_dicm_preamble(e))]
    if foreign:
        raise VolumeWriteError(
            f"{folder}: refusing to replace a folder that holds non-DICOM entries "
            f"({', '.join(sorted(foreign)[:5])})"
        )
    return True


def prepare_parent(target: Path) -> None:
    """Create the target's folder, as a :class:`VolumeWriteError` when that fails."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VolumeWriteError(f"{target}: cannot create folder {target.parent}: {exc}") from exc


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc``, or an exception it was raised from, is the disk (or a limit) being full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_FULL_ERRNOS:
            return True
        if any(os.strerror(code) in str(current) for code in _DISK_FULL_ERRNOS):  # ITK: text only
            return True
        current = current.__cause__ or current.__context__
    return False


def write_failure(target: Path, exc: BaseException, what: str = "writing failed") -> VolumeWriteError:
    """The error for a write that failed after its temporary output was removed."""
    if is_disk_full(exc):
        return VolumeWriteError(
            f"{target}: disk full (or file size limit) while writing; nothing was written; free space and retry"
        )
    return VolumeWriteError(f"{target}: {what}: {exc}")
