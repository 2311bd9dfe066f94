"""Inference engine: intensity normalisation, the volume translator and the one translation pipeline.

Names are imported on first use, so ``import napari_evai2i.engine.request`` (or anything
that only needs plain values) does not pull in torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "IntensityScale": "normalization", "fit_intensity_scale": "normalization",
    "BUILTIN_MODELS": "translator", "PRECISIONS": "translator", "TranslationCancelled": "translator",
    "TranslationStep": "translator", "Translator": "translator", "available_devices": "translator",
    "load_model": "translator", "resolve_device": "translator",
    "PromptMix": "request", "TranslationRequest": "request",
    "TranslatedVolume": "pipeline", "VolumeTranslation": "pipeline", "translate_volume": "pipeline",
    "write_translation": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
