"""A translation's memory is estimated and checked before anything is allocated."""

import resource

import numpy as np
import pytest

from napari_evai2i.engine import TranslationRequest, load_model
from napari_evai2i.engine.memory import (GIB, NotEnoughMemoryError, available_host_memory, check_memory)
from napari_evai2i.engine.pipeline import VolumeTranslation
from napari_evai2i.io import Volume

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_memory_mapped_volume_far_beyond_memory_is_refused_without_being_touched(tmp_path):
    shape = (4000, 4000, 4000)                       # 238 GiB of float32 on a sparse file
    path = tmp_path / "huge.raw"
    with open(path, "wb") as fh:
        fh.truncate(4 * shape[0] * shape[1] * shape[2])
    array = np.memmap(path, dtype=np.float32, mode="r", shape=shape)
    volume = Volume(array, spacing=(1, 1, 1), source_path=str(path))
    translator = load_model("tiny-random", "cpu")
    before = peak_rss_bytes()
    with pytest.raises(NotEnoughMemoryError) as caught:
        VolumeTranslation(volume, TranslationRequest(PROMPT, planes=1), translator)
    message = str(caught.value)
    assert message.startswith(f"{path}: translating needs about ") and "GiB is available" in message
    number, unit = message.split("needs about ")[1].split(" of memory")[0].split()
    needed = float(number) * {"GiB": 1, "TiB": 1024}[unit]
    assert needed >= 2 * 238                           # GiB: the output and a copy for writing, at least
    assert "planes=1" in message and "crop" in message
    assert peak_rss_bytes() - before < 200 * 1024**2   # refused before reading or allocating


def test_the_estimate_grows_with_planes_and_uncertainty_and_fits_small_volumes():
    translator = load_model("tiny-random", "cpu")
    data = np.random.default_rng(0).uniform(0, 100, (32, 32, 32)).astype(np.float32)
    volume = Volume(data, spacing=(1, 1, 1))
    one = VolumeTranslation(volume, TranslationRequest(PROMPT, planes=1), translator).memory
    three = VolumeTranslation(volume, TranslationRequest(PROMPT, planes=3), translator).memory
    spread = VolumeTranslation(volume, TranslationRequest(PROMPT, planes=3, uncertainty_passes=4), translator).memory
    assert len(VolumeTranslation(volume, TranslationRequest(PROMPT, planes=3), translator).plan.axes) == 3
    voxel_bytes = 4 * data.size
    assert one.host >= 2 * voxel_bytes and three.host >= one.host + 3 * voxel_bytes
    assert spread.host >= three.host + 3 * voxel_bytes
    assert three.host < 0.9 * available_host_memory()
    assert "3 plane outputs" in three.describe_host() and "model working set" in one.describe_host()


def test_check_memory_names_what_is_needed_available_and_what_to_do(brain_like_volume):
    translator = load_model("tiny-random", "cpu")
    volume = Volume(brain_like_volume.astype(np.float32), spacing=(1, 1, 1))
    estimate = VolumeTranslation(volume, TranslationRequest(PROMPT, planes=3), translator).memory
    check_memory(estimate, "v", host_available=2 * estimate.host)            # fits: nothing said
    with pytest.raises(NotEnoughMemoryError,
                       match=r"v: translating needs about .* but [0-9.]+ (bytes|KiB|MiB) is available"):
        check_memory(estimate, "v", host_available=estimate.host // 2)
    on_gpu = type(estimate)(host=1, device=3 * GIB, host_parts=(), device_type="cuda")
    with pytest.raises(NotEnoughMemoryError, match=r"one batch needs about 3\.0 GiB of GPU memory but 1\.0 GiB "
                                                   r"is free; use a smaller batch \(batch_size=1\)"):
        check_memory(on_gpu, "v", host_available=GIB, device_available=GIB)


def test_coarse_slices_are_counted_on_the_grid_the_network_sees():
    """2 mm slices reach the network on the 1 mm working grid, so the model's working set is that
    of slices twice as long a side: the same as for the volume drawn at 1 mm."""
    translator = load_model("tiny-random", "cpu")
    data = np.random.default_rng(0).uniform(0, 100, (16, 40, 40)).astype(np.float32)

    def working_set(volume):
        parts = dict(VolumeTranslation(volume, TranslationRequest(PROMPT, planes=1), translator).memory.host_parts)
        return parts["model working set"]

    coarse = working_set(Volume(data, spacing=(3.0, 2.0, 2.0)))
    fine = working_set(Volume(np.zeros((16, 80, 80), np.float32), spacing=(3.0, 1.0, 1.0)))
    assert coarse == fine > working_set(Volume(data, spacing=(3.0, 1.0, 1.0)))
