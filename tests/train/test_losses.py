"""Loss functions against direct, loop-based implementations of their definitions."""

import math

import pytest
import torch
import torch.nn.functional as F

from napari_evai2i.train.losses import (PerceptualLoss, contrast_to_white_matter_loss,
                                        multi_positive_contrastive_loss, pixel_contrastive_loss,
                                        pure_tissue_masks)


def _reference_supcon(images, texts, match, tau):
    """SupCon over [images; texts] written out anchor by anchor."""
    items = torch.cat([images, texts])
    n = images.shape[0]
    total = []
    for a in range(2 * n):
        others = [k for k in range(2 * n) if k != a]
        denom = torch.logsumexp(torch.stack([items[a] @ items[k] / tau for k in others]), 0)
        positives = [p for p in others if match[a % n, p % n]]
        total.append(-sum(items[a] @ items[p] / tau - denom for p in positives) / len(positives))
    return torch.stack(total).mean()


def test_multi_positive_loss_matches_its_definition():
    torch.manual_seed(0)
    images = F.normalize(torch.randn(5, 8), dim=1)
    texts = F.normalize(torch.randn(5, 8), dim=1)
    match = torch.eye(5, dtype=torch.bool)
    match[0, 3] = match[2, 4] = match[4, 2] = True          # asymmetric, as the prompt rule is
    ours = multi_positive_contrastive_loss(images, texts, match, tau=0.07)
    assert torch.allclose(ours, _reference_supcon(images, texts, match, 0.07), atol=1e-4)


def test_aligned_embeddings_give_a_lower_loss():
    torch.manual_seed(1)
    base = F.normalize(torch.randn(6, 16), dim=1)
    match = torch.eye(6, dtype=torch.bool)
    aligned = multi_positive_contrastive_loss(base, base, match)
    shuffled = multi_positive_contrastive_loss(base, base[torch.randperm(6)], match)
    assert aligned < shuffled


def test_match_matrix_size_is_checked():
    x = F.normalize(torch.randn(3, 4), dim=1)
    with pytest.raises(ValueError, match="does not fit"):
        multi_positive_contrastive_loss(x, x, torch.eye(4, dtype=torch.bool))


def test_pixel_contrastive_prefers_matching_codes():
    torch.manual_seed(2)
    code = torch.randn(2, 8, 6, 6)
    mask = torch.ones(2, 1, 12, 12)
    same = pixel_contrastive_loss(code, code, mask)
    other = pixel_contrastive_loss(code, torch.randn(2, 8, 6, 6), mask)
    assert same < other
    assert other > math.log(36) * 0.5           # near chance for unrelated codes
    empty = pixel_contrastive_loss(code, code, torch.zeros(2, 1, 12, 12))
    assert float(empty) == 0.0


def test_perceptual_backends(tmp_path):
    from napari_evai2i.model import create_model

    tower = create_model("tiny").dclip.image
    loss = PerceptualLoss("dclip", tower)
    x = torch.rand(2, 1, 64, 64)
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, torch.rand(2, 1, 64, 64))) > 0
    assert not any(p.requires_grad for p in loss.parameters())
    assert float(PerceptualLoss("none")(x, x + 1)) == 0.0
    with pytest.raises(ValueError, match="never downloaded"):
        PerceptualLoss("vgg19", weights_path=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="unknown perceptual backend"):
        PerceptualLoss("alexnet")


def test_contrast_to_white_matter_loss_scores_gm_and_csf_against_wm_by_a_loop():
    g = torch.Generator().manual_seed(3)
    fractions = torch.rand(3, 4, 12, 12, generator=g) * 0.5     # mixed pixels: no tissue pure
    fractions[:, :, :4] = torch.tensor([0.95, 0.05, 0.0, 0.0])[:, None, None]    # pure GM on top,
    fractions[:, :, 4:8] = torch.tensor([0.05, 0.95, 0.0, 0.0])[:, None, None]   # then pure WM,
    fractions[0, :, 8:10] = torch.tensor([0.0, 0.0, 1.0, 0.0])[:, None, None]    # item 0: pure CSF
    fractions[2, :, 4:8] = torch.tensor([0.0, 0.0, 1.0, 0.0])[:, None, None]     # item 2: CSF, no WM
    lesion = torch.zeros(3, 1, 12, 12)
    lesion[1, 0, 6:8, :] = 1.0          # item 1: a lesion inside its WM, left out of WM's mean
    pred, target = torch.rand(3, 1, 12, 12, generator=g), torch.rand(3, 1, 12, 12, generator=g)
    expected: dict[int, list] = {0: [], 2: []}
    for b in range(3):
        pure = [fractions[b, k] >= 0.9 for k in range(3)]
        pure[1] = pure[1] & (lesion[b, 0] < 0.01)
        for k in expected:
            if pure[k].sum() >= 16 and pure[1].sum() >= 16:
                gap = lambda x: x[b, 0][pure[k]].mean() - x[b, 0][pure[1]].mean()    # noqa: E731
                expected[k].append((gap(pred) - gap(target)).abs())
    assert [len(v) for v in expected.values()] == [2, 1]    # item 2 has no WM to compare with
    assert torch.allclose(contrast_to_white_matter_loss(pred, target, pure_tissue_masks(fractions, lesion)),
                          torch.stack([torch.stack(v).mean() for v in expected.values()]))
    # a flattened contrast costs; the right contrast at another gain costs nothing
    gm_px, wm_px = fractions[:2, 0:1] >= 0.9, fractions[:2, 1:2] >= 0.9
    sharp = target[:2].clone()
    sharp[gm_px], sharp[wm_px] = 0.7, 0.4
    flat, brighter = sharp.clone(), sharp + 0.1
    flat[gm_px], flat[wm_px] = 0.6, 0.5
    assert torch.isclose(contrast_to_white_matter_loss(flat, sharp, pure_tissue_masks(fractions[:2]))[0], torch.tensor(0.2))
    assert contrast_to_white_matter_loss(brighter, sharp, pure_tissue_masks(fractions[:2])).max() < 1e-6


def test_brain_ssim_loss_is_the_suites_score_blind_to_level_and_trains_contrast():
    import numpy as np

    from napari_evai2i.train.losses import brain_ssim_loss
    from napari_evai2i.train.robustness import slice_scores

    torch.manual_seed(0)
    target = F.avg_pool2d(torch.rand(2, 1, 48, 48), 5, 1, 2) + 0.2
    brain = torch.zeros(2, 1, 48, 48, dtype=torch.bool)
    brain[..., 8:40, 8:40] = True
    assert brain_ssim_loss(target, target, brain).item() == pytest.approx(0.0, abs=1e-6)
    flat = (0.5 * (target - target.mean()) + target.mean()).requires_grad_(True)   # the contrast halved
    loss = brain_ssim_loss(flat, target, brain)
    assert loss.item() > 0.01
    assert brain_ssim_loss(3 * flat, target, brain).item() == pytest.approx(loss.item(), rel=1e-5)   # level-blind
    loss.backward()
    assert flat.grad.abs().sum() > 0
    suite = np.mean([slice_scores(flat[i, 0].detach().numpy(), target[i, 0].numpy(), brain[i, 0].numpy())["ssim"]
                     for i in range(2)])
    assert 1 - loss.item() == pytest.approx(suite, abs=0.02)     # the held-out suite's number, near enough
    assert brain_ssim_loss(flat, target, torch.zeros_like(brain)).item() == 0.0
