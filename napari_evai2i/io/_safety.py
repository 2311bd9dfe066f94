"""The writers' safety rules: never over an input, atomic files and folders.

Data go to a hidden temporary sibling of the target, which is renamed into place only once
complete; a failure removes it. A finished folder replaces an existing one by two renames,
the old one being put back if the second fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import VolumeWriteError
from .volume import Volume


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


def temporary_sibling(target: Path, suffix: str = "") -> Path:
    """A hidden, unique name in the target's folder (same file system: renames are atomic)."""
    return target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp{suffix}"


@contextmanager
def atomic_file(target: Path, suffix: str) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it onto ``target`` on success."""
    temporary = temporary_sibling(target, suffix)
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def prepare_parent(target: Path) -> None:
    """Create the target's folder, as a :class:`VolumeWriteError` when that fails."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VolumeWriteError(f"{target}: cannot create folder {target.parent}: {exc}") from exc


def replace_folder(temporary: Path, target: Path, replace_existing: bool) -> None:
    """Rename the finished folder onto ``target``, swapping out an existing one if asked."""
    if not replace_existing:
        os.rename(temporary, target)
        return
    retired = temporary_sibling(target, ".old")
    os.rename(target, retired)
    try:
        os.rename(temporary, target)
    except BaseException:
        os.rename(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
