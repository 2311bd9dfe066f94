"""One-click side-by-side view of a source and its translation in napari's grid mode.

napari's grid gives every *visible* layer group its own view box, so showing exactly two
panes means hiding the other layers for a while; their visibility, and the grid settings,
are put back when the view is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari


class SideBySide:
    def __init__(self, viewer: napari.Viewer) -> None:
        self._viewer = viewer
        self._saved: tuple[list[tuple[object, bool]], bool, int] | None = None

    @property
    def active(self) -> bool:
        return self._saved is not None

    def show(self, left, right) -> None:
        """``left`` (the source) and ``right`` (the translation) in two linked panes."""
        viewer = self._viewer
        if self._saved is None:
            self._saved = ([(layer, layer.visible) for layer in viewer.layers], viewer.grid.enabled,
                           viewer.grid.stride)
        for layer in viewer.layers:
            layer.visible = layer in (left, right)
        layers = list(viewer.layers)
        # The grid fills view boxes in layer-list order (first layer top left); a negative
        # stride reverses that.
        viewer.grid.stride = 1 if layers.index(left) < layers.index(right) else -1
        viewer.grid.enabled = True
        viewer.reset_view()                 # fit the panes; the single-view zoom would crop them

    def restore(self) -> None:
        if self._saved is None:
            return
        visibility, enabled, stride = self._saved
        self._saved = None
        present = list(self._viewer.layers)
        for layer, visible in visibility:
            if layer in present:
                layer.visible = visible
        self._viewer.grid.stride = stride
        self._viewer.grid.enabled = enabled
        self._viewer.reset_view()
