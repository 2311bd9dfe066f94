"""Loading the model after napari's OpenGL canvas exists must not crash the process.

Mesa's GL drivers map the system libLLVM; importing Triton (pulled in by torch._dynamo via
torchvision) after that segfaults. The plugin blocks the optional Triton import in that case.
"""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

SCRIPT = """
import numpy as np, napari
viewer = napari.Viewer(show=False)
viewer.add_image(np.zeros((4, 4)))              # creates the GL context (llvmpipe under Xvfb)
from napari_evai2i.plugin.torch_guard import guard_triton_import, llvm_loaded
print("blocked", guard_triton_import(), "llvm", llvm_loaded())
import torchvision                              # imports torch._dynamo, which probes for triton
from napari_evai2i.engine import load_model
print("loaded", load_model("tiny-random", "cpu").label)
"""


def test_model_loads_after_the_canvas_exists():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"rc {result.returncode}: {result.stderr[-2000:]}"
    assert "loaded tiny-random (UNTRAINED)" in result.stdout
