"""Volume <-> layer geometry: what napari draws must be where the volume is in LPS space."""

import numpy as np
import pytest
from napari.layers import Image

from napari_evai2i.io import Volume
from napari_evai2i.plugin.layers import (AXIS_LABELS, TAGS_KEY, difference_name, layer_to_volume, short_prompt,
                                         slab_geometry_kwargs, synthetic_name, volume_to_layer_kwargs)


def _rotation(degrees):
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, -1.0, 1.0]), _rotation(20)],
                         ids=["identity", "flipped", "oblique"])
def test_volume_layer_round_trip(direction):
    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    volume = Volume(array, spacing=(3.0, 1.5, 0.75), origin=(10.0, -20.0, 5.0), direction=direction,
                    tags={"Modality": "MR"})
    kwargs = volume_to_layer_kwargs(volume, "vol")
    layer = Image(**kwargs)

    assert [str(u) for u in layer.units] == ["millimeter"] * 3 and tuple(layer.axis_labels) == AXIS_LABELS
    np.testing.assert_allclose(layer.scale, volume.spacing)
    for index in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        expected = volume.world_affine_zyx() @ np.array([*index, 1.0])
        np.testing.assert_allclose(layer.data_to_world(index), expected[:3], atol=1e-9)
    assert layer.metadata[TAGS_KEY] == {"Modality": "MR"}

    back = layer_to_volume(layer)
    np.testing.assert_allclose(back.spacing, volume.spacing)
    np.testing.assert_allclose(back.origin, volume.origin, atol=1e-9)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-9)
    assert back.tags == volume.tags


def test_slab_overlays_its_slice_along_any_axis():
    volume = Volume(np.zeros((6, 7, 8), np.float32), spacing=(2, 1, 1), origin=(5, 6, 7),
                    direction=np.diag([-1.0, -1.0, 1.0]))
    layer = Image(**volume_to_layer_kwargs(volume))
    for axis, index in [(0, 3), (1, 2), (2, 5)]:
        shape = [6, 7, 8]
        shape[axis] = 1
        slab = Image(np.zeros(shape), **slab_geometry_kwargs(layer, axis, index))
        point = [1, 1, 1]
        point[axis] = 0
        full = list(point)
        full[axis] = index
        np.testing.assert_allclose(slab.data_to_world(point), layer.data_to_world(full))


def test_output_names_mark_synthetic_and_stay_short():
    prompt = ("A T2-weighted fluid-attenuated inversion recovery magnetic resonance imaging of the brain. "
              "TR 9000 ms.")
    assert short_prompt(prompt).startswith("T2-weighted fluid-attenuated")
    assert len(short_prompt(prompt)) <= 40
    # The marker comes first and the contrast is abbreviated: napari cuts long names in the middle.
    assert synthetic_name("T1w (simulated)", "A T2-weighted magnetic resonance imaging of the brain.") == \
        "SYNTHETIC T2w <- T1w (simulated)"
    assert synthetic_name("T1", prompt) == "SYNTHETIC FLAIR <- T1"
    assert difference_name("T1", "A T2-weighted magnetic resonance imaging.") == "SYNTHETIC diff T2w - T1"
    assert synthetic_name("T1", "A proton density weighted magnetic resonance imaging of the knee.") == \
        "SYNTHETIC PDw <- T1"
    # A prompt that names no known contrast keeps its (shortened) first sentence.
    odd = synthetic_name("T1", "Something a radiologist typed about an unusual acquisition, long enough to cut.")
    assert odd.startswith("SYNTHETIC Something a radiologist") and odd.endswith(" <- T1") and len(odd) < 60
