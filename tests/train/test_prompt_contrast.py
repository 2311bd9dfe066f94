"""w_prompt_contrast: the mixture head's GM-WM and CSF-WM against the item's physics, and the
gradient it sends to the prompt embeddings."""

import torch

from napari_evai2i.data.head import ALL_TISSUE_NAMES
from napari_evai2i.model import create_model
from napari_evai2i.model.generator import OUTPUT_GAIN
from napari_evai2i.train.steps import mixture_gap_to_wm, prompt_contrast_loss


def _values_matching(intensity: torch.Tensor) -> torch.Tensor:
    """Pure-tissue image values whose GM-WM and CSF-WM are what ``intensity`` (GM, WM, CSF, REST) draws."""
    values = torch.rand(intensity.shape[0], len(ALL_TISSUE_NAMES))
    wm = values[:, ALL_TISSUE_NAMES.index("WM")]
    for row, name in ((0, "GM"), (2, "CSF")):
        values[:, ALL_TISSUE_NAMES.index(name)] = wm + OUTPUT_GAIN * (intensity[:, row] - intensity[:, 1])
    return values


def test_the_loss_is_zero_at_the_physics_and_reaches_the_prompts():
    generator = create_model("tiny", seed=0).generator
    styles = torch.nn.functional.normalize(torch.randn(4, generator.config.style_dim), dim=-1)
    with torch.no_grad():
        values = _values_matching(generator.tissue_intensity(styles))
    torch.testing.assert_close(mixture_gap_to_wm(values, "GM") * OUTPUT_GAIN,
                               values[:, ALL_TISSUE_NAMES.index("GM")] - values[:, ALL_TISSUE_NAMES.index("WM")])
    with torch.no_grad():
        assert float(prompt_contrast_loss(generator, styles, values)) < 1e-5
    shifted = values.clone()
    shifted[:, ALL_TISSUE_NAMES.index("CSF")] += 0.1            # CSF 0.1 brighter than the head draws it
    styles.requires_grad_(True)
    loss = prompt_contrast_loss(generator, styles, shifted)
    assert abs(float(loss.detach()) - 0.1 / OUTPUT_GAIN) < 1e-4
    loss.backward()
    assert styles.grad is not None and styles.grad.abs().sum() > 0
