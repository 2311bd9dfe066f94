"""A checkpoint folder on disk: its file names, the one "is this a checkpoint" test, and
the atomic folder swap every checkpoint writer uses.

Standard library only, so the plugin can check a folder without importing torch;
:mod:`.factory` re-exports all of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .._atomic import replace_folder

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def is_checkpoint_folder(path: str | os.PathLike[str]) -> bool:
    """True for a folder holding a model config and its weights (inference or training checkpoint)."""
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def ordinary_permissions(folder: Path) -> None:
    """Give a folder built with ``mkdtemp`` (mode 0700, files 0600) the modes a plain
    ``mkdir``/``open`` would have had under the user's umask, before it is renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for path in folder.rglob("*"):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


@contextmanager
def atomic_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``folder``; on success it replaces ``folder``.

    Readers see the old folder or the new one, never a half-written one: a run killed
    mid-write leaves the previous checkpoint intact. On an error the temporary folder is
    removed and the old one kept.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        ordinary_permissions(tmp)
        replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
