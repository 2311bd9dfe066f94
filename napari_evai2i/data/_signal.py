"""MR signal: tissue parameters and the signal equations (pure numpy, vectorised).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np


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

#: Tissues outside the brain and white-matter lesions, for the whole-head generator
#: (:mod:`napari_evai2i.data.head`). Approximate literature values, chosen for the right
#: contrast order rather than copied from one study: fat from BrainWeb at 1.5 T (verbatim) and
#: of the order of Gold et al. (AJR 2004) at 3 T; skeletal muscle of the order of the same
#: study; skin between muscle and fat; cortical bone with T2 and T2* under 1 ms (no signal at
#: any clinical echo time); fatty skull marrow between fat and muscle; white-matter lesions with
#: T1 and T2 longer than white matter (dark on T1w, bright on T2w and FLAIR).
HEAD_TISSUE_TABLE_1P5T: Mapping[str, TissueParameters] = {
    "LESION": TissueParameters(0.86, 900.0, 130.0, 100.0),
    "FAT": BRAINWEB_1P5T["FAT"],
    "MUSCLE": TissueParameters(0.75, 1000.0, 44.0, 30.0),
    "SKIN": TissueParameters(0.70, 600.0, 50.0, 35.0),
    "BONE": TissueParameters(0.05, 250.0, 0.8, 0.5),
    "MARROW": TissueParameters(0.85, 450.0, 60.0, 40.0),
}
HEAD_TISSUE_TABLE_3T: Mapping[str, TissueParameters] = {
    "LESION": TissueParameters(0.86, 1300.0, 120.0, 80.0),
    "FAT": TissueParameters(1.00, 380.0, 68.0, 35.0),
    "MUSCLE": TissueParameters(0.75, 1400.0, 40.0, 25.0),
    "SKIN": TissueParameters(0.70, 800.0, 45.0, 28.0),
    "BONE": TissueParameters(0.05, 300.0, 0.8, 0.4),
    "MARROW": TissueParameters(0.85, 550.0, 55.0, 30.0),
}

_FIELD_LO, _FIELD_HI = 1.5, 3.0
_FIELD_CLAMP = (0.5, 7.0)


def tissue_parameters(field_strength_t: float) -> dict[str, TissueParameters]:
    """Tissue parameters (keys ``"GM"``, ``"WM"``, ``"CSF"``) at a field strength in tesla.

    Exact table values at 1.5 T and 3 T; power-law (log-log) interpolation in between and, as a
    rough guide only, beyond (field clamped to [0.5, 7] T).
    """
    return _at_field(TISSUE_TABLE_1P5T, TISSUE_TABLE_3T, field_strength_t)


def head_tissue_parameters(field_strength_t: float) -> dict[str, TissueParameters]:
    """Parameters of lesions and the tissues outside the brain (:data:`HEAD_TISSUE_TABLE_1P5T`),
    interpolated in field strength as :func:`tissue_parameters`."""
    return _at_field(HEAD_TISSUE_TABLE_1P5T, HEAD_TISSUE_TABLE_3T, field_strength_t)


def all_tissue_parameters(field_strength_t: float) -> dict[str, TissueParameters]:
    """Brain, lesion and head tissues in one table: what a whole-head render looks up."""
    return {**tissue_parameters(field_strength_t), **head_tissue_parameters(field_strength_t)}


def _at_field(table_lo: Mapping[str, TissueParameters], table_hi: Mapping[str, TissueParameters],
              field_strength_t: float) -> dict[str, TissueParameters]:
    b = float(np.clip(float(field_strength_t), *_FIELD_CLAMP))
    w = math.log(b / _FIELD_LO) / math.log(_FIELD_HI / _FIELD_LO)

    def interp(lo: float, hi: float) -> float:
        if w == 0.0 or lo == hi:
            return float(lo)
        if w == 1.0:
            return float(hi)
        return float(lo * (hi / lo) ** w)

    out = {}
    for name, lo in table_lo.items():
        hi = table_hi[name]
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
