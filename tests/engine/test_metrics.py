"""One PSNR/SSIM for the widget's comparison and the evaluation: explicit data range, optional mask."""

import numpy as np
import pytest

from napari_evai2i.engine.metrics import compare, psnr, ssim
from napari_evai2i.train.evaluate import brain_metrics


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    target = rng.random((6, 40, 36)).astype(np.float32)
    mask = np.zeros(target.shape, bool)
    mask[:, 5:20, 5:18] = True
    pred = target.copy()
    pred[mask] += 0.1                     # an error of 0.1 inside the mask
    pred[:, 32:, 28:] = 0                 # and a wrong corner far outside it
    return pred, target, mask


def test_psnr_counts_only_masked_voxels_at_the_given_range(pair):
    pred, target, mask = pair
    assert psnr(pred, target, 1.0, mask) == pytest.approx(20.0, abs=1e-4)
    assert psnr(pred, target, 2.0, mask) == pytest.approx(20.0 + 20 * np.log10(2), abs=1e-4)
    assert psnr(pred, target, 1.0) < psnr(pred, target, 1.0, mask)


def test_ssim_ignores_errors_outside_the_mask(pair):
    pred, target, mask = pair
    clean = target.copy()
    clean[:, 32:, 28:] = 0
    assert ssim(clean, target, 1.0, mask) == pytest.approx(1.0, abs=1e-6)
    assert ssim(clean, target, 1.0) < 0.99
    # slices without a masked voxel are skipped, the others count voxel by voxel
    thin = mask & (np.arange(6)[:, None, None] < 2)
    assert ssim(pred, target, 1.0, thin) == pytest.approx(ssim(pred[:2], target[:2], 1.0, mask[:2]), rel=1e-6)


def test_ssim_slices_along_the_axis_asked_for(pair):
    pred, target, _ = pair
    along_x = ssim(pred, target, 1.0, axis=2)
    assert along_x == pytest.approx(ssim(np.moveaxis(pred, 2, 0), np.moveaxis(target, 2, 0), 1.0), rel=1e-6)


def test_brain_metrics_is_the_masked_unit_range_score(pair):
    pred, target, mask = pair
    scores = brain_metrics(pred, target, mask)
    assert scores == {"psnr": round(psnr(pred, target, 1.0, mask), 2), "ssim": round(ssim(pred, target, 1.0, mask), 4)}


def test_compare_normalises_and_uses_the_whole_field_of_view(brain_like_volume):
    volume = brain_like_volume.astype(np.float32)
    same = compare(volume * 3.0, volume)       # another scanner scale, the same image
    assert same.psnr > 100 and same.ssim == pytest.approx(1.0, abs=1e-6)
    noisy = compare(volume + np.random.default_rng(1).normal(0, 50, volume.shape), volume, axis=1)
    assert 10 < noisy.psnr < 40 and 0 < noisy.ssim < 1
