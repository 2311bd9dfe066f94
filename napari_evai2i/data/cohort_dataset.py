"""Training slices from a real cohort (a :class:`~napari_evai2i.data.manifest.Manifest`).

Items have the same keys, shapes and meaning as :class:`~napari_evai2i.data.simulated_dataset.
SimulatedPairs` (without ``tissue``), so the trainer and :func:`collate_items` take either:

* ``src`` and ``tgt`` are two different sequences of one subject, the same slice of both
  (the subject's series are assumed co-registered: the losses compare them voxel by voxel);
* ``int`` is the same plane of a sequence of *another* subject with the same organ
  (``paired_int=False``); only when no such subject exists it is a third sequence of the same
  subject (``paired_int=True``, or ``tgt`` again when the subject has only two);
* ``*_in`` are the clean slices after a mild random intensity augmentation (brightness,
  contrast, gamma and noise, each with probability 0.5, as the official ``random_aug``);
* ``mask`` is ``(src > 0) | (tgt > 0)`` on the normalised slices.

Geometry: every volume is first turned (axis permutations and flips, no resampling) to the
training axes of :mod:`napari_evai2i.engine.orientation` (RAS), as inference turns its input,
so a model trained on LPS DICOM and RAS NIfTI alike sees one layout; planes are then array
axes -- axial = axis 0, coronal = axis 1, sagittal = axis 2 (the official code slices raw
array axes with no reorientation). A slice index is drawn inside the central box of the
subject's foreground (voxels > 0 in any of its sequences): between the 20th and 80th
percentile of the foreground voxel indices along that axis. Each slice is cropped or
zero-padded to ``size`` x ``size`` around the centre of the subject's foreground bounding box.

Intensities: each whole volume is normalised with :func:`fit_intensity_scale` (the same code
inference uses); the scale is cached per file. Volumes are read lazily and kept in a per-process
LRU cache (``cache_size`` volumes), so a worker reads a volume once, not once per item.

Item ``i`` depends only on ``(seed, i)`` and the files, so the dataset is map-style with a
virtual length and works with DataLoader workers and a DistributedSampler.
"""

from __future__ import annotations

import functools
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from ..engine.normalization import IntensityScale, fit_intensity_scale
from ..engine.orientation import Reorientation
from ..io import read_volume
from ..prompts import ProtocolFields, sample_prompt
from ..prompts.vocabulary import PLANE_AXIS, PLANES
from .manifest import Manifest, ManifestEntry

__all__ = ["CohortDataConfig", "CohortPairs", "ItemPlan", "PLANES", "PLANE_AXIS", "intensity_augment"]

_SUPPORTED_MODALITIES = ("MR", "CT")


@dataclass
class CohortDataConfig:
    size: int = 128
    seed: int = 0
    length: int = 1_000_000
    split: str | None = "train"          #: None: every entry of the manifest
    drop_probability: float = 0.5        #: of each optional prompt slot (sample_prompt)
    view_in_prompt: bool = True          #: write the plane into the fields (and prompt)
    planes: tuple[str, ...] = PLANES
    box_percentile: float = 20.0         #: slices from the [p, 100 - p] percentile box
    augment_probability: float = 0.5     #: keep the augmented input (else the clean slice)
    augment_op_probability: float = 0.5  #: of each of brightness, contrast, gamma, noise
    augment_strength: tuple[float, float] = (0.01, 0.03)   #: factor f = 1 + U(a, b) (or 1/f)
    noise_sigma: float = 0.05
    cache_size: int = 8                  #: volumes kept in memory per process


@dataclass(frozen=True)
class _Geometry:
    """Per-subject: the common shape, slice boxes and crop centre of the foreground."""

    shape: tuple[int, int, int]
    box: tuple[tuple[int, int], ...]       # inclusive (lo, hi) slice range per axis
    centre: tuple[float, float, float]      # foreground bounding-box centre per axis


@dataclass(frozen=True)
class ItemPlan:
    """What item ``index`` is made of (drawn from ``(seed, index)`` only)."""

    subject: str
    src: ManifestEntry
    tgt: ManifestEntry
    int_subject: str
    int: ManifestEntry
    paired_int: bool
    plane: str
    slice_index: int
    int_slice_index: int
    box_position: float                     # in [0, 1]: where inside the box both slices lie


def intensity_augment(image: np.ndarray, rng: np.random.Generator, cfg: CohortDataConfig) -> np.ndarray:
    """Mild brightness, contrast, gamma and Gaussian noise, each with its probability.

    Like the official ``random_aug``, but each factor is ``f`` or ``1/f`` with equal
    probability (the official only brightens and increases contrast).
    """
    draws = rng.random(5)
    factors = 1.0 + rng.uniform(*cfg.augment_strength, size=3)
    inverse = rng.random(3) < 0.5
    factors = np.where(inverse, 1.0 / factors, factors)
    noise_seed = int(rng.integers(2**32))
    if draws[4] >= cfg.augment_probability:
        return image
    out = image.astype(np.float32, copy=True)
    p = cfg.augment_op_probability
    if draws[0] < p:
        out *= np.float32(factors[0])
    if draws[1] < p:
        mean = np.float32(out.mean())
        out = mean + (out - mean) * np.float32(factors[1])
    if draws[2] < p:
        out = np.power(np.maximum(out, 0), np.float32(factors[2]))
    if draws[3] < p:
        out = out + np.random.default_rng(noise_seed).normal(0, cfg.noise_sigma, out.shape).astype(np.float32)
    return out.astype(np.float32, copy=False)


def _foreground_box(counts: np.ndarray, percentile: float) -> tuple[tuple[int, int], float]:
    """Slice range between two percentiles of the foreground voxel indices along one axis
    (``counts[k]`` = foreground voxels in slice ``k``), and the foreground bounding-box centre."""
    n = len(counts)
    total = float(counts.sum())
    if total <= 0:  # no foreground: the central part of the axis
        return (int(round((n - 1) * percentile / 100)), int(round((n - 1) * (1 - percentile / 100)))), (n - 1) / 2
    cumulative = np.cumsum(counts, dtype=np.float64) / total
    q = percentile / 100
    lo = int(np.searchsorted(cumulative, max(q, 1e-12), side="left"))
    hi = int(np.searchsorted(cumulative, min(1 - q, 1.0), side="left"))
    nonzero = np.flatnonzero(counts)
    return (min(lo, hi, n - 1), min(max(lo, hi), n - 1)), (nonzero[0] + nonzero[-1]) / 2


def _window(length: int, centre: float, size: int) -> int:
    """Start of a ``size`` window centred on ``centre``, kept on the image where possible."""
    start = int(round(centre)) - size // 2
    return int(np.clip(start, min(0, length - size), max(0, length - size)))


def _crop(image: np.ndarray, centre: tuple[float, float], size: int) -> np.ndarray:
    out = np.zeros((size, size), dtype=np.float32)
    (h, w), (ch, cw) = image.shape, centre
    y0, x0 = _window(h, ch, size), _window(w, cw, size)
    sy0, sx0 = max(y0, 0), max(x0, 0)
    sy1, sx1 = min(y0 + size, h), min(x0 + size, w)
    out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


class CohortPairs(Dataset):
    """Map-style dataset of (src, tgt, int) slice triples from a cohort; see the module doc."""

    def __init__(self, manifest: Manifest | str | Path, config: CohortDataConfig | None = None) -> None:
        self.config = cfg = config or CohortDataConfig()
        if not isinstance(manifest, Manifest):
            manifest = Manifest.load(manifest)
        self.manifest = manifest.filter(cfg.split) if cfg.split is not None else manifest
        if not self.manifest.entries:
            raise ValueError(f"the manifest has no entries in split {cfg.split!r}")
        unknown_planes = [p for p in cfg.planes if p not in PLANE_AXIS]
        if unknown_planes or not cfg.planes:
            raise ValueError(f"planes must be a non-empty subset of {PLANES}, got {cfg.planes}")
        if not 0 <= cfg.box_percentile < 50:
            raise ValueError(f"box_percentile must be in [0, 50), got {cfg.box_percentile}")
        self._fields: dict[tuple[str, str], ProtocolFields] = {}
        for entry in self.manifest:
            fields = entry.protocol_fields()
            if fields.modality not in _SUPPORTED_MODALITIES:
                raise ValueError(f"subject {entry.subject!r}, sequence {entry.sequence!r}: modality "
                                 f"{fields.modality!r} is not supported (only {', '.join(_SUPPORTED_MODALITIES)})")
            self._fields[entry.subject, entry.sequence] = fields
        self.subjects = self.manifest.by_subject()
        self.paired_subjects = [s for s, entries in self.subjects.items() if len(entries) >= 2]
        if not self.paired_subjects:
            raise ValueError(f"no subject in split {cfg.split!r} has two or more sequences; "
                             "paired training needs at least one")
        self._organ = {s: next((e.group for e in entries if e.group), None) for s, entries in self.subjects.items()}
        self._organ_groups: dict[str | None, list[str]] = {}
        for subject, organ in self._organ.items():
            self._organ_groups.setdefault(organ, []).append(subject)
        self._reset_caches()

    # --- per-process state (never pickled to workers) ------------------------------------------

    def _reset_caches(self) -> None:
        self._volume = functools.lru_cache(maxsize=max(1, self.config.cache_size))(self._read)
        self._scales: dict[tuple[str, str | None], IntensityScale] = {}
        self._geometry: dict[str, _Geometry | None] = {}
        self._warned: set[str] = set()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_volume", "_scales", "_geometry", "_warned"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset_caches()

    def __len__(self) -> int:
        return self.config.length

    # --- volumes --------------------------------------------------------------------------------

    def _read(self, path: str, series_uid: str | None) -> np.ndarray:
        volume = read_volume(path, series_uid=series_uid)
        array = np.ascontiguousarray(Reorientation.of(volume).apply(volume.array))   # the axes inference slices in
        return array if array.dtype.kind in "iuf" else array.astype(np.float32)

    def volume(self, entry: ManifestEntry) -> np.ndarray:
        """The raw (Z, Y, X) array of an entry (cached)."""
        return self._volume(str(self.manifest.resolve(entry)), entry.series_uid)

    def scale(self, entry: ManifestEntry) -> IntensityScale:
        """The whole-volume intensity scale of an entry (cached per file)."""
        key = (str(self.manifest.resolve(entry)), entry.series_uid)
        if key not in self._scales:
            modality = self._fields[entry.subject, entry.sequence].modality
            self._scales[key] = fit_intensity_scale(self.volume(entry), modality)
        return self._scales[key]

    def geometry(self, subject: str) -> _Geometry | None:
        """Shape, slice box and crop centre of a subject; None (with a warning once) when its
        sequences do not share one voxel grid."""
        if subject in self._geometry:
            return self._geometry[subject]
        entries = self.subjects[subject]
        shapes = {e.sequence: self.volume(e).shape for e in entries}
        geometry = None
        if len(set(shapes.values())) > 1:
            if subject not in self._warned:
                self._warned.add(subject)
                listing = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
                warnings.warn(f"subject {subject!r} skipped: its sequences have different shapes ({listing}); "
                              "sequences of one subject must be co-registered on one voxel grid", stacklevel=3)
        else:
            foreground = np.zeros(next(iter(shapes.values())), dtype=bool)
            for entry in entries:
                # MR: > 0; CT: > -1024 HU (the floor of the intensity mapping), as the official.
                foreground |= self.volume(entry) > self.scale(entry).floor
            boxes, centres = [], []
            for axis in range(3):
                other = tuple(a for a in range(3) if a != axis)
                box, centre = _foreground_box(foreground.sum(axis=other), self.config.box_percentile)
                boxes.append(box)
                centres.append(float(centre))
            geometry = _Geometry(tuple(foreground.shape), tuple(boxes), tuple(centres))
        self._geometry[subject] = geometry
        return geometry

    # --- sampling -------------------------------------------------------------------------------

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, int(index)])

    def plan(self, index: int) -> ItemPlan:
        """The subject, sequences, plane and slices of item ``index`` (no images)."""
        return self._plan(self._rng(index))

    def _plan(self, rng: np.random.Generator) -> ItemPlan:
        cfg = self.config
        subject, geometry = None, None
        for i in rng.permutation(len(self.paired_subjects)):
            candidate = self.paired_subjects[int(i)]
            geometry = self.geometry(candidate)
            if geometry is not None:
                subject = candidate
                break
        if subject is None:
            raise RuntimeError("no usable subject: every subject with two or more sequences has sequences "
                               "of different shapes (see the warnings)")
        entries = self.subjects[subject]
        a, b = rng.choice(len(entries), size=2, replace=False)
        src, tgt = entries[int(a)], entries[int(b)]
        plane = cfg.planes[int(rng.integers(len(cfg.planes)))]
        axis = PLANE_AXIS[plane]
        position = float(rng.random())

        int_subject, int_entry, int_geometry = None, None, None
        group = self._organ_groups[self._organ[subject]]
        for i in rng.permutation(len(group)):
            candidate = group[int(i)]
            if candidate == subject:
                continue
            int_geometry = self.geometry(candidate)
            if int_geometry is not None:
                int_subject = candidate
                others = self.subjects[candidate]
                int_entry = others[int(rng.integers(len(others)))]
                break
        paired = int_subject is None
        if paired:
            int_subject, int_geometry = subject, geometry
            rest = [e for e in entries if e is not src and e is not tgt]
            int_entry = rest[int(rng.integers(len(rest)))] if rest else tgt

        def index_in(g: _Geometry) -> int:
            lo, hi = g.box[axis]
            return int(round(lo + position * (hi - lo)))

        return ItemPlan(subject=subject, src=src, tgt=tgt, int_subject=int_subject, int=int_entry,
                        paired_int=paired, plane=plane, slice_index=index_in(geometry),
                        int_slice_index=index_in(int_geometry), box_position=position)

    def _slice(self, entry: ManifestEntry, subject: str, axis: int, index: int) -> np.ndarray:
        geometry = self.geometry(subject)
        image = np.take(self.volume(entry), index, axis=axis)
        centre = tuple(c for a, c in enumerate(geometry.centre) if a != axis)
        return _crop(self.scale(entry).normalize(image), centre, self.config.size)

    def __getitem__(self, index: int) -> dict:
        cfg = self.config
        rng = self._rng(index)
        plan = self._plan(rng)
        text_rng = random.Random(int(rng.integers(2**63)))
        axis = PLANE_AXIS[plan.plane]
        item: dict = {"paired_int": plan.paired_int, "plane": plan.plane}
        for role, entry, subject, slice_index in (
            ("src", plan.src, plan.subject, plan.slice_index),
            ("tgt", plan.tgt, plan.subject, plan.slice_index),
            ("int", plan.int, plan.int_subject, plan.int_slice_index),
        ):
            clean = self._slice(entry, subject, axis, slice_index)
            fields = self._fields[entry.subject, entry.sequence]
            fields = fields.replace(plane=plan.plane if cfg.view_in_prompt else None)
            item[role] = clean[None]
            item[f"{role}_in"] = intensity_augment(clean, rng, cfg)[None]
            item[f"{role}_fields"] = fields.to_dict()
            item[f"{role}_text"] = sample_prompt(fields, text_rng, cfg.drop_probability)
        item["mask"] = ((item["src"] > 0) | (item["tgt"] > 0)).astype(np.float32)
        return item
