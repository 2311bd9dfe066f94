"""Loss functions against direct, loop-based implementations of their definitions."""

import math

import pytest
import torch
import torch.nn.functional as F

from napari_evai2i.train.losses import (PerceptualLoss, multi_positive_contrastive_loss,
                                        pixel_contrastive_loss)


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
