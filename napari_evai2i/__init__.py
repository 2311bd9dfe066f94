"""napari-evai2i: prompt-driven MR image-to-image translation (EVA-I2I) for napari and scripts.

Importing the package is cheap: torch and the model are imported only when
:func:`load_model` is called, so napari starts fast and plugin discovery stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_model", "Translator"]


def __getattr__(name: str):
    # Lazy re-exports keep `import napari_evai2i` free of torch.
    if name in ("load_model", "Translator"):
        from .engine import translator

        return getattr(translator, name)
    raise AttributeError(f"module 'napari_evai2i' has no attribute {name!r}")
