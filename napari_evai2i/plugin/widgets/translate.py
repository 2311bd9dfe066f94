"""The Translate dock widget: a source layer and a prompt in, a SYNTHETIC volume out.

Run translates the slice under the viewer's current position first and shows it at once
(a one-slice "preview" layer exactly over the source), then the whole volume batch by
batch in a napari thread worker with a progress bar. While it runs, Run becomes Cancel;
cancelling stops at the next batch and leaves no partial volume layer: the volume result
is added (or, for the same source and prompt, replaced) only when every slice is done,
and the preview slice is kept so the look of the prompt is not lost. Each source has at most
one preview slice: a preview for another prompt replaces it. Outputs carry the
source's exact geometry and their provenance (prompt, model, checkpoint hash, device,
time) in ``layer.metadata``. The difference map and, with a reference layer, the
|translation - reference| map and PSNR/SSIM are computed in the worker too. The source
"all image layers" translates every acquired (non-synthetic) image layer, one after the
other, with the same prompt and settings; Cancel stops the rest.

Options: three planes fused (the plan used is shown: which planes, and why any was skipped),
an uncertainty (SD) map from N passes, and each tag's effect on the slice under the viewer
(a table, largest first, and optionally one difference map per tag). Progress and status
count every pass. A rerun for the same source and prompt replaces these maps, and removes
those it did not make again, so none describes a translation that is gone.

Big volumes: before anything is allocated, Run estimates the memory the translation needs
and refuses, with the sizes, when it cannot fit. A dask-backed layer is not read on the main
thread: the job reads it block by block (the status says so, and why the whole volume is
needed). Warnings raised in the job (the engine's, the model loader's) stay in the status
until the next run, besides going to stderr. Closing the viewer mid-job stops the job and
waits for its thread, so nothing is added to a closed viewer and no thread outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import napari
import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton, SpinBox, Table
from napari.utils.notifications import show_warning
from psygnal import Signal

from ...engine.planes import DEFAULT_PLANES, FUSIONS
from ...engine.uncertainty import UNCERTAINTY_DESCRIPTION
from ...io._size import format_bytes
from ..jobs import (BlockRead, EngineWarning, JobRequest, ModelReady, SlicePreview, TagScoring, TranslationOutcome,
                    block_count, is_lazy, refuse_if_too_big, translate_volume)
from ..layers import (DICOM_HEADER_KEY, PROVENANCE_KEY, SOURCE_PATH_KEY, SOURCE_TAGS_KEY, TAGS_KEY,
                      difference_name, geometry_kwargs, has_geometry_or_tags, is_synthetic, layer_direction,
                      preview_name, reference_difference_name, slab_geometry_kwargs, synthetic_name,
                      tag_effect_name, uncertainty_name)
from .choices import AXIS_CHOICES, compact_combo_boxes, image_layer_choices, layer_spacing
from .source_contrast import SourceContrast
from .model_picker import ModelPicker
from .outputs import find_result, find_results, remove_layers, result_key, upsert_image
from .prompt_builder import PromptBuilder
from .side_by_side import SideBySide
from .worker_guard import WorkerGuard

RUN_TEXT, CANCEL_TEXT, CANCELLING_TEXT = "Run", "Cancel", "Cancelling..."
GRID_TEXT, UNGRID_TEXT = "Side by side", "Leave side by side"
#: The source choice that translates every acquired image layer in turn.
ALL_LAYERS = "all image layers"
DIFF_COLORMAP = "PiYG"
READY_TEXT = "Choose a source and a prompt, then Run."
#: Result key "prompt" of the one preview slice a source has, whatever its prompt.
ANY_PROMPT = ""
PLANE_CHOICES = [("one (slicing axis)", 1), ("three, fused", 3)]
MAX_UNCERTAINTY_PASSES = 12
TAG_COLUMNS = ("tag", "value removed", "effect")
TAG_EFFECT_ROLE = "tag effect"
TABLE_HEIGHT = 170   # pixels: the header and the eight tags a prompt can state, scrolling beyond
EFFECT_SIZE_TEXT = "effect = mean |without the tag - with it| / mean |with it| over the head, in %"


@dataclass
class _Run:
    """What the main thread remembers about the job in flight."""

    source: Any
    prompt: str
    reference: Any
    request: JobRequest
    total_slices: int = 0            #: over every pass
    passes: int = 1
    slices_done: int = 0
    outcome: str = "running"
    reading: str = ""                #: why and how much a lazy source is read, for the status
    warnings: list[str] = field(default_factory=list)   #: texts of the job's warnings, in order


class TranslateWidget(Container):
    """Source, prompt, model, run/cancel, side by side, reference metrics."""

    preview_ready = Signal(int)        #: index of the slice shown before the whole volume
    progressed = Signal(int, int)      #: slices done, slices in total
    run_finished = Signal(str)         #: "done", "cancelled" or "error"
    status_said = Signal(str)          #: every text the status line shows, in order

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True)
        self._viewer = viewer
        self._worker = None
        self._run: _Run | None = None
        self._last_result: tuple[Any, Any, str] | None = None   # (source, translation layer, prompt)
        self._queue: list[Any] = []                               # layers still to do ("all image layers")
        self._side_by_side = SideBySide(viewer)
        self._guard = WorkerGuard(self.native, self._stop_for_close)
        self.source = ComboBox(label="source", choices=self._source_choices)
        self.source_contrast = SourceContrast()
        self.prompt = PromptBuilder()
        self.model = ModelPicker()
        self.batch_size = SpinBox(label="batch size", value=4, min=1, max=1024,
                                  tooltip="slices per step: larger is faster on a GPU, needs more memory")
        self.axis = ComboBox(label="slicing axis", choices=AXIS_CHOICES, value=0)
        self.planes = ComboBox(label="planes", choices=PLANE_CHOICES, value=DEFAULT_PLANES,
                               tooltip="three: translate along every axis whose slices have nearly square "
                                       "pixels and fuse, so no stripes show between slices (about 3x the time)")
        self.fusion = ComboBox(label="fusion", choices=list(FUSIONS), value="resolution",
                               tooltip="resolution: planes with squarer pixels weigh more; mean; median")
        self.uncertainty_passes = SpinBox(
            label="uncertainty passes", value=0, min=0, max=MAX_UNCERTAINTY_PASSES,
            tooltip="0: off. N >= 2: an uncertainty (SD) map from N translations of the volume (other "
                    "wordings, mirrored input, other planes); costs N translations, at least one per plane")
        self.tag_effects = CheckBox(label="tag effects", value=False,
                                    tooltip="afterwards, leave each tag of the prompt out in turn on the slice "
                                            "under the viewer and measure how much the image changes")
        self.tag_maps = CheckBox(label="difference maps", value=False, enabled=False,
                                 tooltip="add one hidden layer per tag: (without the tag - with it) on that slice")
        self.tag_table = Table(value={"data": [], "index": [], "columns": TAG_COLUMNS}, label="effects",
                               tooltip=EFFECT_SIZE_TEXT + "; largest first")
        self.tag_table.read_only = True
        self._fit_table()
        self.tag_note = Label(label="", value="")
        self.planes_used = Label(label="planes used", value="")
        self.reference = ComboBox(label="reference", choices=self._reference_choices,
                                  tooltip="a real scan of the target contrast: adds |translation - reference| "
                                          "and PSNR/SSIM")
        self.run_button = PushButton(text=RUN_TEXT)
        self.grid_button = PushButton(text=GRID_TEXT)
        self.status = Label(label="status", value=READY_TEXT)
        self.metrics = Label(label="metrics", value="")
        for label in (self.status, self.metrics, self.model.loaded, self.tag_note, self.planes_used):
            label.native.setWordWrap(True)
        self.extend([self.source, self.source_contrast, self.prompt, self.tag_table, self.tag_note, self.model,
                     self.batch_size, self.axis, self.planes, self.fusion, self.uncertainty_passes,
                     self.tag_effects, self.tag_maps, self.reference,
                     Container(widgets=[self.run_button, self.grid_button], layout="horizontal", labels=False),
                     self.status, self.metrics, self.planes_used])
        self.planes.changed.connect(self._on_options_changed)
        self.tag_effects.changed.connect(self._on_options_changed)
        self._on_options_changed()
        self.source.changed.connect(self._on_source_changed)
        self.reference.changed.connect(self._on_reference_changed)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.grid_button.clicked.connect(self.toggle_side_by_side)
        self.prompt.prompt_changed.connect(self._on_prompt_changed)
        compact_combo_boxes(self)
        active = viewer.layers.selection.active
        if isinstance(active, napari.layers.Image):
            self.source.value = active
        self._on_source_changed(self.source.value)

    def _source_choices(self, _: Any) -> list[tuple[str, Any]]:
        return image_layer_choices(self._viewer) + [(f"({ALL_LAYERS})", ALL_LAYERS)]

    def acquired_layers(self) -> list[Any]:
        """The image layers "all image layers" translates: every one that is not synthetic."""
        return [layer for _, layer in image_layer_choices(self._viewer) if not is_synthetic(layer.metadata)]

    def _reference_choices(self, _: Any) -> list[tuple[str, Any]]:
        return [("(none)", None)] + image_layer_choices(self._viewer)

    @property
    def worker(self):
        """The running thread worker, or None."""
        return self._worker

    # ------------------------------------------------------------------ run / cancel
    def _on_run_clicked(self, *_: Any) -> None:
        if self._worker is None:
            self.run()
        else:
            self.cancel()

    def run(self):
        """Start translating; returns the worker (None when the inputs are not usable)."""
        if self._worker is not None:
            return self._worker
        if self.source.value == ALL_LAYERS:
            self._queue = self.acquired_layers()
            if not self._queue:
                self._say("Cannot run: there is no acquired (non-synthetic) image layer to translate.")
                return None
            return self._start(self._queue.pop(0))
        self._queue = []
        return self._start(self.source.value)

    def _start(self, layer):
        try:
            run = self._prepare(layer)
        except ValueError as exc:
            self._queue = []
            self._say(f"Cannot run: {exc}")
            show_warning(str(exc))
            return None
        from napari.qt.threading import create_worker

        self._run = run
        # yields: blocks of a lazy source, model loaded, preview slice, each batch of every pass, tag scoring
        total = run.request.batch_count() + 2 + int(run.request.tag_effects) + \
            block_count(run.request.source) + (block_count(run.request.reference)
                                               if run.request.reference is not None else 0)
        worker = create_worker(translate_volume, run.request, _start_thread=False, _ignore_errors=True,
                               _progress={"total": total, "desc": f"Translating {run.source.name}"})
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self._guard.watch(worker)
        self._worker = worker
        self.run_button.text = CANCEL_TEXT
        self._report(run.reading or f"Loading the model for {run.source.name}...")
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop after the batch in progress (the worker checks between batches), and the queue."""
        if self._worker is None:
            return
        self._queue = []
        self._worker.quit()
        self.run_button.text = CANCELLING_TEXT
        self.run_button.enabled = False
        self._report("Cancelling after the current batch...")

    def _prepare(self, layer) -> _Run:
        if layer is None:
            raise ValueError("choose a source image layer")
        if layer.multiscale or layer.rgb or layer.ndim not in (2, 3):
            raise ValueError(f"{layer.name!r} is not a single-channel 2-D or 3-D image")
        prompt = self.prompt.prompt
        if not prompt:
            raise ValueError("the prompt is empty")
        model = self.model.model_source()
        data = layer.data if is_lazy(layer.data) else np.asarray(layer.data)   # a dask array stays lazy
        axis = int(self.axis.value) if data.ndim == 3 else 0
        if self.source.value == ALL_LAYERS:            # each layer of the queue gets its own choice
            self.source_contrast.update_for(layer)
        reference = self.reference.value
        reference_data = None
        if reference is not None:
            reference_data = reference.data if is_lazy(reference.data) else np.asarray(reference.data)
            if tuple(reference_data.shape) != tuple(data.shape):
                self.metrics.value = (f"Reference {reference.name!r} ignored: its shape {reference_data.shape} "
                                      f"differs from the source's {data.shape}.")
                reference, reference_data = None, None
        request = JobRequest(
            source=data, target=prompt, model=model, device=str(self.model.device.value),
            precision=str(self.model.precision.value),
            batch_size=int(self.batch_size.value), axis=axis, source_prompt=self.source_contrast.source_prompt,
            preview_index=self._current_index(layer, axis), reference=reference_data,
            tags=dict(layer.metadata.get(TAGS_KEY) or {}), spacing=layer_spacing(layer),
            direction=layer_direction(layer),
            planes=int(self.planes.value), fusion=str(self.fusion.value),
            uncertainty_passes=int(self.uncertainty_passes.value), tag_effects=bool(self.tag_effects.value),
            tag_effect_maps=bool(self.tag_effects.value and self.tag_maps.value))
        passes = request.passes()                 # ValueError (1 uncertainty pass) -> "Cannot run"
        return _Run(layer, prompt, reference, request,
                    total_slices=sum(request.volume.shape[p.axis] for p in passes), passes=len(passes),
                    reading=self._check_memory(layer, request, len(passes)))

    def _check_memory(self, layer, request: JobRequest, passes: int) -> str:
        """Refuse (ValueError) a translation that cannot fit in memory; for a lazy source, the
        sentence that says it will be read whole, and why."""
        need = refuse_if_too_big(layer.name, request)
        if not is_lazy(request.source):
            return ""
        shape = "x".join(str(n) for n in request.source.shape)
        why = "the intensity scale" + (" and the other planes" if passes > 1 else "") + " need every voxel"
        return (f"Reading {layer.name!r} ({shape}, a dask array) into memory block by block "
                f"({block_count(request.source)} blocks): {why}; about {format_bytes(need.total)} of "
                f"{format_bytes(need.available)} available...")

    def _current_index(self, layer, axis: int) -> int:
        """The slice of ``layer`` under the viewer's current position along ``axis``."""
        if layer.ndim == 2:
            return 0
        position = layer.world_to_data(self._viewer.dims.point)
        return int(np.clip(np.round(position[axis]), 0, layer.data.shape[axis] - 1))

    # ------------------------------------------------------------------ worker callbacks (main thread)
    def _on_yielded(self, event: Any) -> None:
        run = self._run
        if run is None or self._guard.closed:
            return
        if isinstance(event, EngineWarning):
            run.warnings.append(event.text)
            self._report(self.status.value.split("\nWarning: ")[0])
        elif isinstance(event, BlockRead):
            self._report(f"Read {event.done} of {event.total} blocks of {run.source.name!r} into memory...")
        elif isinstance(event, ModelReady):
            self.model.show_loaded(event.label, event.device)
            self._report(f"Translating the current slice with {event.label}...")
        elif isinstance(event, SlicePreview):
            self._show_preview(run, event)
            self.preview_ready.emit(event.index)
        elif isinstance(event, TagScoring):
            self._report(f"Measuring the effect of each tag of the prompt on slice {event.index}...")
        else:                                   # engine TranslationStep, counted over every pass
            run.slices_done = event.done
            over = f" ({run.passes} passes)" if run.passes > 1 else ""
            self._report(f"Translated {event.done} of {event.total} slices{over}...")
            self.progressed.emit(event.done, event.total)

    def _show_preview(self, run: _Run, preview: SlicePreview) -> None:
        kwargs = slab_geometry_kwargs(run.source, preview.axis, preview.index)
        kwargs.update(name=preview_name(run.source.name, run.prompt, preview.index),
                      colormap="gray", metadata=self._metadata(run, preview.provenance, preview.tags))
        key = result_key(run.source.name, ANY_PROMPT, "preview")
        upsert_image(self._viewer, key, preview.data, kwargs, tooltip=run.prompt)

    def _on_returned(self, outcome: TranslationOutcome) -> None:
        run = self._run
        if run is None or self._guard.closed:
            return
        source, prompt = run.source, run.prompt
        metadata = self._metadata(run, outcome.provenance, outcome.tags)
        diff_kwargs = {**geometry_kwargs(source), "name": difference_name(source.name, prompt),
                       "colormap": DIFF_COLORMAP, "visible": False,
                       "metadata": {**metadata, "evai2i_map": "translation - source (normalised units)"}}
        upsert_image(self._viewer, result_key(source.name, prompt, "difference"), outcome.difference,
                     diff_kwargs, contrast_limits=outcome.difference_limits, tooltip=prompt)
        if run.reference is not None and outcome.comparison is not None:
            self._show_comparison(source, prompt, metadata, outcome.comparison, outcome.reference_difference,
                                  run.reference.name)
        uncertainty = self._show_uncertainty(run, metadata, outcome.uncertainty)
        tag_text = self._show_tag_effects(run, metadata, outcome)
        plan = outcome.provenance.get("planes")
        self.planes_used.value = plan["description"] if plan else ""
        kwargs = {**geometry_kwargs(source), "name": synthetic_name(source.name, prompt), "colormap": "gray",
                  "metadata": metadata}
        translation = upsert_image(self._viewer, result_key(source.name, prompt, "translation"),
                                   outcome.translation, kwargs, tooltip=prompt)
        remove_layers(self._viewer, find_results(self._viewer, source=source.name, role="preview"))
        self._viewer.layers.selection.active = translation
        self._last_result = (source, translation, prompt)
        run.outcome = "done"
        shape = "x".join(str(n) for n in outcome.translation.shape)
        extras = ""
        if plan:
            extras += f" {len(plan['axes'])} plane(s) fused ({plan['fusion']})."
        if outcome.provenance.get("in_plane_resampling"):            # coarse pixels: the 1 mm working grid
            extras += " " + "; ".join(outcome.provenance["in_plane_resampling"]).capitalize() + "."
        if uncertainty is not None:
            extras += f" Uncertainty over {run.passes} passes: {uncertainty.name!r} (hidden)."
        extras += tag_text
        self._report(f"Done: made {translation.name!r} ({shape}) in {outcome.seconds:.1f} s with "
                  f"{outcome.provenance['model_label']}; "
                  + self.source_contrast.describe(outcome.provenance)
                  + "." + extras + (f" {len(self._queue)} more layer(s) to go..." if self._queue else ""))

    def _show_uncertainty(self, run: _Run, metadata: dict, uncertainty: np.ndarray | None):
        """The SD map over the passes (hidden, over the source), or None; an older one of the same
        source and prompt goes when this run made none."""
        from ...engine.metrics import symmetric_limits

        key = result_key(run.source.name, run.prompt, "uncertainty")
        if uncertainty is None:
            remove_layers(self._viewer, [layer for layer in [find_result(self._viewer, key)] if layer is not None])
            return None
        kwargs = {**geometry_kwargs(run.source), "name": uncertainty_name(run.source.name, run.prompt),
                  "colormap": "inferno", "visible": False,
                  "metadata": {**metadata, "evai2i_map": UNCERTAINTY_DESCRIPTION}}
        return upsert_image(self._viewer, key, uncertainty, kwargs,
                            contrast_limits=(0.0, symmetric_limits(uncertainty)[1]), tooltip=run.prompt)

    def _show_tag_effects(self, run: _Run, metadata: dict, outcome: TranslationOutcome) -> str:
        """Fill the table (largest effect first) and add the difference maps; returns a status sentence."""
        report = outcome.tag_report
        # Percent text: a table cell that looks numeric is shown as 1.400e-03.
        rows = [] if report is None else [[e.tag, e.value, f"{100 * e.effect:.3g} %"] for e in report.effects]
        self.tag_table.value = {"data": rows, "index": list(range(1, len(rows) + 1)), "columns": TAG_COLUMNS}
        self._fit_table()
        made = []
        if report is not None:
            index = report.slices[0]
            for effect in report.effects:
                if effect.difference is None:
                    continue
                made.append(self._show_tag_map(run, metadata, report, effect, index))
        stale = [layer for layer in find_results(self._viewer, source=run.source.name, prompt=run.prompt,
                                                 role=TAG_EFFECT_ROLE) if layer not in made]
        remove_layers(self._viewer, stale)
        if not run.request.tag_effects:
            self.tag_note.value = ""
            return ""
        if report is None:
            self.tag_note.value = f"No tag effects: {outcome.tag_error}."
            return f" No tag effects: {outcome.tag_error}."
        if not report.effects:
            self.tag_note.value = "The prompt states no optional tag (TE, TR, field strength...) to leave out."
            return " Tag effects: the prompt states no optional tag."
        baseline = "" if " ".join(report.prompt.split()) == run.prompt else \
            f" Compared with the prompt's canonical wording: {report.prompt}"
        self.tag_note.value = f"Slice {report.slices[0]} along axis {report.axis}; {EFFECT_SIZE_TEXT}.{baseline}"
        top = report.effects[0]
        maps = f"; {len(made)} difference map(s) (hidden)" if made else ""
        return f" Tag effects on slice {report.slices[0]}: largest {top.tag} ({100 * top.effect:.3g} %){maps}."

    def _fit_table(self) -> None:
        """Columns as wide as their text, the dock not widened, no row numbers (rows are ranks)."""
        from qtpy.QtWidgets import QHeaderView

        native = self.tag_table.native
        native.setMaximumHeight(TABLE_HEIGHT)
        native.verticalHeader().setVisible(False)
        native.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        native.horizontalHeader().setStretchLastSection(True)

    def _show_tag_map(self, run: _Run, metadata: dict, report, effect, index: int):
        from ...engine.metrics import symmetric_limits

        kwargs = slab_geometry_kwargs(run.source, report.axis, index) if run.source.ndim == 3 \
            else geometry_kwargs(run.source)
        kwargs.update(name=tag_effect_name(run.source.name, run.prompt, effect.tag, index), colormap=DIFF_COLORMAP,
                      visible=False, metadata={**metadata, "evai2i_tag_effect": effect.to_dict(),
                                               "evai2i_map": f"translation without {effect.tag} ({effect.value}) "
                                                             f"- translation, slice {index} along axis {report.axis}"})
        key = {**result_key(run.source.name, run.prompt, TAG_EFFECT_ROLE), "tag": effect.tag}
        return upsert_image(self._viewer, key, effect.difference, kwargs,
                            contrast_limits=symmetric_limits(effect.difference), tooltip=run.prompt)

    def _metadata(self, run: _Run, provenance: dict, derived_tags: dict) -> dict:
        """Layer metadata of an output: the engine's provenance and derived tags, and the source's."""
        tags = run.source.metadata.get(TAGS_KEY) or {}
        metadata = {PROVENANCE_KEY: {**provenance, "source_layer": run.source.name},
                    TAGS_KEY: dict(derived_tags),
                    SOURCE_TAGS_KEY: dict(tags), SOURCE_PATH_KEY: run.source.metadata.get(SOURCE_PATH_KEY)}
        if run.source.metadata.get(DICOM_HEADER_KEY) is not None:
            metadata[DICOM_HEADER_KEY] = run.source.metadata[DICOM_HEADER_KEY]
        return metadata

    def _on_errored(self, exc: Exception) -> None:
        # napari's worker already shows the exception as a notification.
        if self._guard.closed:
            return
        if self._run is not None:
            self._run.outcome = "error"
        self._report(f"Error: {exc}")

    def _on_aborted(self) -> None:
        run = self._run
        if run is None or self._guard.closed:
            return
        run.outcome = "cancelled"
        earlier = find_result(self._viewer, result_key(run.source.name, run.prompt, "translation"))
        kept = (f"the earlier result {earlier.name!r} is unchanged" if earlier is not None
                else "no volume layer was made")
        over = f" ({run.passes} passes)" if run.passes > 1 else ""
        self._report(f"Cancelled after {run.slices_done} of {run.total_slices} slices{over}: {kept}; "
                  "the preview slice is kept.")

    def _on_finished(self) -> None:
        outcome = self._run.outcome if self._run is not None else "error"
        self._worker = None
        self._guard.release()
        if self._guard.closed:
            return
        if outcome == "done" and self._queue:           # "all image layers": the next one
            layer = self._queue.pop(0)
            if layer in self._viewer.layers and self._start(layer) is not None:
                return
        self._queue = []
        self.run_button.text = RUN_TEXT
        self.run_button.enabled = True
        self.run_finished.emit(outcome)

    # ------------------------------------------------------------------ comparison
    def _on_reference_changed(self, reference: Any) -> None:
        if reference is None or self._last_result is None or self._worker is not None:
            return
        self.compare()

    def compare(self):
        """Compare the last translation with the chosen reference (in a worker)."""
        from napari.qt.threading import create_worker

        from ..jobs import compare_with_reference

        reference = self.reference.value
        if reference is None or self._last_result is None:
            return None
        _, translation, _ = self._last_result
        if translation not in self._viewer.layers:
            return None
        if np.shape(reference.data) != np.shape(translation.data):
            self.metrics.value = f"Reference {reference.name!r} has another shape than the translation."
            return None
        axis = int(translation.metadata.get(PROVENANCE_KEY, {}).get("slicing_axis", 0))
        worker = create_worker(compare_with_reference, np.asarray(translation.data), np.asarray(reference.data),
                               axis, _start_thread=False, _ignore_errors=True)
        source, _, prompt = self._last_result
        worker.returned.connect(lambda result: self._show_comparison(
            source, prompt, dict(translation.metadata), result[0], result[1], reference.name))
        worker.errored.connect(lambda exc: setattr(self.metrics, "value", f"Comparison failed: {exc}"))
        self.metrics.value = "Comparing with the reference..."
        worker.start()
        return worker

    def _show_comparison(self, source, prompt: str, metadata: dict, comparison, abs_difference: np.ndarray,
                         reference_name: str) -> None:
        from ...engine.metrics import symmetric_limits

        limits = (0.0, symmetric_limits(abs_difference)[1])
        kwargs = {**geometry_kwargs(source), "name": reference_difference_name(source.name, prompt, reference_name),
                  "colormap": "magma", "visible": False,
                  "metadata": {**metadata, "evai2i_map": f"|translation - {reference_name}|"}}
        upsert_image(self._viewer, result_key(source.name, prompt, "reference difference"), abs_difference, kwargs,
                     contrast_limits=limits, tooltip=prompt)
        self.metrics.value = f"vs {reference_name}: {comparison.summary()}"

    # ------------------------------------------------------------------ source, grid, status
    def _on_source_changed(self, layer: Any) -> None:
        single = layer is not None and layer != ALL_LAYERS
        self.prompt.set_source_tags(layer.metadata.get(TAGS_KEY) if single else None)
        self.source_contrast.update_for(layer if single else None)
        if self._worker is not None:
            return
        if single and not has_geometry_or_tags(layer):
            self._say(f"{layer.name!r} has no voxel size, orientation or DICOM tags (another reader opened it?): "
                      "the output's geometry and the source's contrast are unknown. Open the file with "
                      "napari-evai2i to keep them.")
        else:
            self._say(READY_TEXT)

    def _on_options_changed(self, *_: Any) -> None:
        self.fusion.visible = self.planes.value == 3
        self.tag_maps.enabled = bool(self.tag_effects.value)
        self.tag_table.visible = self.tag_note.visible = bool(self.tag_effects.value)

    def _on_prompt_changed(self, prompt: str) -> None:
        if self._worker is None and not prompt:
            self._say("The prompt is empty: choose a contrast, or type or build one.")
        elif self._worker is None and self.status.value.startswith("The prompt is empty"):
            self._say(READY_TEXT)

    def toggle_side_by_side(self, *_: Any) -> None:
        """Source and translation in two linked panes (napari grid), or back to normal."""
        if self._side_by_side.active:
            self._side_by_side.restore()
            self.grid_button.text = GRID_TEXT
            return
        if self._last_result is None or self._last_result[1] not in self._viewer.layers \
                or self._last_result[0] not in self._viewer.layers:
            self._say("Run a translation first: side by side shows the source and its translation.")
            return
        source, translation, _ = self._last_result
        self._side_by_side.show(source, translation)
        self.grid_button.text = UNGRID_TEXT

    def _stop_for_close(self) -> None:
        """The viewer is closing (or this widget goes): no more queued layers, and the guard
        has stopped the job and waited for its thread."""
        self._queue = []

    def _say(self, text: str) -> None:
        self.status.value = text
        self.status_said.emit(text)

    def _report(self, text: str) -> None:
        """A status line about the job in flight (or just ended): its warnings stay under it."""
        warned = self._run.warnings if self._run is not None else []
        self._say(text + "".join(f"\nWarning: {w}" for w in warned))
