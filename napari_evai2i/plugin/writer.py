"""npe2 writers: an image layer as NIfTI, MetaImage or a DICOM series folder.

The geometry comes back from the layer's transform (see :mod:`.layers`), so a saved file
overlays its source in any viewer. Synthetic layers (made by the Translate widget) always
carry the synthetic notice: NIfTI ``descrip`` / MetaImage ``Description``, and as DICOM a
DERIVED series whose SeriesDescription starts with ``SYNTHETIC`` and whose ImageComments
name the model and prompt, with patient and study copied from the source series when its
header is known. The file or folder a layer (or its source) was read from is never
overwritten; other existing targets are replaced, since napari's save dialog has already
asked the user. A synthetic layer is written by the engine's one translation writer
(:func:`~napari_evai2i.engine.pipeline.write_translation`), so a saved layer carries the same
marking, DICOM fields and ``<name>.json`` provenance sidecar as the translate command's files.
A DICOM series is saved by naming it ``scan.dcm``: the files go into the
folder ``scan/`` (npe2 cannot route an extension-less name to a folder writer).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..io import Volume, write_dicom_series, write_volume
from .layers import (DICOM_HEADER_KEY, PROVENANCE_KEY, SOURCE_PATH_KEY, SOURCE_TAGS_KEY, is_synthetic,
                     state_to_volume)

DICOM_LO_CHARS = 64
DICOM_SUFFIX = ".dcm"


class LayerWriteError(RuntimeError):
    """Saving a layer failed or was refused; the message names the path and the reason.

    Not a ValueError on purpose: napari reads a ValueError from a writer as "this writer
    does not apply" and would replace our message with a vague warning.
    """


def _reported(write: Callable[..., list[str]]) -> Callable[..., list[str]]:
    @functools.wraps(write)
    def wrapper(path: str, data: Any, meta: dict) -> list[str]:
        try:
            return write(path, data, meta)
        except ValueError as exc:
            raise LayerWriteError(str(exc)) from exc
    return wrapper


@_reported
def write_nifti(path: str, data: Any, meta: dict) -> list[str]:
    return [str(_write_file(path, data, meta))]


@_reported
def write_mha(path: str, data: Any, meta: dict) -> list[str]:
    return [str(_write_file(path, data, meta))]


def _write_file(path: str, data: Any, meta: Mapping[str, Any]):
    volume = state_to_volume(data, meta)
    metadata = meta.get("metadata") or {}
    if is_synthetic(metadata):
        return _write_synthetic(volume, metadata, path)
    return write_volume(volume, path, protect=_protected(metadata), overwrite=True)


def _write_synthetic(volume: Volume, metadata: Mapping[str, Any], path: str | Path) -> Path:
    from .torch_guard import engine_module

    pipeline = engine_module("engine.pipeline")
    result = pipeline.TranslatedVolume(volume, dict(metadata[PROVENANCE_KEY]))
    return pipeline.write_translation(result, path, reference=_source_reference(volume, metadata),
                                      protect=tuple(_protected(metadata)), overwrite=True)


def dicom_folder_for(path: str | Path) -> Path:
    """``scan.dcm`` -> the folder ``scan`` (a path without ``.dcm`` is the folder itself)."""
    path = Path(path).expanduser()
    return path.with_suffix("") if path.suffix.lower() == DICOM_SUFFIX else path


@_reported
def write_dicom_folder(path: str, data: Any, meta: dict) -> list[str]:
    """Write one DICOM file per z-slice into the folder :func:`dicom_folder_for` ``(path)``."""
    folder = dicom_folder_for(path)
    volume = state_to_volume(data, meta)
    metadata = meta.get("metadata") or {}
    if is_synthetic(metadata):
        return [str(_write_synthetic(volume, metadata, folder))]
    description = _plain_description(volume.tags.get("SeriesDescription") or meta.get("name") or "napari layer")
    reference = volume if volume.reference_dataset is not None else None
    write_dicom_series(volume, folder, series_description=description, derived=True,
                       reference=reference, protect=_protected(metadata), overwrite=True)
    return [str(folder)]


def _source_reference(volume: Volume, metadata: Mapping[str, Any]) -> Volume | None:
    """The source series (its header and tags), so the synthetic series joins its study."""
    header = metadata.get(DICOM_HEADER_KEY)
    source_tags = metadata.get(SOURCE_TAGS_KEY) or {}
    if header is None and not source_tags:
        return None
    reference = volume.with_array(volume.array)
    reference.tags = dict(source_tags)
    reference.reference_dataset = header
    return reference


def _plain_description(text: str) -> str:
    """DICOM LO: at most 64 characters and no backslash."""
    return " ".join(str(text).replace("\\", " ").split())[:DICOM_LO_CHARS]


def _protected(metadata: Mapping[str, Any]) -> list[str]:
    path = metadata.get(SOURCE_PATH_KEY)
    return [path] if path else []
