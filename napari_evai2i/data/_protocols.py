"""MR acquisition protocols: the :class:`Protocol` value, random protocols and the zero-shot split.

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
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..prompts import vocabulary as voc
from ._signal import (TissueParameters, csf_null_ti, inversion_recovery, mprage, spin_echo, spoiled_gradient_echo,
                      tissue_parameters)

GAMMA_MHZ_PER_T = 42.577478  # proton gyromagnetic ratio / 2 pi


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

    def prompt_fields(self, plane: str | None = None):
        """Prompt fields of this acquisition, read from its DICOM tags as a real series' would be."""
        from ..prompts import fields_from_tags

        fields = fields_from_tags(self.dicom_tags())
        return fields.replace(plane=plane) if plane else fields

    def prompt(self, plane: str | None = None) -> str:
        """The canonical prompt of this acquisition (what the simulator trains with)."""
        from ..prompts import canonical_prompt

        return canonical_prompt(self.prompt_fields(plane))

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
                "PatientPosition": "HFS",               # the template's head, first and supine
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
        ranges: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
        max_tries: int = 1000,
    ) -> "Protocol":
        """Draw a realistic random protocol of ``kind`` (see the table in the module docstring).

        ``kind`` is a key of :data:`SAMPLING_RANGES` or a vocabulary weighting name. Unless
        ``allow_held_out``, draws falling in :data:`ZERO_SHOT_SPLIT` are redrawn; a kind that is
        entirely held out (STIR, or FLASH at 3 T) raises ``ValueError``. ``ranges`` replaces some
        of the table's ranges (:func:`sampling_spec`).
        """
        kind = _kind_key(kind)
        spec = sampling_spec(kind, ranges)
        for _ in range(max_tries):
            p = _draw(rng, kind, field_strength, spec)
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
    "FLAIR": {"sequence_type": "IR", "name": voc.FLAIR, "tr": (7000, 11000), "te": (80, 140),
              "ti_factor_of_csf_null": (0.88, 1.12)},
    "STIR": {"sequence_type": "IR", "name": voc.STIR, "tr": (3000, 6000), "te": (30, 70),
             "ti": {1.5: (130, 180), 3.0: (180, 240)}},
    "FLASH": {"sequence_type": "GRE", "name": voc.T1W, "tr": (15, 40), "te": (3, 8), "flip": (20, 45)},
    "MPRAGE": {"sequence_type": "IRGRE", "name": voc.MPRAGE, "tr": (1900, 2500), "te": (2.5, 4.5),
               "ti": (900, 1100), "flip": (7, 12)},
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


def sampling_spec(kind: str, ranges: Mapping[str, Mapping[str, tuple[float, float]]] | None = None) -> dict:
    """:data:`SAMPLING_RANGES` of ``kind`` with the (low, high) ranges that ``ranges[kind]`` replaces.

    Why: a recipe may widen one range (``protocol_ranges: {FLAIR: {ti_factor_of_csf_null: [0.88,
    1.3]}}``) without a second copy of the table. Unknown kinds or names, and ranges that are not
    two increasing positive numbers, raise ``ValueError`` naming them.
    """
    key = _kind_key(kind)
    spec = dict(SAMPLING_RANGES[key])
    for name, value in (ranges or {}).get(key, {}).items():
        if name not in spec or not isinstance(spec[name], tuple):
            choices = ", ".join(k for k, v in spec.items() if isinstance(v, tuple))
            raise ValueError(f"protocol range {name!r} of {kind} cannot be set; its ranges are {choices}")
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"protocol range {kind} {name} must be two numbers [low, high], not {value!r}") from None
        if not 0 < low <= high:
            raise ValueError(f"protocol range {kind} {name} must have 0 < low <= high, not {value!r}")
        spec[name] = (low, high)
    return spec


def check_protocol_ranges(ranges: Mapping[str, Mapping[str, tuple[float, float]]]) -> None:
    """Fail early, naming the problem, on a ``ranges`` mapping :meth:`Protocol.sample` would reject."""
    if not isinstance(ranges, Mapping) or not all(isinstance(v, Mapping) for v in ranges.values()):
        raise ValueError(f"protocol_ranges must map a kind to {{range name: [low, high]}}, not {ranges!r}")
    for kind in ranges:
        if kind not in SAMPLING_RANGES:
            raise ValueError(f"protocol_ranges names {kind!r}; kinds are {', '.join(SAMPLING_RANGES)}")
        sampling_spec(kind, ranges)


def _draw(rng: np.random.Generator, kind: str, field_strength: float | None, spec: Mapping | None = None) -> Protocol:
    spec = SAMPLING_RANGES[kind] if spec is None else spec
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
