"""Domain-randomised training slices: one warped head renders every image of an item.

The generator follows the SynthSeg/SynthSR recipe (``../shared/reference/domain_randomization.md``)
adapted to a prompt-driven translator with a single template:

* **Anatomy and geometry, shared by every image of an item.** An oblique slice of the MNI152
  tissue maps under a random 3-D affine (rotation up to 20 degrees about every axis, per-axis
  scale, shear), a smooth elastic displacement, an FOV shift and crop, a random left-right
  mirror, atrophy (CSF grown into grey and white matter) and white-matter lesions with their
  own tissue parameters. In most items the brain is wrapped in a whole head
  (:mod:`.head`: CSF rim, skull, marrow, muscle, fat, skin, air); in the others every image is
  brain only, as a skull-stripped scan.
* **Targets are exactly what their prompt defines:** the signal equations of the protocol on
  those fractions, no bias, noise, blur or gamma.
* **Acquisition, inputs only:** thick slices (1-8 mm through the plane or along one in-plane
  axis: blur, down- and upsampling), in-plane resolution loss, a smooth bias field, Rician noise
  over a wide SNR range, random gamma and gain.
* **Unknown sources:** in ``unknown_source`` of the items the source prompt is withheld
  (``src_known`` False) and half of those inputs get random per-tissue intensities, any contrast
  at all, so the model learns to read anatomy from whatever it is given.

Intensities use the checkpoint's normalisation rule (:mod:`napari_evai2i.engine.normalization`,
``brain-core-median``): the median inside the brain core, which a whole head does not move.
Training cannot see a whole volume per slice, so the level of an image is that rule applied to
the template's brain core rendered with the same tissue signals (:func:`core_fractions`: the
voxels the rule picks as the core of the template head, found once by the same function).

Per-sample work is torch (``grid_sample``, pooling, interpolation), so the same code runs on
a GPU; each item depends only on ``(seed, index)``.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.normalization import BRAIN_LEVEL, brain_core, brain_core_level   # the one level and core training and inference share
from ..prompts import sample_prompt
from ..prompts.vocabulary import PLANE_AXIS, PLANES
from .anatomy import TISSUE_NAMES, load_tissue_maps
from .head import ALL_TISSUE_NAMES, ShellRanges, brain_distance, head_fractions, template_head
from .physics import PRESETS, Protocol, all_tissue_parameters

__all__ = ["RandomizationRanges", "SliceGeometry", "HeadSliceGenerator", "core_fractions", "level_of",
           "signal_vector", "BRAIN_LEVEL"]

_LESION = ALL_TISSUE_NAMES.index("LESION")


@dataclass(frozen=True)
class RandomizationRanges:
    """Every random range of the generator (uniform unless said otherwise)."""

    # geometry (shared)
    rotation_deg: float = 20.0                   # about each of the three axes
    scale: tuple[float, float] = (0.85, 1.2)     # per axis
    shear: float = 0.03
    shift_mm: float = 25.0                       # in-plane FOV shift
    position: tuple[float, float] = (0.12, 0.88)  # slice position along the normal, brain fraction
    pixel_mm: tuple[float, float] = (0.8, 2.0)   # in-plane pixel size of the grid
    elastic_mm: tuple[float, float] = (0.0, 4.0)  # r.m.s. of a smooth displacement
    flip: float = 0.5                            # left-right mirror
    #: probability of a field of view cut to a box inside the brain (a brain crop: tissue up to the
    #: image edge, zero padding around it, as a cropped NIfTI reaches the network). Off: v3 trained
    #: with 0.15 (TrainConfig.brain_crop) and did not beat v2 (docs/model_history.md)
    brain_crop: float = 0.0
    brain_crop_mm: tuple[float, float] = (60.0, 140.0)   # side of the box
    #: brain crops: every input normalised by the engine's own rule applied to the box alone
    #: (``engine.normalization.brain_core_level``), as inference normalises a cropped scan, not by
    #: the template's level. Why: a crop that is mostly ventricle has a core level far from the
    #: brain's (T2w about 2x), and v5 inverted such crops without a prompt. Off: one CPU run with it
    #: was not shipped (docs/model_history.md)
    crop_levels_from_crop: bool = False
    #: probability of an item whose layout is not a brain at all: grey matter, white matter and
    #: CSF in random smooth blobs (:meth:`HeadSliceGenerator.shape_anatomy`), always with the
    #: source prompt, so the translation has to follow the prompts' tissue values wherever the
    #: tissues lie. Off: no demo has trained with it yet
    shapes: float = 0.0
    shape_cells: tuple[int, int] = (4, 20)        # coarse grid of the blobs' fields: their size
    shape_sharpness: tuple[float, float] = (3.0, 12.0)   # softmax gain: how wide their partial-volume edges
    # anatomy (shared)
    atrophy: float = 0.4                         # probability; strength U(0, 1)
    lesion_probability: float = 0.5   # 0.35 in the pilot left lesions near WM (1.12 vs 2.17)
    lesion_count: tuple[int, int] = (1, 6)
    lesion_radius_mm: tuple[float, float] = (2.0, 8.0)
    lesion_t1: tuple[float, float] = (0.8, 1.4)  # x the lesion table value
    lesion_t2: tuple[float, float] = (0.8, 1.5)
    whole_head: float = 0.75                     # else brain only (skull-stripped)
    shells: ShellRanges = field(default_factory=ShellRanges)
    shell_variation: float = 0.35                # relative, smooth over the image
    jitter: float = 0.05                         # per-item spread of PD, T1, T2, T2* (lognormal)
    # acquisition (inputs only)
    thick_probability: float = 0.6
    thickness_mm: tuple[float, float] = (1.5, 8.0)
    resolution_mm: tuple[float, float] = (0.8, 2.0)  # in-plane acquired resolution
    bias: tuple[float, float] = (0.0, 0.35)       # max |log gain| of the bias field
    snr: tuple[float, float] = (6.0, 100.0)        # log-uniform, brain level / noise sigma
    gamma_std: float = 0.25
    gain: tuple[float, float] = (0.8, 1.25)
    #: gamma and gain also on inputs that come with their prompt. Off, only sources without a
    #: prompt get them (drawn either way, so every other draw stays the same): gamma changes
    #: the tissue ratios a prompt implies (model history, "an ablation of the generator")
    levels_when_prompted: bool = True
    #: thick slices and in-plane resolution loss also on inputs that come with their prompt. Off,
    #: only sources without a prompt get them (drawn either way, as ``levels_when_prompted``)
    resolution_loss_when_prompted: bool = True
    #: with ``levels_when_prompted`` off: a gain over this range on the inputs that come with their
    #: prompt (no gamma), mapped from the gain drawn anyway, so every other draw stays the same.
    #: Why: a lone 2-D slice is normalised by its own brain core, 6-7 % (SD) from the training
    #: level, and v9 with the prompt reads tissue from the absolute level (model card, "Where the
    #: SSIM goes"). None: prompted inputs keep the training level exactly, as every demo so far
    prompted_gain: tuple[float, float] | None = None
    # unknown sources
    unknown_source: float = 0.4
    random_contrast: float = 0.5                  # of the unknown sources


@dataclass(frozen=True)
class SliceGeometry:
    """Where an item's slice lies in the template: ``point(i, j, w) = origin + i row + j col + w normal``
    (1 mm template ZYX index units, before the elastic displacement)."""

    origin: np.ndarray
    row: np.ndarray
    col: np.ndarray
    normal: np.ndarray
    plane: str


def _rotation_zyx(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    angles = np.deg2rad(rng.uniform(-max_deg, max_deg, size=3))
    out = np.eye(3)
    for axis, a in enumerate(angles):
        c, s = math.cos(a), math.sin(a)
        i, j = [k for k in range(3) if k != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        out = out @ r
    return out


@functools.lru_cache(maxsize=1)
def _volumes() -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """(1, 3, Z, Y, X) brain fractions, (1, 1, Zd, Yd, Xd) signed distance, distance index map,
    brain bounding box (lo, hi) in 1 mm ZYX indices."""
    maps = load_tissue_maps(1)
    brain = torch.from_numpy(maps.stack())[None]
    dist = brain_distance()
    box = np.array([[s.start, s.stop - 1] for s in maps.bbox], dtype=np.float64)
    return brain, dist.tensor()[None, None], dist.index_from_1mm, box


@functools.lru_cache(maxsize=1)
def core_fractions() -> np.ndarray:
    """(N, 9) tissue fractions of the template head's brain core, as the normalisation rule finds
    it (its own ``brain_core`` on a T1-weighted render of the 2 mm template head; subsampled)."""
    fractions, spacing = template_head()
    signals = signal_vector(PRESETS["T1W"], all_tissue_parameters(1.5))
    image = HeadSliceGenerator.render(fractions, signals).numpy()
    core = brain_core(image, spacing)
    picked = fractions.numpy()[:, core].T
    return np.ascontiguousarray(picked[:: max(1, len(picked) // 20000)])


def signal_vector(protocol: Protocol, params: dict) -> np.ndarray:
    """Pure-tissue signals of ``protocol`` in :data:`ALL_TISSUE_NAMES` order (what :meth:`HeadSliceGenerator.render` weights)."""
    signals = protocol.tissue_signals(params)
    return np.array([signals[name] for name in ALL_TISSUE_NAMES], dtype=np.float32)


def training_level(protocol: Protocol) -> float:
    """The level the generator normalises ``protocol``'s renders by, for the tissues un-jittered
    (at the protocol's field strength): what a probe needs to show a phantom as training did."""
    return level_of(signal_vector(protocol, all_tissue_parameters(protocol.field_strength)))


def level_of(signals: np.ndarray) -> float:
    """The normalisation level (brain-core median) of the template rendered with ``signals``.

    The core holds no extra-cerebral tissue, so the level is the same with or without a head:
    the invariance the rule has on real volumes (tests/engine/test_normalization.py).
    """
    values = core_fractions() @ signals
    level = float(np.median(values))
    return level if level > 0 else float(values.max() or 1.0)


def crop_level(image: torch.Tensor, window: torch.Tensor, pixel_mm: float) -> float:
    """The level the engine's rule finds in the box of ``window`` cut out of ``image``: what a
    cropped scan, with no padding around it, is normalised by at inference."""
    rows, cols = torch.nonzero(window.any(1)).flatten(), torch.nonzero(window.any(0)).flatten()
    box = image[int(rows[0]):int(rows[-1]) + 1, int(cols[0]):int(cols[-1]) + 1]
    level = brain_core_level(box.numpy(), (pixel_mm, pixel_mm))
    return level if level > 0 else BRAIN_LEVEL


def _smooth_field(rng: np.random.Generator, n: int, cells: int = 4) -> torch.Tensor:
    """(n, n) smooth random field, zero mean, unit-ish r.m.s. (bicubic upsampling of a coarse grid)."""
    coarse = torch.from_numpy(rng.standard_normal((1, 1, cells, cells)).astype(np.float32))
    return F.interpolate(coarse, size=(n, n), mode="bicubic", align_corners=True)[0, 0]


class HeadSliceGenerator:
    """Draw items of aligned (source, target, intermediate) slices of one randomised head."""

    def __init__(self, size: int = 128, ranges: RandomizationRanges | None = None,
                 planes: tuple[str, ...] = PLANES) -> None:
        self.size = size
        self.ranges = ranges or RandomizationRanges()
        self.planes = planes

    # ----------------------------------------------------------------- geometry
    def geometry(self, rng: np.random.Generator, plane: str | None = None) -> tuple[SliceGeometry, float]:
        """A random slice pose in the template, and its pixel size (mm)."""
        r = self.ranges
        plane = plane or str(rng.choice(self.planes))
        _, _, _, box = _volumes()
        axis = PLANE_AXIS[plane]
        in_plane = [a for a in range(3) if a != axis]
        pixel = rng.uniform(*r.pixel_mm)
        m = _rotation_zyx(rng, r.rotation_deg) @ np.diag(rng.uniform(*r.scale, size=3))
        shear = np.eye(3) + np.triu(rng.uniform(-r.shear, r.shear, size=(3, 3)), 1)
        m = m @ shear
        basis = np.eye(3)
        row, col, normal = (m @ basis[in_plane[0]]) * pixel, (m @ basis[in_plane[1]]) * pixel, m @ basis[axis]
        centre = box.mean(axis=1)
        lo, hi = box[axis]
        centre[axis] = lo + rng.uniform(*r.position) * (hi - lo)
        shift = rng.uniform(-r.shift_mm, r.shift_mm, size=2)
        centre = centre + shift[0] * m @ basis[in_plane[0]] + shift[1] * m @ basis[in_plane[1]]
        half = (self.size - 1) / 2.0
        origin = centre - half * row - half * col
        return SliceGeometry(origin, row, col, normal, plane), pixel

    def _points(self, geometry: SliceGeometry, offsets_mm: np.ndarray, rng: np.random.Generator,
                mirror: bool, pixel: float) -> torch.Tensor:
        """(K, n, n, 3) template ZYX coordinates of the slice at each normal offset."""
        n = self.size
        ij = torch.arange(n, dtype=torch.float64)
        g = geometry
        base = (torch.from_numpy(g.origin)[None, None] + ij[:, None, None] * torch.from_numpy(g.row)
                + ij[None, :, None] * torch.from_numpy(g.col))                     # (n, n, 3)
        rms = rng.uniform(*self.ranges.elastic_mm)
        if rms > 0:
            disp = torch.stack([_smooth_field(rng, n, 5) for _ in range(3)], dim=-1).double()
            base = base + disp * (rms / max(float(disp.std()), 1e-6))
        pts = base[None] + torch.from_numpy(offsets_mm)[:, None, None, None] * torch.from_numpy(g.normal)
        if mirror:                                           # swap hemispheres about the brain's mid-plane
            _, _, _, box = _volumes()
            mid = float(box[2].mean())
            pts[..., 2] = 2 * mid - pts[..., 2]
        return pts

    @staticmethod
    def _sample(volume: torch.Tensor, points_zyx: torch.Tensor) -> torch.Tensor:
        """Trilinear samples (C, K, n, n) of ``volume`` (1, C, Z, Y, X) at ZYX index points (K, n, n, 3)."""
        size = torch.tensor(volume.shape[2:], dtype=torch.float64)
        grid = (2 * points_zyx / (size - 1) - 1).flip(-1).float()[None]          # x, y, z order
        return F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)[0]

    # ----------------------------------------------------------------- anatomy
    def _atrophy(self, brain: torch.Tensor, strength: float) -> torch.Tensor:
        """Grow CSF into GM (then WM) by up to a couple of pixels: wider sulci and ventricles."""
        gm, wm, csf = brain[0], brain[1], brain[2]
        grown = F.max_pool2d(csf[:, None], 3, stride=1, padding=1)[:, 0]
        tissue = gm + wm
        add = torch.minimum((grown - csf).clamp(min=0) * strength, tissue)
        from_gm = torch.minimum(add, gm)
        from_wm = add - from_gm
        return torch.stack([gm - from_gm, wm - from_wm, csf + add])

    def _lesions(self, wm: torch.Tensor, rng: np.random.Generator, pixel: float) -> torch.Tensor:
        """(K, n, n) lesion fractions inside white matter (soft ellipses)."""
        r = self.ranges
        n = self.size
        centre_wm = wm[wm.shape[0] // 2]
        candidates = torch.nonzero(centre_wm > 0.7)
        lesion = torch.zeros((n, n))
        if len(candidates) == 0:
            return torch.zeros_like(wm)
        yy, xx = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                                indexing="ij")
        for _ in range(int(rng.integers(r.lesion_count[0], r.lesion_count[1] + 1))):
            cy, cx = candidates[int(rng.integers(len(candidates)))].tolist()
            radius = rng.uniform(*r.lesion_radius_mm) / pixel
            aspect = rng.uniform(0.5, 1.0)
            angle = rng.uniform(0, math.pi)
            dy, dx = yy - cy, xx - cx
            u = dy * math.cos(angle) + dx * math.sin(angle)
            v = (-dy * math.sin(angle) + dx * math.cos(angle)) / aspect
            lesion = torch.maximum(lesion, (radius + 0.5 - torch.sqrt(u * u + v * v)).clamp(0, 1))
        return lesion[None] * wm

    def _brain_box(self, brain: torch.Tensor, rng: np.random.Generator, pixel: float) -> torch.Tensor | None:
        """(n, n) window of a random box about the brain's centre (1 inside, 0 outside), or None
        where the slice holds too little brain to crop."""
        n = self.size
        tissue = brain[:2, brain.shape[1] // 2].sum(0)
        inside = torch.nonzero(tissue > 0.5).double()
        if len(inside) < 0.05 * n * n:
            return None
        centre = inside.mean(0).numpy() + rng.uniform(-15.0, 15.0, size=2) / pixel
        sides = np.clip(rng.uniform(*self.ranges.brain_crop_mm, size=2) / pixel, 24, n - 8)
        lo = np.clip(np.round(centre - sides / 2), 0, n - 1).astype(int)
        hi = np.clip(lo + np.round(sides).astype(int), 1, n)
        window = torch.zeros((n, n))
        window[lo[0]:hi[0], lo[1]:hi[1]] = 1.0
        return window

    # ----------------------------------------------------------------- images
    def draw_anatomy(self, rng: np.random.Generator, plane: str | None = None,
                     whole_head: bool | None = None, lesions: bool | None = None,
                     thickness_mm: float | None = None) -> dict:
        """Tissue fractions (9, K, n, n) of one randomised head slice: the centre plane at K // 2,
        the other planes spread over ``thickness_mm`` (the source's slab; None draws it)."""
        r = self.ranges
        if r.shapes and rng.random() < r.shapes:            # no draw at 0: held-out cases stay as they were
            return self.shape_anatomy(rng, plane)
        geometry, pixel = self.geometry(rng, plane)
        through_plane = None
        if thickness_mm is None and rng.random() < r.thick_probability and rng.random() < 0.5:
            thickness_mm = rng.uniform(*r.thickness_mm)
        if thickness_mm:
            k = max(3, int(math.ceil(thickness_mm)) | 1)
            through_plane = np.linspace(-thickness_mm / 2, thickness_mm / 2, k)
            offsets = through_plane
        else:
            offsets = np.zeros(1)
        mirror = rng.random() < r.flip
        points = self._points(geometry, offsets, rng, mirror, pixel)
        brain_volume, dist_volume, index_map, _ = _volumes()
        brain = self._sample(brain_volume, points).clamp(0, 1)
        m = torch.from_numpy(index_map[:3, :3])
        dist_points = points @ m.T + torch.from_numpy(index_map[:3, 3])
        distance = self._sample(dist_volume, dist_points)[0]
        if rng.random() < r.atrophy:
            brain = self._atrophy(brain, rng.uniform(0, 1))
        lesion = None
        if lesions if lesions is not None else rng.random() < r.lesion_probability:
            lesion = self._lesions(brain[1], rng, pixel)
            brain = torch.stack([brain[0], brain[1] - lesion, brain[2]])
        head = whole_head if whole_head is not None else rng.random() < r.whole_head
        if head:
            thickness = torch.from_numpy(r.shells.draw(rng))
            vary = 1 + r.shell_variation * _smooth_field(rng, self.size).clamp(-2, 2) / 2
            fractions = head_fractions(brain, distance, thickness[:, None, None, None] * vary[None, None], lesion)
        else:
            fractions = torch.zeros((len(ALL_TISSUE_NAMES),) + brain.shape[1:])
            fractions[:3] = brain
            if lesion is not None:
                fractions[_LESION] = lesion
        window = None
        if r.brain_crop and rng.random() < r.brain_crop:      # no draw at 0: held-out cases stay as they were
            window = self._brain_box(brain, rng, pixel)
            if window is not None:
                fractions = fractions * window
        return {"fractions": fractions, "plane": geometry.plane, "pixel_mm": pixel, "whole_head": head,
                "slab": through_plane is not None, "has_lesions": lesion is not None, "window": window,
                "shapes": False}

    def shape_anatomy(self, rng: np.random.Generator, plane: str | None = None) -> dict:
        """Tissue fractions (9, 1, n, n) of a layout that is no brain: GM, WM and CSF as the
        softmax of three smooth random fields, inside an irregular oval on air or up to every
        edge. Nothing in it says which tissue is which except its intensities and the prompt."""
        r = self.ranges
        n = self.size
        plane = plane or str(rng.choice(self.planes))
        pixel = rng.uniform(*r.pixel_mm)
        cells = int(rng.integers(r.shape_cells[0], r.shape_cells[1] + 1))
        logits = torch.stack([_smooth_field(rng, n, cells) for _ in TISSUE_NAMES])
        tissue = torch.softmax(logits * rng.uniform(*r.shape_sharpness), 0)
        if rng.random() < 0.5:                               # an irregular oval on air
            yy, xx = torch.meshgrid(torch.linspace(-1, 1, n), torch.linspace(-1, 1, n), indexing="ij")
            radii = rng.uniform(0.5, 0.95, size=2)
            radius = torch.sqrt((yy / radii[0]) ** 2 + (xx / radii[1]) ** 2) + 0.15 * _smooth_field(rng, n, 4)
            tissue = tissue * torch.sigmoid((1 - radius) * n / 8)
        fractions = torch.zeros((len(ALL_TISSUE_NAMES), 1, n, n))
        fractions[:len(TISSUE_NAMES), 0] = tissue
        return {"fractions": fractions, "plane": plane, "pixel_mm": pixel, "whole_head": False, "slab": False,
                "has_lesions": False, "window": None, "shapes": True}

    def jitter(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Per-item factors on (PD, T1, T2, T2*) of every tissue: lognormal, lesions drawn wider.
        Shared by every image of the item, whatever its field strength."""
        r = self.ranges
        out = {}
        for name in ALL_TISSUE_NAMES:
            j = np.exp(rng.normal(0, r.jitter, size=4))
            if name == "LESION":
                j[1] *= rng.uniform(*r.lesion_t1)
                j[2] *= rng.uniform(*r.lesion_t2)
            out[name] = j
        return out

    @staticmethod
    def parameters(jitter: dict[str, np.ndarray], field_strength: float) -> dict:
        """The tissue tables at ``field_strength`` with an item's jitter applied."""
        return {name: p.scaled(*jitter[name]) for name, p in all_tissue_parameters(field_strength).items()}

    @staticmethod
    def render(fractions: torch.Tensor, signals: np.ndarray) -> torch.Tensor:
        """Partial-volume sum of the tissue signals: (K, n, n) from (9, K, n, n)."""
        return torch.tensordot(torch.from_numpy(signals), fractions, 1)

    def acquire(self, image: torch.Tensor, rng: np.random.Generator, pixel: float,
                in_plane_thick: bool, levels: bool = True, resolution_loss: bool = True) -> torch.Tensor:
        """What the scanner adds to a clean normalised (n, n) image: resolution loss, bias, gamma,
        Rician noise, gain. Every range is drawn always; gamma and gain are applied only with
        ``levels``, thick slices and resolution loss only with ``resolution_loss``."""
        r = self.ranges
        n = self.size
        x = image[None, None]
        if in_plane_thick:                                   # thick slices along one in-plane axis
            factor = rng.uniform(*r.thickness_mm) / pixel
            size = [n, n]
            size[int(rng.integers(2))] = max(2, int(round(n / max(factor, 1.0))))
            if resolution_loss:
                x = F.interpolate(F.interpolate(x, size=size, mode="area"), size=(n, n), mode="bilinear",
                                  align_corners=False)
        resolution = rng.uniform(*r.resolution_mm)
        if resolution_loss and resolution > pixel * 1.1:
            low = max(2, int(round(n * pixel / resolution)))
            x = F.interpolate(F.interpolate(x, size=(low, low), mode="area"), size=(n, n), mode="bilinear",
                              align_corners=False)
        x = x[0, 0]
        bias = rng.uniform(*r.bias)
        if bias > 0:
            field = _smooth_field(rng, n, 3)
            x = x * torch.exp(bias * field / field.abs().max().clamp(min=1e-6))
        gamma = math.exp(rng.normal(0, r.gamma_std))    # drawn either way: later draws stay the same
        gamma = gamma if levels else 1.0
        x = (x.clamp(min=0) / BRAIN_LEVEL) ** gamma * BRAIN_LEVEL        # keeps the core median
        snr = math.exp(rng.uniform(math.log(r.snr[0]), math.log(r.snr[1])))
        sigma = BRAIN_LEVEL / snr
        noise = torch.from_numpy(rng.standard_normal((2, n, n)).astype(np.float32)) * sigma
        x = torch.sqrt((x + noise[0]) ** 2 + noise[1] ** 2)
        gain = rng.uniform(*r.gain)
        if levels:
            return x * gain
        if r.prompted_gain is not None:
            share = (gain - r.gain[0]) / (r.gain[1] - r.gain[0])
            return x * (r.prompted_gain[0] + share * (r.prompted_gain[1] - r.prompted_gain[0]))
        return x

    def random_signals(self, rng: np.random.Generator) -> np.ndarray:
        """Any contrast at all: an independent random intensity per tissue (bone stays dark)."""
        signals = rng.uniform(0.0, 1.0, size=len(ALL_TISSUE_NAMES)).astype(np.float32)
        signals[ALL_TISSUE_NAMES.index("BONE")] *= 0.1
        return signals

    def source_image(self, rng: np.random.Generator, protocol: Protocol) -> torch.Tensor:
        """One scanned (n, n) image of ``protocol`` on a fresh random anatomy, normalised as a
        training source is: what the contrast reader learns to name (no target, no prompt)."""
        anatomy = self.draw_anatomy(rng)
        signals = signal_vector(protocol, self.parameters(self.jitter(rng), protocol.field_strength))
        fractions = anatomy["fractions"]
        slab = self.render(fractions, signals).mean(0) if anatomy["slab"] \
            else self.render(fractions[:, fractions.shape[1] // 2][:, None], signals)[0]
        in_plane_thick = not anatomy["slab"] and rng.random() < self.ranges.thick_probability / 2
        scanned = self.acquire(slab * BRAIN_LEVEL / level_of(signals), rng, anatomy["pixel_mm"], in_plane_thick)
        return scanned if anatomy["window"] is None else scanned * anatomy["window"]

    def item(self, rng: np.random.Generator, protocols: list[Protocol], text_rng: random.Random, drop_probability: float, plane_in_prompt: bool,
             roles: tuple[str, ...] = ("src", "tgt", "int"), allow_unknown: bool = True) -> dict:
        """One training item, in the keys of :mod:`.simulated_dataset`, plus ``src_known``."""

        r = self.ranges
        anatomy = self.draw_anatomy(rng)
        fractions = anatomy["fractions"]
        centre = fractions[:, fractions.shape[1] // 2]          # (9, n, n)
        jitter = self.jitter(rng)
        # a layout that is no brain always comes with its source prompt: without one, which
        # tissue is which would be guesswork (a T1w and a FLAIR give the same three levels)
        unknown = allow_unknown and not anatomy["shapes"] and rng.random() < r.unknown_source
        item: dict = {"paired_int": True, "plane": anatomy["plane"], "src_known": not unknown,
                      "whole_head": anatomy["whole_head"], "has_lesions": anatomy["has_lesions"],
                      "brain_crop": anatomy["window"] is not None, "shapes": anatomy["shapes"],
                      "random_contrast": False}
        for role, protocol in zip(roles, protocols):
            signals = signal_vector(protocol, self.parameters(jitter, protocol.field_strength))
            scale = BRAIN_LEVEL / level_of(signals)
            clean = self.render(centre[:, None], signals)[0] * scale
            source_signals, source_scale = signals, scale
            if role == "src" and unknown and rng.random() < r.random_contrast:
                source_signals = self.random_signals(rng)
                source_scale = BRAIN_LEVEL / level_of(source_signals)
                item["random_contrast"] = True
            levels = r.levels_when_prompted or (role == "src" and unknown)
            resolution_loss = r.resolution_loss_when_prompted or (role == "src" and unknown)
            slab = self.render(fractions, source_signals).mean(0) \
                if anatomy["slab"] and role == "src" and resolution_loss \
                else self.render(centre[:, None], source_signals)[0]
            in_plane_thick = (role == "src" and not anatomy["slab"] and rng.random() < r.thick_probability / 2)
            scanned = self.acquire(slab * source_scale, rng, anatomy["pixel_mm"], in_plane_thick, levels,
                                   resolution_loss)
            if anatomy["window"] is not None:                   # padding is exact zeros, not scanned air
                scanned = scanned * anatomy["window"]
                if r.crop_levels_from_crop:
                    scanned = scanned * (BRAIN_LEVEL / crop_level(scanned, anatomy["window"], anatomy["pixel_mm"]))
            fields = protocol.prompt_fields(anatomy["plane"] if plane_in_prompt else None)
            item[role] = clean[None].numpy().astype(np.float32)
            item[f"{role}_in"] = scanned[None].numpy().astype(np.float32)
            item[f"{role}_fields"] = fields.to_dict()
            item[f"{role}_text"] = sample_prompt(fields, text_rng, drop_probability)
            # pure-tissue values of the clean image, in its normalised units (w_lesion_value)
            item[f"{role}_tissue_values"] = (signals * scale).astype(np.float32)
        brain = centre[:3].clone()
        brain[1] += centre[_LESION]                               # lesions count as white matter
        background = (1 - brain.sum(0, keepdim=True)).clamp(0, 1)
        item["tissue"] = torch.cat([brain, background]).numpy().astype(np.float32)
        item["mask"] = (centre.sum(0, keepdim=True) >= 0.5).numpy().astype(np.float32)
        item["lesion"] = centre[_LESION][None].numpy().astype(np.float32)   # weights the L1 (w_lesion)
        return item
