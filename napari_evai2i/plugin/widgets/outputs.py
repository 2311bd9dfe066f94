"""Result layers the widgets own: found by a metadata key, updated in place on re-runs.

A result is identified by ``metadata[RESULT_KEY] == {"source", "prompt", "role"}`` rather
than by name, so renaming a layer or two prompts with the same short name cannot mix up
results, and running the same source and prompt again replaces data instead of piling up
copies. Only call these from the main thread.

The full prompt goes into the layer-list tooltip as well as the metadata. napari builds that
tooltip from the layer's ``Source`` (name, then the basename of ``Source.path``, then the
plugin), which is fixed when the layer is made, so a layer whose tooltip text changes is
made anew at the same place in the list.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..layers import RESULT_KEY

PLUGIN = "napari-evai2i"

if TYPE_CHECKING:
    import napari
    import numpy as np


def result_key(source: str, prompt: str, role: str) -> dict[str, str]:
    return {"source": source, "prompt": prompt, "role": role}


def find_result(viewer: napari.Viewer, key: dict[str, str]):
    for layer in viewer.layers:
        if layer.metadata.get(RESULT_KEY) == key:
            return layer
    return None


def find_results(viewer: napari.Viewer, **match: str) -> list:
    """Layers whose result key has all the given items (e.g. ``source=..., role=...``)."""
    found = []
    for layer in viewer.layers:
        key = layer.metadata.get(RESULT_KEY)
        if isinstance(key, dict) and all(key.get(k) == v for k, v in match.items()):
            found.append(layer)
    return found


def upsert_image(viewer: napari.Viewer, key: dict[str, str], data: np.ndarray, kwargs: dict[str, Any],
                 contrast_limits: tuple[float, float] | None = None, tooltip: str = ""):
    """Update the layer with this key (data, metadata, geometry), or add it.

    ``tooltip`` (the full prompt) is shown under the layer's name in napari's layer list.
    """
    metadata = {**kwargs.pop("metadata", {}), RESULT_KEY: key}
    tooltip = _tooltip_text(tooltip)
    layer = find_result(viewer, key)
    if layer is not None and (layer.source.path or "") != tooltip:
        index = viewer.layers.index(layer)
        viewer.layers.remove(layer)
        layer = _add_image(viewer, data, metadata, kwargs, tooltip)
        viewer.layers.move(viewer.layers.index(layer), index)
    elif layer is None:
        layer = _add_image(viewer, data, metadata, kwargs, tooltip)
    else:
        for name in ("scale", "translate", "rotate", "shear", "affine"):
            if name in kwargs:
                setattr(layer, name, kwargs[name])
        layer.data = data
        layer.metadata.clear()
        layer.metadata.update(metadata)
        if kwargs.get("name") and layer.name != kwargs["name"]:
            layer.name = kwargs["name"]
        if contrast_limits is None:
            layer.reset_contrast_limits()
    if contrast_limits is not None:
        layer.contrast_limits_range = contrast_limits
        layer.contrast_limits = contrast_limits
    return layer


def _tooltip_text(text: str) -> str:
    # napari shows only the basename of Source.path: keep path separators out of the text.
    text = " ".join(text.split())
    return text.replace(os.sep, "\u2215").replace("/", "\u2215") if text else ""


def _add_image(viewer: napari.Viewer, data, metadata: dict, kwargs: dict[str, Any], tooltip: str):
    from napari.layers._source import layer_source   # the only hook for the layer-list tooltip

    with layer_source(reader_plugin=PLUGIN, path=tooltip or None):
        return viewer.add_image(data, metadata=metadata, **kwargs)


def remove_layers(viewer: napari.Viewer, layers: list) -> None:
    for layer in layers:
        if layer in viewer.layers:
            viewer.layers.remove(layer)
