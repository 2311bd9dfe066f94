"""What the input is: the source prompt from tags, a named contrast, the image, or unknown.

Most scans users open are NIfTI files without tags, yet the model does better when it is told
the source contrast. Widgets therefore offer the contrast as a choice, prefilled by
:func:`guess_kind` from the file name or series description (``sub-01_T1w.nii.gz``,
``t2_tse_tra``, ``FLAIR``), and the command takes ``--source-prompt``. Where neither tags nor
a name say it, :func:`read_contrast` asks the contrast reader
(:mod:`napari_evai2i.model.contrast_reader`) and the engine uses its answer only when it is
confident (:func:`untagged_source_prompt`). Whatever the route,
:func:`describe_source_prompt` says which source prompt was used, and where it came from.

Torch is imported only when the reader runs, so the plugin can import this module freely.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np

#: Contrasts of the simulator's presets, offered as ready-made prompts (STIR is held out of
#: the demo training: a zero-shot target).
KNOWN_KINDS = ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE", "STIR")

# Checked in order: the more specific name first (a "t2_flair" is FLAIR, a "t1_mprage" MPRAGE).
# A name must stand alone: between non-letters, so "t1" in "pt123" or "flairs" does not count.
_PATTERNS = (
    ("FLAIR", r"flair|dark[ _-]?fluid"),
    ("STIR", r"stir|tirm"),
    ("MPRAGE", r"mp[ _-]?rage|mprage|tfl3d|bravo|ir[ _-]?fspgr|t1[ _-]?mpr"),
    ("PDW", r"pd|pdw|pd[ _-]?w|proton[ _-]?density"),
    ("T2W", r"t2|t2w|t2[ _-]?tse|t2[ _-]?fse|t2[ _-]?weighted"),
    ("FLASH", r"flash|spgr|t1[ _-]?gre"),
    ("T1W", r"t1|t1w|t1[ _-]?se|t1[ _-]?weighted"),
)
_NOT_A_CONTRAST = re.compile(r"(?<![a-z])(t2\*|t2[ _-]?star|swi|dwi|adc|bold|asl|t1[ _-]?map|t2[ _-]?map)(?![a-z])")


def guess_kind(texts: Iterable[str | None]) -> str | None:
    """The contrast (a :data:`KNOWN_KINDS` name) that the first naming text names, or None.

    A text that names something else (T2*, SWI, DWI, a T1 map, ...) ends the search with None
    rather than be read as the nearest contrast.
    """
    for text in texts:
        if not text:
            continue
        lowered = str(text).lower()
        if _NOT_A_CONTRAST.search(lowered):
            return None
        for kind, pattern in _PATTERNS:
            if re.search(rf"(?<![a-z])({pattern})(?![a-z])", lowered):
                return kind
    return None


@functools.lru_cache(maxsize=1)
def known_prompts() -> dict[str, str]:
    """Kind -> canonical prompt of the simulator preset (the prompts the demo was trained on)."""
    from ..data.physics import PRESETS

    return {kind: PRESETS[kind].prompt() for kind in KNOWN_KINDS}


@dataclass(frozen=True)
class ContrastReading:
    """What the contrast reader made of an image: the likeliest contrast, its weighting (T1w,
    FLASH and MPRAGE are all T1-weighted) and how sure the reader is of that weighting."""

    kind: str
    weighting: str
    probability: float              #: of the weighting: the sum over its contrasts
    threshold: float
    probabilities: dict[str, float]
    slices: int

    @property
    def used(self) -> bool:
        """Sure enough of the weighting to give the likeliest contrast's prompt."""
        return self.probability >= self.threshold

    def origin(self) -> str:
        if self.used:
            return f"read from the image: {self.kind}, {self.weighting} p {self.probability:.2f}"
        return (f"unknown: the image reads as {self.weighting} at p {self.probability:.2f}, "
                f"below the {self.threshold:.2f} the reader needs")

    @property
    def source_prompt(self) -> str | None:
        """The likeliest contrast's preset prompt when the reading is used, else None."""
        return known_prompts()[self.kind] if self.used else None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "weighting": self.weighting, "probability": round(self.probability, 4),
                "threshold": self.threshold, "used": self.used, "slices": self.slices,
                "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}


def reader_folder() -> Path:
    """The contrast reader shipped inside the package."""
    return Path(str(resources.files("napari_evai2i") / "weights" / "contrast_reader"))


@functools.lru_cache(maxsize=1)
def _reader(folder: str):
    from ..model.contrast_reader import load_contrast_reader

    return load_contrast_reader(folder)


def _reading_slices(array: np.ndarray, axis: int, count: int) -> list[np.ndarray]:
    """``count`` slices spread over the middle third along ``axis`` (the one slice of a 2-D image)."""
    if array.ndim == 2:
        return [array]
    length = array.shape[axis]
    indices = sorted({int(round(i)) for i in np.linspace(length * 0.35, length * 0.65 - 1, count)})
    return [np.take(array, min(max(i, 0), length - 1), axis=axis) for i in indices]


def read_contrast(array: np.ndarray, spacing=None, axis: int = 0, slices: int = 5,
                  folder: str | Path | None = None, scale=None) -> ContrastReading:
    """The contrast reader's reading of a 2-D slice or a 3-D volume (slices along ``axis``).

    ``array`` and ``spacing`` (mm per axis, 1 mm if None) are in the training axes, as the
    engine turns them. The volume is normalised with the reader's rule (``scale``: an
    :class:`~.normalization.IntensityScale` already fitted with that rule, reused); slices whose
    pixels lie outside its trained range (or are coarser than its ``read_at_mm``) are resampled
    into it, and slices smaller than its
    training images are centred on a background of that size (:func:`on_canvas`); the slices'
    log-probabilities are averaged."""
    import torch
    import torch.nn.functional as F

    from ..model.contrast_reader import WEIGHTING_OF
    from .normalization import fit_intensity_scale

    reader = _reader(str(folder or reader_folder()))
    config = reader.config
    data = np.asarray(array, dtype=np.float32)
    spacing = tuple(float(s) for s in (spacing or (1.0,) * data.ndim))
    if scale is None or scale.rule != config.normalization:
        scale = fit_intensity_scale(data, "MR", config.normalization, spacing)
    in_plane = spacing if data.ndim == 2 else tuple(s for i, s in enumerate(spacing) if i != axis)
    low, high = config.pixel_mm
    if config.read_at_mm is not None:
        high = min(high, max(low, config.read_at_mm))
    log_probs = []
    with torch.no_grad():
        for plane in _reading_slices(data, axis, slices):
            x = torch.from_numpy(np.ascontiguousarray(scale.normalize(plane), dtype=np.float32))[None, None]
            size = [max(8, int(round(n * s / min(max(s, low), high)))) for n, s in zip(plane.shape, in_plane)]
            if tuple(size) != plane.shape:
                x = F.interpolate(x, size=size, mode="area" if size[0] < plane.shape[0] else "bilinear",
                                  align_corners=None if size[0] < plane.shape[0] else False)
            log_probs.append(F.log_softmax(reader(on_canvas(x, config.canvas)).float(), 1)[0])
    probabilities = dict(zip(config.kinds, map(float, torch.softmax(torch.stack(log_probs).mean(0), 0).tolist())))
    kind, weighting, sure = likeliest_weighting(probabilities, WEIGHTING_OF)
    return ContrastReading(kind, weighting, sure, float(config.threshold), probabilities, len(log_probs))


def likeliest_weighting(probabilities: dict[str, float], weighting_of: dict[str, str]) -> tuple[str, str, float]:
    """(kind, weighting, probability of that weighting): the weighting with the most probability
    summed over its contrasts, and its likeliest contrast.

    Decided per weighting, as confidence is: T1w 0.15, FLASH 0.22, MPRAGE 0.28 and FLAIR 0.29
    read as T1-weighted (0.65), not as FLAIR because FLAIR is the single likeliest contrast."""
    totals: dict[str, float] = {}
    for kind, p in probabilities.items():
        totals[weighting_of[kind]] = totals.get(weighting_of[kind], 0.0) + p
    weighting = max(totals, key=totals.get)
    kind = max((k for k in probabilities if weighting_of[k] == weighting), key=probabilities.get)
    return kind, weighting, totals[weighting]


def on_canvas(x, side: int):
    """``x`` (B, C, H, W) centred on a zero (background) image at least ``side`` pixels square.

    The reader learnt brain crops as tissue on a background of its training size; read bare, a
    crop smaller than that is misread more often (docs/model_card.md, the contrast reader)."""
    import torch.nn.functional as F

    rows, cols = max(0, side - x.shape[-2]), max(0, side - x.shape[-1])
    if not rows and not cols:
        return x
    return F.pad(x, (cols // 2, cols - cols // 2, rows // 2, rows - rows // 2))


def untagged_source_prompt(array: np.ndarray, spacing, axis: int, naming_texts: Iterable[str | None] = (),
                           scale=None) -> tuple[str | None, str, ContrastReading | None]:
    """The source prompt of an input without prompt-able tags: (prompt or None, origin, reading).

    A contrast named by ``naming_texts`` (file name, series description) comes first; else
    the contrast reader's reading, when it is sure; else none. ``array`` and ``spacing`` are
    in the training axes."""
    texts = [t for t in naming_texts if t]
    for text in texts:
        kind = guess_kind([text])
        if kind:
            return known_prompts()[kind], f"{kind}, guessed from {text!r}", None
    reading = read_contrast(array, spacing, axis, scale=scale)
    return reading.source_prompt, reading.origin(), reading


def describe_source_prompt(prompt: str | None, origin: str) -> str:
    """One line for a status bar or the command's output: which source prompt, and from where."""
    if not prompt:
        if origin.startswith("unknown: "):          # the reader was asked and was not sure
            return (f"source prompt: none ({origin[len('unknown: '):]}; the model reads the contrast from "
                    "the image alone; say what the source is, if you know it, for a better translation)")
        # Why the advice: with the source prompt the demo scores higher on every held-out task, and
        # on a field of view inside the brain it is what gets the tissue order right (model card).
        return ("source prompt: none (the model reads the contrast from the image alone; "
                "say what the source is, if you know it, for a better translation)")
    return f"source prompt ({origin}): {prompt}"
