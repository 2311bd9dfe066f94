"""Shared fixtures: offline switches, small real volumes on disk, a real tiny checkpoint."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil
import subprocess

import numpy as np
import pytest


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


@pytest.fixture(scope="session")
def dicom_validator():
    """``report(folder)``: dciodvfy's lines (the DICOM standard's validator) for each file of a series."""
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        pytest.skip("dciodvfy is not installed; install it with `bash .ci/setup_system.sh` "
                    "(Debian/Ubuntu: apt-get install dicom3tools dcm2niix)")

    def report(folder):
        lines = []
        for path in sorted(folder.glob("*.dcm")):
            run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60)
            lines += [f"{path.name}: {line}" for line in (run.stdout + run.stderr).splitlines() if line.strip()]
        return lines

    return report
