"""Result layers the widgets own: found by a metadata key, updated in place on re-runs.

A result is identified by ``metadata[RESULT_KEY] == {"source", "prompt", "role"}`` rather
than by name, so renaming a layer or two prompts with the same short name cannot mix up
results, and running the same source and prompt again replaces data instead of piling up
copies. Only call these from the main thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..layers import RESULT_KEY

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
                 contrast_limits: tuple[float, float] | None = None):
    """Update the layer with this key (data, metadata, geometry), or add it."""
    metadata = {**kwargs.pop("metadata", {}), RESULT_KEY: key}
    layer = find_result(viewer, key)
    if layer is None:
        layer = viewer.add_image(data, metadata=metadata, **kwargs)
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


def remove_layers(viewer: napari.Viewer, layers: list) -> None:
    for layer in layers:
        if layer in viewer.layers:
            viewer.layers.remove(layer)
