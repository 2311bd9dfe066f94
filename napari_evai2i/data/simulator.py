"""Simulated MR volumes: MR physics applied to the real MNI152 anatomy (numpy/scipy only).

One call of :func:`simulate_pair` makes one "subject" and scans it with several protocols:

1. **Anatomy** (random stream ``[seed, 0]``): the GM/WM/CSF fractions of MNI152
   (:mod:`.anatomy`) are resampled once through a random smooth warp, a small affine (rotation up
   to 10° about a random axis, per-axis scale 0.9-1.1, shift up to 4 mm) composed with an elastic
   displacement (Gaussian-smoothed random field, correlation ~12 mm, r.m.s. 1-2.5 mm). The warp is
   built on a coarse grid (every ~4 mm) and interpolated linearly to the voxels, and tissue maps
   are resampled with trilinear interpolation (``scipy.ndimage.map_coordinates``, order 1). The
   warped maps are shared by every contrast: this is what makes paired data.
2. **Subject tissue properties** (stream ``[seed, 1]``): per-tissue lognormal jitter of the table
   values, PD 3 %, T1/T2/T2* 5 %, shared by all contrasts of the subject.
3. **Per contrast** (stream ``[seed, 2, i]``): the noiseless image is the partial-volume sum
   ``sum_t fraction_t * S_t(protocol)``; then a smooth multiplicative bias field
   ``exp(poly)``, a random polynomial of total degree <= 3 in the normalised coordinates scaled so
   that its extreme inside the brain is +-10-20 %; then Rician noise, ``sqrt((s + n1)^2 + n2^2)``
   with ``n1, n2 ~ N(0, sigma)`` and ``sigma = mean brain signal / SNR``, SNR log-uniform in
   12-60 when random. Noise covers the whole field of view, as in a real magnitude image.

The image is in arbitrary units (the raw signal-equation values, roughly 0..1); normalisation is
left to the dataset layer. Arrays are ``(Z, Y, X)``; ``affine_ras`` maps ``(x, y, z)`` indices
(nibabel order) to RAS mm. No reorientation happens here: the dataset layer slices along
``SimulatedVolume.slice_axis`` for the requested plane.

A full 1 mm volume with every realism option takes about 0.6 s on one core (median over seeds,
single-threaded BLAS); the first call also loads the template (about 2 s, then cached).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
from scipy import ndimage as ndi

from ..prompts.vocabulary import PLANE_AXIS, PLANES
from .anatomy import TISSUE_NAMES, TissueMaps, bounding_box, load_tissue_maps
from .noise import SNR_RANGE, draw_snr, rician
from .physics import Protocol, TissueParameters, tissue_parameters

__all__ = ["SimulatedVolume", "simulate_volume", "simulate_pair", "warp_anatomy", "PLANE_AXIS", "SNR_RANGE",
           "TISSUE_NAMES"]

# Realism magnitudes (documented in the module docstring).
_MAX_ROT_DEG = 10.0
_SCALE_RANGE = (0.9, 1.1)
_MAX_SHIFT_MM = 4.0
_ELASTIC_RMS_MM = (1.0, 2.5)
_ELASTIC_CORR_MM = 12.0
_COARSE_STEP_MM = 4.0
_BIAS_AMPLITUDE = (0.10, 0.20)
_BIAS_DEGREE = 3
_JITTER_SIGMA = {"pd": 0.03, "t1": 0.05, "t2": 0.05, "t2star": 0.05}


@dataclass(eq=False)
class SimulatedVolume:
    """One simulated contrast of one simulated subject.

    ``tissue`` and ``mask`` are read-only and, for volumes made by one :func:`simulate_pair`
    call, the very same arrays.
    """

    image: np.ndarray  #: float32 (Z, Y, X), arbitrary units (~0..1)
    tissue: np.ndarray  #: float32 (3, Z, Y, X) fractions in TISSUE_NAMES order (GM, WM, CSF)
    mask: np.ndarray  #: bool (Z, Y, X) brain mask after the warp
    protocol: Protocol
    tags: dict  #: DICOM acquisition tags (keyword -> value), no geometry
    affine_ras: np.ndarray  #: 4x4, (x, y, z) voxel index -> RAS mm
    spacing_zyx: tuple[float, float, float]
    seed: int = 0
    plane: str = "axial"
    snr: float | None = None  #: noise level used (None: noiseless)
    tissue_parameters: dict[str, TissueParameters] = field(default_factory=dict)

    @property
    def slice_axis(self) -> int:
        """Array axis to slice along for :attr:`plane` (0 axial, 1 coronal, 2 sagittal)."""
        return PLANE_AXIS[self.plane]

    @property
    def weighting(self) -> str:
        return self.protocol.name

    @property
    def prompt_fields(self):
        """:class:`~napari_evai2i.prompts.ProtocolFields` of :attr:`tags`, with :attr:`plane`."""
        from ..prompts import fields_from_tags

        return fields_from_tags(self.tags).replace(plane=self.plane)

    @property
    def prompt(self) -> str:
        """Canonical prompt of this volume: ``canonical_prompt(fields_from_tags(tags))`` with the
        plane set to :attr:`plane` (what a DICOM series of it, read back, also says)."""
        from ..prompts import canonical_prompt

        return canonical_prompt(self.prompt_fields)

    def to_volume(self):
        """This image as an :class:`napari_evai2i.io.Volume` (MNI152 geometry, tags copied).

        Write it with ``write_dicom_series(vol, folder, series_description=vol.tags[
        "SeriesDescription"], image_comments=vol.tags["ImageComments"])``.
        """
        from ..io import Volume

        return Volume.from_ras_affine(self.image, self.affine_ras, dict(self.tags))


# --------------------------------------------------------------------------------------------
# Anatomy warp
# --------------------------------------------------------------------------------------------


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1.0 - math.cos(angle_rad)) * (k @ k)


def _interp_weights(idx: np.ndarray, step: int, n_coarse: int) -> np.ndarray:
    """Linear-interpolation matrix from coarse points at ``0, step, 2 step ...`` to ``idx``."""
    pos = idx.astype(np.float64) / step
    i0 = np.clip(np.floor(pos).astype(int), 0, max(n_coarse - 2, 0))
    f = pos - i0
    w = np.zeros((idx.size, n_coarse), dtype=np.float32)
    rows = np.arange(idx.size)
    w[rows, i0] = 1.0 - f
    if n_coarse > 1:
        w[rows, np.minimum(i0 + 1, n_coarse - 1)] += f
    return w


def _separable_apply(coarse: np.ndarray, wz: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """``sum_abc coarse[a, b, c] wz[z, a] wy[y, b] wx[x, c]`` as three small matmuls."""
    cz, cy, cx = coarse.shape
    t = (wz @ coarse.reshape(cz, cy * cx)).reshape(-1, cy, cx)  # (Z, cy, cx)
    t = np.matmul(wy, t)  # (Z, Y, cx)
    return np.ascontiguousarray(t @ wx.T)  # (Z, Y, X)


@functools.lru_cache(maxsize=8)
def _reach_mask(maps: TissueMaps, radius: int) -> np.ndarray:
    """Brain mask of the bounding box padded by ``radius + 1``, dilated by ``radius`` (cube)."""
    padded = np.pad(maps.mask[maps.bbox], radius + 1).astype(np.float32)
    reach = ndi.maximum_filter(padded, size=2 * radius + 1, mode="constant", cval=0.0)
    reach.setflags(write=False)
    return reach


def _source_coordinates(maps: TissueMaps, rng: np.random.Generator):
    """Random smooth output->source voxel map, built on a coarse grid.

    Returns ``(crop, select, coords)``: the output region (slices) outside which the warped brain
    is empty, a bool mask of the voxels of ``crop`` that can see the brain, and float32 source
    coordinates ``(3, n_selected)`` of those voxels in the brain's bounding box padded with one
    voxel (``np.pad(map[maps.bbox], 1)``).
    """
    shape = np.array(maps.shape)
    sp = np.array(maps.spacing_zyx, dtype=np.float64)

    # Affine part in mm, applied about the centre of the brain.
    axis = rng.normal(size=3)
    angle = math.radians(rng.uniform(-_MAX_ROT_DEG, _MAX_ROT_DEG))
    scale = rng.uniform(*_SCALE_RANGE, size=3)
    shift_mm = rng.uniform(-_MAX_SHIFT_MM, _MAX_SHIFT_MM, size=3)
    m_mm = _rotation(axis, angle) @ np.diag(scale)
    m_vox = np.diag(1.0 / sp) @ m_mm @ np.diag(sp)
    bbox = maps.bbox
    lo_src = np.array([s.start for s in bbox], dtype=np.float64)
    hi_src = np.array([s.stop - 1 for s in bbox], dtype=np.float64)
    centre = 0.5 * (lo_src + hi_src)

    # Coarse grid covering every voxel.
    step = max(1, int(round(_COARSE_STEP_MM / float(sp.min()))))
    n_c = [int(math.ceil((n - 1) / step)) + 1 for n in shape]
    grids = np.meshgrid(*[np.arange(n, dtype=np.float64) * step for n in n_c], indexing="ij")
    out = np.stack(grids)  # (3, cz, cy, cx) output voxel positions
    coarse = np.einsum("ij,j...->i...", m_vox, out - centre[:, None, None, None])
    coarse += (centre + shift_mm / sp)[:, None, None, None]

    # Elastic displacement: smoothed white noise on the coarse grid, r.m.s. given in mm.
    rms_mm = rng.uniform(*_ELASTIC_RMS_MM)
    sigma_cells = _ELASTIC_CORR_MM / (step * float(sp.min()))
    for k in range(3):
        d = ndi.gaussian_filter(rng.standard_normal(n_c), sigma_cells, mode="reflect")
        d *= rms_mm / sp[k] / max(float(d.std()), 1e-12)
        coarse[k] += d

    # Output voxels that can see the source brain. Every coarse point lies within ~step voxels
    # of the source position of any voxel whose nearest coarse point it is, so a coarse point
    # "reaches" the brain when its source position is within step + 1 voxels of the mask; the
    # coarse mask is dilated by one more cell for safety and looked up per voxel.
    # Coordinates refer to the brain bounding box padded with one zero voxel (as the maps).
    offset = np.array([s.start - 1 for s in bbox], dtype=np.float64)
    coarse -= offset[:, None, None, None]
    radius = step + 1
    hits = ndi.map_coordinates(
        _reach_mask(maps, radius), coarse.reshape(3, -1) + radius, order=1, mode="constant", cval=0.0
    )
    near = ndi.binary_dilation(hits.reshape(n_c) > 0, structure=np.ones((3, 3, 3), bool))
    if not near.any():
        return None, None, None
    crop = []
    for axis_i in range(3):
        other = tuple(a for a in range(3) if a != axis_i)
        idx = np.flatnonzero(near.any(axis=other))
        start = max(0, (int(idx[0]) - 1) * step)
        stop = min(int(shape[axis_i]), (int(idx[-1]) + 1) * step + 1)
        crop.append(slice(start, stop))
    crop = tuple(crop)
    voxel_idx = [np.arange(c.start, c.stop) for c in crop]
    nearest = [np.clip(np.rint(v / step).astype(int), 0, n - 1) for v, n in zip(voxel_idx, n_c)]
    select = near[np.ix_(*nearest)]

    w = [_interp_weights(v, step, n) for v, n in zip(voxel_idx, n_c)]
    coords = np.empty((3, int(select.sum())), dtype=np.float32)
    for k in range(3):
        coords[k] = _separable_apply(coarse[k].astype(np.float32), *w)[select]
    return crop, select, coords


def warp_anatomy(
    maps: TissueMaps, rng: np.random.Generator | None, deform: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Tissue fractions ``(3, Z, Y, X)`` and brain mask after one random warp (read-only arrays).

    With ``deform=False`` (or ``rng=None``) the template itself is returned (copied).
    """
    if not deform or rng is None:
        tissue = maps.stack()
    else:
        tissue = np.zeros((3,) + maps.shape, dtype=np.float32)
        crop, select, coords = _source_coordinates(maps, rng)
        if crop is not None:
            bbox = maps.bbox
            # coords refer to the brain's bounding box padded with one zero voxel.
            for t, src in enumerate((maps.gm, maps.wm, maps.csf)):
                values = ndi.map_coordinates(
                    np.pad(src[bbox], 1),
                    coords,
                    output=np.float32,
                    order=1,
                    mode="constant",
                    cval=0.0,
                    prefilter=False,
                )
                np.clip(values, 0.0, 1.0, out=values)
                tissue[(t,) + crop][select] = values
    mask = tissue.sum(axis=0) >= 0.5
    tissue.setflags(write=False)
    mask.setflags(write=False)
    return tissue, mask


# --------------------------------------------------------------------------------------------
# Contrast
# --------------------------------------------------------------------------------------------


def _jittered_parameters(protocol: Protocol, factors: dict | None) -> dict[str, TissueParameters]:
    params = tissue_parameters(protocol.field_strength)
    if factors is None:
        return params
    return {name: p.scaled(**factors[name]) for name, p in params.items()}


def _draw_jitter(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    out = {}
    for name in TISSUE_NAMES:
        out[name] = {k: float(math.exp(rng.normal(0.0, s))) for k, s in _JITTER_SIGMA.items()}
    return out


def _legendre(n: int, degree: int) -> np.ndarray:
    x = np.linspace(-1.0, 1.0, n)
    return np.stack([np.polynomial.legendre.Legendre.basis(d)(x) for d in range(degree + 1)], axis=1)


def _bias_field(shape, crop, brain: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative bias on ``crop``, extreme inside ``brain`` (crop-shaped bool) = +-10-20 %."""
    deg = _BIAS_DEGREE
    c = rng.normal(size=(deg + 1,) * 3)
    i, j, k = np.indices(c.shape)
    total = i + j + k
    c = np.where((total <= deg) & (total > 0), c / (1.0 + total), 0.0)
    pz, py, px = (_legendre(n, deg)[s] for n, s in zip(shape, crop))
    log_b = _separable_apply(c.astype(np.float32), pz.astype(np.float32), py.astype(np.float32), px.astype(np.float32))
    amplitude = rng.uniform(*_BIAS_AMPLITUDE)
    extreme = float(np.abs(log_b[brain]).max()) if brain.any() else 0.0
    if extreme > 0:
        log_b *= amplitude / extreme
    return np.exp(log_b, out=log_b)


def _render(
    protocol: Protocol,
    tissue: np.ndarray,
    mask: np.ndarray,
    crop: tuple[slice, ...],
    params: dict[str, TissueParameters],
    rng: np.random.Generator,
    bias_field: bool,
    noise_snr,
) -> tuple[np.ndarray, float | None]:
    image = np.zeros(tissue.shape[1:], dtype=np.float32)
    sub = image[crop]
    for t, name in enumerate(TISSUE_NAMES):
        p = params[name]
        s = np.float32(protocol.signal(p.pd, p.t1, p.t2, p.t2star))
        sub += s * tissue[(t,) + crop]
    if bias_field:
        sub *= _bias_field(image.shape, crop, mask[crop], rng)
    if noise_snr is None:
        return image, None
    if isinstance(noise_snr, str):
        if noise_snr != "random":
            raise ValueError(f"noise_snr must be a number, None or 'random', got {noise_snr!r}")
        snr = draw_snr(rng)
    else:
        snr = float(noise_snr)
        if not snr > 0:
            raise ValueError("noise_snr must be positive")
    mean_signal = float(image[mask].mean()) if mask.any() else float(image.mean())
    return rician(image, mean_signal / snr, rng), snr


def _check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def simulate_pair(
    protocols: Sequence[Protocol],
    *,
    seed: int,
    resolution_mm: int = 1,
    jitter: bool = True,
    bias_field: bool = True,
    noise_snr: float | None | Literal["random"] = "random",
    deform: bool = True,
    plane: str = "axial",
) -> list[SimulatedVolume]:
    """Scan one simulated subject with several protocols (paired, co-registered volumes).

    All volumes share the same warped anatomy (the very same ``tissue``/``mask`` arrays) and the
    same tissue-parameter jitter; bias field, SNR and noise are drawn per contrast. Deterministic
    for ``seed``; ``simulate_pair([p, ...], seed=s)[0]`` equals ``simulate_volume(p, seed=s)``.
    """
    seed = _check_seed(seed)
    if plane not in PLANE_AXIS:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    protocols = list(protocols)
    for p in protocols:
        if not isinstance(p, Protocol):
            raise TypeError(f"expected Protocol, got {type(p).__name__}")
    maps = load_tissue_maps(resolution_mm)
    tissue, mask = warp_anatomy(maps, np.random.default_rng([seed, 0]), deform=deform)
    factors = _draw_jitter(np.random.default_rng([seed, 1])) if jitter else None
    crop = bounding_box(tissue.any(axis=0) if deform else maps.mask, pad=1)

    volumes = []
    for i, protocol in enumerate(protocols):
        rng = np.random.default_rng([seed, 2, i])
        params = _jittered_parameters(protocol, factors)
        image, snr = _render(protocol, tissue, mask, crop, params, rng, bias_field, noise_snr)
        volumes.append(
            SimulatedVolume(
                image=image,
                tissue=tissue,
                mask=mask,
                protocol=protocol,
                tags=protocol.dicom_tags(),
                affine_ras=maps.affine_ras.copy(),
                spacing_zyx=maps.spacing_zyx,
                seed=seed,
                plane=plane,
                snr=snr,
                tissue_parameters=params,
            )
        )
    return volumes


def simulate_volume(protocol: Protocol, *, seed: int, **options) -> SimulatedVolume:
    """Simulate one MR volume of ``protocol`` on a randomly warped MNI152 brain.

    ``options`` are those of :func:`simulate_pair`: ``noise_snr`` is ``"random"`` (log-uniform
    in :data:`SNR_RANGE`), a number, or ``None`` for no noise; ``plane`` is only recorded (see
    :attr:`SimulatedVolume.slice_axis`), the volume is never reoriented.
    """
    return simulate_pair([protocol], seed=seed, **options)[0]
