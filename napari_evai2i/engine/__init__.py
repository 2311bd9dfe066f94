"""Inference engine: intensity normalisation and the slice-wise volume translator."""

from .normalization import IntensityScale, fit_intensity_scale
from .translator import (BUILTIN_MODELS, TranslationCancelled, TranslationStep, Translator,
                         available_devices, load_model, resolve_device)

__all__ = [
    "BUILTIN_MODELS", "IntensityScale", "TranslationCancelled", "TranslationStep", "Translator",
    "available_devices", "fit_intensity_scale", "load_model", "resolve_device",
]
