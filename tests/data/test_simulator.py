"""Tests of the MR simulator: anatomy, physics, protocols, zero-shot split and volumes (2 mm)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_evai2i.data import anatomy, physics, simulator
from napari_evai2i.data.physics import (
    PRESETS,
    SAMPLE_KINDS,
    Protocol,
    classify_weighting,
    csf_null_ti,
    held_out_region,
    is_held_out,
    preset,
    sample_held_out,
    tissue_parameters,
)
from napari_evai2i.data.simulator import simulate_pair, simulate_volume
from napari_evai2i.prompts import vocabulary as voc

RES = 2
CLEAN = dict(resolution_mm=RES, jitter=False, bias_field=False, noise_snr=None)


def _pure_means(vol, threshold=0.9):
    means = {}
    for t, name in enumerate(anatomy.TISSUE_NAMES):
        pure = vol.tissue[t] > threshold
        assert pure.sum() > 50, name
        means[name] = float(vol.image[pure].mean())
    return means


@pytest.fixture(scope="module")
def clean_15():
    kinds = list(PRESETS)
    vols = simulate_pair([preset(k, 1.5) for k in kinds], seed=7, **CLEAN)
    return dict(zip(kinds, vols))


@pytest.fixture(scope="module")
def clean_3():
    kinds = list(PRESETS)
    vols = simulate_pair([preset(k, 3.0) for k in kinds], seed=7, **CLEAN)
    return dict(zip(kinds, vols))


# ---------------------------------------------------------------------------------- anatomy


def test_tissue_maps_layout_and_partial_volume():
    from nilearn import datasets

    maps = anatomy.load_tissue_maps(RES)
    assert maps is anatomy.load_tissue_maps(RES)  # cached
    assert maps.shape == (95, 117, 99)  # (Z, Y, X) of nilearn's (99, 117, 95)
    assert maps.spacing_zyx == (2.0, 2.0, 2.0)
    assert maps.affine_ras.shape == (4, 4) and maps.affine_ras[0, 3] == -98.0
    for arr in (maps.gm, maps.wm, maps.csf, maps.mask):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        maps.gm[0, 0, 0] = 1.0
    # axes are [k, j, i]: compare with nilearn's [i, j, k] array
    ref = datasets.load_mni152_brain_mask(resolution=RES).get_fdata() > 0.5
    assert np.array_equal(maps.mask, ref.transpose(2, 1, 0))
    total = maps.gm + maps.wm + maps.csf
    assert total.max() <= 1.0 + 1e-6 and min(maps.gm.min(), maps.wm.min(), maps.csf.min()) >= 0
    assert total[~maps.mask].max() == 0.0
    ml = RES**3 / 1000.0
    assert 900 < maps.gm.sum() * ml < 1100
    assert 600 < maps.wm.sum() * ml < 750
    assert 180 < maps.csf.sum() * ml < 260
    stacked = maps.stack()
    assert stacked.shape == (3,) + maps.shape and np.array_equal(stacked[2], maps.csf)


# ---------------------------------------------------------------------------------- physics


def test_signal_equations_closed_forms():
    assert physics.spin_echo(1.0, 1000.0, 100.0, 1000.0, 100.0) == pytest.approx((1 - math.e**-1) * math.e**-1)
    # inversion recovery is a magnitude: nulled at TI = T1 ln 2 for long TR
    assert physics.inversion_recovery(1.0, 1000.0, 100.0, 1e6, 1.0, 1000.0 * math.log(2)) == pytest.approx(0, abs=1e-9)
    assert physics.inversion_recovery(1.0, 1000.0, 100.0, 1e6, 1.0, 10.0) > 0.9
    # Ernst angle maximises the spoiled gradient echo
    tr, t1 = 20.0, 800.0
    ernst = math.degrees(math.acos(math.exp(-tr / t1)))
    s = [physics.spoiled_gradient_echo(1.0, t1, 50.0, tr, 2.0, a) for a in (ernst - 3, ernst, ernst + 3)]
    assert s[1] > s[0] and s[1] > s[2]
    arr = physics.mprage(np.ones(4), np.array([500.0, 800.0, 1400.0, 4000.0]), 50.0, 2300.0, 3.0, 900.0, 9.0)
    assert arr.shape == (4,) and np.all(arr >= 0)


def test_tissue_parameters_field_dependence():
    lo, hi, mid = tissue_parameters(1.5), tissue_parameters(3.0), tissue_parameters(2.0)
    assert lo["GM"] == physics.TISSUE_TABLE_1P5T["GM"] and hi["WM"] == physics.TISSUE_TABLE_3T["WM"]
    assert lo["GM"].t1 == 833 and lo["WM"].t1 == 500  # BrainWeb
    for name in ("GM", "WM", "CSF"):
        assert hi[name].t1 > mid[name].t1 > lo[name].t1
        assert hi[name].t2star < lo[name].t2star
        assert hi[name].pd == lo[name].pd
    assert 1300 <= hi["GM"].t1 <= 1450 and 800 <= hi["WM"].t1 <= 900 and 3700 <= hi["CSF"].t1 <= 4000
    # longer CSF T1 at 3 T moves the FLAIR null to a longer TI
    assert csf_null_ti(9000, 3.0) > csf_null_ti(9000, 1.5)
    assert 2000 < csf_null_ti(9000, 1.5) < 2500


@pytest.mark.parametrize("kind", list(PRESETS))
@pytest.mark.parametrize("field", [1.5, 3.0])
def test_presets_are_consistent(kind, field):
    p = preset(kind, field)
    assert p.field_strength == field
    assert classify_weighting(p) == p.name
    assert p.name in voc.ALL_SEQUENCES


def test_protocol_validation():
    with pytest.raises(ValueError):
        Protocol("IR", voc.FLAIR, 9000, 120)  # no TI
    with pytest.raises(ValueError):
        Protocol("SE", "T2 weighted", 4000, 100)  # not a vocabulary name
    with pytest.raises(ValueError):
        Protocol("GRE", voc.T1W, 25, 5)  # no flip angle
    with pytest.raises(ValueError):
        Protocol("XX", voc.T1W, 500, 15)
    with pytest.raises(ValueError):
        Protocol("SE", voc.T1W, 500, 600)  # TE > TR
    assert Protocol("SE", voc.T1W, 500, 15).flip_angle == 90.0


def test_dicom_tags_carry_protocol_values():
    for kind, p in PRESETS.items():
        tags = p.dicom_tags()
        assert tags["Modality"] == "MR"
        assert float(tags["RepetitionTime"]) == p.tr
        assert float(tags["EchoTime"]) == p.te
        assert float(tags["FlipAngle"]) == p.flip_angle
        assert float(tags["MagneticFieldStrength"]) == p.field_strength
        assert tags["BodyPartExamined"] == "BRAIN"
        assert "Manufacturer" not in tags            # no made-up vendor in prompts
        assert "SIMULATED" in tags["ImageComments"]
        assert "simulated" in tags["SeriesDescription"]
        assert tags["ProtocolName"]
        if p.ti is None:
            assert "InversionTime" not in tags and "ScanOptions" not in tags
        else:
            assert float(tags["InversionTime"]) == p.ti
            assert tags["ScanOptions"] == "IR"
            assert "IR" in tags["ScanningSequence"] and isinstance(tags["ScanningSequence"], list)
    assert PRESETS["T2W"].dicom_tags()["ScanningSequence"] == "SE"
    assert PRESETS["T2W"].dicom_tags()["SeriesDescription"] == "T2w SE simulated"
    assert PRESETS["FLASH"].dicom_tags()["ScanningSequence"] == "GR"
    t3 = preset("FLAIR", 3.0).dicom_tags()
    assert t3["MagneticFieldStrength"] == 3 and t3["InversionTime"] == 2500


# ---------------------------------------------------------------------------------- contrast


@pytest.mark.parametrize("fixture", ["clean_15", "clean_3"])
def test_contrast_orders_in_pure_tissue(fixture, request):
    vols = request.getfixturevalue(fixture)
    m = {k: _pure_means(v) for k, v in vols.items()}
    assert m["T1W"]["WM"] > m["T1W"]["GM"] > m["T1W"]["CSF"]
    assert m["T2W"]["CSF"] > m["T2W"]["GM"] > m["T2W"]["WM"]
    assert m["FLAIR"]["CSF"] < min(m["FLAIR"]["GM"], m["FLAIR"]["WM"])
    assert m["FLAIR"]["GM"] > m["FLAIR"]["WM"]
    assert m["PDW"]["GM"] > m["PDW"]["WM"]
    assert m["STIR"]["CSF"] > m["STIR"]["GM"] > m["STIR"]["WM"]
    assert m["MPRAGE"]["WM"] > m["MPRAGE"]["GM"] > m["MPRAGE"]["CSF"]
    assert m["FLASH"]["WM"] > m["FLASH"]["GM"] > m["FLASH"]["CSF"]
    for v in vols.values():
        assert v.image.dtype == np.float32 and v.image.shape == v.mask.shape
        assert v.image[~v.tissue.any(axis=0)].max() == 0.0  # nothing outside the brain without noise
        assert 0 <= v.image.min() and v.image.max() <= 1.0


def test_image_is_partial_volume_sum(clean_15):
    v = clean_15["T2W"]
    s = v.protocol.tissue_signals(v.tissue_parameters)
    expected = sum(s[name] * v.tissue[t] for t, name in enumerate(anatomy.TISSUE_NAMES))
    np.testing.assert_allclose(v.image, expected, rtol=1e-5, atol=1e-7)


def test_longer_t1_at_3t_changes_contrast(clean_15, clean_3):
    a, b = _pure_means(clean_15["T1W"]), _pure_means(clean_3["T1W"])
    for name in ("GM", "WM", "CSF"):  # same TR, longer T1: more saturation everywhere
        assert b[name] < a[name]
    # MPRAGE at fixed TI: GM (T1 1400 ms at 3 T) gets close to its null, so WM/GM contrast grows
    a, b = _pure_means(clean_15["MPRAGE"]), _pure_means(clean_3["MPRAGE"])
    assert b["WM"] / b["GM"] > a["WM"] / a["GM"]


# ---------------------------------------------------------------------------------- realism


def test_deterministic_for_seed():
    kw = dict(resolution_mm=RES)
    a = simulate_volume(preset("T2W"), seed=11, **kw)
    b = simulate_volume(preset("T2W"), seed=11, **kw)
    c = simulate_volume(preset("T2W"), seed=12, **kw)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.tissue, b.tissue)
    assert a.snr == b.snr and a.tissue_parameters == b.tissue_parameters
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(a.tissue, c.tissue)


def test_pair_shares_anatomy_not_noise():
    p1, p2 = preset("T1W"), preset("FLAIR", 3.0)
    pair = simulate_pair([p1, p2, p1], seed=5, resolution_mm=RES)
    assert pair[0].tissue is pair[1].tissue and pair[0].mask is pair[2].mask
    assert not pair[0].tissue.flags.writeable
    assert pair[0].tissue_parameters["GM"].pd == pair[1].tissue_parameters["GM"].pd  # same subject
    single = simulate_volume(p2, seed=5, resolution_mm=RES)
    assert np.array_equal(single.tissue, pair[1].tissue)  # same seed, same anatomy
    first = simulate_volume(p1, seed=5, resolution_mm=RES)
    assert np.array_equal(first.image, pair[0].image)
    assert not np.array_equal(pair[0].image, pair[2].image)  # same protocol, new noise
    assert pair[1].protocol == p2 and pair[1].tags["InversionTime"] == 2500


def test_deformation_warps_tissue_once():
    maps = anatomy.load_tissue_maps(RES)
    still = simulate_volume(preset("T1W"), seed=3, deform=False, **CLEAN)
    assert np.array_equal(still.tissue, maps.stack())
    moved = simulate_volume(preset("T1W"), seed=3, deform=True, **CLEAN)
    assert not np.allclose(moved.tissue, maps.stack())
    ratio = moved.mask.sum() / maps.mask.sum()
    assert 0.65 < ratio < 1.4
    assert moved.tissue.sum(axis=0).max() <= 1.0 + 1e-5
    # the warp keeps the anatomy recognisable: the moved GM overlaps the template GM
    g0, g1 = maps.gm > 0.5, moved.tissue[0] > 0.5
    dice = 2 * (g0 & g1).sum() / (g0.sum() + g1.sum())
    assert 0.2 < dice < 0.98


def test_rician_noise_level_matches_snr():
    v = simulate_volume(preset("T2W"), seed=2, resolution_mm=RES, noise_snr=20.0, bias_field=False)
    clean = simulate_volume(preset("T2W"), seed=2, resolution_mm=RES, noise_snr=None, bias_field=False)
    assert v.snr == 20.0 and clean.snr is None
    sigma = clean.image[clean.mask].mean() / 20.0
    bg = v.image[~clean.tissue.any(axis=0)]
    assert bg.min() >= 0  # magnitude
    assert bg.mean() == pytest.approx(sigma * math.sqrt(math.pi / 2), rel=0.05)  # Rayleigh
    noisy = simulate_volume(preset("T2W"), seed=2, resolution_mm=RES, bias_field=False)
    assert simulator.SNR_RANGE[0] <= noisy.snr <= simulator.SNR_RANGE[1]


def test_bias_field_is_smooth_and_bounded():
    kw = dict(resolution_mm=RES, noise_snr=None)
    flat = simulate_volume(preset("PDW"), seed=4, bias_field=False, **kw)
    biased = simulate_volume(preset("PDW"), seed=4, bias_field=True, **kw)
    inside = flat.mask & (flat.image > 0)
    log_ratio = np.log(biased.image[inside] / flat.image[inside])
    assert 0.1 - 1e-4 <= np.abs(log_ratio).max() <= 0.2 + 1e-4
    assert log_ratio.std() > 0.01
    ratio = np.ones(flat.image.shape)
    ratio[inside] = np.exp(log_ratio)
    assert np.abs(np.diff(ratio[inside.any(axis=(1, 2))], axis=0)[..., 1:-1, 1:-1]).max() < 0.5


def test_jitter_changes_tissue_parameters():
    a = simulate_volume(preset("T1W"), seed=1, resolution_mm=RES, jitter=True, noise_snr=None)
    b = simulate_volume(preset("T1W"), seed=1, resolution_mm=RES, jitter=False, noise_snr=None)
    assert b.tissue_parameters == tissue_parameters(1.5)
    for name in ("GM", "WM", "CSF"):
        ja, jb = a.tissue_parameters[name], b.tissue_parameters[name]
        assert ja != jb and 0.8 < ja.t1 / jb.t1 < 1.25


def test_plane_is_recorded_not_applied():
    v = simulate_volume(preset("T1W"), seed=0, plane="sagittal", **CLEAN)
    assert v.plane == "sagittal" and v.slice_axis == 2 and v.image.shape == (95, 117, 99)
    with pytest.raises(ValueError):
        simulate_volume(preset("T1W"), seed=0, plane="oblique", **CLEAN)
    with pytest.raises(ValueError):
        simulate_volume(preset("T1W"), seed=-1, **CLEAN)


# ---------------------------------------------------------------------------------- zero-shot split


def test_held_out_predicates():
    se = lambda tr, te: Protocol("SE", voc.T2W, tr, te)  # noqa: E731
    assert held_out_region(se(3000, 60)) == "se_te_band"
    assert is_held_out(se(2000, 50)) and is_held_out(se(4000, 70))
    assert not is_held_out(se(3000, 49)) and not is_held_out(se(3000, 71))
    assert not is_held_out(se(1500, 60))  # short TR is outside the band
    flair = lambda ti, b=1.5: Protocol("IR", voc.FLAIR, 9000, 120, ti=ti, field_strength=b)  # noqa: E731
    assert held_out_region(flair(2000)) == "flair_ti_band" and is_held_out(flair(1900, 3.0))
    assert not is_held_out(flair(2200)) and not is_held_out(flair(1850))
    gre = lambda b: Protocol("GRE", voc.T1W, 25, 5, flip_angle=30, field_strength=b)  # noqa: E731
    assert held_out_region(gre(3.0)) == "gre_3t" and not is_held_out(gre(1.5))
    assert not is_held_out(preset("MPRAGE", 3.0))  # IR gradient echo at 3 T stays in training
    assert held_out_region(preset("STIR", 1.5)) == "stir" and is_held_out(preset("STIR", 3.0))
    for kind in ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE"):
        assert not is_held_out(preset(kind, 1.5))


def test_sample_never_returns_held_out():
    rng = np.random.default_rng(0)
    seen_fields = set()
    for kind in SAMPLE_KINDS:
        if kind == "STIR":
            with pytest.raises(ValueError):
                Protocol.sample(rng, kind)
            continue
        for _ in range(200):
            p = Protocol.sample(rng, kind)
            assert not is_held_out(p), p
            assert classify_weighting(p) == p.name, p
            seen_fields.add(p.field_strength)
    assert seen_fields == {1.5, 3.0}
    with pytest.raises(ValueError):
        Protocol.sample(rng, "FLASH", field_strength=3.0)
    # the rejected regions really are inside the sampling ranges
    t2 = [Protocol.sample(rng, "T2W", allow_held_out=True) for _ in range(200)]
    assert any(is_held_out(p) for p in t2)
    fl = [Protocol.sample(rng, voc.FLAIR, allow_held_out=True) for _ in range(200)]
    assert any(is_held_out(p) for p in fl)
    assert any(p.ti < 1900 for p in fl) and any(p.ti > 2100 for p in fl)


def test_sample_held_out_regions():
    rng = np.random.default_rng(1)
    for region in physics.HELD_OUT_REGIONS:
        for _ in range(20):
            p = sample_held_out(rng, region)
            assert held_out_region(p) == region
            assert p.name == classify_weighting(p)
    with pytest.raises(ValueError):
        sample_held_out(rng, "nope")


# ---------------------------------------------------------------------------------- prompts and DICOM


def test_prompts_differ_and_carry_timing():
    vols = simulate_pair([preset("T1W"), preset("T2W"), preset("FLAIR")], seed=0, **CLEAN)
    prompts = [v.prompt for v in vols]
    assert len(set(prompts)) == 3
    for v, text in zip(vols, prompts):
        p = v.protocol
        assert f"TR {p.tr:g} ms" in text and f"TE {p.te:g} ms" in text
        assert p.name in text
        assert "axial" in text
    assert "TI 2500 ms" in prompts[2] and "TI" not in prompts[0]
    assert "3 T" in simulate_volume(preset("T2W", 3.0), seed=0, **CLEAN).prompt


def test_dicom_series_round_trip_prompt(tmp_path):
    from napari_evai2i.io import read_volume, write_dicom_series
    from napari_evai2i.prompts import fields_from_dicom
    from napari_evai2i.prompts import canonical_prompt

    v = simulate_volume(preset("FLAIR", 3.0), seed=9, resolution_mm=RES)
    vol = v.to_volume()
    assert vol.shape == v.image.shape and vol.spacing == v.spacing_zyx
    np.testing.assert_allclose(vol.affine_ras, v.affine_ras, atol=1e-9)
    folder = tmp_path / "flair"
    write_dicom_series(
        vol, folder, series_description=vol.tags["SeriesDescription"], image_comments=vol.tags["ImageComments"]
    )
    assert canonical_prompt(fields_from_dicom(folder)) == v.prompt
    back = read_volume(folder)
    np.testing.assert_allclose(back.affine_ras, v.affine_ras, atol=1e-4)
    np.testing.assert_allclose(back.array, v.image, atol=float(v.image.max()) / 30000)


@pytest.mark.parametrize("seed", [5, 55])
def test_warp_voxel_selection_drops_no_tissue(seed, monkeypatch):
    """The warp resamples only voxels near the brain; resampling every voxel must agree."""
    maps = anatomy.load_tissue_maps(RES)
    fast, _ = simulator.warp_anatomy(maps, np.random.default_rng([seed, 0]))
    monkeypatch.setattr(simulator.ndi, "binary_dilation", lambda a, **kw: np.ones_like(a))
    full, _ = simulator.warp_anatomy(maps, np.random.default_rng([seed, 0]))
    np.testing.assert_allclose(fast, full, atol=1e-4)
    assert full.sum() > 0.5 * maps.stack().sum()
