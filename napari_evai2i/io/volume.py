"""A 3-D image array that carries its geometry, and the one place where LPS/RAS is handled.

Conventions (every other module, the engine and the napari plugin rely on them):

* ``array`` is indexed ``[k, j, i]``, i.e. axes ordered (Z, Y, X). ``i`` runs along DICOM
  rows (column index), ``j`` along DICOM columns (row index), ``k`` across slices.
* ``spacing`` is in mm and follows the array: ``(sz, sy, sx)``.
* ``origin`` and ``direction`` follow ITK/DICOM: ``origin`` is the LPS position (mm) of voxel
  ``(i, j, k) = (0, 0, 0)`` written as physical ``(x, y, z)``; column ``c`` of ``direction`` is
  the LPS unit vector along index axis ``c`` with index axes ordered ``(i, j, k)``.
* Physical space is DICOM/ITK **LPS** (x to the patient's Left, y Posterior, z Superior).
  NIfTI/nibabel use **RAS**; the two differ by negating x and y (``_LPS_TO_RAS`` below) and
  nowhere else in the package is that flip written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pydicom is only needed for the annotation
    import pydicom

__all__ = ["Volume"]

#: Multiplying an LPS affine by this on the left gives the RAS affine (and vice versa).
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: Reverses the order of the three spatial coordinates of a homogeneous 4-vector.
_REVERSE_XYZ = np.array(
    [[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
#: How far ``direction.T @ direction`` may be from the identity (float32 headers, 6-decimal
#: DICOM cosines and the like stay far below it; a sheared affine does not).
_ORTHONORMAL_TOL = 1e-3
#: A direction whose cosines are all within this of 0 or +-1 counts as axis-aligned.
_OBLIQUE_TOL = 1e-4


def _triple(name: str, value: Any) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in np.asarray(value, dtype=float).ravel())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Volume {name} must be 3 numbers, got {value!r}") from exc
    if len(values) != 3:
        raise ValueError(f"Volume {name} must be 3 numbers, got {len(values)}: {value!r}")
    if not all(np.isfinite(values)):
        raise ValueError(f"Volume {name} must be finite, got {values}")
    return values  # type: ignore[return-value]


@dataclass(eq=False, repr=False)
class Volume:
    """A (Z, Y, X) array with its physical geometry and series tags.

    Parameters
    ----------
    array
        Voxel values, shape ``(nz, ny, nx)``, indexed ``[k, j, i]``.
    spacing
        Voxel size in mm in array order ``(sz, sy, sx)``.
    origin
        LPS position in mm of voxel index ``(0, 0, 0)``, as physical ``(x, y, z)``.
    direction
        3x3 direction cosines, ITK convention: column ``c`` is the LPS unit vector of index
        axis ``c`` with index axes ordered ``(i, j, k)`` = ``(x, y, z)``.
    tags
        DICOM keyword -> JSON-serialisable value for the whole series (empty for NIfTI,
        MHA...). Per-slice values (positions, instance numbers, rescale) are not kept.
    reference_dataset
        Header of the first DICOM slice/file (PixelData removed), used to write derived series.
    source_path
        File or folder the volume (or the volume it was derived from) was read from. Writers
        refuse to overwrite it.
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    tags: dict[str, Any] = field(default_factory=dict)
    reference_dataset: pydicom.Dataset | None = None
    source_path: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.array, np.ndarray):
            raise ValueError(f"Volume array must be a numpy.ndarray, got {type(self.array).__name__}")
        if self.array.ndim != 3:
            raise ValueError(
                f"Volume array must be 3-D (Z, Y, X), got {self.array.ndim}-D shape {self.array.shape}"
            )
        if min(self.array.shape) < 1:
            raise ValueError(f"Volume array must not be empty, got shape {self.array.shape}")
        self.spacing = _triple("spacing", self.spacing)
        if not all(s > 0 for s in self.spacing):
            raise ValueError(f"Volume spacing must be positive (mm), got {self.spacing}")
        self.origin = _triple("origin", self.origin)
        direction = np.array(self.direction, dtype=np.float64)
        if direction.shape != (3, 3):
            raise ValueError(f"Volume direction must be a 3x3 matrix, got shape {direction.shape}")
        if not np.all(np.isfinite(direction)):
            raise ValueError(f"Volume direction must be finite, got {direction.tolist()}")
        error = np.abs(direction.T @ direction - np.eye(3)).max()
        if error > _ORTHONORMAL_TOL:
            raise ValueError(
                "Volume direction must be orthonormal (columns are unit vectors at right angles); "
                f"max |D^T D - I| = {error:.3g} for {np.round(direction, 6).tolist()}"
            )
        self.direction = direction
        if not isinstance(self.tags, Mapping):
            raise ValueError(f"Volume tags must be a mapping, got {type(self.tags).__name__}")
        self.tags = dict(self.tags)
        if self.source_path is not None:
            self.source_path = str(self.source_path)

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, dtype={self.array.dtype}, spacing={self.spacing}, "
            f"origin={self.origin}, oblique={self.is_oblique}, source_path={self.source_path!r})"
        )

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(nz, ny, nx)``."""
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing_xyz(self) -> tuple[float, float, float]:
        """Spacing in index-axis order ``(sx, sy, sz)`` (the order ITK and NIfTI use)."""
        return self.spacing[::-1]

    @property
    def affine_lps(self) -> np.ndarray:
        """4x4 matrix mapping ``(i, j, k, 1)`` (X, Y, Z index) to LPS mm."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction * np.asarray(self.spacing_xyz)[None, :]
        affine[:3, 3] = self.origin
        return affine

    @property
    def affine_ras(self) -> np.ndarray:
        """4x4 nibabel-style affine mapping ``(i, j, k, 1)`` to RAS mm.

        It goes with the nibabel data array ``volume.array.transpose(2, 1, 0)``.
        """
        return _LPS_TO_RAS @ self.affine_lps

    def world_affine_zyx(self) -> np.ndarray:
        """4x4 affine for napari: ``(k, j, i, 1)`` array index -> ``(z, y, x, 1)`` LPS mm.

        This is :attr:`affine_lps` with both the index and the world axes reversed, so a
        napari layer with ``data=volume.array`` and ``affine=volume.world_affine_zyx()``
        sits in LPS space with world axes ordered ``(z, y, x)``; any two volumes placed this way
        overlay where they overlap physically. For an axial, axis-aligned scan napari then
        draws the patient's left on the right of the screen and anterior at the top
        (radiological view).
        """
        return _REVERSE_XYZ @ self.affine_lps @ _REVERSE_XYZ

    @property
    def is_oblique(self) -> bool:
        """True when some index axis is not aligned with an LPS axis."""
        magnitudes = np.abs(self.direction)
        return bool(np.abs(magnitudes - np.round(magnitudes)).max() > _OBLIQUE_TOL)

    # ------------------------------------------------------------------ constructors
    def with_array(self, array: np.ndarray) -> Volume:
        """Same geometry, tags, reference dataset and source path with new voxel values."""
        array = np.asarray(array)
        if array.shape != self.array.shape:
            raise ValueError(
                f"with_array: new array shape {array.shape} differs from the volume's shape "
                f"{self.array.shape}"
            )
        return Volume(
            array=array,
            spacing=self.spacing,
            origin=self.origin,
            direction=self.direction.copy(),
            tags=dict(self.tags),
            reference_dataset=self.reference_dataset,
            source_path=self.source_path,
        )

    @classmethod
    def from_lps_affine(
        cls,
        array_zyx: np.ndarray,
        affine_lps: np.ndarray,
        tags: Mapping[str, Any] | None = None,
        *,
        source_path: str | None = None,
    ) -> Volume:
        """Build a volume from a (Z, Y, X) array and a 4x4 ``(i, j, k)`` -> LPS affine."""
        affine_lps = np.asarray(affine_lps, dtype=np.float64)
        if affine_lps.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got shape {affine_lps.shape}")
        linear = affine_lps[:3, :3]
        spacing_xyz = np.linalg.norm(linear, axis=0)
        if not np.all(spacing_xyz > 0):
            raise ValueError(f"affine has a zero-length axis: {affine_lps.tolist()}")
        return cls(
            array=np.asarray(array_zyx),
            spacing=tuple(spacing_xyz[::-1]),
            origin=tuple(affine_lps[:3, 3]),
            direction=linear / spacing_xyz[None, :],
            tags=dict(tags or {}),
            source_path=source_path,
        )

    @classmethod
    def from_ras_affine(
        cls,
        array_zyx: np.ndarray,
        affine_ras: np.ndarray,
        tags: Mapping[str, Any] | None = None,
        *,
        source_path: str | None = None,
    ) -> Volume:
        """Build a volume from a (Z, Y, X) array and a nibabel-style ``(i, j, k)`` -> RAS affine.

        ``affine_ras`` is the affine of the *nibabel* array ``array_zyx.transpose(2, 1, 0)``.
        """
        affine_ras = np.asarray(affine_ras, dtype=np.float64)
        if affine_ras.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got shape {affine_ras.shape}")
        return cls.from_lps_affine(
            array_zyx, _LPS_TO_RAS @ affine_ras, tags, source_path=source_path
        )
