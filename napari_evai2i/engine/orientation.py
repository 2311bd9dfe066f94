"""Turn a volume's voxel axes to the orientation the model was trained in, and back.

Every slice the models saw was cut from the MNI152 template as nibabel stores it: index axes
``(i, j, k)`` run to the patient's Right, Anterior and Superior ("RAS"), so an axial slice of a
``(Z, Y, X)`` array has posterior at row 0 and the patient's left at column 0. Training varies
that pose by up to 20 degrees and mirrors left and right, but never turns a slice by 90 or 180
degrees or swaps its axes. A file stored otherwise (DICOM's LPS, FreeSurfer's LIA, a sagittal
acquisition) is therefore turned, by axis permutations and flips only (no resampling), to the
training axes before slicing, and the translation is turned back, voxel for voxel, to the
file's own layout. nibabel's orientation functions decide the turn; an oblique volume goes to
its nearest axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel.orientations import aff2axcodes, axcodes2ornt, io_orientation, ornt_transform

from ..io import Volume

#: Index-axis codes (i, j, k) of the training slices (the template's own storage).
TRAINING_AXCODES = ("R", "A", "S")


@dataclass(frozen=True)
class Reorientation:
    """How a ``(Z, Y, X)`` array is turned to the training axes: ``apply`` and ``undo`` give views."""

    #: nibabel orientation (3 x 2) of the turn on index axes (i, j, k): row c = (new axis, flip)
    transform: np.ndarray
    #: the volume's own axis codes, e.g. ("L", "P", "S"); None: not known or not used
    stored: tuple[str, str, str] | None

    @classmethod
    def of(cls, volume: Volume) -> Reorientation:
        affine = volume.affine_ras
        transform = ornt_transform(io_orientation(affine), axcodes2ornt(TRAINING_AXCODES))
        return cls(transform, tuple(str(c) for c in aff2axcodes(affine)))

    @classmethod
    def none(cls) -> Reorientation:
        """Slice the array as it is stored (its orientation is unknown, or the caller says so)."""
        return cls(np.array([[0, 1], [1, 1], [2, 1]], dtype=float), None)

    @property
    def turned(self) -> bool:
        """True when the network sees the array in other axes than it is stored in."""
        return not (np.all(self.transform[:, 0] == [0, 1, 2]) and np.all(self.transform[:, 1] == 1))

    def sentence(self) -> str:
        return (f"stored {''.join(self.stored)}, turned to the model's training axes "
                f"{''.join(TRAINING_AXCODES)} for translation and back")

    def _zyx(self) -> tuple[list[int], list[bool]]:
        """The turn on ``(Z, Y, X)`` arrays: training axis t holds stored axis ``order[t]``,
        reversed where ``flip[t]``."""
        order, flip = [0, 0, 0], [False, False, False]
        for c, (new, sign) in enumerate(self.transform):
            order[2 - int(new)] = 2 - c
            flip[2 - int(new)] = sign < 0
        return order, flip

    def apply(self, array: np.ndarray) -> np.ndarray:
        """The stored ``(Z, Y, X)`` array seen in training axes (a view)."""
        if not self.turned:
            return array
        order, flip = self._zyx()
        turned = np.transpose(array, order)
        return np.flip(turned, [t for t in range(3) if flip[t]]) if any(flip) else turned

    def undo(self, array: np.ndarray) -> np.ndarray:
        """An array in training axes seen in the stored layout (a view); ``undo(apply(a))`` is ``a``."""
        if not self.turned:
            return array
        order, flip = self._zyx()
        unflipped = np.flip(array, [t for t in range(3) if flip[t]]) if any(flip) else array
        return np.transpose(unflipped, np.argsort(order))

    def spacing(self, spacing: tuple[float, float, float]) -> tuple[float, float, float]:
        """Voxel sizes of the stored axes, in the order of the training-layout axes."""
        order, _ = self._zyx()
        return tuple(float(spacing[order[t]]) for t in range(3))

    def axis(self, stored_axis: int) -> int:
        """The training-layout axis that holds stored axis ``stored_axis``."""
        order, _ = self._zyx()
        return order.index(stored_axis)

    def describe(self) -> dict:
        if self.stored is None:
            return {"turned": False, "reorient": False}
        return {"stored": "".join(self.stored), "translated_in": "".join(TRAINING_AXCODES),
                "turned": self.turned}
