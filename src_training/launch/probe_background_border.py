"""Does a background border around a small slice help? (tried, not adopted: docs/model_history.md)

Held-out simulated crops inside the brain (the robustness suite's cases, no source prompt),
translated as they are and inside a zero (background) border that makes them at least
CANVAS pixels a side, then cropped back; mean SSIM / tissue Dice over 6 cases per task.

    python src_training/launch/probe_background_border.py
"""

from __future__ import annotations

import numpy as np

from napari_evai2i.engine import load_model
from napari_evai2i.train.robustness import TASKS, HeldOutCase, mean_scores, slice_scores

CROPS_MM = ((80.0, 96.0), (56.0, 64.0), (40.0, 48.0))
CANVASES = (0, 64, 96, 128)


def translate_in_border(translator, case: dict, canvas: int) -> np.ndarray:
    image = case["src"]
    scale = translator.fit_scale(image, spacing=(case["pixel_mm"],) * 2)
    h, w = image.shape
    ph, pw = max(canvas - h, 0), max(canvas - w, 0)
    padded = np.pad(scale.normalize(image), ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    out = translator.translate_slices(padded[None], translator.bind(case["tgt_protocol"].prompt(case["plane"])))
    return scale.denormalize(out[0, ph // 2:ph // 2 + h, pw // 2:pw // 2 + w])


def main() -> None:
    translator = load_model("demo", "cpu")
    for crop in CROPS_MM:
        for canvas in CANVASES:
            cells = []
            for task, (src, tgt) in TASKS.items():
                rows = []
                for i in range(6):
                    case = HeldOutCase(i, 160).render(src, tgt, whole_head=True, crop_mm=crop)
                    rows.append(slice_scores(translate_in_border(translator, case, canvas), case["tgt"], case["brain"]))
                m = mean_scores(rows, 3)
                cells.append(f"{task} {m['ssim']:.3f}/{m['dice']:.3f}")
            print(f"crop {crop[0]:g}x{crop[1]:g} mm, canvas {canvas}: " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
