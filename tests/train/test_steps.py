"""The step functions compute losses and nothing else; the loop owns every update."""

import torch

from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.steps import discriminator_loss, generator_forward, generator_loss
from napari_evai2i.train.trainer import Trainer

QUICK = ["clip_steps=0", "init_steps=0", "finetune_steps=1", "gen_batch=2", "crop_size=32", "device=cpu",
         "w_adv=1", "w_clip=0.1", "triangle=true"]


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _unchanged(before, module):
    return all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_step_functions_leave_weights_and_optimisers_alone(tmp_path):
    trainer = Trainer(load_train_config(None, [f"out={tmp_path}", *QUICK]))
    trainer._prepare_stage("finetune")
    batch = next(trainer._batches("finetune", 0, trainer.cfg.gen_batch))
    model, rng = trainer.model, torch.Generator().manual_seed(0)
    before = _snapshot(model)

    forward = generator_forward(model, batch, trainer.cfg, trainer.device, trainer._perceptual,
                                finetune=True, rng=rng)
    assert forward.adversarial and forward.semantic
    disc = discriminator_loss(model, forward)
    out = generator_loss(model, forward, trainer.cfg)
    assert {"d_loss"} == set(disc.logs) and {"rec", "per", "con", "adv", "clip", "loss"} <= set(out.logs)
    assert _unchanged(before, model)
    assert all(not opt.state for opt in trainer.optimizers.values())      # no optimiser was stepped
    assert all(p.grad is None for p in model.parameters())                 # nor any backward run

    disc_before = _snapshot(model.discriminator)
    gen_before = _snapshot(model.generator)
    trainer._train_step("finetune", batch, 0)                              # the loop updates both
    assert not _unchanged(disc_before, model.discriminator)
    assert not _unchanged(gen_before, model.generator)
    assert trainer.optimizers["disc"].state and trainer.optimizers["gen"].state


def test_contrast_terms_add_their_weighted_gaps_to_the_generator_loss(tmp_path):
    """w_grey_white and w_csf_white add exactly their weights times the logged gaps."""
    quick = [f"out={tmp_path}", "clip_steps=0", "init_steps=1", "finetune_steps=0", "gen_batch=2", "crop_size=64",
             "device=cpu", "simulator=randomized", "triangle=false"]
    losses = {}
    for weights in ((0.0, 0.0), (30.0, 5.0)):
        trainer = Trainer(load_train_config(None, [*quick, f"w_grey_white={weights[0]}", f"w_csf_white={weights[1]}"]))
        trainer._prepare_stage("init")
        batch = next(trainer._batches("init", 0, trainer.cfg.gen_batch))
        torch.manual_seed(0)
        losses[weights] = generator_forward(trainer.model, batch, trainer.cfg, trainer.device, trainer._perceptual,
                                            finetune=False, rng=torch.Generator().manual_seed(0))
    plain, with_terms = losses[(0.0, 0.0)], losses[(30.0, 5.0)]
    assert "grey_white" not in plain.logs
    gaps = with_terms.logs["grey_white"], with_terms.logs["csf_white"]
    assert gaps[0] > 0 and gaps[1] > 0                # an untrained generator has the contrast wrong
    added = float((with_terms.loss - plain.loss).detach())
    assert abs(added - (30 * gaps[0] + 5 * gaps[1])) < 1e-4 * float(with_terms.loss.detach())
