"""How big a declared volume is, how much memory is free, and refusing before allocating.

A header can declare any shape: a damaged or hostile NIfTI claiming 4000^3 voxels over a
few bytes would otherwise make the reader allocate (or try to) 119 GiB. The readers call
:func:`check_declared_size` with the header's shape and type before touching the data; the
engine reuses :func:`available_memory_bytes` and :func:`format_bytes` for its own estimate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import VolumeReadError

__all__ = ["available_memory_bytes", "check_declared_size", "declared_bytes", "format_bytes"]

_CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),  # v1
)


def _cgroup_room() -> int | None:
    """Bytes left under this process's container memory limit, when one is set."""
    for limit_file, usage_file in _CGROUP_FILES:
        try:
            limit_text = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max":
            return None
        try:
            limit = int(limit_text)
        except ValueError:
            return None
        if limit >= 2**60:  # v1 writes a huge number for "no limit"
            return None
        return max(0, limit - usage)
    return None


def available_memory_bytes() -> int | None:
    """Host memory a new allocation can use now (psutil, else sysconf), capped by a container
    limit; None when it cannot be told (the callers then skip the memory check)."""
    available: int | None = None
    try:
        import psutil

        available = int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform
        try:
            available = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            available = None
    room = _cgroup_room()
    if room is not None:
        available = room if available is None else min(available, room)
    return available


def format_bytes(n: float) -> str:
    """``n`` bytes for a message: '119.2 GiB', '3.5 MiB', '812 bytes'."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def declared_bytes(shape: Sequence[int], itemsize: int) -> int:
    """Bytes a dense array of ``shape`` needs (exact Python integers: no overflow)."""
    return math.prod(int(s) for s in shape) * int(itemsize)


def check_declared_size(
    path: str | os.PathLike[str],
    shape: Sequence[int],
    dtype: np.dtype | str,
    *,
    data_bytes_in_file: int | None = None,
    kind: str = "image",
) -> int:
    """Refuse a declared volume the file cannot hold or memory cannot take; return its bytes.

    ``data_bytes_in_file`` is what the file holds after the header for uncompressed data
    (None for compressed files, where only the memory check applies); ``kind`` names the
    format in the message.
    """
    dtype = np.dtype(dtype)
    needed = declared_bytes(shape, dtype.itemsize)
    declared = f"header declares {'x'.join(str(int(s)) for s in shape)} {dtype.name} = {format_bytes(needed)}"
    if data_bytes_in_file is not None and data_bytes_in_file < needed:
        raise VolumeReadError(
            f"{path}: truncated or corrupt {kind} file: {declared} but the file holds only "
            f"{max(0, data_bytes_in_file)} bytes of voxel data (a damaged header, or a file cut short)"
        )
    available = available_memory_bytes()
    if available is not None and needed > available:
        raise VolumeReadError(
            f"{path}: {declared}, more than the {format_bytes(available)} of memory available; "
            "free memory (close other programs) or crop/downsample the volume first "
            "(e.g. with fslroi or SimpleITK) and open the smaller file"
        )
    return needed
