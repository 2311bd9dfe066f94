"""npe2 reader: NIfTI, MetaImage, NRRD, DICOM files and DICOM series folders as image layers.

``napari_get_reader`` only looks at names and a few bytes and never raises, so napari can
ask it about any path; the function it returns does the real work and raises one
:class:`~napari_evai2i.io.VolumeReadError` naming the path, which napari shows as a
notification while the viewer stays up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import VolumeReadError, is_readable_path, list_dicom_series, read_volume
from .layers import volume_to_layer_kwargs

LayerData = tuple[Any, dict[str, Any], str]


def napari_get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """The reader function when every path looks like a volume we read, else None."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else path
    try:
        if not paths or not all(is_readable_path(p) for p in paths):
            return None
    except TypeError:
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[LayerData]:
    """One image layer per volume; a folder with several DICOM series gives one layer each."""
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    layers: list[LayerData] = []
    for item in paths:
        layers.extend(_read_one(Path(item)))
    return layers


def _read_one(path: Path) -> list[LayerData]:
    try:
        if path.is_dir():
            series = list_dicom_series(path)
            if len(series) > 1:
                return [_as_layer(read_volume(path, series_uid=info.uid)) for info in series]
        return [_as_layer(read_volume(path))]
    except VolumeReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - one clear error type for napari's notification
        raise VolumeReadError(f"{path}: could not be read: {exc}") from exc


def _as_layer(volume) -> LayerData:
    kwargs = volume_to_layer_kwargs(volume)
    data = kwargs.pop("data")
    return data, kwargs, "image"
