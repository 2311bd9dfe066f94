"""Exceptions raised by :mod:`napari_evai2i.io`.

Both derive from :class:`ValueError`, so callers that only know "bad input" can catch that,
and every message names the path involved and what is wrong with it.
"""

from __future__ import annotations

__all__ = ["VolumeReadError", "VolumeWriteError"]


class VolumeReadError(ValueError):
    """A path could not be read as a 3-D volume (missing, unsupported, inconsistent...)."""


class VolumeWriteError(ValueError):
    """A volume could not be written, or writing was refused to protect existing data."""
