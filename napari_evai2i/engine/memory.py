"""How much memory a translation will take, checked before anything is allocated.

A volume read from a memory-mapped file, a dask layer or a header that promises far more
than the machine holds must be refused with the sizes, not die half-way with the system
killing the process. The estimate counts what :class:`~napari_evai2i.engine.pipeline.VolumeTranslation`
keeps alive at its peak: one float32 output per plane until they are fused, the fused result,
the pass being computed, the uncertainty accumulators, a copy the writer may make, and one
batch's activations (on the host for the CPU, on the GPU otherwise). It is deliberately a
little generous; a volume that only just fits is still refused, with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..io._size import available_memory_bytes, format_bytes
from .planes import in_plane_zoom, zoomed_shape

GIB = 1024**3
#: Live tensors of one forward pass, as a multiple of its largest one (inputs, residuals, outputs).
ACTIVATION_FACTOR = 3
#: Share of the available memory a translation may plan to use; the rest is left to everyone else.
USABLE_SHARE = 0.9


class NotEnoughMemoryError(ValueError):
    """A translation would need more memory than this machine has free."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a translation needs at its peak, by where they live, with what they are for."""

    host: int
    device: int
    host_parts: tuple[tuple[str, int], ...]
    device_type: str

    def describe_host(self) -> str:
        return ", ".join(f"{name} {format_bytes(size)}" for name, size in self.host_parts if size)


def available_host_memory() -> int:
    """Bytes a new allocation can take now (``io._size.available_memory_bytes``: psutil or sysconf,
    capped by a container's limit); when that cannot be told, no limit (never refuse on a guess)."""
    available = available_memory_bytes()
    return (1 << 62) if available is None else available


def available_device_memory(device) -> int | None:
    """Free bytes on a CUDA device, or None where memory is the host's (CPU) or unknown."""
    if getattr(device, "type", str(device)) != "cuda":
        return None
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def estimate_translation_memory(shape: tuple[int, int, int], *, axes_kept: int, passes_axes: list[int],
                                uncertainty: bool, input_copy: bool, batch: int, chunk_of,
                                activation_elements, weights_bytes: int, device_type: str,
                                spacing=None) -> MemoryEstimate:
    """Peak bytes of translating a volume of ``shape``.

    ``axes_kept``: plane outputs held until fusion; ``passes_axes``: the slicing axis of every
    pass; ``chunk_of(h, w)`` and ``activation_elements(h, w)``: the translator's chunking and the
    largest tensor of one slice; ``input_copy``: a cleaned float32 copy of the input is made;
    ``spacing``: slices with coarse pixels reach the network on the finer working grid
    (``planes.in_plane_zoom``), so their working set is that grid's.
    """
    voxels = int(shape[0]) * int(shape[1]) * int(shape[2])
    volume = 4 * voxels                                          # one float32 volume
    working = 0
    for axis in set(passes_axes):
        h, w = zoomed_shape(*[n for i, n in enumerate(shape) if i != axis], in_plane_zoom(spacing, axis))
        slices = min(batch, shape[axis], chunk_of(h, w))
        working = max(working, ACTIVATION_FACTOR * 4 * slices * activation_elements(h, w))
    parts = [("input copy", volume if input_copy else 0),
             (f"{axes_kept} plane output{'s' if axes_kept != 1 else ''}", axes_kept * volume),
             ("pass in progress", volume if (uncertainty or axes_kept > 1) else 0),
             ("fused result", volume if axes_kept > 1 else 0),
             ("uncertainty", 3 * volume if uncertainty else 0),
             ("copy for writing", volume)]
    on_host = device_type != "cuda"
    if on_host:
        parts.append(("model working set", working))
    host = sum(size for _name, size in parts)
    device = 0 if on_host else working + weights_bytes
    return MemoryEstimate(host, device, tuple(parts), device_type)


def plan_memory(shape: tuple[int, int, int], plan, passes, *, uncertainty: bool, input_copy: bool,
                batch: int, translator=None, spacing=None) -> MemoryEstimate:
    """:func:`estimate_translation_memory` of a planned translation (``engine.uncertainty.passes_for``).

    With the loaded ``translator`` its batch working set and weights count too; without one
    (a widget, before the model loads: no torch) only the volumes do.
    """
    if translator is None:
        model = {"chunk_of": lambda h, w: 1, "activation_elements": lambda h, w: 0, "weights_bytes": 0,
                 "device_type": "cpu"}
    else:
        model = {"chunk_of": translator.chunk_size,
                 "activation_elements": translator.model.generator.peak_activation_elements,
                 "weights_bytes": sum(p.numel() * p.element_size() for p in translator.model.parameters()),
                 "device_type": translator.device.type}
    return estimate_translation_memory(shape, axes_kept=len(plan.axes), passes_axes=[p.axis for p in passes],
                                       uncertainty=uncertainty, input_copy=input_copy, batch=batch,
                                       spacing=spacing, **model)


def check_memory(estimate: MemoryEstimate, what: str, *, host_available: int | None = None,
                 device_available: int | None = None) -> None:
    """Refuse (:class:`NotEnoughMemoryError`) a translation that cannot fit, saying what would."""
    host_available = available_host_memory() if host_available is None else host_available
    if estimate.host > USABLE_SHARE * host_available:
        raise NotEnoughMemoryError(
            f"{what}: translating needs about {format_bytes(estimate.host)} of memory ({estimate.describe_host()}) "
            f"but {format_bytes(host_available)} is available; translate one plane (planes=1), crop the volume "
            "to the region you need, or use a machine with more memory")
    if device_available is not None and estimate.device > USABLE_SHARE * device_available:
        raise NotEnoughMemoryError(
            f"{what}: one batch needs about {format_bytes(estimate.device)} of GPU memory but "
            f"{format_bytes(device_available)} is free; use a smaller batch (batch_size=1), free the GPU, "
            "or translate on the CPU (device='cpu')")
