"""Is a translated *volume* consistent, where is the model unsure, and is the result usable?

    python -m napari_evai2i.train.evaluate --suite volume --model demo --json volume.json

**Held-out simulated volumes.** A block of the domain-randomised generator
(:mod:`napari_evai2i.data.randomized`) from seeds training never draws: one warped template
head (random affine, elastic field, atrophy, tissue jitter), 1 mm isotropic, rendered under
the source protocol with Rician noise (SNR 30, no bias field: a smooth 3-D field is not what
the 2-D generator draws) and under the target protocol clean. A thick-slice variant averages
the source over 5 mm slabs (1 x 1 x 5 mm) and scores against the clean target at the slab
centres. Scored inside the brain after dividing each volume by its brain median:

* PSNR/SSIM of the volume (SSIM of slices along the slicing axis, axis 0);
* through-plane consistency: the mean |d/dz translation - d/dz truth| along axis 0 inside the
  brain, and SSIM of the reformatted planes (slices along axes 1 and 2);
* downstream: Dice per tissue (CSF, GM, WM) of a 3-class multi-Otsu segmentation of the
  translation and of the truth, inside the brain;
* run time on this machine;
* uncertainty: Spearman correlation of the uncertainty map with |error|, per voxel and per
  4 x 4 x 4 patch, and the mean |error| in the top decile of uncertainty against the rest.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from ..engine.metrics import psnr, ssim
from .robustness import FIRST_SEED, TASKS, brain_normalised, class_dice, mean_scores

VOLUME_SEED = FIRST_SEED + 50_000
THICK_MM = 5
SNR = 30.0
PATCH = 4
SSIM_WINDOW = 11              # engine.metrics.ssim's Gaussian window, pixels


@functools.lru_cache(maxsize=4)
def held_out_volume(index: int, kind_src: str, kind_tgt: str, size: int = 176, depth_mm: int = 176) -> dict:
    """Source (noisy), target (clean) and brain mask of one held-out (depth, size, size) block (cached: treat
    as read-only)."""
    from ..data.head import ALL_TISSUE_NAMES
    from ..data.physics import PRESETS
    from ..data.randomized import BRAIN_LEVEL, HeadSliceGenerator, RandomizationRanges, level_of, signal_vector

    ranges = RandomizationRanges(rotation_deg=10.0, pixel_mm=(1.0, 1.0), position=(0.47, 0.53), shift_mm=3.0,
                                 lesion_probability=0.0, atrophy=0.5, brain_crop=0.0)
    gen = HeadSliceGenerator(size, ranges)
    rng = np.random.default_rng([VOLUME_SEED, index])
    anatomy = gen.draw_anatomy(rng, ("axial", "coronal", "sagittal")[index % 3], whole_head=True, lesions=False,
                               thickness_mm=float(depth_mm - 1))
    fractions = anatomy["fractions"]                       # (9, depth, size, size), 1 mm apart
    jitter = gen.jitter(np.random.default_rng([VOLUME_SEED, index, 1]))
    out: dict = {"plane": anatomy["plane"]}
    f = fractions.numpy()
    brain_fraction = f[:3].sum(0) + f[ALL_TISSUE_NAMES.index("LESION")]
    out["brain"] = (brain_fraction > 0.5) & (f[:2].sum(0) > 0.3)
    out["csf"], out["wm"] = f[2] > 0.9, f[1] > 0.9

    def render(protocol):
        """This anatomy under any protocol, clean and normalised (physics checks)."""
        signals = signal_vector(protocol, gen.parameters(jitter, protocol.field_strength))
        return (gen.render(fractions, signals) * (BRAIN_LEVEL / level_of(signals))).numpy().astype(np.float32)

    for role, kind in (("src", kind_src), ("tgt", kind_tgt)):
        out[role] = render(PRESETS[kind])
        out[f"{role}_protocol"] = PRESETS[kind]
    out["render"] = render
    noise = np.random.default_rng([VOLUME_SEED, index, 2]).standard_normal((2,) + out["src"].shape)
    sigma = BRAIN_LEVEL / SNR
    out["src"] = np.sqrt((out["src"] + sigma * noise[0]) ** 2 + (sigma * noise[1]) ** 2).astype(np.float32)
    return out


def thick_slices(case: dict, thickness: int = THICK_MM) -> dict:
    """The same case acquired with ``thickness`` mm slices along axis 0 (slab means; truth at slab centres)."""
    n = case["src"].shape[0] // thickness * thickness
    centres = np.arange(thickness // 2, n, thickness)
    src = case["src"][:n].reshape(n // thickness, thickness, *case["src"].shape[1:]).mean(1)
    return {**case, "src": src.astype(np.float32), "tgt": case["tgt"][centres], "brain": case["brain"][centres]}


# ------------------------------------------------------------------------------ metrics
def volume_scores(pred: np.ndarray, target: np.ndarray, brain: np.ndarray) -> dict[str, float]:
    """PSNR/SSIM, through-plane gradient error and reformatted-plane SSIM, brain-normalised."""
    p, t = brain_normalised(pred, brain), brain_normalised(target, brain)
    both = brain[1:] & brain[:-1]
    gradient_error = float(np.abs(np.diff(p, axis=0) - np.diff(t, axis=0))[both].mean())
    reformatted = [ssim(np.moveaxis(p, a, 0), np.moveaxis(t, a, 0), 1.0, np.moveaxis(brain, a, 0)) for a in (1, 2)] \
        if p.shape[0] >= SSIM_WINDOW else [float("nan")]          # too few slices for the SSIM window
    return {"psnr": psnr(p, t, 1.0, brain), "ssim": ssim(p, t, 1.0, brain),
            "through_plane_gradient_error": gradient_error, "reformatted_ssim": float(np.mean(reformatted)),
            **class_dice(p, t, brain)}


def tissue_names(kind_tgt: str) -> tuple[str, str, str]:
    """Tissues of the three multi-Otsu classes of :func:`class_dice`, darkest first, for a target
    contrast (T2w: WM, GM, CSF; T1w: CSF, GM, WM)."""
    return {"T2W": ("WM", "GM", "CSF"), "FLAIR": ("CSF", "WM", "GM"), "PDW": ("CSF", "WM", "GM"),
            "T1W": ("CSF", "GM", "WM")}[kind_tgt]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def uncertainty_scores(uncertainty: np.ndarray, error: np.ndarray, brain: np.ndarray) -> dict[str, float]:
    """How well an uncertainty map tracks |error| inside the brain (per voxel, per patch, top decile)."""
    u, e = uncertainty[brain], error[brain]
    top = u >= np.quantile(u, 0.9)
    cut = tuple(s // PATCH * PATCH for s in brain.shape)
    def patches(x):
        x = x[: cut[0], : cut[1], : cut[2]]
        return x.reshape(cut[0] // PATCH, PATCH, cut[1] // PATCH, PATCH, cut[2] // PATCH, PATCH).mean((1, 3, 5))
    inside = patches(brain.astype(np.float32)) > 0.5
    return {"spearman_voxel": _spearman(u, e),
            "spearman_patch": _spearman(patches(uncertainty)[inside], patches(error * brain)[inside]),
            "error_top_decile": float(e[top].mean()), "error_rest": float(e[~top].mean())}


def stripe_index(translation: np.ndarray, source: np.ndarray, mask: np.ndarray) -> float:
    """Through-plane roughness of a translation against in-plane roughness, relative to the source's.

    Roughness along an axis is the mean |second difference| inside ``mask``; the index is
    (z / mean(y, x)) of the translation divided by the same ratio of the source, so 1 means
    "as isotropic as the input" and slice-by-slice stripes push it above 1. Needs no truth.
    """
    def ratio(a):
        a = brain_normalised(a, mask)
        rough = []
        for k in range(3):
            inner = np.moveaxis(mask, k, 0)[1:-1]
            rough.append(float(np.abs(np.moveaxis(np.diff(a, 2, axis=k), k, 0))[inner].mean()))
        return rough[0] / (0.5 * (rough[1] + rough[2]))
    return ratio(translation) / ratio(source)


def real_volume_stripes(translator) -> dict:
    """Stripe index of 2-D and tri-planar translations of the real 3-D T1 that ships in nibabel (no truth)."""
    from ..data.physics import PRESETS
    from ..engine.pipeline import TranslationRequest, VolumeTranslation
    from ..io import Volume
    from .robustness import real_t1_inputs, t1_tissues

    out: dict = {}
    for name, (image, spacing) in real_t1_inputs().items():
        if image.ndim != 3:
            continue
        brain = t1_tissues(image)["brain"]
        entry = {}
        for kind in ("T2W", "FLAIR", "PDW"):
            for planes in (1, 3):
                job = VolumeTranslation(Volume(image, spacing=spacing),
                                        TranslationRequest(PRESETS[kind].prompt(), model=translator.name,
                                                           planes=planes), translator)
                entry[f"{kind}, planes {planes}"] = round(stripe_index(job.run().volume.array, image, brain), 3)
        out[name] = entry
    return out


def tag_effect_report(translator, slices: int = 8, size: int = 176, depth_mm: int = 176) -> dict:
    """Tag effects of the canonical prompts on a held-out volume (T1w source), and TE's physics
    direction: CSF and WM change from TE 60 to 120 ms against the signal equation."""
    from ..data.physics import PRESETS
    from ..engine.attribution import middle_slices, tag_effects
    from ..engine.pipeline import TranslationRequest, VolumeTranslation
    from ..io import Volume
    from ..prompts import canonical_prompt

    case = held_out_volume(0, "T1W", "T2W", size, depth_mm)
    volume = Volume(case["src"], spacing=(1.0, 1.0, 1.0))
    picked = middle_slices(volume.array.shape[0], slices)
    out: dict = {"slices": list(picked)}
    for kind in ("T2W", "FLAIR", "PDW"):
        report = tag_effects(volume, TranslationRequest(PRESETS[kind].prompt(), model=translator.name), translator,
                             slices=picked)
        out[kind] = {e.tag: round(e.effect, 4) for e in report.effects}
    fields = PRESETS["T2W"].prompt_fields()
    job = VolumeTranslation(volume, TranslationRequest(canonical_prompt(fields), model=translator.name), translator)
    short, long = (job.translate_slices(picked, canonical_prompt(fields.replace(echo_time=te))) for te in (60, 120))
    truth = case["render"](PRESETS["T2W"].replace(te=120.0)) - case["render"](PRESETS["T2W"].replace(te=60.0))
    csf, wm = case["csf"][list(picked)], case["wm"][list(picked)]
    change, truth = long - short, truth[list(picked)]
    out["TE 60 -> 120 ms, spin echo"] = {
        "CSF change": round(float(change[csf].mean()), 4), "CSF change (signal equation)": round(float(truth[csf].mean()), 4),
        "WM change": round(float(change[wm].mean()), 4), "WM change (signal equation)": round(float(truth[wm].mean()), 4)}
    return out


# ------------------------------------------------------------------------------ the suite
def _translate(translator, case: dict, spacing, **options):
    from ..engine.pipeline import TranslationRequest, VolumeTranslation
    from ..io import Volume

    request = TranslationRequest(target=case["tgt_protocol"].prompt(), model=translator.name, axis=0, **options)
    job = VolumeTranslation(Volume(case["src"], spacing=spacing), request, translator)
    started = time.perf_counter()
    result = job.run()
    return result, time.perf_counter() - started


#: On isotropic volumes the resolution weights are all 1, so "mean" is the resolution-weighted mean.
VARIANTS = {"2-D (axis 0)": {"planes": 1}, "tri-planar, resolution-weighted mean": {"planes": 3},
            "tri-planar, median": {"planes": 3, "fusion": "median"}}


def volume_report(translator, cases: int = 2, size: int = 176, depth_mm: int = 176,
                  tasks: tuple[str, ...] = tuple(TASKS), uncertainty_passes: int = 6) -> dict:
    """2-D vs tri-planar on isotropic and thick-slice held-out volumes, and uncertainty vs error."""
    report: dict = {"data": f"held-out seeds of the domain-randomised generator: {cases} warped template heads per "
                            f"task, {depth_mm} x {size} x {size} at 1 mm, source SNR {SNR:g} (simulated)",
                    "tasks": {}}
    for task in tasks:
        src, tgt = TASKS[task]
        entry: dict = {"tissue_classes_darkest_first": list(tissue_names(tgt))}
        for geometry in ("1 x 1 x 1 mm", f"1 x 1 x {THICK_MM} mm"):
            rows: dict[str, list] = {name: [] for name in VARIANTS}
            seconds: dict[str, list] = {name: [] for name in VARIANTS}
            for i in range(cases):
                case = held_out_volume(i, src, tgt, size, depth_mm)
                spacing = (1.0, 1.0, 1.0)
                if geometry != "1 x 1 x 1 mm":
                    case, spacing = thick_slices(case), (float(THICK_MM), 1.0, 1.0)
                for name, options in VARIANTS.items():
                    result, took = _translate(translator, case, spacing, **options)
                    rows[name].append(volume_scores(result.volume.array, case["tgt"], case["brain"]))
                    seconds[name].append(took)
                    if "planes" in result.provenance:
                        entry.setdefault("plane_plans", {})[geometry] = result.provenance["planes"]["description"]
            base = float(np.mean(seconds["2-D (axis 0)"]))
            entry[geometry] = {name: {**mean_scores(rows[name]), "seconds": round(float(np.mean(seconds[name])), 2),
                                      "time_vs_2d": round(float(np.mean(seconds[name])) / base, 2)}
                               for name in VARIANTS}
        entry["uncertainty"] = _uncertainty(translator, src, tgt, cases, size, depth_mm, uncertainty_passes)
        report["tasks"][task] = entry
    report["real_t1_stripe_index"] = real_volume_stripes(translator)
    report["tag_effects"] = tag_effect_report(translator, size=size, depth_mm=depth_mm)
    return report


def _uncertainty(translator, src: str, tgt: str, cases: int, size: int, depth_mm: int, passes: int) -> dict:
    out = {}
    for planes in (1, 3):
        rows = []
        for i in range(cases):
            case = held_out_volume(i, src, tgt, size, depth_mm)
            result, _ = _translate(translator, case, (1.0, 1.0, 1.0), planes=planes, uncertainty_passes=passes)
            brain = case["brain"]
            error = np.abs(brain_normalised(result.volume.array, brain) - brain_normalised(case["tgt"], brain))
            norm = 0.5 / float(np.median(result.volume.array[brain]))    # the SD in the same units
            rows.append(uncertainty_scores(result.uncertainty.array * norm, error, brain))
        out[f"{passes} passes, planes {planes}"] = mean_scores(rows)
    return out
