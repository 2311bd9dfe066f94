"""The losses of each stage of the DCLIP and EVA recipes.

These functions compute losses (and so, through ``backward``, gradients) and nothing
else: the loop (:mod:`.trainer`) owns every optimiser, ``zero_grad``, gradient sync, clip,
step and schedule. A generator update therefore comes in three calls the loop puts in
order: :func:`generator_forward` (translations and the reconstruction-side terms),
:func:`discriminator_loss` (the loop then updates D), and :func:`generator_loss` (the
adversarial and semantic terms against the updated D). All randomness comes from the
``torch.Generator`` passed in, seeded from (seed, stage, step), which is what makes a
resumed run repeat an uninterrupted one exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data.head import ALL_TISSUE_NAMES, partial_csf
from ..data.simulated_dataset import match_matrix
from ..model import EVAModel
from ..model.config import TISSUE_CHANNELS
from ..model.generator import OUTPUT_GAIN
from ..prompts import tokenize
from .config import TrainConfig
from .distributed import gather_objects
from .losses import (PerceptualLoss, brain_ssim_loss, contrast_to_white_matter_loss, lsgan_loss, masked_l1,
                     multi_positive_contrastive_loss, pixel_contrastive_loss, pure_tissue_masks, tissue_loss)

ROLES = ("src", "tgt", "int")
ATLAS_PROMPT = "A T1-weighted magnetic resonance imaging of the brain."


@dataclass
class StepOutput:
    loss: torch.Tensor
    logs: dict[str, float]
    images: dict[str, torch.Tensor] | None = None


@dataclass
class GeneratorPass:
    """One generator forward: its loss so far, and what D and the adversarial terms need."""

    loss: torch.Tensor
    logs: dict[str, float]
    x_in: dict[str, torch.Tensor]
    fixed: dict[str, torch.Tensor]                       #: detached prompt embeddings (what D sees)
    fakes: dict[str, torch.Tensor]
    judged: list[tuple[torch.Tensor, torch.Tensor]]      #: (translation, its target prompt) pairs
    adversarial: bool                                    #: fine-tuning with a discriminator
    semantic: bool                                       #: the DCLIP semantic term applies
    images: dict[str, torch.Tensor] | None = None


def clip_step(model: EVAModel, batch: dict, cfg: TrainConfig, device: torch.device) -> StepOutput:
    """Stage 1: multi-positive contrastive loss over every (src, tgt, int) unit of the batch."""
    images = torch.cat([batch[f"{r}_in"] for r in ROLES]).to(device)
    texts = [t for r in ROLES for t in batch[f"{r}_text"]]
    fields = [f for r in ROLES for f in batch[f"{r}_fields"]]
    match = torch.from_numpy(match_matrix(gather_objects(texts), gather_objects(fields)))
    tokens = tokenize(texts, model.config.text.context_length).to(device)
    image_emb = model.dclip.encode_image(images)
    text_emb = model.dclip.encode_text(tokens)
    loss = multi_positive_contrastive_loss(image_emb, text_emb, match, cfg.tau)
    with torch.no_grad():
        top1 = (image_emb @ text_emb.T).argmax(1)
        hit = match[torch.arange(len(texts)), top1.cpu()].float().mean()
    return StepOutput(loss, {"loss": float(loss.detach()), "clip_top1": float(hit)})


def encode_texts(model: EVAModel, texts: list[str], device: torch.device, train_text: bool = True) -> torch.Tensor:
    """The generator's prompt styles (``EVAModel.prompt_styles``), differentiable in the
    generator's number map always and in the text tower when it trains."""
    return model.prompt_styles(texts, device, train_text=train_text)


@torch.no_grad()
def embed_texts(model: EVAModel, texts: list[str], device: torch.device) -> torch.Tensor:
    return encode_texts(model, texts, device)


def _pair_mask(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 except where exactly one of two aligned images has signal (the official mask)."""
    return 1.0 - ((a > 0) ^ (b > 0)).float()


def tissue_target(batch: dict, classes: int) -> torch.Tensor:
    """The tissue head's target in its channel layout (``model.config.TISSUE_CHANNELS``).

    Items carry GM, WM (lesions included), CSF and the rest, and a lesion map; a head with a
    LESION channel gets the lesions as a class of their own, taken out of WM.
    """
    tissue = torch.as_tensor(batch["tissue"])
    if classes == tissue.shape[1]:
        return tissue
    given, wanted = TISSUE_CHANNELS.get(tissue.shape[1]), TISSUE_CHANNELS.get(classes)
    if given is None or wanted is None or "LESION" in given or set(wanted) != set(given) | {"LESION"}:
        raise ValueError(f"no tissue target for a {classes}-class head from {tissue.shape[1]} channels")
    channels = {name: tissue[:, i:i + 1] for i, name in enumerate(given)}
    lesion = torch.as_tensor(batch["lesion"]) if "lesion" in batch else torch.zeros_like(channels["WM"])
    channels["LESION"] = torch.minimum(lesion, channels["WM"])
    channels["WM"] = channels["WM"] - channels["LESION"]
    return torch.cat([channels[name] for name in wanted], dim=1)


def lesion_weight(batch: dict, extra: float, device: torch.device) -> torch.Tensor | None:
    """Per-pixel weight 1 + ``extra`` x lesion fraction (None when there is nothing to weigh)."""
    if not extra or "lesion" not in batch:
        return None
    return 1.0 + extra * torch.as_tensor(batch["lesion"]).to(device)


def partial_csf_mask(batch: dict, device: torch.device) -> torch.Tensor:
    """Per-pixel 1 where the item's CSF is mixed into tissue (``data.head.partial_csf``), else 0.
    The CSF fraction is channel 2 of ``batch["tissue"]`` (GM, WM, CSF, rest)."""
    return partial_csf(torch.as_tensor(batch["tissue"])[:, 2:3]).float().to(device)


def mixture_gap_to_wm(tissue_values: torch.Tensor, name: str) -> torch.Tensor:
    """What the mixture head's ``name``-minus-WM intensity is for each item's physics
    (``tissue_values``: pure-tissue values of the clean image, in image units).

    The output is ``OUTPUT_GAIN`` x (decoder + mixture) + 0.5, so a tissue ``v_name - v_WM`` above
    WM in the image is that difference / ``OUTPUT_GAIN`` above WM in the mixture."""
    wm = tissue_values[:, ALL_TISSUE_NAMES.index("WM")]
    return (tissue_values[:, ALL_TISSUE_NAMES.index(name)] - wm) / OUTPUT_GAIN


def lesion_value_loss(generator, styles: torch.Tensor, tissue_values: torch.Tensor) -> torch.Tensor:
    """L1 between the mixture head's lesion-minus-WM intensity for each target prompt and the
    physics of its item (``tissue_values``: pure-tissue values of the clean target;
    :func:`mixture_gap_to_wm`). Only the head's
    own lesion row learns from it: WM's intensity, the shared layers and the prompts stay as the
    pixels taught them (a two-sided gap pulled WM down by 0.1 and cost SSIM). It gets a signal
    from every item, lesion pixels or not.
    """
    head = TISSUE_CHANNELS.get(generator.config.tissue_classes, ())
    if generator.tissue_intensity is None or "LESION" not in head:
        raise ValueError("w_lesion_value needs a generator with tissue_mixture and a LESION tissue class")
    shared, last = generator.tissue_intensity[:-1], generator.tissue_intensity[-1]
    row = head.index("LESION")
    with torch.no_grad():
        hidden = shared(styles)
        wm = last(hidden)[:, head.index("WM")]
    lesion = F.linear(hidden, last.weight[row:row + 1], last.bias[row:row + 1])[:, 0]
    return (lesion - wm - mixture_gap_to_wm(tissue_values.to(lesion), "LESION")).abs().mean()


def prompt_contrast_loss(generator, styles: torch.Tensor, tissue_values: torch.Tensor) -> torch.Tensor:
    """L1 between the mixture head's GM-minus-WM and CSF-minus-WM intensities for each prompt and
    the physics of its item (``tissue_values``: pure-tissue values of the clean image).

    Why: v6 drew every FLAIR at the family's mean contrast whatever its TI (the prompt embeddings
    of TI 1950 and 2500 ms had cosine 0.997); a pixel loss pays little for that. Here every prompt
    must say its own contrast, and with ``tune_text`` and embeddings that are not detached the
    gradient reaches the text tower. Differences, not levels: the absolute level is the pixels'.
    """
    head = TISSUE_CHANNELS.get(generator.config.tissue_classes, ())
    if generator.tissue_intensity is None or not {"GM", "WM", "CSF"} <= set(head):
        raise ValueError("w_prompt_contrast needs a generator with tissue_mixture and GM, WM, CSF tissue classes")
    intensity = generator.tissue_intensity(styles)
    values = tissue_values.to(intensity)
    wm = intensity[:, head.index("WM")]
    loss = intensity.new_zeros(())
    for name in ("GM", "CSF"):
        loss = loss + (intensity[:, head.index(name)] - wm - mixture_gap_to_wm(values, name)).abs().mean()
    return loss


def keep_loss(reference: torch.nn.Module, translation: torch.Tensor, source: torch.Tensor, target: torch.Tensor,
              source_style: torch.Tensor, known: torch.Tensor, mask: torch.Tensor, shapes) -> torch.Tensor:
    """L1 between ``translation`` and the frozen ``reference`` generator's translation of the same
    inputs and prompts, over the brain items (``shapes`` marks the items that are no brain)."""
    brains = torch.ones(source.shape[0], dtype=torch.bool) if shapes is None else ~torch.as_tensor(shapes)
    if not brains.any():
        return translation.sum() * 0
    brains = brains.to(translation.device)
    with torch.no_grad():
        kept = reference(source[brains], target[brains].detach(), source_style[brains].detach(), known[brains])
    return masked_l1(translation[brains], kept, mask[brains])


def generator_forward(model: EVAModel, batch: dict, cfg: TrainConfig, device: torch.device,
                      perceptual: PerceptualLoss, finetune: bool, rng: torch.Generator,
                      with_images: bool = False, reference: torch.nn.Module | None = None) -> GeneratorPass:
    """Stage 2 (init or fine-tune): every translation of the batch and the losses that need no D.

    ``reference``: the frozen starting generator that ``w_keep`` holds brain items' translations to."""
    G, D = model.generator, model.discriminator
    x = {r: batch[r].to(device) for r in ROLES}
    x_in = {r: batch[f"{r}_in"].to(device) for r in ROLES}
    # With ``tune_text`` the reconstruction losses also train the text tower, so prompts that
    # differ only in numbers (TE 30 vs 120 ms) get embeddings as different as their images.
    emb = {r: encode_texts(model, batch[f"{r}_text"], device, train_text=cfg.tune_text) for r in ROLES}
    fixed = {r: e.detach() for r, e in emb.items()}     # what D and the semantic term see
    paired_int = bool(batch["paired_int"].all()) if torch.is_tensor(batch["paired_int"]) else True
    b = x["src"].shape[0]
    m = _pair_mask(x["src"], x["tgt"])
    tri = cfg.triangle

    # Every first-hop translation in one batched forward (per-sample prompts).
    inputs = [x_in["src"], x_in["tgt"]] + ([x_in["src"]] if tri else [])
    targets = [emb["tgt"], emb["src"]] + ([emb["int"]] if tri else [])
    sources = [emb["src"], emb["tgt"]] + ([emb["src"]] if tri else [])
    n = len(inputs) * b
    known = torch.rand(n, generator=rng) < cfg.source_prompt_probability
    if "src_known" in batch:        # a source of random contrast has no prompt to give
        src_known = torch.as_tensor(batch["src_known"])
        known[:b] &= src_known
        if tri:
            known[2 * b:] &= src_known
    out, feats, tissue = G(torch.cat(inputs), torch.cat(targets), torch.cat(sources), known.to(device),
                           return_features=True)
    fakes = dict(zip(("s2t", "t2s", "s2i"), out.split(b)))
    codes = dict(zip(("src", "tgt", "src2"), feats[-1].split(b)))
    if tri:
        known2 = torch.rand(b, generator=rng) < cfg.source_prompt_probability    # int images are physics
        fakes["i2t"], feats_i, _ = G(fakes["s2i"].clamp(min=0), emb["tgt"], emb["int"], known2.to(device),
                                     return_features=True)
        codes["int"] = feats_i[-1]

    logs: dict[str, float] = {}
    weight = lesion_weight(batch, cfg.w_lesion, device)
    m_rec = m if weight is None else m * weight
    mixed_csf = partial_csf_mask(batch, device) if cfg.w_partial_csf else None
    if mixed_csf is not None:
        m_rec = m_rec * (1.0 + cfg.w_partial_csf * mixed_csf)
    rec = masked_l1(fakes["s2t"], x["tgt"], m_rec) + masked_l1(fakes["t2s"], x["src"], m_rec)
    per = perceptual(fakes["s2t"], x["tgt"]) + perceptual(fakes["t2s"], x["src"])
    if tri:
        rec = rec + masked_l1(fakes["i2t"], x["tgt"], m)
        per = per + perceptual(fakes["i2t"], x["tgt"])
        if paired_int:
            m_int = _pair_mask(x["src"], x["int"])
            rec = rec + masked_l1(fakes["s2i"], x["int"], m_int)
            per = per + perceptual(fakes["s2i"], x["int"])
        elif finetune and cfg.atlas:
            with torch.no_grad():
                atlas = embed_texts(model, [ATLAS_PROMPT], device)
                pseudo = G(G(x_in["src"], atlas).clamp(min=0), emb["int"]).clamp(min=0)
            rec = rec + masked_l1(fakes["s2i"], pseudo)

    m4 = F.interpolate(m, size=codes["src"].shape[-2:], mode="nearest")
    pairs = [("src", "tgt")] + ([("int", "tgt")] if tri else [])
    con = sum(cfg.w_con_code * (F.mse_loss(codes[a] * m4, codes[c].detach() * m4)
                                + F.mse_loss(codes[a].detach() * m4, codes[c] * m4)) for a, c in pairs)
    if cfg.w_pixel_contrast:
        con = con + cfg.w_pixel_contrast * sum(
            pixel_contrastive_loss(codes[a], codes[c], m, cfg.tau, generator=rng) for a, c in pairs)
    loss = cfg.w_rec * rec + cfg.w_per * per + cfg.w_con * con
    logs.update(rec=float(rec.detach()), per=float(per.detach()), con=float(con.detach()))

    if cfg.w_ssim:
        brain = (tissue_target(batch, 4)[:, :3].sum(1, keepdim=True) > 0.5).to(device) if "tissue" in batch else m > 0
        sim = brain_ssim_loss(fakes["s2t"], x["tgt"], brain)
        loss = loss + cfg.w_ssim * sim
        logs["ssim"] = float(sim.detach())

    if cfg.w_keep and reference is not None:
        m_keep = m if mixed_csf is None else m * (1.0 - mixed_csf)
        keep = keep_loss(reference, fakes["s2t"], x_in["src"], emb["tgt"], emb["src"], known[:b].to(device), m_keep,
                         batch.get("shapes"))
        loss = loss + cfg.w_keep * keep
        logs["keep"] = float(keep.detach())

    if cfg.w_tissue and tissue is not None and "tissue" in batch:
        target = torch.cat([tissue_target(batch, tissue.shape[1]).to(device)] * 2)
        weight = lesion_weight(batch, cfg.w_lesion_tissue, device)
        weight = None if weight is None else torch.cat([weight] * 2)
        code_logits = G.code_tissue([f[:2 * b] for f in feats])
        tis = tissue_loss(tissue[:2 * b], target, weight) + tissue_loss(code_logits, target, weight)
        loss = loss + cfg.w_tissue * tis
        logs["tissue"] = float(tis.detach())

    if (cfg.w_grey_white or cfg.w_csf_white) and "tissue" in batch:
        lesion = torch.as_tensor(batch["lesion"]).to(device) if "lesion" in batch else None
        pure = pure_tissue_masks(torch.as_tensor(batch["tissue"]).to(device), lesion)   # one anatomy, both sides
        gaps = (contrast_to_white_matter_loss(fakes["s2t"], x["tgt"], pure)
                + contrast_to_white_matter_loss(fakes["t2s"], x["src"], pure))
        loss = loss + cfg.w_grey_white * gaps[0] + cfg.w_csf_white * gaps[1]
        logs.update(grey_white=float(gaps[0].detach()), csf_white=float(gaps[1].detach()))

    if cfg.w_lesion_value and "tgt_tissue_values" in batch:
        lesion_value = lesion_value_loss(G, torch.cat([fixed["tgt"], fixed["src"]]),
                                         torch.cat([batch["tgt_tissue_values"], batch["src_tissue_values"]]))
        loss = loss + cfg.w_lesion_value * lesion_value
        logs["lesion_value"] = float(lesion_value.detach())

    if cfg.w_prompt_contrast and "tgt_tissue_values" in batch:
        contrast = prompt_contrast_loss(G, torch.cat([emb["tgt"], emb["src"]]),
                                        torch.cat([batch["tgt_tissue_values"], batch["src_tissue_values"]]).to(device))
        loss = loss + cfg.w_prompt_contrast * contrast
        logs["prompt_contrast"] = float(contrast.detach())

    judged = [(fakes["s2t"], fixed["tgt"]), (fakes["t2s"], fixed["src"])]
    if tri:
        judged += [(fakes["s2i"], fixed["int"]), (fakes["i2t"], fixed["tgt"])]
    images = None
    if with_images:
        images = {"source": x_in["src"][:4].detach(), "translation": fakes["s2t"][:4].detach(),
                  "target": x["tgt"][:4]}
    return GeneratorPass(loss, logs, x_in, fixed, fakes, judged,
                         adversarial=bool(finetune and D is not None and cfg.w_adv),
                         semantic=bool(finetune and cfg.w_clip and tri), images=images)


def discriminator_loss(model: EVAModel, step: GeneratorPass) -> StepOutput:
    """LSGAN: real images with their own prompt -> 1; translations, and real images shown
    with another domain's prompt (so D must read the prompt) -> 0."""
    D, x_in, emb = model.discriminator, step.x_in, step.fixed
    reals = [(x_in["tgt"], emb["tgt"]), (x_in["src"], emb["src"]), (x_in["int"], emb["int"])]
    wrong = [(x_in["tgt"], emb["src"])]
    loss = (sum(lsgan_loss(D(img, t), True) for img, t in reals) / len(reals)
            + sum(lsgan_loss(D(f.detach().clamp(min=0), t), False) for f, t in step.judged) / len(step.judged)
            + sum(lsgan_loss(D(img, t), False) for img, t in wrong) / len(wrong))
    return StepOutput(0.5 * loss, {"d_loss": float(loss.detach())})


def generator_loss(model: EVAModel, step: GeneratorPass, cfg: TrainConfig) -> StepOutput:
    """The generator's whole loss: the forward's terms, the adversarial term against the
    discriminator as it is now (after its update), and the DCLIP semantic term."""
    D, loss, logs = model.discriminator, step.loss, dict(step.logs)
    if step.adversarial:
        D.requires_grad_(False)                  # gradients reach G through D, not D itself
        adv = sum(lsgan_loss(D(f.clamp(min=0), t), True) for f, t in step.judged) / len(step.judged)
        D.requires_grad_(True)
        loss = loss + cfg.w_adv * adv
        logs["adv"] = float(adv.detach())
    if step.semantic:
        clip = -F.cosine_similarity(model.dclip.encode_image(step.fakes["s2i"].clamp(min=0)),
                                    step.fixed["int"]).mean()
        loss = loss + cfg.w_clip * clip
        logs["clip"] = float(clip.detach())
    logs["loss"] = float(loss.detach())
    return StepOutput(loss, logs, step.images)
