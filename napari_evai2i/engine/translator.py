"""Volume translation: load a model once, embed the prompt once, translate slice batches.

:func:`load_model` is the front door. The :class:`Translator` it returns works on plain
numpy volumes, so the CLI, scripts and the napari widgets share one code path. Progress
crosses into callers as a generator (:meth:`Translator.iter_translate`, one step per
batch) or a callback that can cancel (:meth:`Translator.translate`); this module never
imports napari or Qt.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..model import CheckpointInfo, EVAModel, create_model, load_pretrained
from ..model.layers import BoundPrompt
from ..model.files import WEIGHTS_FILE, is_checkpoint_folder
from .normalization import IntensityScale, fit_intensity_scale
from .planes import WORKING_PIXEL_MM, head_box, in_plane_zoom, zoomed_shape

#: Built-in model names. ``demo`` ships inside the package; ``*-random`` are untrained.
BUILTIN_MODELS = ("demo", "tiny-random", "paper-random")
UNTRAINED_LABEL = "UNTRAINED"
#: Largest tensor a forward pass may create (2^30 elements; CUDA indexes with 32 bits).
MAX_TENSOR_ELEMENTS = 2**30
RANDOM_SEED = 0

#: "auto": bf16 autocast on CUDA, fp32 on CPU (see Translator.precision).
PRECISIONS = ("auto", "fp32", "bf16")

Prompt = str | np.ndarray | torch.Tensor
ProgressCallback = Callable[[int, int], bool | None]


class TranslationCancelled(RuntimeError):
    """Raised by :meth:`Translator.translate` when the progress callback returns False."""


@dataclass(frozen=True)
class TranslationStep:
    """One finished batch: slices ``start:stop`` along the slicing axis are done."""

    start: int
    stop: int
    total: int

    @property
    def done(self) -> int:
        return self.stop


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; an unavailable choice is an error."""
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use 'cpu' or 'auto'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was requested but Apple MPS is not available; use 'cpu' or 'auto'")
    if not (name == "cpu" or name == "mps" or name.startswith("cuda")):
        raise ValueError(f"unknown device {device!r}: choose auto, cpu, cuda or mps")
    return torch.device(name)


def available_devices() -> list[str]:
    """Devices worth offering in a device picker on this machine."""
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def demo_checkpoint_path() -> Path:
    return Path(str(resources.files("napari_evai2i") / "weights" / "demo"))


def slices_per_chunk(generator, height: int, width: int) -> int:
    """Most slices of H x W one forward pass of ``generator`` may take.

    Keeps every tensor under 2^30 elements: far below the 32-bit index limit of CUDA
    kernels, and a bound on peak memory on every device.
    """
    return max(1, MAX_TENSOR_ELEMENTS // generator.peak_activation_elements(height, width))


def load_model(name_or_path: str | Path = "demo", device: str | torch.device = "auto",
               precision: str = "auto") -> "Translator":
    """Load a model by built-in name or checkpoint folder; cached per (model, device).

    ``precision`` is "auto" (bf16 on CUDA, fp32 on CPU), "fp32" or "bf16".
    """
    resolved = resolve_device(device)
    key = str(name_or_path)
    if key not in BUILTIN_MODELS or key == "demo":
        path = demo_checkpoint_path() if key == "demo" else Path(key).expanduser().resolve()
        if key == "demo" and not is_checkpoint_folder(path):
            raise ValueError("the demo checkpoint is not installed with this copy of napari-evai2i")
        if not path.exists():
            raise ValueError(f"model {key!r} is neither a built-in model ({', '.join(BUILTIN_MODELS)}) "
                             "nor a checkpoint folder; name a built-in or the folder a training run wrote "
                             "(OUT/model)")
        key = str(path)
    return _load_cached(key, str(resolved)).with_precision(precision)


@functools.lru_cache(maxsize=1)
def native_bf16_on_cpu() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); AVX2 only emulates it.

    Emulated bf16 made the demo 12x slower than fp32 on our AVX2 machine, so bf16 is offered
    on the CPU only where this is true.
    """
    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    return "AMX" in capability or "BF16" in capability or bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def _cpuinfo(key: str) -> str | None:
    """The first value of ``key`` in Linux /proc/cpuinfo (None elsewhere, or where it is missing)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    return set((_cpuinfo("flags") or "").split())


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what ``platform`` knows."""
    import platform

    return _cpuinfo("model name") or platform.processor() or platform.machine()


def describe_machine() -> dict:
    """What a timing or a float result depends on: Python, torch, the CPU and its instruction set.

    Why: float kernels differ between CPU models, so a run repeats bit for bit only on the kind
    of CPU it ran on (docs/training.md, "Reproducing a run"); timings are quoted with their
    instruction set (docs/performance.md)."""
    import os
    import platform

    info = {"python": platform.python_version(), "torch": torch.__version__, "cpu": cpu_model(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16_on_cpu()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def effective_precision(precision: str, device: torch.device) -> str:
    """The precision that actually runs for a requested one: "fp32" or "bf16".

    "auto" is bf16 on CUDA and fp32 elsewhere; "bf16" on a CPU without native bf16 falls
    back to fp32 (the caller warns).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if precision == "bf16" and device.type == "cpu" and not native_bf16_on_cpu():
        return "fp32"
    return precision


@functools.lru_cache(maxsize=4)
def _load_cached(key: str, device: str) -> "Translator":
    if key in ("tiny-random", "paper-random"):
        model = create_model(key.split("-")[0], seed=RANDOM_SEED).to(device).eval()
        info = CheckpointInfo(trained=False, description=f"untrained {key} model (seed {RANDOM_SEED})",
                              provenance={"seed": RANDOM_SEED})
        return Translator(model, info, torch.device(device), name=key, checkpoint_hash="none")
    model, info = load_pretrained(key, device)
    return Translator(model, info, torch.device(device), name=Path(key).name,
                      checkpoint_hash=_file_hash(Path(key) / WEIGHTS_FILE))


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


class Translator:
    """A loaded model on one device, ready to translate volumes into prompted domains."""

    def __init__(self, model: EVAModel, info: CheckpointInfo, device: torch.device,
                 name: str, checkpoint_hash: str) -> None:
        self.model = model.requires_grad_(False)
        if device.type == "cuda":
            self.model.generator.to(memory_format=torch.channels_last)
        self.info = info
        self.device = device
        self.name = name
        self.checkpoint_hash = checkpoint_hash
        self._embeddings: dict[str, torch.Tensor] = {}
        self._precision = "auto"

    # -------------------------------------------------------------- precision
    @property
    def precision(self) -> str:
        """Arithmetic of the generator: "auto", "fp32" or "bf16".

        "auto" is bf16 autocast on CUDA and fp32 on CPU. bf16 on a CPU with native bf16
        instructions translates the demo volume about 1.4x faster with outputs within 1.5 % of
        fp32 (docs/performance.md), but fp32 stays the CPU default so a CPU result is
        reproducible bit for bit; ask for bf16 (:meth:`with_precision`) to trade that for speed.
        """
        return self._precision

    def with_precision(self, precision: str) -> "Translator":
        """The same loaded model (shared weights and prompt cache) at another precision.

        bf16 on a CPU without native bf16 warns and runs fp32 (:func:`effective_precision`);
        :meth:`provenance` records both what was asked and what ran.
        """
        effective = effective_precision(precision, self.device)
        if precision == "bf16" and effective != "bf16":
            warnings.warn(
                f"bf16 requested but this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native "
                "bf16 and would emulate it about 12x slower than fp32; running fp32 instead",
                RuntimeWarning, stacklevel=2)
        if precision == self._precision:
            return self
        other = copy.copy(self)
        other._precision = precision
        return other

    def uses_bf16(self) -> bool:
        return effective_precision(self._precision, self.device) == "bf16"

    # ---------------------------------------------------------- normalisation
    @property
    def normalization_rule(self) -> str:
        """The MR intensity rule this checkpoint was trained with (``config.json``)."""
        return str(self.info.normalization.get("MR", "p99.5"))

    def fit_scale(self, volume: np.ndarray, modality: str = "MR", spacing=None) -> IntensityScale:
        """The input scale of ``volume`` under this checkpoint's rule (the one way inference fits it)."""
        return fit_intensity_scale(volume, modality, self.normalization_rule, spacing)

    # ----------------------------------------------------------------- labels
    @property
    def trained(self) -> bool:
        return bool(self.info.trained)

    @property
    def trained_modalities(self) -> tuple[str, ...] | None:
        """Modalities the checkpoint was trained on where its recipes say (the simulator makes MR
        only; an average of checkpoints, where every source's recipe says so); None when unknown
        (a cohort of the user's own files, an untrained model)."""
        recipes = self.info.recipes()
        if self.trained and recipes and all(recipe.get("data") == "simulator" for recipe in recipes):
            return ("MR",)
        return None

    @property
    def label(self) -> str:
        """Short model name for layer names and logs; says UNTRAINED where it applies."""
        return self.name if self.trained else f"{self.name} ({UNTRAINED_LABEL})"

    def provenance(self, prompt: str, source_prompt: str | None = None) -> dict:
        """What a saved or displayed translation must carry about how it was made."""
        return {"synthetic": True, "generator": "napari-evai2i", "model": self.name,
                "model_trained": self.trained, "checkpoint_sha256": self.checkpoint_hash,
                "prompt": prompt, "source_prompt": source_prompt, "device": str(self.device),
                "precision": "bf16" if self.uses_bf16() else "fp32", "precision_requested": self._precision,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    # ---------------------------------------------------------------- prompts
    def embed_prompt(self, prompt: Prompt) -> torch.Tensor:
        """The (1, S) style of a prompt text (cached): its unit DCLIP embedding, plus the numbers it
        states for a model that reads them (``prompt_numbers``); or a given embedding, normalised."""
        if not isinstance(prompt, str):
            emb = torch.as_tensor(np.asarray(prompt), dtype=torch.float32).reshape(1, -1)
            if emb.shape[1] != self.model.config.embed_dim:
                raise ValueError(f"prompt embedding has {emb.shape[1]} values; this model uses "
                                 f"{self.model.config.embed_dim}")
            return F.normalize(emb, dim=-1).to(self.device)
        text = " ".join(prompt.split())
        if text not in self._embeddings:
            with torch.inference_mode():
                self._embeddings[text] = self.model.prompt_styles([text], self.device)
        return self._embeddings[text]

    def bind(self, prompt: Prompt | BoundPrompt) -> BoundPrompt:
        """A prompt with the decoder's kernels computed once (a value; the model is not changed)."""
        if isinstance(prompt, BoundPrompt):
            return prompt
        with torch.inference_mode():
            return self.model.generator.bind_prompt(self.embed_prompt(prompt))

    @staticmethod
    def interpolate(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
        """Spherical interpolation between two unit embeddings (the prompt explorer's slider)."""
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        cos = (a * b).sum(-1, keepdim=True).clamp(-1.0, 1.0)
        omega = torch.arccos(cos)
        if float(omega.abs().max()) < 1e-4:
            return F.normalize((1 - t) * a + t * b, dim=-1)
        so = torch.sin(omega)
        return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b

    # ------------------------------------------------------------ translation
    def default_batch_size(self) -> int:
        return 32 if self.device.type == "cuda" else 4

    def chunk_size(self, height: int, width: int) -> int:
        """Most slices of H x W one forward pass may take (any batch size is split into these)."""
        return slices_per_chunk(self.model.generator, height, width)

    def translate_slices(self, slices: np.ndarray, target: torch.Tensor | BoundPrompt,
                         source: torch.Tensor | None = None, chunk: int | None = None) -> np.ndarray:
        """(B, H, W) normalised slices -> (B, H, W) normalised translations, any B.

        ``target`` is a (1, S) embedding or the :class:`BoundPrompt` of one (kernels made once).

        On CUDA: channels-last and pinned host memory so the copies in and out are
        asynchronous. bf16 autocast as :attr:`precision` says.
        """
        slices = np.ascontiguousarray(slices, dtype=np.float32)
        cuda = self.device.type == "cuda"
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.uses_bf16())
        out = np.empty(slices.shape, dtype=np.float32)
        step = min(chunk or slices.shape[0], self.chunk_size(*slices.shape[-2:]))
        with torch.inference_mode(), autocast:
            for start in range(0, slices.shape[0], step):
                x = torch.from_numpy(slices[start:start + step]).unsqueeze(1)
                if cuda:
                    x = x.pin_memory().to(self.device, non_blocking=True)
                    x = x.contiguous(memory_format=torch.channels_last)
                y = self.model.generator(x, target, source).float().squeeze(1)
                out[start:start + step] = y.cpu().numpy()
        return out

    def iter_translate(self, volume: np.ndarray, prompt: Prompt | BoundPrompt, *, axis: int = 0,
                       batch_size: int | None = None, source_prompt: Prompt | None = None,
                       modality: str = "MR", out: np.ndarray | None = None,
                       scale: IntensityScale | None = None, spacing=None,
                       working_pixel_mm: float | None = WORKING_PIXEL_MM,
                       crop_to_head: bool | tuple[slice, slice] = True) -> Iterator[TranslationStep]:
        """Translate ``volume`` slice-batch by slice-batch into ``out`` (allocated if None).

        Yields one :class:`TranslationStep` per batch, so a caller can show progress or
        stop pulling to cancel; the generator's return value is ``out``. The volume is
        normalised batch by batch with one scale fitted on the whole volume, so no
        full-size float64 copy is ever made. Nothing shared is changed, so threads may run
        this at once on one cached translator with different prompts. Slices whose in-plane
        pixel (from ``spacing``) is coarser than ``planes.RESAMPLE_ABOVE_MM`` are translated on a
        ``working_pixel_mm`` grid (None: never) and averaged back (``planes.in_plane_zoom``).
        ``crop_to_head``: True translates every slice inside the box around the volume's
        foreground (``planes.head_box``) and sets the rest to air; a (rows, columns) box of
        slices uses that box (a caller translating a few slices of a larger volume); False, the
        whole slice.
        """
        volume = np.asarray(volume)
        if volume.ndim == 2:
            volume = volume[None]
            axis = 0
            spacing = None if spacing is None else (1.0, *tuple(spacing)[-2:])
        if volume.ndim != 3:
            raise ValueError(f"expected a 2-D slice or a 3-D volume, got an array of shape {volume.shape}")
        if axis not in (0, 1, 2):
            raise ValueError(f"slicing axis must be 0, 1 or 2, not {axis}")
        if min(volume.shape) == 0:
            raise ValueError(f"cannot translate an empty volume of shape {volume.shape}")
        batch = int(batch_size or self.default_batch_size())
        if batch < 1:
            raise ValueError(f"batch size must be at least 1, not {batch}")
        scale = scale or self.fit_scale(volume, modality, spacing)
        bound = self.bind(prompt)               # a value: the shared model is never changed
        source = None
        if source_prompt is not None and self.model.config.generator.source_conditioning:
            source = self.embed_prompt(source_prompt)
        if out is None:
            out = np.empty(volume.shape, dtype=np.float32)
        src = np.moveaxis(volume, axis, 0)
        dst = np.moveaxis(out, axis, 0)
        total = src.shape[0]
        zoom = in_plane_zoom(spacing, axis, working_pixel_mm)
        box = crop_to_head if isinstance(crop_to_head, tuple) else \
            head_box(volume, axis, spacing) if crop_to_head else None
        air = float(scale.denormalize(np.zeros(1, np.float32))[0])
        for start in range(0, total, batch):
            stop = min(start + batch, total)
            normalized = scale.normalize(src[start:stop] if box is None else src[start:stop, box[0], box[1]])
            if zoom is None:
                translated = self.translate_slices(normalized, bound, source)
            else:
                translated = _resampled(normalized, zoom, lambda x: self.translate_slices(x, bound, source))
            if box is None:
                dst[start:stop] = scale.denormalize(translated)
            else:
                dst[start:stop] = air
                dst[start:stop, box[0], box[1]] = scale.denormalize(translated)
            yield TranslationStep(start, stop, total)
        return out

    def translate(self, volume: np.ndarray, prompt: Prompt, *, axis: int = 0,
                  batch_size: int | None = None, progress: ProgressCallback | None = None,
                  source_prompt: Prompt | None = None, modality: str = "MR", spacing=None,
                  scale: IntensityScale | None = None, crop_to_head: bool = True) -> np.ndarray:
        """Translate a whole volume; float32, same shape, in the input's intensity scale.

        ``progress(done, total)`` is called after every batch; returning ``False``
        cancels with :class:`TranslationCancelled`. ``spacing`` (mm per axis) serves the
        normalisation rule; 1 mm when not given. ``scale`` replaces the rule's fitted scale
        (probes that normalise a phantom at a known level). ``crop_to_head``: see
        :meth:`iter_translate`.
        """
        result = run_steps(self.iter_translate(volume, prompt, axis=axis, batch_size=batch_size,
                                               source_prompt=source_prompt, modality=modality,
                                               spacing=spacing, scale=scale, crop_to_head=crop_to_head),
                           progress)
        return result[0] if np.asarray(volume).ndim == 2 else result


def _resampled(slices: np.ndarray, zoom: tuple[float, float], translate) -> np.ndarray:
    """``translate`` (B, H, W) -> (B, H, W) run on a finer grid: bicubic up (clamped at 0, the
    background), area-averaged back to the slices' own pixels."""
    height, width = slices.shape[-2:]
    fine = zoomed_shape(height, width, zoom)
    x = torch.from_numpy(np.ascontiguousarray(slices, dtype=np.float32))[:, None]
    up = F.interpolate(x, size=fine, mode="bicubic", align_corners=False).clamp_min(0).squeeze(1).numpy()
    y = torch.from_numpy(np.ascontiguousarray(translate(up), dtype=np.float32))[:, None]
    return F.interpolate(y, size=(height, width), mode="area").squeeze(1).numpy()


def run_steps(steps: Generator[TranslationStep, None, Any], progress: ProgressCallback | None = None) -> Any:
    """Drain a step generator and return its value; ``progress(done, total)`` after each step.

    A ``progress`` that returns ``False`` closes the generator and raises
    :class:`TranslationCancelled`: the one cancel rule of every blocking translate call.
    """
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            return finished.value
        if progress is not None and progress(step.done, step.total) is False:
            steps.close()
            raise TranslationCancelled(f"translation cancelled after {step.done} of {step.total} slices")
