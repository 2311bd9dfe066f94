"""Does a model hold where users need it? A robustness suite, factor by factor.

    python -m napari_evai2i.train.evaluate --suite robustness --model demo --json evaluation.json

**Held-out simulated heads.** Slices of the domain-randomised generator
(:mod:`napari_evai2i.data.randomized`) from seeds training never draws. Each case fixes one
anatomy and one acquisition and changes one factor at a time:

* whole head vs brain only (the same brain);
* with vs without the source prompt;
* 1 mm vs 5 mm slices (the source averaged over a 5 mm slab);
* rotated heads (20 degrees about every axis) vs unrotated;
* a field of view inside the brain (tissue up to every edge);
* 2 mm in-plane pixels, whole head and inside the brain (nibabel's real crop has 2 mm voxels);
* lesions: lesion / white-matter contrast of the translation against the truth.

Tasks are the canonical T1w->T2w, T1w->FLAIR, T2w->T1w and T1w->PDw. Inside the brain, each
image is divided by its own brain median (so both sides share one rule) and scored by SSIM
(data range 1) and by the Dice of a 3-class tissue segmentation (multi-Otsu on each image
alone, classes ordered by intensity): SSIM alone can look good on a useless image.
Beside them, :func:`anatomy_oracle` scores the same anatomy rendered with textbook tissue
values: what the metrics give an image whose only fault is not knowing the subject's own
tissue values, which the source does not fully show.

**Real T1 scans that ship in wheels** (checks only, never training data): nibabel's
``anatomical.nii`` (a 2 mm brain crop) and, where dipy is installed, its
``t1_coronal_slice.npy`` (a skull-stripped 1 mm coronal slice; no wheel ships a real whole head). Without a ground truth, the translations are checked
for the tissue order physics demands (T2w: CSF > GM > WM; FLAIR: GM > WM > CSF; PDw: GM > WM)
and for CSF/GM and WM/GM ratios against the signal equations, tissues taken from the T1 itself:
against the pure tissues' values, and against the same equations on the partial volume of the
masks (:func:`partial_volume_physics`, checked on held-out heads by :func:`partial_volume_check`).

**A real T2-weighted scan**, where dipy is installed: the b=0 volume of its diffusion example
(``S0_10slices.nii.gz``), translated into T1w (WM > GM > CSF), FLAIR and PDw and checked the
same way, tissues taken from the T2 itself (:func:`real_t2_checks`; what those masks can tell is
measured on held-out T2w heads by :func:`t2_mask_check`).

**Other people's brains, scored** (:func:`real_anatomy_check`): each real scan's CSF, GM and
WM fractions, read from its own intensities, rendered with the signal equations into the source
and the truth of every canonical task. An exact pair on a real anatomy, scored by SSIM and Dice
as the held-out heads are; clean textbook tissue values, so it asks about anatomy alone.

**A layout that is no brain**: textbook tissues as concentric rings (:func:`ring_phantom`,
:func:`off_template_check`). A translation that follows the prompts' tissue values gets it
right; one that renders tissues where it recognises the template's anatomy does not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..data.head import ALL_TISSUE_NAMES, partial_csf
from ..data.physics import PRESETS, all_tissue_parameters
from ..engine.metrics import ssim
from ..engine.normalization import IntensityScale

#: (source kind, target kind) of the canonical tasks.
TASKS = {"T1w->T2w": ("T1W", "T2W"), "T1w->FLAIR": ("T1W", "FLAIR"), "T2w->T1w": ("T2W", "T1W"),
         "T1w->PDw": ("T1W", "PDW")}
#: tissue orders physics demands of a translation (brightest first)
TISSUE_ORDER = {"T2W": ("CSF", "GM", "WM"), "FLAIR": ("GM", "WM", "CSF"), "PDW": ("GM", "WM")}
#: the same for translations of a T2-weighted source: T1w in place of T2w
T2_SOURCE_ORDER = {"T1W": ("WM", "GM", "CSF"), "FLAIR": TISSUE_ORDER["FLAIR"], "PDW": TISSUE_ORDER["PDW"]}
FIRST_SEED = 900_000          # training items use seeds below 10_000 (seed*100 + stage)
THICK_MM = 5.0
#: a field of view inside the brain (rows x columns, mm), about the size of nibabel's anatomical.nii crop
CROP_MM = (80.0, 96.0)
#: in-plane pixel of the coarse factors: nibabel's anatomical.nii has 2 mm voxels
COARSE_MM = 2.0
#: side of a held-out case in pixels (1 mm): room for a whole head
CASE_SIZE = 160
#: the source-prompt setting "as the product does it": the contrast reader's prompt where it is sure
READ = "read"
#: factor settings of the contrast reader's held-out check (HeldOutCase.render arguments)
READING_FACTORS = {
    "whole head": {"whole_head": True},
    "brain only": {"whole_head": False},
    "5 mm slices": {"whole_head": True, "thickness_mm": THICK_MM},
    "rotated 20 deg": {"whole_head": True, "rotation_deg": 20.0},
    "crop inside the brain": {"whole_head": True, "crop_mm": CROP_MM},
    "crop inside the brain, 2 mm pixels": {"whole_head": True, "crop_mm": CROP_MM, "pixel_mm": COARSE_MM},
    "lesions": {"whole_head": True, "lesions": True},
}


def _pure_signals(kind: str) -> dict[str, float]:
    return PRESETS[kind].tissue_signals(all_tissue_parameters(1.5))


# ------------------------------------------------------------------------------ metrics
def brain_normalised(image: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """``image`` divided so that its median inside ``brain`` is 0.5."""
    median = float(np.median(image[brain]))
    return image * (0.5 / median) if median > 0 else image


def class_dice(pred: np.ndarray, target: np.ndarray, brain: np.ndarray) -> dict[str, float]:
    """Dice per class (``dice_class0`` darkest) of 3-class multi-Otsu segmentations of two images
    inside ``brain``, each image segmented alone."""
    from skimage.filters import threshold_multiotsu

    def classes(img):
        values = img[brain]
        try:
            edges = threshold_multiotsu(values, classes=3)
        except ValueError:                        # a flat image: one class
            return np.zeros(values.shape, int)
        return np.digitize(values, edges)

    a, b = classes(pred), classes(target)
    return {f"dice_class{k}": float(2 * np.sum((a == k) & (b == k)) / max(1, np.sum(a == k) + np.sum(b == k)))
            for k in range(3)}


def tissue_dice(pred: np.ndarray, target: np.ndarray, brain: np.ndarray) -> float:
    """Mean of :func:`class_dice` over the three classes."""
    return float(np.mean(list(class_dice(pred, target, brain).values())))


def slice_scores(pred: np.ndarray, target: np.ndarray, brain: np.ndarray) -> dict[str, float]:
    """SSIM (2-D, slice by slice along axis 0 of a volume) and tissue Dice inside ``brain``."""
    p, t = brain_normalised(pred, brain), brain_normalised(target, brain)
    p, t, mask = (a.reshape((-1,) + a.shape[-2:]) for a in (p, t, brain))
    return {"ssim": ssim(p, t, 1.0, mask), "dice": tissue_dice(p, t, mask)}


# ------------------------------------------------------------------------------ held-out heads
class HeldOutCase:
    """One held-out anatomy and acquisition, rendered under any factor setting."""

    def __init__(self, index: int, size: int) -> None:
        self.index = index
        self.size = size

    def render(self, kind_src: str, kind_tgt: str, *, whole_head: bool = True, thickness_mm: float = 0.0,
               lesions: bool = False, rotation_deg: float = 0.0, crop_mm: tuple[float, float] | None = None,
               textbook_target: bool = False, pixel_mm: float = 1.0) -> dict:
        """Source (as scanned), target (clean), brain mask, lesion, WM, GM and CSF masks, the target slice's
        tissue fractions, pixel size, plane.

        ``crop_mm``: cut every image to a box of that size about the brain's centre, so tissue runs
        to the image edge (a field of view inside the brain, as nibabel's ``anatomical.nii``).
        ``pixel_mm``: the in-plane grid of source and target (and the source's resolution).
        ``textbook_target``: also give ``tgt_textbook``, the target rendered with the tables'
        tissue values instead of this subject's jitter (see :func:`anatomy_oracle`)."""
        from ..data.randomized import BRAIN_LEVEL, HeadSliceGenerator, RandomizationRanges, signal_vector, level_of

        ranges = RandomizationRanges(rotation_deg=rotation_deg, atrophy=0.0, flip=0.0, brain_crop=0.0,
                                     position=(0.35, 0.65), shift_mm=5.0, pixel_mm=(pixel_mm, pixel_mm),
                                     lesion_count=(3, 6), lesion_radius_mm=(3.0, 7.0),
                                     thick_probability=0.0, resolution_mm=(pixel_mm, pixel_mm), snr=(20.0, 40.0),
                                     bias=(0.0, 0.15), gamma_std=0.0, gain=(1.0, 1.0))
        gen = HeadSliceGenerator(self.size, ranges)
        rng = np.random.default_rng([FIRST_SEED, self.index])
        anatomy = gen.draw_anatomy(rng, ("axial", "coronal", "sagittal")[self.index % 3], whole_head=whole_head,
                                   lesions=lesions, thickness_mm=thickness_mm)
        jitter = gen.jitter(np.random.default_rng([FIRST_SEED, self.index, 1]))
        fractions = anatomy["fractions"]
        centre = fractions[:, fractions.shape[1] // 2]
        out = {"plane": anatomy["plane"], "pixel_mm": anatomy["pixel_mm"],
               "src_protocol": PRESETS[kind_src], "tgt_protocol": PRESETS[kind_tgt]}

        def signals_and_scale(protocol, factors):
            signals = signal_vector(protocol, gen.parameters(factors, protocol.field_strength))
            return signals, BRAIN_LEVEL / level_of(signals)

        signals, scale = signals_and_scale(out["src_protocol"], jitter)
        slab = gen.render(fractions, signals).mean(0)
        acquisition = np.random.default_rng([FIRST_SEED, self.index, 2])
        out["src"] = gen.acquire(slab * scale, acquisition, anatomy["pixel_mm"], False).numpy()
        targets = {"tgt": jitter}
        if textbook_target:
            targets["tgt_textbook"] = {name: np.ones(4) for name in jitter}
        for key, factors in targets.items():
            signals, scale = signals_and_scale(out["tgt_protocol"], factors)
            out[key] = (gen.render(centre[:, None], signals)[0] * scale).numpy()
        brain = centre[:3].sum(0) + centre[ALL_TISSUE_NAMES.index("LESION")]
        out["brain"] = (brain > 0.5).numpy() & (centre[:2].sum(0) > 0.3).numpy()   # parenchyma, some CSF
        out["lesion"] = (centre[ALL_TISSUE_NAMES.index("LESION")] > 0.8).numpy()
        out["wm"] = (centre[1] > 0.9).numpy()
        out["gm"] = (centre[0] > 0.9).numpy()
        out["csf"] = (centre[ALL_TISSUE_NAMES.index("CSF")] > 0.9).numpy()   # mostly outside ``brain``
        out["fractions"] = centre.numpy()                  # (9, n, n) in ALL_TISSUE_NAMES order: the truth's anatomy
        if crop_mm is not None:
            rows, cols = np.nonzero(out["brain"])
            box = [min(self.size, int(round(mm / anatomy["pixel_mm"]))) for mm in crop_mm]
            lo = [int(np.clip(round(c.mean() - b / 2), 0, self.size - b)) for c, b in zip((rows, cols), box)]
            window = (slice(lo[0], lo[0] + box[0]), slice(lo[1], lo[1] + box[1]))
            for key in ("src", "tgt", "tgt_textbook", "brain", "lesion", "wm", "gm", "csf"):
                if key in out:
                    out[key] = np.ascontiguousarray(out[key][window])
            out["fractions"] = np.ascontiguousarray(out["fractions"][(slice(None),) + window])
        return out


def _translate(translator, case: dict, with_prompt: bool | str, crop_to_head: bool = True,
               scale: IntensityScale | None = None) -> np.ndarray:
    """``with_prompt``: True (the true source prompt), False (none) or ``READ`` (the prompt the
    contrast reader gives, where it is sure: what the product does with an untagged input).
    ``crop_to_head``: False translates the whole slice, air and all (the engine before the head box).
    ``scale``: normalise the source by this instead of the engine's rule fitted to the slice."""
    target = case["tgt_protocol"].prompt(case["plane"])
    p = case["pixel_mm"]
    if with_prompt == READ:
        source = _read_source_prompt(case["src"], (p, p))
    else:
        source = case["src_protocol"].prompt(case["plane"]) if with_prompt else None
    return translator.translate(case["src"], target, source_prompt=source, spacing=(p, p), crop_to_head=crop_to_head,
                                scale=scale)


def _read_source_prompt(image: np.ndarray, spacing) -> str | None:
    from ..engine.source_contrast import read_contrast

    return read_contrast(image, spacing).source_prompt


def mean_scores(rows: list[dict], digits: int = 4) -> dict:
    """Key by key mean of score rows, rounded to ``digits`` decimals."""
    return {k: round(float(np.mean([r[k] for r in rows])), digits) for k in rows[0]}


def per_case_scores(rows: list[dict], keys=None, digits: int = 4) -> dict[str, list[float]]:
    """Key by key, every row's score rounded to ``digits`` decimals (``keys``: default every key),
    so two models can be compared case by case."""
    return {k: [round(float(r[k]), digits) for r in rows] for k in (keys or rows[0])}


#: the held-out suite's settings: :meth:`HeldOutCase.render` arguments, and the source prompt
#: given (True, False or :data:`READ`)
HELD_OUT_SETTINGS = {
    "whole head, no source prompt": ({"whole_head": True}, False),
    "brain only, no source prompt": ({"whole_head": False}, False),
    "whole head, source prompt": ({"whole_head": True}, True),
    "whole head, source read from the image": ({"whole_head": True}, READ),
    "whole head, 5 mm slices, no source prompt": ({"whole_head": True, "thickness_mm": THICK_MM}, False),
    "whole head, rotated 20 deg, no source prompt": ({"whole_head": True, "rotation_deg": 20.0}, False),
    "crop inside the brain, no source prompt": ({"whole_head": True, "crop_mm": CROP_MM}, False),
    "whole head, 2 mm pixels, no source prompt": ({"whole_head": True, "pixel_mm": COARSE_MM}, False),
    "crop inside the brain, 2 mm pixels, no source prompt": ({"whole_head": True, "crop_mm": CROP_MM,
                                                          "pixel_mm": COARSE_MM}, False),
    "crop inside the brain, 2 mm pixels, source read from the image": (
        {"whole_head": True, "crop_mm": CROP_MM, "pixel_mm": COARSE_MM}, READ),
}


def held_out_factors(translator, cases: int = 6, size: int = CASE_SIZE, *, first_case: int = 0,
                     per_case: bool = False, lesions: bool = True, crop_to_head: bool = True) -> dict:
    """Factor by factor, per task: SSIM and tissue Dice inside the brain (means over cases).

    ``first_case``: index of the first held-out case; a block after the first six is a fresh
    sample, to confirm a choice made on those six. ``per_case``: each cell also keeps every
    case's scores, so two models can be compared case by case. ``crop_to_head``: see
    :func:`_translate`."""
    report: dict = {}
    for task, (src, tgt) in TASKS.items():
        report[task] = {}
        for name, (kwargs, with_prompt) in HELD_OUT_SETTINGS.items():
            rows = []
            for i in range(first_case, first_case + cases):
                case = HeldOutCase(i, size).render(src, tgt, **kwargs)
                rows.append(slice_scores(_translate(translator, case, with_prompt, crop_to_head), case["tgt"],
                                         case["brain"]))
            report[task][name] = mean_scores(rows)
            if per_case:
                report[task][name]["per_case"] = per_case_scores(rows)
    if lesions:
        report["lesions"] = lesion_contrast(translator, cases, size)
    return report


def anatomy_oracle(cases: int = 6, size: int = CASE_SIZE, *, first_case: int = 0, per_case: bool = False) -> dict:
    """Scores of a translation with the anatomy exactly right but textbook tissue values.

    Each held-out subject has its own tissue values (5 % jitter of PD, T1, T2, T2*), shared by
    source and target. The source shows only part of them (a T1w slice says little about T2),
    so a translation can seldom know the rest. This yardstick renders the target of the same
    anatomy with the tables' values and scores it against the truth (whole head, the suite's
    metrics): where it is low, the metric asks for what the source does not show.
    ``first_case`` and ``per_case``: as for :func:`held_out_factors`.
    """
    report = {}
    for task, (src, tgt) in TASKS.items():
        rows = []
        for i in range(first_case, first_case + cases):
            case = HeldOutCase(i, size).render(src, tgt, whole_head=True, textbook_target=True)
            rows.append(slice_scores(case["tgt_textbook"], case["tgt"], case["brain"]))
        report[task] = mean_scores(rows)
        if per_case:
            report[task]["per_case"] = per_case_scores(rows)
    return report


def partial_csf_share(fractions: np.ndarray, brain: np.ndarray) -> float:
    """Share of the scored brain that is CSF mixed into tissue (``data.head.partial_csf``)."""
    return float(np.mean(partial_csf(fractions[ALL_TISSUE_NAMES.index("CSF")][brain])))


def case_anatomy(cases: int = 6, size: int = CASE_SIZE, *, first_case: int = 0) -> dict:
    """Each held-out case's slice plane and :func:`partial_csf_share` (whole head, as scored).

    Why: a block's mean hides which anatomy its misses come from. Near the template's midline a
    sagittal slice cuts through the interhemispheric fissure, which the 152-subject average
    blurs into CSF mixed over much of the medial cortex; such slices carry most of FLAIR's
    shortfall (``targets_table.py --wide F --by-anatomy``)."""
    planes, shares = [], []
    for i in range(first_case, first_case + cases):
        case = HeldOutCase(i, size).render(*TASKS["T1w->T2w"], whole_head=True)   # the anatomy is every task's
        planes.append(case["plane"])
        shares.append(round(partial_csf_share(case["fractions"], case["brain"]), 4))
    return {"plane": planes, "partial_csf_share": shares}


def lesion_contrast(translator, cases: int = 6, size: int = CASE_SIZE, first_case: int = 0) -> dict:
    """Lesion / white-matter mean of the translation against the truth (no source prompt), over
    held-out cases ``first_case`` on.

    Beside it, the same ratio in the source and grey matter's ratio in the truth. On T1w a
    lesion is about as bright as grey matter, so a model that reads it as grey matter lands
    near ``gm_to_wm_truth``. A T2w source shows the lesion, so T2w->FLAIR tells whether the
    model can carry a visible lesion across."""
    keys = ("lesion_to_wm_truth", "lesion_to_wm_translation", "relative_error", "lesion_to_wm_source",
            "gm_to_wm_truth")
    out = {}
    for task, (src, tgt) in (("T1w->T2w", TASKS["T1w->T2w"]), ("T1w->FLAIR", TASKS["T1w->FLAIR"]),
                             ("T2w->FLAIR", ("T2W", "FLAIR"))):
        rows = []
        for i in range(first_case, first_case + cases):
            case = HeldOutCase(i, size).render(src, tgt, lesions=True)
            if not case["lesion"].any() or not case["wm"].any() or not case["gm"].any():
                continue
            truth, got, source, gm = (_to_wm(image, case, mask) for image, mask in (
                (case["tgt"], "lesion"), (_translate(translator, case, False), "lesion"),
                (case["src"], "lesion"), (case["tgt"], "gm")))
            rows.append(dict(zip(keys, (truth, got, abs(got - truth) / truth, source, gm))))
        out[task] = {**(mean_scores(rows, 3) if rows else dict.fromkeys(keys)), "cases": len(rows)}
    return out


def _to_wm(image: np.ndarray, case: dict, mask: str) -> float:
    """Mean of ``image`` in the case's ``mask`` over its mean in white matter."""
    return float(image[case[mask]].mean() / max(image[case["wm"]].mean(), 1e-6))


# ------------------------------------------------------------------------------ real T1 scans
def real_t1_inputs() -> dict[str, tuple[np.ndarray, tuple[float, ...]]]:
    """The real T1 images in installed wheels: name -> (array, spacing mm)."""
    import nibabel

    from ..engine.orientation import Reorientation
    from ..io import read_volume

    out = {}
    path = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    if path.is_file():               # stored LAS: turned to the training axes, as the engine does
        volume = read_volume(path)
        turn = Reorientation.of(volume)
        data = np.ascontiguousarray(turn.apply(volume.array.astype(np.float32)))
        out["nibabel anatomical.nii (2 mm brain crop)"] = (data, turn.spacing(volume.spacing))
    try:
        import dipy
    except ImportError:
        dipy = None
    if dipy is not None:
        path = Path(dipy.__file__).parent / "data" / "files" / "t1_coronal_slice.npy"
        if path.is_file():
            out["dipy t1_coronal_slice.npy (skull-stripped slice)"] = (np.load(path).astype(np.float32), (1.0, 1.0))
    return out


def real_t2_inputs() -> dict[str, tuple[np.ndarray, tuple[float, ...]]]:
    """The real T2-weighted scan in installed wheels: dipy's ``S0_10slices.nii.gz``, the b=0
    volume of a diffusion scan (spin-echo EPI, long TR and TE: CSF bright), skull-stripped,
    10 axial slices of 2 mm pixels spread over the brain. Name -> (array, spacing mm)."""
    try:
        import dipy
    except ImportError:
        return {}
    from ..engine.orientation import Reorientation
    from ..io import read_volume

    path = Path(dipy.__file__).parent / "data" / "files" / "S0_10slices.nii.gz"
    if not path.is_file():
        return {}
    volume = read_volume(path)
    turn = Reorientation.of(volume)
    return {"dipy S0_10slices.nii.gz (b=0 EPI, T2-weighted)":
            (np.ascontiguousarray(turn.apply(volume.array.astype(np.float32))), turn.spacing(volume.spacing))}


def t2_tissues(image: np.ndarray) -> dict[str, np.ndarray]:
    """CSF, GM and WM masks of a skull-stripped T2-weighted image (2-D, or slices along axis 0),
    from its own intensities: :func:`t1_tissues`' rule with the order turned round (CSF the
    brighter half of the brightest class, WM the darker half of the darkest).

    The brain is the foreground, holes filled and eroded by 3 pixels within each slice (the
    slices of dipy's volume lie 53 mm apart, so nothing is shared between them)."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    stack = image[None] if image.ndim == 2 else image
    foreground = stack > 0.5 * threshold_otsu(stack[stack > 0])
    brain = np.stack([ndimage.binary_erosion(ndimage.binary_fill_holes(plane), iterations=3)
                      for plane in foreground])
    brain = brain[0] if image.ndim == 2 else brain
    wm, gm, csf = _confident_classes(image, brain)
    return {"CSF": csf, "GM": gm, "WM": wm, "brain": brain}


def _confident_classes(image: np.ndarray, brain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(darkest, middle, brightest) confident parts of a 3-class multi-Otsu inside ``brain``: the
    darker half of the darkest class, the middle class between its quartiles, the brighter half
    of the brightest."""
    from skimage.filters import threshold_multiotsu

    inside = image[brain]
    t1, t2 = threshold_multiotsu(inside, classes=3)
    darkest = brain & (image < min(t1, np.percentile(inside[inside < t1], 50)))
    brightest = brain & (image > max(t2, np.percentile(inside[inside > t2], 50)))
    lo, hi = np.percentile(inside[(inside > t1) & (inside < t2)], [25, 75])
    return darkest, brain & (image > lo) & (image < hi), brightest


def t1_tissues(image: np.ndarray) -> dict[str, np.ndarray]:
    """CSF, GM and WM masks of a T1 image, from its own intensities inside its brain.

    The brain is the eroded foreground component at the image centre (the largest one if the
    centre is background), holes filled; classes are the confident parts of a 3-class
    multi-Otsu (the darker half of CSF, the brighter half of WM, GM between its quartiles).
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    values = image[image > 0]
    foreground = image > 0.5 * threshold_otsu(values)
    foreground = ndimage.binary_erosion(foreground, iterations=2)
    labels, _ = ndimage.label(foreground)
    centre = tuple(s // 2 for s in image.shape)
    best = np.bincount(labels[labels > 0]).argmax() if labels.max() else 0
    keep = labels[centre] if labels[centre] else best
    brain = ndimage.binary_fill_holes(labels == keep)
    csf, gm, wm = _confident_classes(image, brain)
    return {"CSF": csf, "GM": gm, "WM": wm, "brain": brain}


#: the CSF mask's percentile taken as pure CSF in :func:`partial_volume_physics` (chosen on held-out
#: heads: :func:`partial_volume_check`; the darkest voxel is noise, higher percentiles are mixed)
PURE_CSF_PERCENTILE = 1.0
#: T1-weighted sources the partial-volume reference is checked on
T1_KINDS = ("T1W", "FLASH", "MPRAGE")


def tissue_fractions(image: np.ndarray, tissues: dict[str, np.ndarray], weighting: str) -> dict[str, np.ndarray]:
    """CSF, GM and WM fractions of each voxel of a skull-stripped scan, read from its own
    intensities (zero outside ``tissues["brain"]``); ``weighting`` "T1" (CSF dark) or "T2" (CSF bright).

    Each voxel is a linear mix of the two pure tissues its value lies between. Pure CSF is the
    CSF mask's most extreme :data:`PURE_CSF_PERCENTILE` % (the darkest on a T1, the brightest on a
    T2); pure GM and WM are their masks' medians. Why: a 1 mm "CSF" voxel in a sulcus is part
    grey matter, and these fractions carry that partial volume to any contrast."""
    values = image if weighting == "T1" else -image        # CSF < GM < WM either way
    csf = np.percentile(values[tissues["CSF"]], PURE_CSF_PERCENTILE)
    gm, wm = (float(np.median(values[tissues[t]])) for t in ("GM", "WM"))
    brain = tissues["brain"]
    inside = values[brain].astype(np.float64)
    out = {t: np.zeros(image.shape, dtype=np.float64) for t in ("CSF", "GM", "WM")}
    out["CSF"][brain] = np.clip((gm - inside) / max(gm - csf, 1e-6), 0, 1)
    out["WM"][brain] = np.clip((inside - gm) / max(wm - gm, 1e-6), 0, 1)
    out["GM"][brain] = 1 - out["CSF"][brain] - out["WM"][brain]
    return out


def render_fractions(fractions: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """The image the signal equations give for ``fractions`` under the preset ``kind`` (textbook
    1.5 T tissue values, no noise): each voxel its fractions' mix of the pure tissue signals."""
    pure = _pure_signals(kind)
    return sum(fractions[t] * pure[t] for t in ("CSF", "GM", "WM"))


def partial_volume_physics(image: np.ndarray, tissues: dict[str, np.ndarray], kind: str) -> float:
    """CSF/GM that the signal equations give in ``tissues``' masks of this T1 image, counting the
    partial volume those masks hold (:func:`tissue_fractions`).

    The masks are cut from the T1's own intensities, and a 1 mm "CSF" voxel in a sulcus is part
    grey matter, so even a perfect translation does not reach the pure tissues' ratio there.
    """
    return _csf_to_gm(render_fractions(tissue_fractions(image, tissues, "T1"), kind), tissues)


def partial_volume_check(translator=None, cases: int = 6, size: int = CASE_SIZE) -> dict:
    """How near :func:`partial_volume_physics` comes to the truth, on held-out heads where it is known.

    T1-weighted sources (T1w, FLASH, MPRAGE; whole head) get the real-T1 check's own masks; the
    truth is the subject's target image averaged in those masks. Per target: the CSF/GM of the
    truth, of the estimate and of the pure tissues, the estimate's relative errors, and how often
    the truth itself comes within 30 % of the pure tissues' ratio (the first criterion). With a
    ``translator``, also its translations (no source prompt) under the real-T1 check's two
    criteria: how often they come within 30 % of the estimate, and of the pure tissues' ratio."""
    out = {}
    for kind in TISSUE_ORDER:
        pure = _pure_signals(kind)
        pure_ratio = pure["CSF"] / pure["GM"]
        truth, estimate, translated = [], [], []
        for src in T1_KINDS:
            for i in range(cases):
                case = HeldOutCase(i, size).render(src, kind, whole_head=True)
                tissues = t1_tissues(case["src"])
                truth.append(_csf_to_gm(case["tgt"], tissues))
                estimate.append(partial_volume_physics(case["src"], tissues, kind))
                if translator is not None:
                    translated.append(_csf_to_gm(_translate(translator, case, False), tissues))
        errors = np.array(estimate) / np.array(truth) - 1
        out[kind] = {"csf_to_gm_truth": round(float(np.mean(truth)), 3),
                     "csf_to_gm_estimate": round(float(np.mean(estimate)), 3),
                     "csf_to_gm_pure_tissues": round(pure_ratio, 3),
                     "mean_relative_error": round(float(errors.mean()), 3),
                     "largest_relative_error": round(float(errors[np.abs(errors).argmax()]), 3),
                     "truth_within_30pct_of_pure_tissues":
                         round(float(np.mean(np.abs(np.array(truth) / pure_ratio - 1) <= 0.3)), 3),
                     "images": len(truth)}
        if translated:
            got = np.array(translated)
            out[kind].update({
                "csf_to_gm_translation": round(float(got.mean()), 3),
                "translation_within_30pct_of_estimate": round(float(np.mean(np.abs(got / estimate - 1) <= 0.3)), 3),
                "translation_within_30pct_of_pure_tissues": round(float(np.mean(np.abs(got / pure_ratio - 1) <= 0.3)), 3)})
    return out


def _csf_to_gm(image: np.ndarray, tissues: dict[str, np.ndarray]) -> float:
    return float(image[tissues["CSF"]].mean() / image[tissues["GM"]].mean())


def tissue_means(image: np.ndarray, tissues: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean of ``image`` in each of the CSF, GM and WM masks."""
    return {t: float(image[tissues[t]].mean()) for t in ("CSF", "GM", "WM")}


def in_order(means: dict[str, float], order: tuple[str, ...]) -> bool:
    """Whether the tissue means fall strictly in ``order`` (brightest first)."""
    return all(means[a] > means[b] for a, b in zip(order, order[1:]))


def tissue_scores(means: dict[str, float], kind: str, order: tuple[str, ...]) -> dict:
    """A translation into ``kind`` by its tissue means: whether they follow ``order`` (brightest
    first), and its CSF/GM and WM/GM beside the pure tissues' ratios of the signal equations."""
    physics = _pure_signals(kind)
    return {"means": {t: round(v, 4) for t, v in means.items()},
            "order_ok": in_order(means, order),
            "csf_to_gm": round(means["CSF"] / means["GM"], 3),
            "csf_to_gm_physics": round(physics["CSF"] / physics["GM"], 3),
            "wm_to_gm": round(means["WM"] / means["GM"], 3),
            "wm_to_gm_physics": round(physics["WM"] / physics["GM"], 3)}


def real_t1_checks(translator, figure_panels: list | None = None) -> dict:
    """Tissue order and tissue ratios of translations of real T1 scans: with no source prompt,
    with the T1w prompt, and with the prompt the contrast reader gives (none where it is unsure).
    The translations without a source prompt are added to ``figure_panels`` (:func:`_figure`)."""
    report: dict = {}
    for name, (image, spacing) in real_t1_inputs().items():
        tissues = t1_tissues(image)
        partial_volume = {kind: partial_volume_physics(image, tissues, kind) for kind in TISSUE_ORDER}
        entry: dict = {}
        read = _read_source_prompt(image, spacing)
        entry["prompt read from the image"] = read
        for key, source in (("no source prompt", None), ("source prompt", PRESETS["T1W"].prompt()),
                            ("source read from the image", read)):
            entry[key] = {}
            for kind in ("T2W", "FLAIR", "PDW"):
                pred = translator.translate(image, PRESETS[kind].prompt(), source_prompt=source,
                                            spacing=spacing)
                means = tissue_means(pred, tissues)
                physics = _pure_signals(kind)
                entry[key][kind] = {
                    **tissue_scores(means, kind, TISSUE_ORDER[kind]),
                    "csf_to_gm_within_30pct": abs(means["CSF"] / means["GM"] / (physics["CSF"] / physics["GM"]) - 1)
                    <= 0.3,
                    "csf_to_gm_partial_volume_physics": round(partial_volume[kind], 3),
                    "csf_to_gm_within_30pct_of_partial_volume_physics":
                        abs(means["CSF"] / means["GM"] / partial_volume[kind] - 1) <= 0.3}
                if figure_panels is not None and key == "no source prompt":
                    figure_panels.append((name, "real T1 (input)", kind, image, pred, key))
        report[name] = entry
    return report


def real_t2_checks(translator, figure_panels: list | None = None) -> dict:
    """Tissue order and ratios of translations of a real T2-weighted scan into T1w, FLAIR and PDw
    (:data:`T2_SOURCE_ORDER`): with no source prompt, with the T2w prompt, and with the prompt
    the contrast reader gives. Tissues come from the T2 itself (:func:`t2_tissues`)."""
    report: dict = {}
    for name, (image, spacing) in real_t2_inputs().items():
        tissues = t2_tissues(image)
        read = _read_source_prompt(image, spacing)
        entry: dict = {"prompt read from the image": read,
                       "source_means": {t: round(v, 2) for t, v in tissue_means(image, tissues).items()}}
        for key, source in (("no source prompt", None), ("source prompt", PRESETS["T2W"].prompt()),
                            ("source read from the image", read)):
            entry[key] = {}
            for kind, order in T2_SOURCE_ORDER.items():
                pred = translator.translate(image, PRESETS[kind].prompt(), source_prompt=source, spacing=spacing)
                entry[key][kind] = tissue_scores(tissue_means(pred, tissues), kind, order)
                if figure_panels is not None and key in ("no source prompt", "source read from the image"):
                    figure_panels.append((f"{name}\n{key}", "real T2w (input)", kind, image, pred, key))
        report[name] = entry
    return report


#: the real-anatomy check's copy of the held-out factor "crop inside the brain, 2 mm pixels" (rows,
#: columns of 1 mm pixels, cut about the brain's centre; the factor's :data:`CROP_MM`)
REAL_CROP_PIXELS = (80, 96)


def _tissue_region(image: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """Where a scan holds tissue: its foreground (holes filled, per slice) near ``brain``. The masks
    are eroded for safe tissue means; the anatomy rendered from a scan must reach its edges, as the
    scan does (a crop's tissue runs to the border)."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    foreground = image > 0.5 * threshold_otsu(image[image > 0])
    planes = foreground[None] if image.ndim == 2 else foreground
    filled = np.stack([ndimage.binary_fill_holes(plane) for plane in planes]).reshape(image.shape)
    return filled & ndimage.binary_dilation(brain, iterations=3)


def real_anatomy_inputs() -> dict[str, tuple[tuple[float, ...], dict[str, np.ndarray]]]:
    """Real scans as anatomy: name -> (spacing mm, CSF / GM / WM fractions read from the scan's own
    intensities (:func:`tissue_fractions`) and ``brain``, the eroded mask where it is scored).

    Every real T1 and T2-weighted scan shipped in wheels on its own grid, and dipy's 1 mm T1 slice
    also cut and averaged to a 2 mm crop inside the brain, as the held-out factor of that name."""
    out = {}
    for name, (image, spacing, weighting) in real_contrast_inputs().items():
        tissues = (t1_tissues if weighting == "T1" else t2_tissues)(image)
        region = _tissue_region(image, tissues["brain"])
        fractions = {**tissue_fractions(image, {**tissues, "brain": region}, weighting), "brain": tissues["brain"]}
        out[name] = (spacing, fractions)
        if name.startswith("dipy t1_coronal_slice"):
            out["dipy t1_coronal_slice.npy (2 mm crop inside the brain)"] = ((2.0, 2.0), _coarse_brain_crop(fractions))
    return out


def _coarse_brain_crop(fractions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """1 mm 2-D ``fractions`` cut to :data:`REAL_CROP_PIXELS` about the brain's centre and averaged
    to 2 mm pixels; the brain is where every averaged pixel was brain."""
    rows, cols = np.nonzero(fractions["brain"])
    lo = [int(round(c.mean())) - n // 2 for c, n in zip((rows, cols), REAL_CROP_PIXELS)]
    window = tuple(slice(a, a + n) for a, n in zip(lo, REAL_CROP_PIXELS))
    half = tuple(n // 2 for n in REAL_CROP_PIXELS)
    coarse = {t: a[window].astype(np.float64).reshape(half[0], 2, half[1], 2).mean((1, 3))
              for t, a in fractions.items()}
    coarse["brain"] = coarse["brain"] == 1.0
    return coarse


def real_anatomy_check(translator, figure_panels: list | None = None) -> dict:
    """Other people's brains, scored like the held-out heads: SSIM and tissue Dice inside the brain.

    Each real scan's tissue fractions (:func:`real_anatomy_inputs`) are rendered with the signal
    equations into the source and the target of every canonical task (:func:`render_fractions`),
    so source and truth are an exact pair on an anatomy that is neither the template nor a warp
    of it: the measurement the generalisation issue made on other people's brains. Clean images
    with textbook tissue values, so this tests anatomy, not acquisition. Scored with no source
    prompt, the preset's, and the contrast reader's, beside histogram matching of the source to
    the truth's own histogram (an oracle baseline: the answer's intensities on the source's
    order). Checks only, never training data. The translations of the T1w sources without a
    source prompt are added to ``figure_panels``."""
    from .evaluate import histogram_matched

    report: dict = {}
    for name, (spacing, fractions) in real_anatomy_inputs().items():
        brain = fractions["brain"]
        tissue = sum(fractions[t] for t in ("CSF", "GM", "WM")) > 0
        entry: dict = {"spacing_mm": list(spacing), "shape": list(brain.shape), "brain_voxels": int(brain.sum())}
        sources = {kind: render_fractions(fractions, kind).astype(np.float32) for kind in {s for s, _ in TASKS.values()}}
        reads = {kind: _read_source_prompt(image, spacing) for kind, image in sources.items()}
        for task, (src, tgt) in TASKS.items():
            source, read = sources[src], reads[src]
            truth = render_fractions(fractions, tgt).astype(np.float32)
            matched = histogram_matched(source, truth, tissue)
            row = {"histogram_matching": slice_scores(matched, truth, brain)}
            scored: dict = {}                # a read prompt that is none or the preset's is not run again
            for key, prompt in (("no source prompt", None), ("source prompt", PRESETS[src].prompt()),
                                ("source read from the image", read)):
                if prompt not in scored:
                    pred = translator.translate(source, PRESETS[tgt].prompt(), source_prompt=prompt, spacing=spacing)
                    scored[prompt] = slice_scores(pred, truth, brain)
                row[key] = scored[prompt]
                if figure_panels is not None and key == "no source prompt" and src == "T1W":
                    figure_panels.append((f"{name}\nanatomy only", "its anatomy as T1w (input)", tgt,
                                          source, pred, key))
            entry[task] = {key: {k: round(v, 4) for k, v in scores.items()} for key, scores in row.items()}
            entry[task]["source read as"] = read
        report[name] = entry
    return report


def t2_mask_check(translator, cases: int = 6, size: int = CASE_SIZE) -> dict:
    """What :func:`real_t2_checks` can tell, measured where the truth is known: held-out heads with
    a T2w source, brain only and 2 mm pixels as dipy's volume is, in :func:`t2_tissues`' masks.

    Per target: how often the truth itself, and the translation without and with the source
    prompt, have :data:`T2_SOURCE_ORDER`, and their mean WM/GM. Where the subject's own tissue
    values leave GM and WM close, the truth can miss the pure tissues' order in these masks."""
    out = {}
    for kind, order in T2_SOURCE_ORDER.items():
        rows: dict[str, list] = {"truth": [], "no source prompt": [], "source prompt": []}
        for i in range(cases):
            case = HeldOutCase(i, size).render("T2W", kind, whole_head=False, pixel_mm=COARSE_MM)
            tissues = t2_tissues(case["src"])
            for key, image in (("truth", case["tgt"]), ("no source prompt", _translate(translator, case, False)),
                               ("source prompt", _translate(translator, case, True))):
                means = tissue_means(image, tissues)
                rows[key].append((in_order(means, order),
                                  means["WM"] / means["GM"]))
        out[kind] = {key: {"order_ok": round(float(np.mean([ok for ok, _ in got])), 3),
                           "wm_to_gm": round(float(np.mean([r for _, r in got])), 3)}
                     for key, got in rows.items()}
        out[kind]["images"] = cases
    return out


# ------------------------------------------------------------------------------ off the template
#: ring phantom: (inner, outer) radii in pixels of each tissue's rings, centre outwards
RINGS = {"CSF": ((0, 10), (36, 40), (44, 48)), "WM": ((10, 24),), "GM": ((24, 36), (40, 44))}


def ring_phantom(kind: str, size: int = 128) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A brain that is no brain: concentric rings (a ventricle, WM, GM, sulci) on air, edges
    blurred into partial volume, in the pure tissue signals of ``kind``; and the ring masks."""
    from scipy import ndimage

    y, x = np.mgrid[:size, :size] - size / 2
    r = np.hypot(y, x)
    rings = {t: np.any([(r >= lo) & (r < hi) for lo, hi in spans], axis=0) for t, spans in RINGS.items()}
    signals = _pure_signals(kind)
    image = sum(ndimage.gaussian_filter(mask.astype(float), 1.5) * signals[t] for t, mask in rings.items())
    return np.where(r < 48, image, 0.0).astype(np.float32), rings


def off_template_check(translator, scale_of: Callable[[str], IntensityScale] | None = None) -> dict:
    """The canonical sources' tissues laid out as :func:`ring_phantom`, translated with no source
    prompt and with the preset's: does each target keep its tissue order where nothing looks like
    the MNI152 anatomy? Ratios beside the true target's in the same masks.

    ``scale_of(source kind)`` replaces the checkpoint rule's scale of each source (None: the rule),
    so a probe can ask whether a verdict comes from the level the rule finds in the phantom."""
    out = {}
    for source, orders in (("T1W", TISSUE_ORDER), ("T2W", T2_SOURCE_ORDER)):
        image, rings = ring_phantom(source)
        scale = scale_of(source) if scale_of else None
        for kind, order in orders.items():
            truth = tissue_means(ring_phantom(kind)[0], rings)
            entry = {"truth": {"csf_to_gm": round(truth["CSF"] / truth["GM"], 3),
                               "wm_to_gm": round(truth["WM"] / truth["GM"], 3),
                               "order_ok": in_order(truth, order)}}
            for key, prompt in (("no source prompt", None), ("source prompt", PRESETS[source].prompt())):
                pred = translator.translate(image, PRESETS[kind].prompt(), source_prompt=prompt, scale=scale)
                scores = tissue_scores(tissue_means(pred, rings), kind, order)
                entry[key] = {k: scores[k] for k in ("order_ok", "csf_to_gm", "wm_to_gm")}
            out[f"{source}->{kind}"] = entry
    return out


# ------------------------------------------------------------------------------ the contrast reader
def real_contrast_inputs() -> dict[str, tuple[np.ndarray, tuple[float, ...], str]]:
    """Real scans in installed wheels with a known weighting: name -> (array, spacing, weighting).

    The real T1 images, and dipy's ``S0_10slices.nii.gz``: the b=0 volume of a diffusion scan,
    a T2-weighted echo-planar image (CSF bright), 2 mm axial slices."""
    out = {name: (image, spacing, "T1") for name, (image, spacing) in real_t1_inputs().items()}
    out.update({name: (image, spacing, "T2") for name, (image, spacing) in real_t2_inputs().items()})
    return out


def _reading_right(kind: str, weighting: str) -> bool:
    """A real scan's reading is right when it names the scan's weighting (any T1 contrast of a T1)."""
    from ..model.contrast_reader import WEIGHTING_OF

    return WEIGHTING_OF[kind] == {"T1": "T1-weighted", "T2": "T2-weighted"}[weighting]


def held_out_readings(folders: dict, first_case: int = 0, cases: int = 6, size: int = CASE_SIZE):
    """Every source image of the reading factors (:data:`READING_FACTORS` x the reader's contrasts x
    cases ``first_case`` on) read by each contrast reader of ``folders`` (label -> folder, None for
    the shipped one): yields (factor, contrast, case index, label -> ``ContrastReading``), each
    image rendered once."""
    from ..engine.source_contrast import read_contrast
    from ..model.contrast_reader import READER_KINDS

    for factor, kwargs in READING_FACTORS.items():
        for kind in READER_KINDS:
            for i in range(first_case, first_case + cases):
                case = HeldOutCase(i, size).render(kind, "T2W", **kwargs)
                yield factor, kind, i, {label: read_contrast(case["src"], (case["pixel_mm"],) * 2, folder=folder)
                                        for label, folder in folders.items()}


def contrast_reading(cases: int = 6, size: int = CASE_SIZE) -> dict:
    """The contrast reader (engine.source_contrast.read_contrast) on held-out heads and real scans.

    Per factor: how often the likeliest contrast is the source's (``accuracy``), how often its
    weighting is (``weighting_accuracy``: T1w, FLASH and MPRAGE are all T1-weighted), how often
    the reading is sure enough to be used, and how often a used reading has the wrong weighting
    (the case that hurts: a wrong source prompt)."""
    from ..engine.source_contrast import read_contrast
    from ..model.contrast_reader import READER_KINDS, WEIGHTING_OF

    by_factor: dict[str, list[dict]] = {name: [] for name in READING_FACTORS}
    for name, kind, _, readings in held_out_readings({"shipped": None}, 0, cases, size):
        reading = readings["shipped"]
        by_factor[name].append({"kind": kind, "right": reading.kind == kind,
                                "weighting": WEIGHTING_OF[reading.kind] == WEIGHTING_OF[kind], "used": reading.used})
    factors = {}
    for name, rows in by_factor.items():
        n = len(rows)
        factors[name] = {
            "accuracy": round(sum(r["right"] for r in rows) / n, 3),
            "weighting_accuracy": round(sum(r["weighting"] for r in rows) / n, 3),
            "used": round(sum(r["used"] for r in rows) / n, 3),
            "used_and_wrong_weighting": round(sum(r["used"] and not r["weighting"] for r in rows) / n, 3),
            "right_per_kind": {k: sum(r["right"] for r in rows if r["kind"] == k) for k in READER_KINDS},
            "images": n}
    real = {}
    for name, (image, spacing, weighting) in real_contrast_inputs().items():
        reading = read_contrast(image, spacing)
        real[name] = {"weighting": weighting, "right": _reading_right(reading.kind, weighting), **reading.to_dict()}
    return {"held_out_heads": factors, "real": real}


def _figure(panels, path: Path) -> None:
    """One row per panel name: the input, then its translations. A panel is (row name, input
    label, target kind, input, translation, source-prompt setting); volumes show their middle slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(p[0] for p in panels))
    fig, axes = plt.subplots(len(names), 4, figsize=(12, 3.2 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        mine = [p for p in panels if p[0] == name]
        _, what, _, image, _, _ = mine[0]
        pick = (lambda a: a[a.shape[0] // 2]) if image.ndim == 3 else (lambda a: a)
        axes[row, 0].imshow(pick(image), cmap="gray")
        axes[row, 0].set_title(f"{name}\n{what}", fontsize=8)
        for col, (_, _, kind, _, pred, setting) in enumerate(mine, start=1):
            axes[row, col].imshow(pick(pred), cmap="gray")
            axes[row, col].set_title(f"SYNTHETIC {kind} ({setting})", fontsize=8)
        for ax in axes[row]:
            ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def robustness_report(translator, cases: int = 6, size: int = CASE_SIZE, figure: str | Path | None = None) -> dict:
    """The whole suite: held-out factors, lesions, the yardstick, real T1 and T2 checks."""
    panels: list = []
    report = {"held_out_heads": held_out_factors(translator, cases, size),
              "anatomy_oracle": anatomy_oracle(cases, size),
              "real_t1": real_t1_checks(translator, panels),
              "real_t2": real_t2_checks(translator, panels),
              "real_anatomy": real_anatomy_check(translator, panels),
              "real_t2_mask_check": t2_mask_check(translator, cases, size),
              "off_template": off_template_check(translator),
              "partial_volume_check": partial_volume_check(translator, cases, size),
              "contrast_reader": contrast_reading(cases, size),
              "cases": cases, "size": size,
              "data": "held-out seeds of the domain-randomised generator (simulated, MNI152 anatomy warped) "
                      "and real T1 and T2-weighted scans shipped in wheels (nibabel, dipy)"}
    if figure is not None and panels:
        _figure(panels, Path(figure))
        report["real_t1"]["figure"] = str(figure)       # where v4's first report put it
    return report
