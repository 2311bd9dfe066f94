"""MR physics for the simulator: tissue parameters, signal equations, protocols, zero-shot split.

One public module over two private ones: :mod:`._signal` (tissue parameters per field strength
and the signal equations, with their tables and sources) and :mod:`._protocols` (the
:class:`Protocol` value, its DICOM tags, random protocols and the held-out zero-shot split).
"""

from __future__ import annotations

from ._protocols import (HELD_OUT_REGIONS, PRESETS, SAMPLE_KINDS, SAMPLING_RANGES, SEQUENCE_TYPES, ZERO_SHOT_SPLIT,
                         Protocol, ZeroShotSplit, check_protocol_ranges, classify_weighting, held_out_region, is_held_out,
                         preset, sample_held_out, sampling_spec)
from ._signal import (BRAINWEB_1P5T, HEAD_TISSUE_TABLE_1P5T, HEAD_TISSUE_TABLE_3T, TISSUE_TABLE_1P5T, TISSUE_TABLE_3T,
                      TissueParameters, all_tissue_parameters, csf_null_ti, head_tissue_parameters, inversion_recovery, mprage, spin_echo,
                      spoiled_gradient_echo, tissue_parameters)

__all__ = [
    "TissueParameters",
    "BRAINWEB_1P5T",
    "TISSUE_TABLE_1P5T",
    "TISSUE_TABLE_3T",
    "tissue_parameters",
    "HEAD_TISSUE_TABLE_1P5T",
    "HEAD_TISSUE_TABLE_3T",
    "head_tissue_parameters",
    "all_tissue_parameters",
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
    "sampling_spec",
    "check_protocol_ranges",
    "SAMPLE_KINDS",
    "classify_weighting",
    "ZeroShotSplit",
    "ZERO_SHOT_SPLIT",
    "HELD_OUT_REGIONS",
    "is_held_out",
    "held_out_region",
    "sample_held_out",
]
