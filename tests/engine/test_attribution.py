"""Tag effects: what is left out, how the effect is measured, and that the demo follows TE's physics."""

import numpy as np
import pytest

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.engine import load_model
from napari_evai2i.engine.attribution import middle_slices, tag_effects, without_tag
from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
from napari_evai2i.io import Volume
from napari_evai2i.prompts import canonical_prompt


def test_each_tag_is_left_out_and_absent_tags_are_skipped():
    fields = PRESETS["FLAIR"].prompt_fields().replace(manufacturer="GE", contrast=True, contrast_agent="gadobutrol",
                                                       scan_options=("inversion recovery", "fat saturation"))
    reduced, value = without_tag(fields, "TE")
    assert reduced.echo_time is None and value == "120 ms" and "TE" not in canonical_prompt(reduced)
    reduced, _ = without_tag(fields, "fat saturation")
    assert not reduced.fat_saturated and reduced.scan_options == ("inversion recovery",)
    assert not without_tag(fields, "contrast agent")[0].contrast
    assert without_tag(fields, "manufacturer")[0].manufacturer is None
    assert without_tag(PRESETS["T2W"].prompt_fields(), "TI") is None
    with pytest.raises(ValueError, match="unknown tag"):
        without_tag(fields, "colour")


def test_effects_are_measured_for_the_stated_tags_largest_first(brain_like_volume):
    volume = Volume(brain_like_volume, spacing=(1.0, 1.0, 1.0))
    report = tag_effects(volume, TranslationRequest(PRESETS["FLAIR"].prompt(), model="tiny-random"),
                         slices=[4, 5], maps=True)
    tags = [e.tag for e in report.effects]
    assert set(tags) == {"field strength", "TE", "TR", "TI", "flip angle"}
    effects = [e.effect for e in report.effects]
    assert effects == sorted(effects, reverse=True) and all(e >= 0 for e in effects) and effects[0] > 0
    assert report.effects[0].difference.shape == (2,) + brain_like_volume.shape[1:]
    assert report.to_dict()["tags"][0]["tag"] == tags[0] and tags[0] in report.table()


def test_free_text_without_tags_gets_a_clear_error(brain_like_volume):
    with pytest.raises(ValueError, match="free text has no tags"):
        tag_effects(Volume(brain_like_volume, spacing=(1.0, 1.0, 1.0)), TranslationRequest("a bright fluid image", model="tiny-random"))


def test_middle_slices_are_spread_inside_the_volume():
    assert middle_slices(5) == (0, 1, 2, 3, 4)
    picked = middle_slices(100, 8)
    assert len(picked) == 8 and 19 <= picked[0] and picked[-1] <= 80


def test_demo_raising_te_in_a_spin_echo_prompt_brightens_csf_more_than_wm_as_the_signal_equation_says():
    """Physics: S = PD (1 - exp(-TR/T1)) exp(-TE/T2); CSF's long T2 keeps its signal as TE rises while
    WM's fades, so after the brain-core normalisation CSF brightens and WM barely moves."""
    from napari_evai2i.data.randomized import (BRAIN_LEVEL, HeadSliceGenerator, RandomizationRanges, level_of,
                                               signal_vector)

    gen = HeadSliceGenerator(128, RandomizationRanges(rotation_deg=5, pixel_mm=(1.5, 1.5), position=(0.45, 0.55),
                                                      shift_mm=2))
    anatomy = gen.draw_anatomy(np.random.default_rng([7, 1]), "axial", whole_head=True, lesions=False,
                               thickness_mm=4)
    fractions, jitter = anatomy["fractions"], gen.jitter(np.random.default_rng(3))

    def render(protocol):
        signals = signal_vector(protocol, gen.parameters(jitter, 1.5))
        return (gen.render(fractions, signals) * (BRAIN_LEVEL / level_of(signals))).numpy()

    csf, wm = fractions[2].numpy() > 0.9, fractions[1].numpy() > 0.9
    fields = PRESETS["T2W"].prompt_fields()
    volume = Volume(render(PRESETS["T1W"]), spacing=(1.0, 1.5, 1.5))
    job = VolumeTranslation(volume, TranslationRequest(canonical_prompt(fields), model="demo", device="cpu"),
                            load_model("demo", "cpu"))
    slices = range(volume.array.shape[0])
    short, long = (job.translate_slices(slices, canonical_prompt(fields.replace(echo_time=te))) for te in (60, 120))
    truth = render(PRESETS["T2W"].replace(te=120.0)) - render(PRESETS["T2W"].replace(te=60.0))
    change = long - short
    assert np.sign(change[csf].mean()) == np.sign(truth[csf].mean()) == 1
    assert abs(change[csf].mean()) > 3 * abs(change[wm].mean())
    assert abs(truth[csf].mean()) > 3 * abs(truth[wm].mean())
