"""The Prompt explorer: walk the embedding path from prompt A to prompt B.

The target embedding is ``Translator.interpolate(emb_A, emb_B, t)`` (spherical). Dragging
the t slider re-translates the current slice live: edits are debounced (a 150 ms
single-shot QTimer) and at most one slice worker runs at a time -- a change that arrives
meanwhile is picked up when it finishes, so the preview always ends on the latest t.
Editing prompt A or B (typing, pasting, or a preset) and changing "B from" re-render too.
"Render volume at t" translates the whole volume in a cancellable worker, and "Export
sweep" renders the current slice at N points from A to B as a layer with the source's
geometry and the steps as a leading slider axis, and as a looping GIF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari
import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, FloatSlider, Label, PushButton, SpinBox, TextEdit
from napari.utils.notifications import show_warning
from psygnal import Signal
from qtpy.QtCore import QTimer

from ..jobs import (JobRequest, PromptMix, SlicePreview, export_sweep, is_lazy, refuse_if_too_big, translate_one_slice,
                    translate_volume)
from ..layers import (PROVENANCE_KEY, TAGS_KEY, data_to_world_matrix, explored_name, geometry_kwargs,
                      layer_direction, slab_geometry_kwargs, stacked_geometry_kwargs, sweep_name)
from .choices import AXIS_CHOICES, compact_combo_boxes, image_layer_choices, layer_spacing
from .source_contrast import SourceContrast
from .model_picker import ModelPicker
from .outputs import result_key, upsert_image
from ...engine.request import source_prompt_of
from ...engine.source_contrast import KNOWN_KINDS, known_prompts
from .prompt_builder import TEXT_BOX_HEIGHT
from .text_input import on_text_edited
from .worker_guard import WorkerGuard

DEBOUNCE_MS = 150
RENDER_TEXT, CANCEL_TEXT = "Render volume at t", "Cancel"
SOURCE_PROMPT = "(the source's own prompt)"


class PromptExplorerWidget(Container):
    """Prompts A and B, the slider t, live slice preview, volume render and sweep export."""

    preview_updated = Signal(float)     #: t of the slice now shown
    sweep_exported = Signal(str)        #: path of the GIF written
    volume_rendered = Signal(str)       #: name of the volume layer made

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True)
        self._viewer = viewer
        self._slice_worker = None
        self._volume_worker = None
        self._sweep_worker = None
        self._pending = False
        self._guard = WorkerGuard(self.native, self._stop_for_close)
        self.source = ComboBox(label="source", choices=lambda _: image_layer_choices(viewer))
        self.source_contrast = SourceContrast()
        self.preset_a = ComboBox(label="A from", choices=[SOURCE_PROMPT, *KNOWN_KINDS])
        self.prompt_a = TextEdit(label="prompt A (t=0)")
        self.preset_b = ComboBox(label="B from", choices=list(KNOWN_KINDS), value="T2W")
        self.prompt_b = TextEdit(label="prompt B (t=1)", value=known_prompts()["T2W"])
        self.t = FloatSlider(label="t (A -> B)", min=0.0, max=1.0, step=0.01, value=0.0, readout=True)
        self.model = ModelPicker()
        self.axis = ComboBox(label="slicing axis", choices=AXIS_CHOICES, value=0)
        self.render_button = PushButton(text=RENDER_TEXT)
        self.steps = SpinBox(label="sweep steps", value=8, min=2, max=64)
        self.gif_path = FileEdit(label="sweep GIF", mode="w", filter="*.gif",
                                 value=Path.cwd() / "evai2i_prompt_sweep.gif")
        self.export_button = PushButton(text="Export sweep")
        self.status = Label(label="status", value="Drag t to move from prompt A to prompt B.")
        self.status.native.setWordWrap(True)
        for box in (self.prompt_a, self.prompt_b):
            box.native.setMaximumHeight(TEXT_BOX_HEIGHT)
        self.extend([self.source, self.source_contrast, self.preset_a, self.prompt_a, self.preset_b, self.prompt_b, self.t, self.model,
                     self.axis, self.render_button, self.steps, self.gif_path, self.export_button, self.status])
        compact_combo_boxes(self)
        self._debounce = QTimer(self.native)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.update_preview)
        active = viewer.layers.selection.active
        if isinstance(active, napari.layers.Image):
            self.source.value = active
        self.source_contrast.update_for(self.source.value)
        self._fill_prompt_a()
        # Connected after the first fill: opening the widget must not start a translation.
        self.preset_a.changed.connect(self._fill_prompt_a)
        self.source.changed.connect(self.source_contrast.update_for)
        self.source_contrast.changed.connect(self._fill_prompt_a)
        self.preset_b.changed.connect(lambda kind: setattr(self.prompt_b, "value", known_prompts()[kind]))
        self.source.changed.connect(self._fill_prompt_a)
        for widget in (self.t, self.axis):
            widget.changed.connect(self.schedule_preview)
        for box in (self.prompt_a, self.prompt_b):
            on_text_edited(box, self.schedule_preview)
        self.render_button.clicked.connect(self._on_render_clicked)
        self.export_button.clicked.connect(self.export_sweep)

    # ------------------------------------------------------------------ inputs
    def _fill_prompt_a(self, *_: Any) -> None:
        kind = self.preset_a.value
        if kind == SOURCE_PROMPT:
            layer = self.source.value
            text = self.source_contrast.source_prompt
            if text is None:                  # from the tags
                text = source_prompt_of(layer.metadata.get(TAGS_KEY)) if layer is not None else None
            self.prompt_a.value = text or known_prompts()["T1W"]
        else:
            self.prompt_a.value = known_prompts()[kind]

    def _request(self, t: float, preview: bool = True) -> tuple[Any, JobRequest]:
        layer = self.source.value
        if layer is None:
            raise ValueError("choose a source image layer")
        a, b = " ".join(self.prompt_a.value.split()), " ".join(self.prompt_b.value.split())
        if not a or not b:
            raise ValueError("both prompts A and B are needed")
        data = layer.data if is_lazy(layer.data) else np.asarray(layer.data)   # a dask array is read by the job
        axis = int(self.axis.value) if data.ndim == 3 else 0
        index = None
        if preview:
            index = 0 if data.ndim == 2 else int(np.clip(np.round(layer.world_to_data(self._viewer.dims.point)[axis]),
                                                         0, data.shape[axis] - 1))
        request = JobRequest(source=data, target=PromptMix(a, b, float(t)),
                             model=self.model.model_source(), device=str(self.model.device.value),
                             precision=str(self.model.precision.value), axis=axis, preview_index=index,
                             source_prompt=self.source_contrast.source_prompt,
                             tags=dict(layer.metadata.get(TAGS_KEY) or {}), spacing=layer_spacing(layer),
                             direction=layer_direction(layer))
        refuse_if_too_big(layer.name, request)
        return layer, request

    # ------------------------------------------------------------------ live slice
    def schedule_preview(self, *_: Any) -> None:
        """Restart the debounce timer: the slice is translated once edits pause."""
        self._debounce.start()

    def update_preview(self):
        """Translate the current slice at the current t (or queue it behind a running one)."""
        if self._slice_worker is not None:
            self._pending = True
            return None
        try:
            layer, request = self._request(self.t.value)
        except ValueError as exc:
            self.status.value = f"Cannot preview: {exc}"
            return None
        from napari.qt.threading import create_worker

        worker = create_worker(translate_one_slice, request, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._live(lambda preview: self._show_preview(layer, request, preview)))
        worker.errored.connect(self._live(lambda exc: setattr(self.status, "value", f"Error: {exc}")))
        worker.finished.connect(self._live(self._on_slice_finished))
        self._slice_worker = worker
        self._guard.watch(worker)
        worker.start()
        return worker

    def _show_preview(self, layer, request: JobRequest, preview: SlicePreview) -> None:
        mix = request.target
        kwargs = slab_geometry_kwargs(layer, preview.axis, preview.index)
        kwargs.update(name=explored_name(layer.name, mix.a, mix.b, mix.t, preview.index), colormap="gray",
                      metadata={PROVENANCE_KEY: {**preview.provenance, "source_layer": layer.name}})
        upsert_image(self._viewer, result_key(layer.name, "prompt explorer", "explorer preview"), preview.data, kwargs,
                     tooltip=_path_tooltip(mix))
        self.model.show_loaded(preview.provenance["model_label"], preview.provenance["device"])
        self.status.value = (f"Slice {preview.index} at t={mix.t:.2f}; "
                             + self.source_contrast.describe(preview.provenance) + ".")
        self.preview_updated.emit(mix.t)

    def _live(self, callback):
        """``callback``, except once the viewer has closed under a job (see WorkerGuard)."""
        def call(*args):
            if not self._guard.closed:
                callback(*args)
        return call

    def _stop_for_close(self) -> None:
        self._pending = False
        self._debounce.stop()

    def _on_slice_finished(self) -> None:
        self._slice_worker = None
        self._guard.release()
        if self._pending:
            self._pending = False
            self.update_preview()

    # ------------------------------------------------------------------ whole volume
    def _on_render_clicked(self, *_: Any) -> None:
        if self._volume_worker is not None:
            self._volume_worker.quit()
            self.status.value = "Cancelling after the current batch..."
        else:
            self.render_volume()

    def render_volume(self):
        """Translate the whole volume at the current t; returns the worker."""
        try:
            layer, request = self._request(self.t.value, preview=False)
        except ValueError as exc:
            show_warning(str(exc))
            self.status.value = f"Cannot render: {exc}"
            return None
        from napari.qt.threading import create_worker

        progress = {"total": request.batch_count() + 1, "desc": f"Rendering t={request.target.t:.2f}"}
        worker = create_worker(translate_volume, request, _start_thread=False, _ignore_errors=True,
                               _progress=progress)
        worker.returned.connect(self._live(lambda outcome: self._show_volume(layer, request, outcome)))
        worker.errored.connect(self._live(lambda exc: setattr(self.status, "value", f"Error: {exc}")))
        worker.aborted.connect(self._live(lambda: setattr(self.status, "value",
                                                          "Render cancelled: no volume layer was made.")))
        worker.finished.connect(self._live(self._on_volume_finished))
        self._volume_worker = worker
        self._guard.watch(worker)
        self.render_button.text = CANCEL_TEXT
        self.status.value = f"Rendering the volume at t={request.target.t:.2f}..."
        worker.start()
        return worker

    def _show_volume(self, layer, request: JobRequest, outcome) -> None:
        mix = request.target
        kwargs = {**geometry_kwargs(layer), "name": explored_name(layer.name, mix.a, mix.b, mix.t),
                  "colormap": "gray", "metadata": {PROVENANCE_KEY: {**outcome.provenance, "source_layer": layer.name}}}
        volume = upsert_image(self._viewer, result_key(layer.name, mix.describe(), "translation"),
                              outcome.translation, kwargs, tooltip=_path_tooltip(mix, mix.t))
        self.status.value = f"Done: made {volume.name!r} in {outcome.seconds:.1f} s."
        self.volume_rendered.emit(volume.name)

    def _on_volume_finished(self) -> None:
        self._volume_worker = None
        self._guard.release()
        self.render_button.text = RENDER_TEXT

    # ------------------------------------------------------------------ sweep
    def export_sweep(self, *_: Any):
        """Current slice at ``steps`` points from A to B -> stack layer + GIF; returns the worker."""
        if self._sweep_worker is not None:
            return self._sweep_worker
        try:
            layer, request = self._request(0.0)
            path = str(self.gif_path.value or "").strip()
            if not path or path == ".":
                raise ValueError("choose a file for the sweep GIF")
        except ValueError as exc:
            show_warning(str(exc))
            self.status.value = f"Cannot export: {exc}"
            return None
        from napari.qt.threading import create_worker

        steps = int(self.steps.value)
        worker = create_worker(export_sweep, request, steps, path, self._screen_flips(layer, request.slicing_axis),
                               _start_thread=False, _ignore_errors=True,
                               _progress={"total": steps, "desc": "Prompt sweep"})
        worker.returned.connect(self._live(lambda result: self._show_sweep(layer, request, *result)))
        worker.errored.connect(self._live(lambda exc: setattr(self.status, "value", f"Error: {exc}")))
        worker.finished.connect(self._live(self._on_sweep_finished))
        self._sweep_worker = worker
        self._guard.watch(worker)
        self.status.value = f"Rendering a {steps}-step sweep of slice {request.preview_index}..."
        worker.start()
        return worker

    def _on_sweep_finished(self) -> None:
        self._sweep_worker = None
        self._guard.release()

    @staticmethod
    def _screen_flips(layer, axis: int) -> tuple[int, ...]:
        """In-plane axes drawn reversed on screen (flipped affines), so frames look as in the viewer."""
        if layer.ndim != 3:
            return ()
        matrix = data_to_world_matrix(3, layer.scale, layer.translate, layer.rotate, layer.shear,
                                      layer.affine.affine_matrix)[:3, :3]
        if not np.allclose(matrix, np.diag(np.diag(matrix))):
            return ()
        in_plane = [a for a in range(3) if a != axis]
        return tuple(i for i, a in enumerate(in_plane) if matrix[a, a] < 0)

    def _show_sweep(self, layer, request: JobRequest, stack: np.ndarray, gif: Path, provenance: dict) -> None:
        """The sweep over the source: each frame is its slice in place, the steps a leading axis."""
        mix, axis, index = request.target, request.slicing_axis, request.preview_index
        data = stack if layer.ndim == 2 else np.expand_dims(stack, axis=1 + axis)
        geometry = slab_geometry_kwargs(layer, axis, index) if layer.ndim == 3 else geometry_kwargs(layer)
        kwargs = {**stacked_geometry_kwargs(geometry, "sweep step"), "name": sweep_name(layer.name, mix.a, mix.b, index),
                  "colormap": "gray",
                  "metadata": {PROVENANCE_KEY: {**provenance, "source_layer": layer.name, "gif": str(gif)}}}
        upsert_image(self._viewer, result_key(layer.name, mix.describe(), "sweep"), data, kwargs,
                     tooltip=_path_tooltip(mix))
        self.status.value = f"Sweep of {len(stack)} steps written to {gif}."
        self.sweep_exported.emit(str(gif))


def _path_tooltip(mix: PromptMix, t: float | None = None) -> str:
    where = "" if t is None else f" at t={t:.2f}"
    return f"from prompt A: {' '.join(mix.a.split())} to prompt B: {' '.join(mix.b.split())}{where}"
