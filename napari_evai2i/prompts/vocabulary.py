"""Canonical words shared by the prompt builder, the simulator and the widgets.

One place for the sequence, modality and plane names, so that a simulated T2w volume, a real
T2w DICOM series and the widget's sequence picker all produce the very same prompt text.
"""

MODALITY_MR = "MR"
MODALITY_CT = "CT"

#: DICOM Modality code -> words used in prompts.
MODALITY_WORDS = {
    "MR": "magnetic resonance imaging",
    "CT": "computed tomography",
    "CBCT": "cone beam computed tomography",
    "PT": "positron emission tomography",
}

# Sequence ("weighting") names. These strings appear verbatim in prompts.
T1W = "T1-weighted"
T2W = "T2-weighted"
PDW = "proton density weighted"
FLAIR = "T2-weighted fluid-attenuated inversion recovery"
STIR = "short tau inversion recovery"
MPRAGE = "magnetization-prepared T1-weighted gradient echo"
DWI = "diffusion weighted imaging"
T2STAR = "T2*-weighted"

#: The four contrasts every brain MR protocol has; the demo model is trained outwards from them.
CANONICAL_SEQUENCES = (T1W, T2W, PDW, FLAIR)
ALL_SEQUENCES = (T1W, T2W, PDW, FLAIR, STIR, MPRAGE, DWI, T2STAR)

# Names the DICOM reader can infer from real headers but that the simulator does not produce.
T1W_GRE = "T1-weighted gradient echo"
SWI = "susceptibility weighted imaging"

#: Recognised in real headers only; kept out of ALL_SEQUENCES so pickers list what we simulate.
HEADER_ONLY_SEQUENCES = (T1W_GRE, SWI)

#: Slice planes, as prompts name them.
PLANES = ("axial", "coronal", "sagittal")
#: The array axis of a (Z, Y, X) volume that is constant within a slice of each plane: raw
#: array axes, as the official code uses them (no reorientation to the patient's anatomy).
PLANE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}
