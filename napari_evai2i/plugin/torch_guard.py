"""Keep torch's optional Triton import from crashing napari on Mesa OpenGL.

napari draws with OpenGL. Mesa's drivers (llvmpipe, radeonsi) load the system
``libLLVM``; Triton's ``libtriton`` exports its own, incompatible LLVM symbols, so importing
``triton`` *after* the canvas exists kills the process with a segmentation fault. torch
imports triton as an optional extra (``torch._dynamo`` -> ``has_triton_package``), which
torchvision pulls in. Translation never compiles kernels, so when an LLVM is already
mapped and triton is not yet imported, we mark triton as absent (torch handles that as
"not installed"). The plugin reaches every module that imports torch through
:func:`engine_module`, which applies the guard first: the one gate, in one place.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_MAPS = "/proc/self/maps"


def llvm_loaded() -> bool:
    """True when a shared LLVM library is mapped into this process (Linux only)."""
    try:
        with open(_MAPS) as maps:
            return any("libLLVM" in line for line in maps)
    except OSError:
        return False


def guard_triton_import() -> bool:
    """Block ``import triton`` if it would clash with a loaded LLVM; True when blocked."""
    if "triton" in sys.modules or not sys.platform.startswith("linux"):
        return sys.modules.get("triton", 0) is None
    if not llvm_loaded():
        return False
    sys.modules["triton"] = None  # type: ignore[assignment]  # "import triton" -> ImportError
    return True


def engine_module(name: str) -> ModuleType:
    """``napari_evai2i.<name>`` (e.g. ``"engine.pipeline"``), imported behind the Triton guard.

    Plugin code imports torch-using modules only through this function, at the moment it
    needs them, so napari starts without torch and the guard can never be forgotten.
    """
    guard_triton_import()
    return importlib.import_module(f"napari_evai2i.{name}")
