"""Atomic writes, the one implementation: a file or folder appears complete or not at all.

Data go to a hidden, uniquely named sibling of the target (same file system, so renames
are atomic) and are renamed into place only when complete; a failure removes them. A
finished folder replaces an existing one by two renames, the old one being put back if
the second fails. Standard library only: the I/O writers, checkpoints, manifests and the
provenance sidecars all use it without importing anything heavy.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sync_file(path: Path) -> None:
    """Flush ``path`` to the disk, so that a full disk shows as an error now (some file systems
    report it only at fsync) and a crash cannot leave a renamed but empty file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_sibling(target: Path, suffix: str = "") -> Path:
    """A hidden, unique name in the target's folder."""
    return target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp{suffix}"


@contextmanager
def atomic_file(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it onto ``target`` on success."""
    temporary = temporary_sibling(target, suffix)
    try:
        yield temporary
        sync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def replace_folder(temporary: Path, target: Path, replace_existing: bool = True) -> None:
    """Rename the finished folder ``temporary`` onto ``target``, swapping out an existing one.

    Without ``replace_existing`` an existing target is an error (of the rename).
    """
    if not (replace_existing and target.exists()):
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
