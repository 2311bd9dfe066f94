"""MR physics for the simulator: tissue parameters, signal equations, protocols, zero-shot split.

Pure numpy; every signal function is vectorised (scalars or arrays broadcast).

Tissue parameters
-----------------
``(PD, T1 ms, T2 ms, T2* ms)`` per tissue; :func:`tissue_parameters` interpolates in field strength.

======  ======================  ======================
tissue  1.5 T                   3 T
======  ======================  ======================
GM      0.86 / 833 / 83 / 69    0.86 / 1400 / 80 / 55
WM      0.77 / 500 / 70 / 61    0.77 / 850 / 67 / 49
CSF     1.00 / 3600 / 329 / 58  1.00 / 3900 / 329 / 46
======  ======================  ======================

* 1.5 T: the BrainWeb values as tabulated by the MIT-licensed ``brainweb-dl`` package
  (:data:`BRAINWEB_1P5T`, kept verbatim), **except CSF T1**. BrainWeb's CSF T1 of 2569 ms is far
  below the typical literature value for CSF (roughly 3.5-4.5 s, close to free water and nearly
  field-independent). With 2569 ms a clinical 1.5 T FLAIR (TR 9000, TI 2500) would show CSF as the
  *brightest* tissue, so a model trained on it would learn the wrong TI -> contrast relation for real
  scans. 3600 ms puts the CSF null of TR 9000 at TI ~2200 ms, where clinical FLAIR protocols are.
* 3 T: typical literature values, chosen inside the ranges reported for healthy adult brain rather
  than copied from one study: T1 lengthens with field (GM ~1300-1450 ms, WM ~800-900 ms, of the
  order reported e.g. by Wansapura et al., JMRI 1999; some studies such as Stanisz et al., MRM 2005
  report longer values); T2 shortens slightly (GM ~80, WM ~65-70 ms); CSF T2 keeps the BrainWeb
  scale (329 ms) at both fields for consistency (pure-CSF values of 1-2 s are also reported); T2*
  shortens by roughly 20 % from 1.5 T to 3 T (the order reported e.g. by Peters et al., MRI 2007),
  applied to the BrainWeb T2* values. PD does not depend on field.
* Between and beyond the two tables every relaxation time follows a power law ``T(B) ∝ B^β``
  (linear interpolation in log T vs log B), the usual empirical form of T1 dispersion; the field
  is clamped to [0.5, 7] T and extrapolation is only a rough guide.

Signal equations (TR, TE, TI in ms, flip in degrees)
----------------------------------------------------
* spin echo: ``S = PD (1 - e^(-TR/T1)) e^(-TE/T2)``
* inversion recovery, magnitude: ``S = PD |1 - 2 e^(-TI/T1) + e^(-TR/T1)| e^(-TE/T2)``
* spoiled gradient echo: ``S = PD sin(a) (1 - E1) / (1 - cos(a) E1) e^(-TE/T2*)``, ``E1 = e^(-TR/T1)``
* MPRAGE-like IR gradient echo (:func:`mprage`): see its docstring.

Random protocols (:meth:`Protocol.sample`)
-------------------------------------------
Values are drawn uniformly in these ranges (field strength 1.5 T or 3 T with equal probability),
then rounded the way scanners report them:

=======  =====  ============  ==========  ================================  ========
kind     type   TR ms         TE ms       TI ms                             flip deg
=======  =====  ============  ==========  ================================  ========
T1W      SE     400-700       8-20        -                                 90
PDW      SE     3000-5000     10-35       -                                 90
T2W      SE     3000-6000     40-140      -                                 90
FLAIR    IR     7000-11000    80-140      CSF null of (TR, B) x 0.88-1.12   90
STIR     IR     3000-6000     30-70       130-180 (1.5 T), 180-240 (3 T)    90
FLASH    GRE    15-40         3-8         -                                 20-45
MPRAGE   IRGRE  1900-2500     2.5-4.5     900-1100                          7-12
=======  =====  ============  ==========  ================================  ========

Zero-shot split (:data:`ZERO_SHOT_SPLIT`)
-----------------------------------------
Regions of parameter space that training never sees, to measure zero-shot generalisation:
spin-echo TE 50-70 ms with TR >= 2000 ms (between PD and T2 weighting), FLAIR TI 1900-2100 ms,
any gradient echo at 3 T, and every STIR. ``Protocol.sample`` rejects them unless
``allow_held_out=True``; :func:`sample_held_out` draws inside one region for evaluation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..prompts import vocabulary as voc

__all__ = [
    "TissueParameters",
    "BRAINWEB_1P5T",
    "TISSUE_TABLE_1P5T",
    "TISSUE_TABLE_3T",
    "tissue_parameters",
    "spin_echo",
    "inversion_recovery",
    "spoiled_gradient_echo",
    "mprage",
    "csf_null_ti",
    "SEQUENCE_TYPES",
    "Protocol",
    "PRESETS",
    "preset",
    "SAMPLING_RANGES",
    "SAMPLE_KINDS",
    "classify_weighting",
    "ZeroShotSplit",
    "ZERO_SHOT_SPLIT",
    "HELD_OUT_REGIONS",
    "is_held_out",
    "held_out_region",
    "sample_held_out",
]

GAMMA_MHZ_PER_T = 42.577478  # proton gyromagnetic ratio / 2 pi


@dataclass(frozen=True)
class TissueParameters:
    """Relative proton density and relaxation times (ms) of one tissue."""

    pd: float
    t1: float
    t2: float
    t2star: float

    def scaled(self, pd: float = 1.0, t1: float = 1.0, t2: float = 1.0, t2star: float = 1.0):
        return TissueParameters(self.pd * pd, self.t1 * t1, self.t2 * t2, self.t2star * t2star)


#: BrainWeb tissue values at 1.5 T as tabulated by ``brainweb-dl`` (MIT), verbatim, for reference.
BRAINWEB_1P5T: Mapping[str, TissueParameters] = {
    "GM": TissueParameters(0.86, 833.0, 83.0, 69.0),
    "WM": TissueParameters(0.77, 500.0, 70.0, 61.0),
    "CSF": TissueParameters(1.00, 2569.0, 329.0, 58.0),
    "FAT": TissueParameters(1.00, 350.0, 70.0, 58.0),
}

#: Values used at 1.5 T: BrainWeb except CSF T1 (see the module docstring).
TISSUE_TABLE_1P5T: Mapping[str, TissueParameters] = {
    "GM": BRAINWEB_1P5T["GM"],
    "WM": BRAINWEB_1P5T["WM"],
    "CSF": TissueParameters(1.00, 3600.0, 329.0, 58.0),
}

#: Typical literature values at 3 T (see the module docstring).
TISSUE_TABLE_3T: Mapping[str, TissueParameters] = {
    "GM": TissueParameters(0.86, 1400.0, 80.0, 55.0),
    "WM": TissueParameters(0.77, 850.0, 67.0, 49.0),
    "CSF": TissueParameters(1.00, 3900.0, 329.0, 46.0),
}

_FIELD_LO, _FIELD_HI = 1.5, 3.0
_FIELD_CLAMP = (0.5, 7.0)


def tissue_parameters(field_strength_t: float) -> dict[str, TissueParameters]:
    """Tissue parameters (keys ``"GM"``, ``"WM"``, ``"CSF"``) at a field strength in tesla.

    Exact table values at 1.5 T and 3 T; power-law (log-log) interpolation in between and, as a
    rough guide only, beyond (field clamped to [0.5, 7] T).
    """
    b = float(np.clip(float(field_strength_t), *_FIELD_CLAMP))
    w = math.log(b / _FIELD_LO) / math.log(_FIELD_HI / _FIELD_LO)

    def interp(lo: float, hi: float) -> float:
        if w == 0.0 or lo == hi:
            return float(lo)
        if w == 1.0:
            return float(hi)
        return float(lo * (hi / lo) ** w)

    out = {}
    for name, lo in TISSUE_TABLE_1P5T.items():
        hi = TISSUE_TABLE_3T[name]
        out[name] = TissueParameters(
            pd=lo.pd,
            t1=interp(lo.t1, hi.t1),
            t2=interp(lo.t2, hi.t2),
            t2star=interp(lo.t2star, hi.t2star),
        )
    return out


# --------------------------------------------------------------------------------------------
# Signal equations
# --------------------------------------------------------------------------------------------


def spin_echo(pd, t1, t2, tr, te):
    """Spin echo: ``PD (1 - e^(-TR/T1)) e^(-TE/T2)`` (times in ms)."""
    return pd * (1.0 - np.exp(-tr / t1)) * np.exp(-te / t2)


def inversion_recovery(pd, t1, t2, tr, te, ti):
    """Inversion recovery with spin-echo readout, magnitude image.

    ``PD |1 - 2 e^(-TI/T1) + e^(-TR/T1)| e^(-TE/T2)``: ideal 180° inversion from the steady state,
    full readout saturation; the magnitude makes tissues on either side of their null bright.
    """
    return pd * np.abs(1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1)) * np.exp(-te / t2)


def spoiled_gradient_echo(pd, t1, t2star, tr, te, flip_deg):
    """Spoiled gradient echo (FLASH/SPGR) steady state.

    ``PD sin(a) (1 - E1) / (1 - cos(a) E1) e^(-TE/T2*)`` with ``E1 = e^(-TR/T1)``.
    """
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-tr / t1)
    return pd * np.sin(a) * (1.0 - e1) / (1.0 - np.cos(a) * e1) * np.exp(-te / t2star)


def mprage(pd, t1, t2star, tr, te, ti, flip_deg):
    """MPRAGE-like inversion-prepared gradient echo, a closed-form approximation.

    ``PD sin(a) |1 - 2 e^(-TI/T1) + e^(-TR/T1)| e^(-TE/T2*)``

    Here TR is the sequence repetition time (inversion to inversion, as scanners report it for
    MPRAGE) and TI the time from the inversion to the centre of k-space. The longitudinal
    magnetisation at TI is that of an ideal inversion from a state that recovered for TR; it is
    read by one small-flip excitation, which contributes ``sin(a)``, and decays with T2* to TE.
    Neglected: the partial saturation and the apparent-T1 shortening caused by the readout train
    (so the flip angle only scales the image), and the recovery delay after the train. The model
    reproduces the MPRAGE contrast order (WM > GM > CSF, CSF near its null) for TI 900-1100 ms.
    """
    a = np.deg2rad(flip_deg)
    mz = np.abs(1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1))
    return pd * np.sin(a) * mz * np.exp(-te / t2star)


def csf_null_ti(tr: float, field_strength_t: float) -> float:
    """TI (ms) that nulls CSF in inversion recovery: ``T1 ln(2 / (1 + e^(-TR/T1)))``."""
    t1 = tissue_parameters(field_strength_t)["CSF"].t1
    return float(t1 * math.log(2.0 / (1.0 + math.exp(-tr / t1))))


# --------------------------------------------------------------------------------------------
# Protocols
# --------------------------------------------------------------------------------------------

#: Sequence families: spin echo, inversion recovery (spin-echo readout), spoiled gradient echo,
#: inversion-prepared gradient echo (MPRAGE-like).
SEQUENCE_TYPES = ("SE", "IR", "GRE", "IRGRE")

_SHORT_NAMES = {
    voc.T1W: "T1w",
    voc.T2W: "T2w",
    voc.PDW: "PDw",
    voc.FLAIR: "FLAIR",
    voc.STIR: "STIR",
    voc.MPRAGE: "MPRAGE",
    voc.DWI: "DWI",
    voc.T2STAR: "T2*w",
}
_SEQ_LABEL = {"SE": "SE", "IR": "IR", "GRE": "GRE", "IRGRE": "IR-GRE"}
_DICOM_SEQ = {
    # ScanningSequence, SequenceVariant, ScanOptions, MRAcquisitionType
    "SE": ("SE", "NONE", None, "2D"),
    "IR": (["SE", "IR"], "NONE", "IR", "2D"),
    "GRE": ("GR", "SP", None, "3D"),
    "IRGRE": (["GR", "IR"], ["SP", "MP"], "IR", "3D"),
}


@dataclass(frozen=True)
class Protocol:
    """One MR acquisition protocol.

    ``name`` is the weighting, one of the :mod:`napari_evai2i.prompts.vocabulary` sequence
    constants (e.g. ``vocabulary.T2W``). Times in ms, ``flip_angle`` in degrees (spin-echo and IR
    protocols get 90 when it is left ``None``), ``field_strength`` in tesla.
    """

    sequence_type: str
    name: str
    tr: float
    te: float
    ti: float | None = None
    flip_angle: float | None = None
    field_strength: float = 1.5

    def __post_init__(self):
        st = self.sequence_type
        if st not in SEQUENCE_TYPES:
            raise ValueError(f"sequence_type must be one of {SEQUENCE_TYPES}, got {st!r}")
        if self.name not in voc.ALL_SEQUENCES:
            raise ValueError(f"name must be a vocabulary sequence name, got {self.name!r}")
        fa = self.flip_angle
        if fa is None and st in ("SE", "IR"):
            fa = 90.0
        if fa is None:
            raise ValueError(f"{st} protocol needs a flip_angle")
        object.__setattr__(self, "flip_angle", float(fa))
        object.__setattr__(self, "tr", float(self.tr))
        object.__setattr__(self, "te", float(self.te))
        object.__setattr__(self, "field_strength", float(self.field_strength))
        if st in ("IR", "IRGRE"):
            if self.ti is None or not self.ti > 0:
                raise ValueError(f"{st} protocol needs a positive ti")
            object.__setattr__(self, "ti", float(self.ti))
            if self.ti >= self.tr:
                raise ValueError("ti must be shorter than tr")
        elif self.ti is not None:
            raise ValueError(f"{st} protocol takes no ti")
        if not (self.tr > 0 and self.te > 0 and self.te < self.tr):
            raise ValueError("need 0 < te < tr")
        if not 0 < self.flip_angle <= 180:
            raise ValueError("flip_angle must be in (0, 180]")
        if not self.field_strength > 0:
            raise ValueError("field_strength must be positive")

    # ---- physics -------------------------------------------------------------------------

    def signal(self, pd, t1, t2, t2star):
        """Signal of tissue(s) with these parameters (vectorised)."""
        st = self.sequence_type
        if st == "SE":
            return spin_echo(pd, t1, t2, self.tr, self.te)
        if st == "IR":
            return inversion_recovery(pd, t1, t2, self.tr, self.te, self.ti)
        if st == "GRE":
            return spoiled_gradient_echo(pd, t1, t2star, self.tr, self.te, self.flip_angle)
        return mprage(pd, t1, t2star, self.tr, self.te, self.ti, self.flip_angle)

    def tissue_signals(self, params: Mapping[str, TissueParameters] | None = None) -> dict[str, float]:
        """Pure-tissue signal per tissue name, at this protocol's field unless ``params`` given."""
        params = tissue_parameters(self.field_strength) if params is None else params
        return {k: float(self.signal(p.pd, p.t1, p.t2, p.t2star)) for k, p in params.items()}

    # ---- naming and DICOM ----------------------------------------------------------------

    @property
    def short_name(self) -> str:
        """Short weighting label used in series descriptions (``"T2w"``, ``"FLAIR"`` ...)."""
        return _SHORT_NAMES[self.name]

    def replace(self, **changes) -> "Protocol":
        return dataclasses.replace(self, **changes)

    def dicom_tags(self) -> dict:
        """Acquisition tags of this protocol as ``{DICOM keyword: value}`` (no geometry)."""
        scan_seq, variant, options, acq = _DICOM_SEQ[self.sequence_type]
        seq_label = _SEQ_LABEL[self.sequence_type]
        tags = {
            "Modality": voc.MODALITY_MR,
            "ScanningSequence": list(scan_seq) if isinstance(scan_seq, list) else scan_seq,
            "SequenceVariant": list(variant) if isinstance(variant, list) else variant,
        }
        if options:
            tags["ScanOptions"] = options
        tags.update(
            {
                "MRAcquisitionType": acq,
                "RepetitionTime": _num(self.tr),
                "EchoTime": _num(self.te),
            }
        )
        if self.ti is not None:
            tags["InversionTime"] = _num(self.ti)
        tags.update(
            {
                "FlipAngle": _num(self.flip_angle),
                "MagneticFieldStrength": _num(self.field_strength),
                "ImagingFrequency": round(GAMMA_MHZ_PER_T * self.field_strength, 6),
                "SeriesDescription": f"{self.short_name} {seq_label} simulated",
                "ProtocolName": f"sim_{self.short_name.lower()}_{seq_label.lower()}",
                "BodyPartExamined": "BRAIN",
                "ImageComments": "SIMULATED image from MR signal equations on the MNI152 template",
            }
        )
        return tags

    # ---- random protocols ----------------------------------------------------------------

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        kind: str,
        allow_held_out: bool = False,
        field_strength: float | None = None,
        *,
        max_tries: int = 1000,
    ) -> "Protocol":
        """Draw a realistic random protocol of ``kind`` (see the table in the module docstring).

        ``kind`` is a key of :data:`SAMPLING_RANGES` or a vocabulary weighting name. Unless
        ``allow_held_out``, draws falling in :data:`ZERO_SHOT_SPLIT` are redrawn; a kind that is
        entirely held out (STIR, or FLASH at 3 T) raises ``ValueError``.
        """
        kind = _kind_key(kind)
        for _ in range(max_tries):
            p = _draw(rng, kind, field_strength)
            if allow_held_out or not is_held_out(p):
                return p
        raise ValueError(
            f"kind {kind!r} (field {field_strength}) lies in the held-out zero-shot split; "
            "use allow_held_out=True or sample_held_out()"
        )


def _num(x: float):
    x = float(x)
    return int(x) if x.is_integer() else round(x, 3)


#: Parameter ranges used by :meth:`Protocol.sample` (see the module docstring).
SAMPLING_RANGES: Mapping[str, dict] = {
    "T1W": {"sequence_type": "SE", "name": voc.T1W, "tr": (400, 700), "te": (8, 20)},
    "PDW": {"sequence_type": "SE", "name": voc.PDW, "tr": (3000, 5000), "te": (10, 35)},
    "T2W": {"sequence_type": "SE", "name": voc.T2W, "tr": (3000, 6000), "te": (40, 140)},
    "FLAIR": {
        "sequence_type": "IR",
        "name": voc.FLAIR,
        "tr": (7000, 11000),
        "te": (80, 140),
        "ti_factor_of_csf_null": (0.88, 1.12),
    },
    "STIR": {
        "sequence_type": "IR",
        "name": voc.STIR,
        "tr": (3000, 6000),
        "te": (30, 70),
        "ti": {1.5: (130, 180), 3.0: (180, 240)},
    },
    "FLASH": {"sequence_type": "GRE", "name": voc.T1W, "tr": (15, 40), "te": (3, 8), "flip": (20, 45)},
    "MPRAGE": {
        "sequence_type": "IRGRE",
        "name": voc.MPRAGE,
        "tr": (1900, 2500),
        "te": (2.5, 4.5),
        "ti": (900, 1100),
        "flip": (7, 12),
    },
}
SAMPLE_KINDS = tuple(SAMPLING_RANGES)
_FIELDS = (1.5, 3.0)

_VOCAB_TO_KIND = {voc.T1W: "T1W", voc.T2W: "T2W", voc.PDW: "PDW", voc.FLAIR: "FLAIR",
                  voc.STIR: "STIR", voc.MPRAGE: "MPRAGE"}


def _kind_key(kind: str) -> str:
    if kind in SAMPLING_RANGES:
        return kind
    if kind in _VOCAB_TO_KIND:
        return _VOCAB_TO_KIND[kind]
    up = str(kind).upper()
    if up in SAMPLING_RANGES:
        return up
    raise ValueError(f"unknown protocol kind {kind!r}; expected one of {SAMPLE_KINDS}")


def _draw(rng: np.random.Generator, kind: str, field_strength: float | None) -> Protocol:
    spec = SAMPLING_RANGES[kind]
    st = spec["sequence_type"]
    b = float(rng.choice(_FIELDS)) if field_strength is None else float(field_strength)
    tr = rng.uniform(*spec["tr"])
    te = rng.uniform(*spec["te"])
    ti = flip = None
    if st in ("SE", "IR"):
        tr, te = round(tr, -1), float(round(te))
    elif st == "GRE":
        tr, te = round(tr, 1), round(te, 1)
    else:
        tr, te = float(round(tr)), round(te, 2)
    if kind == "FLAIR":
        ti = round(csf_null_ti(tr, b) * rng.uniform(*spec["ti_factor_of_csf_null"]), -1)
    elif kind == "STIR":
        ti = round(rng.uniform(*spec["ti"][1.5 if b < 2.25 else 3.0]), -1)
    elif "ti" in spec:
        ti = round(rng.uniform(*spec["ti"]), -1)
    if "flip" in spec:
        flip = float(round(rng.uniform(*spec["flip"])))
    return Protocol(st, spec["name"], tr, te, ti=ti, flip_angle=flip, field_strength=b)


def classify_weighting(protocol: Protocol) -> str:
    """Vocabulary weighting name implied by the acquisition parameters (radiology rules of thumb).

    * IRGRE -> MPRAGE.
    * IR: TI <= 400 ms -> STIR; TI >= 1500 ms -> FLAIR; in between -> T1-weighted (IR-prepared T1).
    * GRE: TE >= 15 ms -> T2*-weighted; else flip >= 20° -> T1-weighted; else proton density.
    * SE: TR < 1200 ms -> T1-weighted; else TE < 40 ms -> proton density; else T2-weighted.
    """
    p = protocol
    if p.sequence_type == "IRGRE":
        return voc.MPRAGE
    if p.sequence_type == "IR":
        if p.ti <= 400:
            return voc.STIR
        return voc.FLAIR if p.ti >= 1500 else voc.T1W
    if p.sequence_type == "GRE":
        if p.te >= 15:
            return voc.T2STAR
        return voc.T1W if p.flip_angle >= 20 else voc.PDW
    if p.tr < 1200:
        return voc.T1W
    return voc.PDW if p.te < 40 else voc.T2W


#: Named protocols (all at 1.5 T; use :func:`preset` for another field).
PRESETS: Mapping[str, Protocol] = {
    "T1W": Protocol("SE", voc.T1W, 500, 15),
    "T2W": Protocol("SE", voc.T2W, 4000, 100),
    "PDW": Protocol("SE", voc.PDW, 3000, 20),
    "FLAIR": Protocol("IR", voc.FLAIR, 9000, 120, ti=2500),
    "STIR": Protocol("IR", voc.STIR, 4000, 40, ti=150),
    "FLASH": Protocol("GRE", voc.T1W, 25, 5, flip_angle=30),
    "MPRAGE": Protocol("IRGRE", voc.MPRAGE, 2300, 3, ti=900, flip_angle=9),
}


def preset(kind: str, field_strength: float = 1.5) -> Protocol:
    """A named preset (``"T1W"``, ``"T2W"``, ``"PDW"``, ``"FLAIR"``, ``"STIR"``, ``"FLASH"``,
    ``"MPRAGE"``) at the given field strength."""
    return PRESETS[_kind_key(kind)].replace(field_strength=float(field_strength))


# --------------------------------------------------------------------------------------------
# Zero-shot split
# --------------------------------------------------------------------------------------------

#: Names of the held-out regions, in the order :meth:`ZeroShotSplit.region_of` tests them.
HELD_OUT_REGIONS = ("se_te_band", "flair_ti_band", "gre_3t", "stir")


@dataclass(frozen=True)
class ZeroShotSplit:
    """Regions of protocol space held out of training (zero-shot evaluation).

    * ``se_te_band``: spin echo with ``se_te_band_ms[0] <= TE <= se_te_band_ms[1]`` (50-70 ms) and
      ``TR >= se_min_tr_ms`` (2000 ms): the gap between proton-density and T2 weighting.
    * ``flair_ti_band``: inversion recovery with FLAIR-range ``TI`` in ``flair_ti_band_ms``
      (1900-2100 ms).
    * ``gre_3t``: every spoiled gradient echo (FLASH) at ``field_strength >= gre_min_field_t``
      (2.25 T, i.e. 3 T): an unseen sequence x field combination.
    * ``stir``: every protocol whose weighting is STIR (an unseen sequence type).

    Bounds are inclusive.
    """

    se_te_band_ms: tuple[float, float] = (50.0, 70.0)
    se_min_tr_ms: float = 2000.0
    flair_ti_band_ms: tuple[float, float] = (1900.0, 2100.0)
    gre_min_field_t: float = 2.25
    held_out_weightings: tuple[str, ...] = (voc.STIR,)

    def region_of(self, protocol: Protocol) -> str | None:
        p = protocol
        lo, hi = self.se_te_band_ms
        if p.sequence_type == "SE" and lo <= p.te <= hi and p.tr >= self.se_min_tr_ms:
            return "se_te_band"
        lo, hi = self.flair_ti_band_ms
        if p.sequence_type == "IR" and lo <= p.ti <= hi:
            return "flair_ti_band"
        if p.sequence_type == "GRE" and p.field_strength >= self.gre_min_field_t:
            return "gre_3t"
        if p.name in self.held_out_weightings or classify_weighting(p) in self.held_out_weightings:
            return "stir"
        return None

    def contains(self, protocol: Protocol) -> bool:
        return self.region_of(protocol) is not None


ZERO_SHOT_SPLIT = ZeroShotSplit()


def held_out_region(protocol: Protocol, split: ZeroShotSplit = ZERO_SHOT_SPLIT) -> str | None:
    """Name of the held-out region containing ``protocol``, or ``None``."""
    return split.region_of(protocol)


def is_held_out(protocol: Protocol, split: ZeroShotSplit = ZERO_SHOT_SPLIT) -> bool:
    """True when ``protocol`` lies in the zero-shot (held-out) part of protocol space."""
    return split.region_of(protocol) is not None


def sample_held_out(
    rng: np.random.Generator, region: str, split: ZeroShotSplit = ZERO_SHOT_SPLIT
) -> Protocol:
    """Draw a protocol inside one held-out ``region`` (see :data:`HELD_OUT_REGIONS`)."""
    if region == "se_te_band":
        b = float(rng.choice(_FIELDS))
        tr = round(rng.uniform(max(split.se_min_tr_ms, 2500.0), 6000.0), -1)
        te = float(round(rng.uniform(*split.se_te_band_ms)))
        p = Protocol("SE", voc.T2W, tr, te, field_strength=b)
        return p.replace(name=classify_weighting(p))
    if region == "flair_ti_band":
        spec = SAMPLING_RANGES["FLAIR"]
        b = float(rng.choice(_FIELDS))
        tr = round(rng.uniform(*spec["tr"]), -1)
        te = float(round(rng.uniform(*spec["te"])))
        ti = float(round(rng.uniform(*split.flair_ti_band_ms)))
        return Protocol("IR", voc.FLAIR, tr, te, ti=ti, field_strength=b)
    if region == "gre_3t":
        return _draw(rng, "FLASH", 3.0)
    if region == "stir":
        return _draw(rng, "STIR", None)
    raise ValueError(f"unknown held-out region {region!r}; expected one of {HELD_OUT_REGIONS}")
