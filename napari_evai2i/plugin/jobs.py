"""The work the widgets run in napari thread workers, written without napari or Qt.

Each job is a plain generator over a snapshot of layer data: it yields small event objects
(model loaded, preview slice, one :class:`~napari_evai2i.engine.TranslationStep` per batch)
and returns an outcome. The translating itself is the engine's one pipeline
(:class:`~napari_evai2i.engine.pipeline.VolumeTranslation`), the same the command and the
writer use; the engine never changes the shared model, so workers need no lock and a live
preview may run while a volume renders. The widgets wrap these in ``thread_worker`` and
only touch layers in the main-thread callbacks; tests and scripts can drain them directly.
Stopping the iteration (a worker's ``quit()``) cancels at the next batch.

A lazy source (a dask array, as napari opens big volumes) stays lazy on the main thread:
the job reads it into memory block by block, with progress and cancel between blocks,
after :func:`memory_needed` has said it fits. Warnings the engine raises in the job are
written to stderr and yielded as :class:`EngineWarning`, so the widget can show them.
"""

from __future__ import annotations

import math
import sys
import threading
import time
import warnings
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_file
from ..engine.planes import DEFAULT_PLANES
from ..engine.request import PromptMix, Target
from .torch_guard import engine_module


@dataclass(frozen=True)
class JobRequest:
    """A widget's job: a snapshot of the layer's data and what to do with it, taken on the main thread."""

    #: the source layer's data, 2-D or 3-D: a numpy array, or a lazy one (dask) the job reads
    source: Any
    target: Target
    model: str                          #: built-in model name or checkpoint folder
    device: str = "auto"
    precision: str = "auto"             #: "auto" (bf16 on CUDA, fp32 on CPU), "fp32" or "bf16"
    batch_size: int = 4
    axis: int = 0                       #: slicing axis (data axis of the source)
    source_prompt: str | None = None
    preview_index: int | None = None    #: slice translated (and shown) before the rest
    reference: np.ndarray | None = None
    #: the source layer's DICOM tags (modality, derived tags of the output)
    tags: dict = field(default_factory=dict)
    #: voxel size (mm) of the (Z, Y, X) volume, from the layer's scale
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    #: LPS direction cosines of the data axes (layers.layer_direction); None: orientation unknown,
    #: so the engine slices the array as stored instead of turning it to the training axes
    direction: np.ndarray | None = None
    planes: int = DEFAULT_PLANES        #: 1: slice along ``axis``; 3: every usable axis, fused
    fusion: str = "resolution"          #: how the planes are fused (engine.planes.FUSIONS)
    uncertainty_passes: int = 0         #: 0: no uncertainty map; N >= 2: at most N passes
    tag_effects: bool = False           #: measure each tag's effect on the preview slice afterwards
    tag_effect_maps: bool = False       #: and keep each tag's difference map

    @property
    def volume(self) -> np.ndarray:
        return self.source[np.newaxis] if self.source.ndim == 2 else self.source

    @property
    def slicing_axis(self) -> int:
        return 0 if self.source.ndim == 2 else self.axis

    def planned(self) -> tuple:
        """The engine's plane plan and passes over the volume (planes, then uncertainty passes):
        planned without torch, so progress and memory are known before the model loads."""
        from ..engine.uncertainty import passes_for

        target = None if isinstance(self.target, PromptMix) else self.target
        return passes_for(self.volume.shape, self.spacing, target, self.planes, self.slicing_axis, self.fusion,
                          self.uncertainty_passes)

    def passes(self) -> list:
        return self.planned()[1]

    def slice_count(self) -> int:
        """Slices translated in all, over every pass (what the engine's steps count to)."""
        return sum(self.volume.shape[p.axis] for p in self.passes())

    def batch_count(self) -> int:
        """Batches over every pass: one :class:`TranslationStep` each."""
        batch = max(1, self.batch_size)
        return sum(-(-self.volume.shape[p.axis] // batch) for p in self.passes())


def is_lazy(array: Any) -> bool:
    """True for layer data that is not in memory yet (dask, zarr...): reading it costs time and memory."""
    return not isinstance(array, np.ndarray)


#: Block size, in bytes, for lazy sources that have no chunks of their own.
SLAB_BYTES = 64 * 2**20


def _blocks(array: Any) -> list[tuple[slice, ...]]:
    """Where each block of ``array`` lies: dask's chunks, else slabs of about SLAB_BYTES along axis 0."""
    chunks = getattr(array, "chunks", None)
    if isinstance(chunks, tuple) and chunks and all(isinstance(c, tuple) for c in chunks):
        edges = [np.cumsum((0,) + tuple(c)) for c in chunks]
        return [tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, index))
                for index in np.ndindex(*(len(c) for c in chunks))]
    shape = tuple(array.shape)
    per_slice = max(1, math.prod(shape[1:]) * np.dtype(array.dtype).itemsize)
    step = max(1, SLAB_BYTES // per_slice)
    return [(slice(start, min(start + step, shape[0])),) for start in range(0, shape[0], step)]


def block_count(array: Any) -> int:
    return len(_blocks(array)) if is_lazy(array) else 0


def read_blocks(array: Any) -> Generator["BlockRead", None, np.ndarray]:
    """Read a lazy array into one preallocated numpy array, one block at a time (a yield after
    each, so a job can show progress and stop between blocks); never more than one block is
    computed at once. Dask computes each block in this thread (synchronous scheduler): no
    thread pool of its own outlives the job."""
    out = np.empty(tuple(array.shape), dtype=np.dtype(array.dtype))
    blocks = _blocks(array)
    for i, where in enumerate(blocks):
        part = array[where]
        if hasattr(part, "compute"):
            part = part.compute(scheduler="synchronous")
        out[where] = np.asarray(part)
        yield BlockRead(i + 1, len(blocks))
    return out


@dataclass(frozen=True)
class MemoryNeed:
    """What a translation needs in host memory, known from shapes before anything is allocated."""

    read: int          #: bytes of lazy inputs (dask source, reference) read whole into memory
    working: int       #: the engine's estimate of its peak (engine.memory), less the model's batch
    parts: str         #: the engine's breakdown, for messages
    available: int     #: host memory available now

    @property
    def total(self) -> int:
        return self.read + self.working

    @property
    def fits(self) -> bool:
        from ..engine.memory import USABLE_SHARE

        return self.total <= USABLE_SHARE * self.available


def memory_needed(request: JobRequest, available: int | None = None) -> MemoryNeed:
    """Host memory ``request`` needs: the engine's own estimate (engine.memory, torch-free; the
    model's batch working set is left to the engine's check once the model is loaded), plus
    lazy inputs read whole in their own dtype (the intensity scale and the other planes need
    every voxel). ``available``: bytes free (measured when None)."""
    from ..engine.memory import available_host_memory, plan_memory

    plan, passes = request.planned()
    estimate = plan_memory(tuple(request.volume.shape), plan, passes, uncertainty=bool(request.uncertainty_passes),
                           input_copy=bool(np.issubdtype(np.dtype(request.source.dtype), np.floating)),
                           batch=request.batch_size)
    read = sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize
               for a in (request.source, request.reference) if a is not None and is_lazy(a))
    return MemoryNeed(read, estimate.host, estimate.describe_host(),
                      available_host_memory() if available is None else int(available))


def refuse_if_too_big(name: str, request: JobRequest) -> MemoryNeed:
    """The memory ``request`` needs; ValueError, with the sizes and what to do, when it cannot fit."""
    from ..io._size import format_bytes

    need = memory_needed(request)
    if not need.fits:
        shape = "x".join(str(n) for n in request.source.shape)
        read = f"{format_bytes(need.read)} to read the dask array whole, " if need.read else ""
        raise ValueError(
            f"translating {name!r} ({shape}) needs about {format_bytes(need.total)} of memory "
            f"({read}{need.parts}), but {format_bytes(need.available)} is available. Choose one plane "
            "and no uncertainty passes, crop or downsample the volume, or close other programs")
    return need


@dataclass(frozen=True)
class BlockRead:
    """``done`` of ``total`` blocks of a lazy source (or reference) are in memory."""

    done: int
    total: int


@dataclass(frozen=True)
class EngineWarning:
    """A warning raised while the job ran (model loading, the engine): shown by the widget,
    already written to stderr."""

    text: str
    category: str


@dataclass(frozen=True)
class ModelReady:
    label: str
    device: str


@dataclass(frozen=True)
class SlicePreview:
    """One translated slice, shaped like the source with a length-1 slicing axis."""

    axis: int
    index: int
    data: np.ndarray
    provenance: dict
    tags: dict = field(default_factory=dict)    #: tags of the derived (synthetic) image


@dataclass(frozen=True)
class TagScoring:
    """Tag effects are being measured on slice ``index`` (along the slicing axis)."""

    index: int


@dataclass(frozen=True)
class SweepFrame:
    done: int
    total: int


@dataclass
class TranslationOutcome:
    translation: np.ndarray
    difference: np.ndarray
    difference_limits: tuple[float, float]
    provenance: dict
    seconds: float
    comparison: Any = None                      #: engine.metrics.Comparison or None
    reference_difference: np.ndarray | None = None
    tags: dict = field(default_factory=dict)    #: tags of the derived (synthetic) image
    uncertainty: np.ndarray | None = None       #: per-voxel SD over the passes, shaped like the translation
    #: engine.attribution.TagReport; its difference maps are shaped like the source's slice
    tag_report: Any = None
    tag_error: str | None = None                #: why tag effects could not be measured (free text...)


def _engine_request(request: JobRequest, target: Target | None = None):
    from ..engine.request import TranslationRequest

    return TranslationRequest(target=request.target if target is None else target, model=request.model,
                              device=request.device, precision=request.precision, axis=request.slicing_axis,
                              batch_size=request.batch_size, source_prompt=request.source_prompt,
                              planes=request.planes, fusion=request.fusion, reorient=request.direction is not None,
                              uncertainty_passes=request.uncertainty_passes)


def _pipeline(request: JobRequest, target: Target | None = None):
    """The engine's :class:`VolumeTranslation` for this request (the model loads here, cached)."""
    from ..io import Volume

    VolumeTranslation = engine_module("engine.pipeline").VolumeTranslation

    array = request.volume
    direction = np.eye(3) if request.direction is None else request.direction
    volume = Volume(np.asarray(array) if is_lazy(array) else array, spacing=request.spacing,
                    direction=direction, tags=dict(request.tags))
    return VolumeTranslation(volume, _engine_request(request, target))


def _as_source_shape(array: np.ndarray, request: JobRequest) -> np.ndarray:
    return array[0] if request.source.ndim == 2 else array


def _preview(job, request: JobRequest, index: int) -> SlicePreview:
    slab = job.translate_slice(index)
    return SlicePreview(request.slicing_axis, index, _as_source_shape(slab, request),
                        {**job.provenance, "preview_slice": index}, job.derived_tags())


@contextmanager
def _warnings_of_this_thread(sink: list) -> Iterator[None]:
    """Collect the warnings raised in this thread into ``sink`` (every one: no once-per-place
    registry hides a repeat in a later job); other threads' warnings go where they went."""
    me = threading.get_ident()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        previous = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if threading.get_ident() == me:
                sink.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
            else:
                previous(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def forwarding_warnings(job: Generator[Any, None, Any]) -> Generator[Any, None, Any]:
    """Run ``job`` step by step, writing each distinct warning it raises to stderr (as Python
    would) and yielding it as :class:`EngineWarning` before the step's own event."""
    seen: set[tuple[str, str]] = set()
    while True:
        caught: list[warnings.WarningMessage] = []
        finished = None
        with _warnings_of_this_thread(caught):
            try:
                event = next(job)
            except StopIteration as stop:
                finished = stop
        for w in caught:
            key = (w.category.__name__, str(w.message))
            if key in seen:
                continue
            seen.add(key)
            sys.stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
            yield EngineWarning(str(w.message), w.category.__name__)
        if finished is not None:
            return finished.value
        yield event


def translate_volume(request: JobRequest) -> Generator[Any, None, TranslationOutcome]:
    """Read a lazy source block by block, load the model, translate the preview slice, then the
    whole volume batch by batch (every pass); with ``tag_effects``, then measure each tag's effect
    on the preview slice. Warnings come out as :class:`EngineWarning` events (and on stderr)."""
    return (yield from forwarding_warnings(_translate_volume(request)))


def _read_lazy_inputs(request: JobRequest) -> Generator[BlockRead, None, JobRequest]:
    """``request`` with its lazy source and reference read into memory (one count over both)."""
    lazy = [a for a in (request.source, request.reference) if a is not None and is_lazy(a)]
    total, done, arrays = sum(block_count(a) for a in lazy), 0, {}
    for name in ("source", "reference"):
        array = getattr(request, name)
        if array is None or not is_lazy(array):
            continue
        reader = read_blocks(array)
        while True:
            try:
                next(reader)
            except StopIteration as finished:
                arrays[name] = finished.value
                break
            done += 1
            yield BlockRead(done, total)
    return replace(request, **arrays) if arrays else request


def _translate_volume(request: JobRequest) -> Generator[Any, None, TranslationOutcome]:
    started = time.perf_counter()
    request = yield from _read_lazy_inputs(request)
    job = _pipeline(request)
    from ..engine.metrics import difference_map, symmetric_limits    # torch is loaded by now
    yield ModelReady(job.translator.label, str(job.translator.device))
    if request.preview_index is not None:
        yield _preview(job, request, request.preview_index)
    result = yield from job.steps()
    translation = _as_source_shape(result.volume.array, request)
    difference = difference_map(translation, request.source)
    uncertainty = None if result.uncertainty is None else _as_source_shape(result.uncertainty.array, request)
    outcome = TranslationOutcome(translation, difference, symmetric_limits(difference), result.provenance,
                                 seconds=0.0, tags=result.volume.tags, uncertainty=uncertainty)
    if request.reference is not None:
        outcome.comparison, outcome.reference_difference = compare_with_reference(
            translation, request.reference, request.slicing_axis)
    if request.tag_effects:
        index = request.preview_index
        if index is None:
            index = request.volume.shape[request.slicing_axis] // 2
        yield TagScoring(index)
        outcome.tag_report, outcome.tag_error = _tag_report(job, request, index)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _tag_report(job, request: JobRequest, index: int):
    """(TagReport, None), or (None, why) when the prompt has no tags to leave out: the translation
    is done by then, so a prompt tag effects cannot use must not fail it."""
    from dataclasses import replace

    tag_effects = engine_module("engine.attribution").tag_effects
    try:
        report = tag_effects(job.volume, _engine_request(request), job.translator, slices=[index],
                             maps=request.tag_effect_maps)
    except ValueError as exc:
        return None, str(exc)
    effects = tuple(e if e.difference is None else replace(e, difference=_as_source_shape(e.difference, request))
                    for e in report.effects)
    return replace(report, effects=effects), None


def compare_with_reference(translation: np.ndarray, reference: np.ndarray, axis: int = 0):
    """(Comparison, |translation - reference|) in normalised units."""
    metrics = engine_module("engine.metrics")
    reference = np.asarray(reference)
    return metrics.compare(translation, reference, axis), metrics.absolute_difference(translation, reference)


def translate_one_slice(request: JobRequest) -> SlicePreview:
    """Just the preview slice (the prompt explorer's live update)."""
    return _preview(_pipeline(request), request, 0 if request.preview_index is None else request.preview_index)


def sweep_slice(request: JobRequest, steps: int) -> Generator[SweepFrame, None, tuple[np.ndarray, dict]]:
    """The preview slice at ``steps`` points t = 0..1 from prompt A to B: ((steps, H, W), provenance)."""
    if not isinstance(request.target, PromptMix):
        raise ValueError("a sweep needs two prompts")
    if steps < 2:
        raise ValueError(f"a sweep needs at least 2 steps, not {steps}")
    index = 0 if request.preview_index is None else request.preview_index
    frames, provenance = [], {}
    for i, t in enumerate(np.linspace(0.0, 1.0, steps)):
        job = _pipeline(request, PromptMix(request.target.a, request.target.b, float(t)))
        frames.append(np.squeeze(job.translate_slice(index), axis=request.slicing_axis))
        provenance = provenance or {**job.provenance, "t": None, "sweep_steps": steps, "preview_slice": index}
        yield SweepFrame(i + 1, steps)
    return np.stack(frames), provenance


def save_gif(frames: np.ndarray, path: str | Path, fps: float = 4.0) -> Path:
    """An endlessly looping GIF of (N, H, W) frames, grey levels scaled to the sweep's range."""
    import imageio.v3 as iio

    path = Path(path).expanduser()
    if path.suffix.lower() != ".gif":
        path = path.with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    low, high = np.percentile(frames, [0.5, 99.5])
    grey = (np.clip((frames - low) / max(high - low, 1e-6), 0, 1) * 255).astype(np.uint8)
    # RGB frames: some readers decode a greyscale GIF's first frame differently from the rest.
    # Atomic: a job stopped (or a disk filled) mid-write leaves no half GIF, nor an old one half replaced.
    with atomic_file(path, ".gif") as temporary:
        iio.imwrite(temporary, np.repeat(grey[..., np.newaxis], 3, axis=-1), duration=1000.0 / fps, loop=0,
                    extension=".gif")
    return path


def export_sweep(request: JobRequest, steps: int, gif_path: str | Path, flip_axes: tuple[int, ...] = (),
                 fps: float = 4.0) -> Generator[SweepFrame, None, tuple[np.ndarray, Path, dict]]:
    """:func:`sweep_slice` and its GIF, whose frames are flipped (``flip_axes``) to look as on screen.

    Returns the frames as translated (not flipped), the GIF's path and the provenance.
    """
    stack, provenance = yield from sweep_slice(request, steps)
    shown = np.flip(stack, axis=tuple(a + 1 for a in flip_axes)) if flip_axes else stack
    return stack, save_gif(shown, gif_path, fps), provenance
