"""Turning volumes to the training axes: every storage order gives the same translation in space."""

from __future__ import annotations

import itertools

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import aff2axcodes, apply_orientation, inv_ornt_aff

from napari_evai2i.engine import load_model
from napari_evai2i.engine.orientation import TRAINING_AXCODES, Reorientation
from napari_evai2i.engine.pipeline import VolumeTranslation
from napari_evai2i.engine.request import TranslationRequest
from napari_evai2i.io import Volume, read_volume

PROMPT = "A T2-weighted magnetic resonance imaging of the brain."


def _all_directions():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((-1.0, 1.0), repeat=3):
            direction = np.zeros((3, 3))
            direction[list(perm), [0, 1, 2]] = signs
            yield direction


def _codes(direction) -> str:
    return "".join(aff2axcodes(Volume(np.zeros((1, 1, 1)), (1.0, 1.0, 1.0), direction=direction).affine_ras))


@pytest.mark.parametrize("direction", list(_all_directions()), ids=_codes)
def test_the_turn_lands_in_the_training_axes_and_undoes_exactly(direction):
    array = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    volume = Volume(array, spacing=(3.0, 2.0, 1.0), direction=direction)
    turn = Reorientation.of(volume)
    turned = turn.apply(array)
    reference = apply_orientation(array.transpose(2, 1, 0), turn.transform).transpose(2, 1, 0)
    np.testing.assert_array_equal(turned, reference)
    ijk_shape = array.shape[::-1]
    assert aff2axcodes(volume.affine_ras @ inv_ornt_aff(turn.transform, ijk_shape)) == TRAINING_AXCODES
    np.testing.assert_array_equal(turn.undo(turned), array)
    for axis in range(3):
        assert turned.shape[turn.axis(axis)] == array.shape[axis]
        assert turn.spacing(volume.spacing)[turn.axis(axis)] == volume.spacing[axis]


def _nifti(path, array_zyx, affine_ras):
    nib.save(nib.Nifti1Image(np.ascontiguousarray(array_zyx.transpose(2, 1, 0)), affine_ras), str(path))
    return read_volume(path)


def test_one_head_stored_three_ways_reads_back_as_one_array_in_the_training_axes(tmp_path, brain_like_volume):
    ras = _nifti(tmp_path / "ras.nii.gz", brain_like_volume, np.diag([1.0, 1.0, 2.0, 1.0]))
    assert not Reorientation.of(ras).turned
    # the same voxels in space, stored LPS (x and y reversed) and LIA-like (axes swapped, reversed)
    lps = _nifti(tmp_path / "lps.nii.gz", brain_like_volume[:, ::-1, ::-1],
                 np.array([[-1.0, 0, 0, 35], [0, -1.0, 0, 39], [0, 0, 2.0, 0], [0, 0, 0, 1]]))
    swapped = np.ascontiguousarray(brain_like_volume.transpose(1, 0, 2)[::-1])        # (Y, Z, X), y reversed
    lia = _nifti(tmp_path / "lia.nii.gz", swapped,
                 np.array([[1.0, 0, 0, 0], [0, 0, -1.0, 39], [0, 2.0, 0, 0], [0, 0, 0, 1]]))
    for stored, codes in ((lps, "LPS"), (lia, "RSP")):
        turn = Reorientation.of(stored)
        assert turn.turned and "".join(turn.stored) == codes
        np.testing.assert_array_equal(turn.apply(stored.array), ras.array)


def test_the_engine_translates_every_storage_alike_and_undoes_it(tmp_path, brain_like_volume):
    translator = load_model("tiny-random", "cpu")
    ras = _nifti(tmp_path / "ras.nii.gz", brain_like_volume, np.diag([1.0, 1.0, 2.0, 1.0]))
    lps = _nifti(tmp_path / "lps.nii.gz", brain_like_volume[:, ::-1, ::-1],
                 np.array([[-1.0, 0, 0, 35], [0, -1.0, 0, 39], [0, 0, 2.0, 0], [0, 0, 0, 1]]))
    request = TranslationRequest(PROMPT, model="tiny-random", planes=1)
    expected = VolumeTranslation(ras, request, translator).run().volume.array
    job = VolumeTranslation(lps, request, translator)
    result = job.run()
    assert result.volume.array.shape == lps.array.shape
    np.testing.assert_allclose(result.volume.array[:, ::-1, ::-1], expected, rtol=1e-5, atol=1e-3)
    assert result.provenance["orientation"] == {"stored": "LPS", "translated_in": "RAS", "turned": True}
    preview = job.translate_slice(3)
    np.testing.assert_allclose(preview[0], result.volume.array[3], rtol=1e-5, atol=1e-3)
    # Sliced as stored instead, the network sees every slice turned by 180 degrees: another image.
    as_stored = VolumeTranslation(lps, TranslationRequest(PROMPT, model="tiny-random", planes=1, reorient=False),
                                  translator).run()
    assert as_stored.provenance["orientation"]["turned"] is False
    assert np.abs(as_stored.volume.array[:, ::-1, ::-1] - expected).max() > 10 * 1e-3
