"""The work the widgets run in napari thread workers, written without napari or Qt.

Each job is a plain generator over numpy snapshots of layer data: it yields small event
objects (model loaded, preview slice, one :class:`~napari_evai2i.engine.TranslationStep`
per batch) and returns an outcome. The widgets wrap them in ``thread_worker`` and only
touch layers in the main-thread callbacks; tests and scripts can drain them directly.
Stopping the iteration (a worker's ``quit()``) cancels at the next batch.

Several workers may share one cached model (a live preview while a volume renders), and
the engine binds a prompt to the model for the length of an ``iter_translate`` call. So
every call here covers one batch only and runs under :data:`MODEL_LOCK`: a worker never
holds the model between two yields, and an abandoned (cancelled) job cannot block others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .torch_guard import guard_triton_import

#: Serialises model use between thread workers (held for one batch at a time).
MODEL_LOCK = threading.Lock()


@dataclass(frozen=True)
class PromptMix:
    """A point on the spherical path from prompt ``a`` (t=0) to prompt ``b`` (t=1)."""

    a: str
    b: str
    t: float

    def describe(self) -> str:
        return f"interpolation t={self.t:.2f} from A: {' '.join(self.a.split())} to B: {' '.join(self.b.split())}"


Target = str | PromptMix


@dataclass(frozen=True)
class TranslationRequest:
    """Everything a job needs, captured on the main thread before the worker starts."""

    source: np.ndarray                  #: snapshot of the source layer's data, 2-D or 3-D
    target: Target
    model: str                          #: built-in model name or checkpoint folder
    device: str = "auto"
    precision: str = "auto"             #: "auto" (bf16 on CUDA, fp32 on CPU), "fp32" or "bf16"
    batch_size: int = 4
    axis: int = 0                       #: slicing axis (data axis of the source)
    source_prompt: str | None = None
    preview_index: int | None = None    #: slice translated (and shown) before the rest
    reference: np.ndarray | None = None

    @property
    def volume(self) -> np.ndarray:
        return self.source[np.newaxis] if self.source.ndim == 2 else self.source

    @property
    def slicing_axis(self) -> int:
        return 0 if self.source.ndim == 2 else self.axis

    def batch_count(self) -> int:
        n = self.volume.shape[self.slicing_axis]
        return -(-n // max(1, self.batch_size))


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


def _load(request: TranslationRequest):
    guard_triton_import()
    from ..engine import load_model

    return load_model(request.model, request.device, request.precision)


def _embedding(translator, target: Target):
    """What ``iter_translate`` takes: the prompt text, or a (1, S) numpy point between two prompts."""
    if not isinstance(target, PromptMix):
        return target                                   # the engine embeds (and caches) it
    with MODEL_LOCK:
        mix = translator.interpolate(translator.embed_prompt(target.a), translator.embed_prompt(target.b), target.t)
    return mix.detach().cpu().numpy()                   # numpy: valid input whatever the device


def _provenance(translator, request: TranslationRequest) -> dict:
    target = request.target
    text = target.describe() if isinstance(target, PromptMix) else target
    provenance = translator.provenance(text, request.source_prompt)
    provenance.update(model_label=translator.label, slicing_axis=request.slicing_axis,
                      batch_size=request.batch_size)
    if isinstance(target, PromptMix):
        provenance.update(prompt_a=target.a, prompt_b=target.b, t=target.t)
    return provenance


def _translate_chunk(translator, request: TranslationRequest, embedding, scale, start: int, stop: int) -> np.ndarray:
    """Slices ``start:stop`` along the slicing axis, translated with the whole volume's scale."""
    chunk = np.take(request.volume, range(start, stop), axis=request.slicing_axis)
    with MODEL_LOCK:
        steps = translator.iter_translate(chunk, embedding, axis=request.slicing_axis, batch_size=stop - start,
                                          source_prompt=request.source_prompt, scale=scale)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                return finished.value


def _translate_slab(translator, request: TranslationRequest, embedding, scale, index: int) -> np.ndarray:
    return _translate_chunk(translator, request, embedding, scale, index, index + 1)


def _translate_all(translator, request: TranslationRequest, embedding, scale) -> Generator[Any, None, np.ndarray]:
    """The whole volume, one batch per step (an engine ``TranslationStep`` is yielded after each)."""
    from ..engine import TranslationStep

    volume, axis = request.volume, request.slicing_axis
    out = np.empty(volume.shape, dtype=np.float32)
    target = np.moveaxis(out, axis, 0)
    total, batch = volume.shape[axis], max(1, request.batch_size)
    for start in range(0, total, batch):
        stop = min(start + batch, total)
        target[start:stop] = np.moveaxis(_translate_chunk(translator, request, embedding, scale, start, stop), axis, 0)
        yield TranslationStep(start, stop, total)
    return out


def _as_source_shape(array: np.ndarray, request: TranslationRequest) -> np.ndarray:
    return array[0] if request.source.ndim == 2 else array


def translate_volume(request: TranslationRequest) -> Generator[Any, None, TranslationOutcome]:
    """Load the model, translate the preview slice, then the whole volume batch by batch."""
    from ..engine import fit_intensity_scale
    from ..engine.metrics import difference_map, symmetric_limits

    started = time.perf_counter()
    translator = _load(request)
    yield ModelReady(translator.label, str(translator.device))
    embedding = _embedding(translator, request.target)
    scale = fit_intensity_scale(request.volume)
    provenance = _provenance(translator, request)
    if request.preview_index is not None:
        slab = _translate_slab(translator, request, embedding, scale, request.preview_index)
        yield SlicePreview(request.slicing_axis, request.preview_index, _as_source_shape(slab, request),
                           {**provenance, "preview_slice": request.preview_index})
    out = yield from _translate_all(translator, request, embedding, scale)
    translation = _as_source_shape(out, request)
    difference = difference_map(translation, request.source)
    outcome = TranslationOutcome(translation, difference, symmetric_limits(difference), provenance,
                                 seconds=time.perf_counter() - started)
    if request.reference is not None:
        outcome.comparison, outcome.reference_difference = compare_with_reference(
            translation, request.reference, request.slicing_axis)
    return outcome


def compare_with_reference(translation: np.ndarray, reference: np.ndarray, axis: int = 0):
    """(Comparison, |translation - reference|) in normalised units."""
    guard_triton_import()
    from ..engine.metrics import absolute_difference, compare

    reference = np.asarray(reference)
    return compare(translation, reference, axis), absolute_difference(translation, reference)


def translate_one_slice(request: TranslationRequest) -> SlicePreview:
    """Just the preview slice (the prompt explorer's live update)."""
    from ..engine import fit_intensity_scale

    translator = _load(request)
    embedding = _embedding(translator, request.target)
    index = 0 if request.preview_index is None else request.preview_index
    slab = _translate_slab(translator, request, embedding, fit_intensity_scale(request.volume), index)
    return SlicePreview(request.slicing_axis, index, _as_source_shape(slab, request),
                        {**_provenance(translator, request), "preview_slice": index})


def sweep_slice(request: TranslationRequest, steps: int) -> Generator[SweepFrame, None, np.ndarray]:
    """The preview slice translated at ``steps`` points t = 0..1 from prompt A to B: (steps, H, W)."""
    from ..engine import fit_intensity_scale

    if not isinstance(request.target, PromptMix):
        raise ValueError("a sweep needs two prompts")
    if steps < 2:
        raise ValueError(f"a sweep needs at least 2 steps, not {steps}")
    translator = _load(request)
    scale = fit_intensity_scale(request.volume)
    index = 0 if request.preview_index is None else request.preview_index
    frames = []
    for i, t in enumerate(np.linspace(0.0, 1.0, steps)):
        mix = PromptMix(request.target.a, request.target.b, float(t))
        slab = _translate_slab(translator, request, _embedding(translator, mix), scale, index)
        frames.append(np.squeeze(slab, axis=request.slicing_axis))
        yield SweepFrame(i + 1, steps)
    return np.stack(frames)


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
    iio.imwrite(path, np.repeat(grey[..., np.newaxis], 3, axis=-1), duration=1000.0 / fps, loop=0)
    return path


def export_sweep(request: TranslationRequest, steps: int, gif_path: str | Path, flip_axes: tuple[int, ...] = (),
                 fps: float = 4.0) -> Generator[SweepFrame, None, tuple[np.ndarray, Path]]:
    """:func:`sweep_slice`, oriented as on screen (``flip_axes`` of each frame), saved as a GIF."""
    stack = yield from sweep_slice(request, steps)
    if flip_axes:
        stack = np.flip(stack, axis=tuple(a + 1 for a in flip_axes))
    return stack, save_gif(stack, gif_path, fps)
