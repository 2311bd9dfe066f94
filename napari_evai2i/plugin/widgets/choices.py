"""Choices shared by the dock widgets' combo boxes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import napari

#: Data axis along which volumes are cut into 2-D slices for the network.
AXIS_CHOICES = [("z (axis 0)", 0), ("y (axis 1)", 1), ("x (axis 2)", 2)]


def image_layer_choices(viewer: napari.Viewer) -> list[tuple[str, Any]]:
    """(name, layer) for every image layer, top of the list last as in napari's layer list."""
    import napari

    return [(layer.name, layer) for layer in viewer.layers if isinstance(layer, napari.layers.Image)]


def compact_combo_boxes(container, characters: int = 18) -> None:
    """Stop combo boxes from widening the dock to their longest item (long layer names).

    Qt sizes a QComboBox to its longest entry by default, so one long layer name made the
    whole dock wider than the window; the full text stays visible in the open list.
    """
    from qtpy.QtWidgets import QComboBox

    for combo in container.native.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(characters)


def layer_spacing(layer: Any) -> tuple[float, float, float]:
    """Voxel size (mm) of an image layer's data axes as (Z, Y, X): its scale, 1 mm for a 2-D
    layer's missing axis (the normalisation measures its brain core in millimetres)."""
    scale = tuple(float(abs(s)) or 1.0 for s in layer.scale[-3:])
    return (1.0,) * (3 - len(scale)) + scale
