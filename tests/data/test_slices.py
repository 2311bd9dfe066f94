"""Training slices: one normalisation rule and one noise model shared with the volume simulator."""

from __future__ import annotations

import numpy as np
import pytest

from napari_evai2i.data import noise
from napari_evai2i.data.anatomy import TISSUE_NAMES, load_tissue_maps
from napari_evai2i.data.physics import PRESETS, tissue_parameters
from napari_evai2i.data.simulated_dataset import ROLES, SimulatedDataConfig, SimulatedPairs
from napari_evai2i.data.slices import SliceAugmentation, SliceSimulator, template_levels
from napari_evai2i.engine.normalization import fit_intensity_scale


@pytest.fixture(scope="module")
def simulator():
    return SliceSimulator(size=48)


def test_rician_noise_statistics():
    rng = np.random.default_rng(0)
    background = noise.rician(np.zeros(200_000, np.float32), 0.1, rng)
    assert background.dtype == np.float32 and background.min() >= 0
    assert background.mean() == pytest.approx(0.1 * np.sqrt(np.pi / 2), rel=0.01)   # Rayleigh
    bright = noise.rician(np.full(200_000, 5.0, np.float32), 0.1, rng)
    assert bright.mean() == pytest.approx(5.0, rel=1e-3) and bright.std() == pytest.approx(0.1, rel=0.02)


def test_snr_draws_stay_in_the_one_range():
    rng = np.random.default_rng(1)
    draws = np.array([noise.draw_snr(rng) for _ in range(2000)])
    lo, hi = noise.SNR_RANGE
    assert draws.min() >= lo and draws.max() <= hi
    # log-uniform: the geometric middle splits the draws in half
    assert np.mean(draws < np.sqrt(lo * hi)) == pytest.approx(0.5, abs=0.05)


def test_template_scale_is_the_inference_rule_on_the_whole_template_volume():
    maps = load_tissue_maps(2)
    protocol = PRESETS["T2W"]
    signals = protocol.tissue_signals(tissue_parameters(protocol.field_strength))
    volume = sum(getattr(maps, name.lower()) * np.float32(signals[name]) for name in TISSUE_NAMES)
    levels = template_levels(protocol)
    # the template is subsampled (every 3rd voxel); the percentile barely moves
    assert levels.scale.scale == pytest.approx(fit_intensity_scale(volume).scale, rel=0.01)
    brain_mean = float(volume[maps.stack().sum(0) >= 0.5].mean()) / levels.scale.scale
    assert levels.brain_mean == pytest.approx(brain_mean, rel=0.01)


def test_slice_noise_has_the_volume_simulators_snr(simulator):
    flat = SliceSimulator(size=48, augmentation=SliceAugmentation(bias=0.0, gain=(1.0, 1.0)))
    flat.maps = simulator.maps
    level = 0.8
    image = np.full((48, 48), level, np.float32)
    snrs = []
    for seed in range(40):
        noisy = flat.corrupt(image, np.random.default_rng(seed), brain_mean=level)
        snrs.append(level / noisy.std())
    lo, hi = noise.SNR_RANGE
    assert lo * 0.8 < min(snrs) and max(snrs) < hi * 1.25


def test_scan_gives_aligned_clean_and_corrupted_slices(simulator):
    rng = np.random.default_rng(3)
    tissue, plane = simulator.tissue_slice(rng, "coronal")
    assert plane == "coronal" and tissue.shape == (3, 48, 48)
    params = tissue_parameters(1.5)
    clean, scanned = simulator.scan(tissue, PRESETS["T1W"], params, np.random.default_rng(4))
    assert np.array_equal(clean, simulator.render(tissue, PRESETS["T1W"], params))
    again = simulator.scan(tissue, PRESETS["T1W"], params, np.random.default_rng(4))[1]
    assert np.array_equal(scanned, again) and not np.array_equal(scanned, clean)
    brain = tissue.sum(0) > 0.9
    assert np.corrcoef(clean[brain], scanned[brain])[0, 1] > 0.8


def test_items_are_deterministic_and_share_one_anatomy():
    data = SimulatedPairs(SimulatedDataConfig(size=32, seed=2))
    item, again = data[5], data[5]
    for role in ROLES:
        assert item[role].shape == item[f"{role}_in"].shape == (1, 32, 32)
        assert np.array_equal(item[f"{role}_in"], again[f"{role}_in"])
        assert item[f"{role}_text"] == again[f"{role}_text"]
    assert item["tissue"].shape == (4, 32, 32)
    fractions = item["tissue"][:3].reshape(3, -1).T
    for role in ROLES:       # every clean contrast is a mix of the same three tissue maps
        image = item[role].reshape(-1)
        coefficients = np.linalg.lstsq(fractions, image, rcond=None)[0]
        assert np.abs(fractions @ coefficients - image).max() < 1e-4
