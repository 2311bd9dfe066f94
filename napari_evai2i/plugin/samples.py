"""Sample data: one simulated subject, made on this machine (nothing is downloaded).

The T1w scan is the volume to translate; the T2w and FLAIR scans of the same anatomy are
ground truths to compare a translation with (the Translate widget's reference). They are
added hidden, below the T1w layer, so the viewer opens on the input.
"""

from __future__ import annotations

from typing import Any

from .layers import volume_to_layer_kwargs

SOURCE_NAME = "T1w (simulated)"
TRUTH_NAMES = {"T2W": "T2w ground truth (simulated)", "FLAIR": "FLAIR ground truth (simulated)"}


def simulated_brain() -> list[tuple[Any, dict, str]]:
    """The 1 mm subject (189 x 233 x 197 voxels)."""
    return _subject(1)


def simulated_brain_2mm() -> list[tuple[Any, dict, str]]:
    """The same subject at 2 mm: eight times fewer voxels, for slow CPUs and quick tries."""
    return _subject(2)


def _subject(resolution_mm: int) -> list[tuple[Any, dict, str]]:
    from .torch_guard import engine_module

    volumes = engine_module("data.samples").sample_volumes(resolution_mm)   # the simulator imports torch
    layers = []
    for kind, name in TRUTH_NAMES.items():
        layers.append(_layer(volumes[kind], name, visible=False))
    layers.append(_layer(volumes["T1W"], SOURCE_NAME, visible=True))
    return layers


def _layer(volume, name: str, visible: bool) -> tuple[Any, dict, str]:
    kwargs = volume_to_layer_kwargs(volume, name)
    kwargs["visible"] = visible
    kwargs["colormap"] = "gray"
    data = kwargs.pop("data")
    return data, kwargs, "image"
