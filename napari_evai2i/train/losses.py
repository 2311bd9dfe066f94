"""Losses of both training stages.

* :func:`multi_positive_contrastive_loss` -- DCLIP's SupCon-style loss over the joint set
  of image and text embeddings, with positives from the prompt match matrix, gathered
  across ranks.
* :func:`pixel_contrastive_loss` -- positions of two structure codes of one anatomy are
  positives of each other, every other position a negative.
* :func:`contrast_to_white_matter_loss` -- GM and CSF against WM in pure tissue, translation against target.
* :func:`lsgan_loss`, :class:`PerceptualLoss` (backends ``dclip``, ``vgg19``, ``none``),
  masked L1 and MSE helpers.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import gather_with_grad, rank_offset


def multi_positive_contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor,
                                    match: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """Supervised-contrastive loss over 2N unit embeddings [images; texts].

    ``match`` is the *global* (N_all, N_all) boolean matrix, ``match[i, j]`` meaning text i
    is a valid rendering of sample j's prompt; it is tiled over the image/text blocks so
    image-image, image-text, text-image and text-text pairs all count. The local rows are
    the anchors; every gathered item is a candidate.
    """
    n_local = image_emb.shape[0]
    images, texts = gather_with_grad(image_emb), gather_with_grad(text_emb)
    n_all = images.shape[0]
    if match.shape != (n_all, n_all):
        raise ValueError(f"match matrix {tuple(match.shape)} does not fit {n_all} gathered samples")
    items = torch.cat([images, texts])                                   # (2N, D)
    positives = match.to(items.device).float().repeat(2, 2)
    offset = rank_offset(n_local)
    rows = torch.cat([torch.arange(offset, offset + n_local),
                      torch.arange(n_all + offset, n_all + offset + n_local)]).to(items.device)
    anchors = items[rows]
    logits = anchors @ items.T / tau
    self_mask = torch.zeros_like(logits, dtype=torch.bool)
    self_mask[torch.arange(len(rows)), rows] = True
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = positives[rows].masked_fill(self_mask, 0.0)
    per_anchor = -(log_prob.masked_fill(self_mask, 0.0) * pos).sum(1) / pos.sum(1).clamp(min=1)
    return per_anchor.mean()


def pixel_contrastive_loss(code_a: torch.Tensor, code_b: torch.Tensor, mask: torch.Tensor,
                           tau: float = 0.07, max_positions: int = 1024,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """Same position in two codes of one anatomy = positive pair; other positions negatives.

    Positions are sampled uniformly at random among the foreground (the official code took
    the first 1,024 in raster order, which biases towards the top of the image).
    """
    b, c, h, w = code_a.shape
    mask = F.interpolate(mask.float(), size=(h, w), mode="nearest").flatten(1) > 0.5
    losses = []
    for i in range(b):
        idx = torch.nonzero(mask[i]).squeeze(1)
        if idx.numel() < 2:
            continue
        if idx.numel() > max_positions:
            perm = torch.randperm(idx.numel(), generator=generator)[:max_positions].to(idx.device)
            idx = idx[perm]
        a = F.normalize(code_a[i].flatten(1)[:, idx].T, dim=1)
        p = F.normalize(code_b[i].flatten(1)[:, idx].T, dim=1)
        logits = a @ p.T / tau
        target = torch.arange(len(idx), device=logits.device)
        losses.append(0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)))
    if not losses:
        return code_a.sum() * 0.0
    return torch.stack(losses).mean()


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    if mask is None:
        return (pred - target).abs().mean()
    return ((pred - target).abs() * mask).sum() / mask.expand_as(pred).sum().clamp(min=1)


def brain_ssim_loss(pred: torch.Tensor, target: torch.Tensor, brain: torch.Tensor) -> torch.Tensor:
    """1 - the mean SSIM inside ``brain`` (B, 1, H, W) of images each scaled so that its median
    inside the brain is 0.5: the held-out suite's SSIM (``train/robustness.py`` ``slice_scores``:
    the same scaling and window; the suite's mask is the parenchyma with some CSF) as a loss,
    blind to the image's level, which the pixel L1 sets."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    inside = brain.expand_as(pred).bool()
    items = [i for i in range(pred.shape[0]) if bool(inside[i].any())]
    if not items:
        return pred.sum() * 0
    scaled = [torch.stack([img[i] * (0.5 / img[i][inside[i]].median().clamp(min=1e-6)) for i in items])
              for img in (pred, target)]
    _, full = structural_similarity_index_measure(scaled[0], scaled[1], data_range=1.0, return_full_image=True)
    return 1 - full[inside[items]].mean()


def lsgan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


def tissue_loss(logits: torch.Tensor, fractions: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Soft-label cross-entropy of tissue logits (upsampled) against tissue fractions.

    ``weight`` (B, 1, H, W), optional: per-pixel weights, so rare classes are not averaged away.
    """
    logits = F.interpolate(logits, size=fractions.shape[-2:], mode="bilinear", align_corners=False)
    per_pixel = -(fractions * F.log_softmax(logits, dim=1)).sum(1, keepdim=True)
    return (per_pixel * weight).mean() if weight is not None else per_pixel.mean()


def pure_tissue_masks(fractions: torch.Tensor, lesion: torch.Tensor | None = None,
                      purity: float = 0.9) -> torch.Tensor:
    """(B, 3, H, W) float masks of pure GM, WM and CSF: one tissue fills at least ``purity`` of a pixel.

    ``fractions`` (B, 4, H, W): GM, WM, CSF, background (the items' ``tissue``); lesion pixels are
    left out of WM.
    """
    pure = fractions[:, :3] >= purity
    if lesion is not None:
        pure[:, 1] &= lesion[:, 0] < 0.01
    return pure.float()


def contrast_to_white_matter_loss(pred: torch.Tensor, target: torch.Tensor, pure: torch.Tensor,
                                  min_pixels: int = 16) -> torch.Tensor:
    """(2,): L1 between the translation's and the target's GM minus WM, and CSF minus WM, each
    tissue's level the mean over its pure pixels in one item (``pure``: :func:`pure_tissue_masks`).

    Why: the pixel L1 left FLAIR's grey-white contrast about half the physics' on every demo up to v6
    (model history, "Tried after v6"). Differences, not levels, so a global gain the source leaves
    uncertain does not take the gradient. GM and CSF come apart so each gets its own weight: with the
    GM term alone a pilot drew CSF nearer GM on T1w and T2w targets. Items with fewer than
    ``min_pixels`` pure pixels of a tissue or of WM are left out of that tissue's mean.
    """
    pure = pure.to(pred.dtype)
    counts = pure.sum((2, 3))
    p, t = ((pure * image).sum((2, 3)) / counts.clamp(min=1) for image in (pred, target))
    gaps = ((p - p[:, 1:2]) - (t - t[:, 1:2])).abs()[:, [0, 2]]          # GM, CSF
    valid = (counts[:, [0, 2]] >= min_pixels) & (counts[:, 1:2] >= min_pixels)
    weights = valid.to(gaps.dtype)
    return (gaps * weights).sum(0) / weights.sum(0).clamp(min=1)


class PerceptualLoss(nn.Module):
    """Feature distance between translation and target; the backend is a config choice.

    * ``dclip``: intermediate stages of our own frozen DCLIP image tower. Works offline
      and knows MR contrast (the default).
    * ``vgg19``: ImageNet VGG19 relu1_1..relu5_1 with average pooling, as the official
      recipe. Weights are used only when already present (``weights_path`` or torch's
      cache); nothing is downloaded.
    * ``none``: zero.
    """

    def __init__(self, backend: str = "dclip", image_tower: nn.Module | None = None,
                 weights_path: str | Path | None = None) -> None:
        super().__init__()
        self.backend = backend
        if backend == "dclip":
            if image_tower is None:
                raise ValueError("the dclip perceptual backend needs the DCLIP image tower")
            self.stem, self.stages = image_tower.stem, image_tower.stages
        elif backend == "vgg19":
            self.vgg = _load_vgg19(weights_path)
        elif backend != "none":
            raise ValueError(f"unknown perceptual backend {backend!r}: choose dclip, vgg19 or none")
        self.requires_grad_(False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.backend == "dclip":
            feats, h = [], self.stem(2 * x - 1)
            for stage in self.stages:
                h = stage(h)
                feats.append(h)
            return feats
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        h, feats = (x.expand(-1, 3, -1, -1) - mean) / std, []
        for layer in self.vgg:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                feats.append(h)
        return feats

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.backend == "none":
            return pred.sum() * 0.0
        total = pred.new_zeros(())
        for fp, ft in zip(self._features(pred), self._features(target)):
            total = total + F.mse_loss(fp, ft.detach())
        return total


def _load_vgg19(weights_path: str | Path | None) -> nn.Sequential:
    import torchvision

    model = torchvision.models.vgg19()
    path = Path(weights_path) if weights_path else Path(torch.hub.get_dir()) / "checkpoints" / "vgg19-dcbb9e9d.pth"
    if not path.is_file():
        raise ValueError(f"VGG19 ImageNet weights not found at {path}; they are never downloaded here. "
                         "Use perceptual=dclip or none, or give perceptual_weights=PATH")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:         # weights_only refuses code; its advice (weights_only=False) is not ours
        asked = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line.upper()), "")
        raise ValueError(f"{path}: not a plain file of weights; refused without running it"
                         f"{f' ({asked})' if asked else ''}. Give torchvision's vgg19-dcbb9e9d.pth, or use "
                         "perceptual=dclip or none") from None
    model.load_state_dict(state)
    layers = [nn.AvgPool2d(2) if isinstance(m, nn.MaxPool2d) else m for m in model.features[:30]]
    for m in layers:
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return nn.Sequential(*layers).eval()
