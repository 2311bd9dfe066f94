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
from napari_evai2i.plugin.torch_guard import engine_module, llvm_loaded
print("llvm", llvm_loaded(), "torch before the gate", "torch" in __import__("sys").modules)
translator = engine_module("engine.translator")     # the plugin's one way in: guard, then import
import torchvision                              # imports torch._dynamo, which probes for triton
print("loaded", translator.load_model("tiny-random", "cpu").label)
"""


def test_model_loads_after_the_canvas_exists():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"rc {result.returncode}: {result.stderr[-2000:]}"
    assert "loaded tiny-random (UNTRAINED)" in result.stdout
    assert "torch before the gate False" in result.stdout          # napari itself never pulled torch in
