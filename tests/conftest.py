"""Shared fixtures: offline switches, small real volumes on disk, a real tiny checkpoint."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Fuzzing in CI: a bounded number of examples per property, no per-example deadline (a
# loaded 2-core machine is slow), and the same examples on every run (derandomize), so a
# failure reproduces. EVAI2I_FUZZ_EXAMPLES raises the count for a longer local run.
settings.register_profile("ci", max_examples=int(os.environ.get("EVAI2I_FUZZ_EXAMPLES", "60")), deadline=None,
                          derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A real checkpoint folder (untrained tiny model, marked trained=False) on disk."""
    from napari_evai2i.model import CheckpointInfo, create_model, save_pretrained

    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    return save_pretrained(create_model("tiny", seed=0), folder,
                           CheckpointInfo(trained=False, description="test checkpoint"))


@pytest.fixture
def brain_like_volume():
    """A small (Z, Y, X) volume with an ellipsoid 'head' and intensities in scanner units."""
    z, y, x = np.mgrid[0:10, 0:40, 0:36].astype(np.float32)
    inside = ((z - 5) / 5) ** 2 + ((y - 20) / 17) ** 2 + ((x - 18) / 15) ** 2 <= 1
    rng = np.random.default_rng(0)
    vol = np.where(inside, 800 + 200 * np.sin(x / 3) + rng.normal(0, 20, inside.shape), 0)
    return vol.astype(np.int16)


def _dicom_tool(name):
    """The path of a DICOM tool that ``.ci/setup_system.sh`` installs; skip, saying how, without it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; install it with `bash .ci/setup_system.sh` "
                    "(Debian/Ubuntu: apt-get install dicom3tools dcm2niix)")
    return path


class DicomValidator:
    """dciodvfy (the DICOM standard's validator, from dicom3tools) over every file of a series."""

    def __init__(self, executable):
        self.executable = executable

    def report(self, folder):
        lines = []
        for path in sorted(folder.glob("*.dcm")):
            run = subprocess.run([self.executable, str(path)], capture_output=True, text=True, timeout=60)
            lines += [f"{path.name}: {line}" for line in (run.stdout + run.stderr).splitlines() if line.strip()]
        return lines

    @staticmethod
    def errors(lines):
        return [line for line in lines if ": Error" in line]


@pytest.fixture(scope="session")
def dicom_validator():
    return DicomValidator(_dicom_tool("dciodvfy"))


@pytest.fixture(scope="session")
def dcm2niix():
    return _dicom_tool("dcm2niix")
