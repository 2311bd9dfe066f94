"""Volume <-> napari image layer: geometry, tags and output names in one place.

A layer made here sits in LPS millimetres with world axes ordered (z, y, x), so volumes
read from different files overlay where they overlap physically, and any layer can be
turned back into a :class:`~napari_evai2i.io.Volume` (for writing or translating) from
nothing but its ``scale``/``translate``/``rotate``/``shear``/``affine`` and metadata.
Translation outputs copy the source layer's transform verbatim instead of recomputing
it, so they can never drift from the source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import Volume

if TYPE_CHECKING:
    import napari.layers

#: Metadata keys (``layer.metadata``) shared by the reader, the writers and the widgets.
TAGS_KEY = "evai2i_tags"                 #: DICOM keyword -> value for the series
SOURCE_PATH_KEY = "source_path"          #: the file/folder read (writers refuse to overwrite it)
DICOM_HEADER_KEY = "evai2i_dicom_header"  #: pydicom header of the first slice (derived series)
PROVENANCE_KEY = "evai2i_provenance"     #: how a synthetic layer was made (Translator.provenance)
SOURCE_TAGS_KEY = "evai2i_source_tags"   #: tags of the volume a synthetic layer was made from
RESULT_KEY = "evai2i_result"             #: {"source", "prompt", "role"}: identifies a widget output

UNITS = ("mm", "mm", "mm")
AXIS_LABELS = ("z", "y", "x")
#: Reverses (z, y, x) <-> (x, y, z) in homogeneous 4x4 form (ZYX napari vs XYZ ITK order).
_REVERSE = np.array([[0.0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
SHORT_PROMPT_CHARS = 40
#: First word of every layer name the plugin makes (see :func:`synthetic_name`).
SYNTHETIC = "SYNTHETIC"

__all__ = [
    "DICOM_HEADER_KEY", "PROVENANCE_KEY", "RESULT_KEY", "SOURCE_PATH_KEY", "SOURCE_TAGS_KEY", "SYNTHETIC",
    "TAGS_KEY", "contrast_label", "data_to_world_matrix", "difference_name", "explored_name", "geometry_kwargs",
    "has_geometry_or_tags", "is_synthetic", "layer_to_volume", "mix_label", "preview_name",
    "reference_difference_name", "short_prompt", "slab_geometry_kwargs", "stacked_geometry_kwargs",
    "state_to_volume", "sweep_name", "synthetic_name", "tag_effect_name", "uncertainty_name",
    "volume_to_layer_kwargs",
]


# ----------------------------------------------------------------------------- Volume -> layer
def volume_to_layer_kwargs(volume: Volume, name: str | None = None) -> dict[str, Any]:
    """``viewer.add_image(**kwargs)`` arguments placing ``volume`` in LPS (z, y, x) mm.

    ``scale`` is always the voxel spacing (so scale bars and measurements are right). An
    axis-aligned, unflipped volume needs only ``translate``; anything else (flips from the
    usual LPS/RAS storage, obliques) goes into ``affine`` as a rotation plus origin.
    """
    spacing = np.asarray(volume.spacing, dtype=float)
    world = volume.world_affine_zyx()
    rotation = world[:3, :3] / spacing[None, :]
    origin = world[:3, 3]
    kwargs: dict[str, Any] = {
        "data": volume.array,
        "name": name or default_layer_name(volume),
        "scale": tuple(float(s) for s in spacing),
        "units": UNITS,
        "axis_labels": AXIS_LABELS,
        "metadata": volume_metadata(volume),
    }
    if np.allclose(rotation, np.eye(3), atol=1e-6):
        kwargs["translate"] = tuple(float(o) for o in origin)
    else:
        affine = np.eye(4)
        affine[:3, :3] = rotation
        affine[:3, 3] = origin
        kwargs["translate"] = (0.0, 0.0, 0.0)
        kwargs["affine"] = affine
    return kwargs


def volume_metadata(volume: Volume) -> dict[str, Any]:
    metadata: dict[str, Any] = {TAGS_KEY: dict(volume.tags), SOURCE_PATH_KEY: volume.source_path}
    if volume.reference_dataset is not None:
        metadata[DICOM_HEADER_KEY] = volume.reference_dataset
    return metadata


def default_layer_name(volume: Volume) -> str:
    description = volume.tags.get("SeriesDescription")
    if isinstance(description, str) and description.strip():
        return description.strip()
    if volume.source_path:
        name = re.sub(r"\.(nii\.gz|nii|mha|mhd|nrrd|nhdr|dcm|dicom|ima)$", "", volume.source_path.rstrip("/\\"),
                      flags=re.IGNORECASE)
        return re.split(r"[/\\]", name)[-1] or "volume"
    return "volume"


# ----------------------------------------------------------------------------- layer -> Volume
def data_to_world_matrix(ndim: int, scale, translate, rotate=None, shear=None, affine=None) -> np.ndarray:
    """The (ndim+1)^2 matrix napari applies to data coordinates: ``affine @ (T R Sh S)``."""
    from napari.utils.transforms import Affine

    physical = Affine(scale=scale, translate=translate, rotate=rotate, shear=shear, ndim=ndim).affine_matrix
    outer = np.eye(ndim + 1) if affine is None else np.asarray(affine, dtype=float)
    return outer @ physical


def _lps_affine(ndim: int, state: Mapping[str, Any]) -> np.ndarray:
    """The 4x4 LPS affine of a layer's data (a 2-D layer gets a unit z axis) from its state."""
    matrix = data_to_world_matrix(ndim, state.get("scale", (1.0,) * ndim), state.get("translate", (0.0,) * ndim),
                                  state.get("rotate"), state.get("shear"), state.get("affine"))
    if ndim == 2:
        grown = np.eye(4)
        grown[1:, 1:] = matrix
        matrix = grown
    return _REVERSE @ matrix @ _REVERSE


def layer_direction(layer: napari.layers.Image) -> np.ndarray | None:
    """The LPS direction cosines of a layer's data axes (as :class:`Volume` holds them), or None
    when its orientation is unknown: a layer this plugin did not make (a plain array, another
    reader's) says nothing of which way is left or up, so the engine slices it as stored."""
    if SOURCE_PATH_KEY not in layer.metadata:
        return None
    linear = _lps_affine(layer.ndim, layer_state(layer))[:3, :3]
    direction = linear / np.linalg.norm(linear, axis=0, keepdims=True)
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):   # sheared by hand: no one orientation
        return None
    return direction


def state_to_volume(data: Any, state: Mapping[str, Any]) -> Volume:
    """Rebuild a :class:`Volume` from layer data and its state (``layer._get_state()``-like).

    This is what napari hands a writer (``meta``), so writers and widgets share it.
    """
    array = np.asarray(data)
    if state.get("multiscale"):
        array = np.asarray(data[0])
    if state.get("rgb") or array.ndim not in (2, 3):
        raise ValueError(f"only single-channel 2-D or 3-D images can be used, not an array of shape {array.shape}")
    affine_lps = _lps_affine(array.ndim, state)
    if array.ndim == 2:                 # one slice: a volume with a unit z axis
        array = array[np.newaxis]
    metadata = state.get("metadata") or {}
    try:
        volume = Volume.from_lps_affine(array, affine_lps, metadata.get(TAGS_KEY) or {},
                                        source_path=metadata.get(SOURCE_PATH_KEY))
    except ValueError as exc:
        raise ValueError(f"layer {state.get('name', '')!r} has no usable geometry: {exc}") from exc
    volume.reference_dataset = metadata.get(DICOM_HEADER_KEY)
    return volume


def layer_state(layer: napari.layers.Image) -> dict[str, Any]:
    """The parts of a layer's state that :func:`state_to_volume` reads (public attributes only)."""
    return {"name": layer.name, "scale": tuple(layer.scale), "translate": tuple(layer.translate),
            "rotate": np.asarray(layer.rotate), "shear": np.asarray(layer.shear),
            "affine": layer.affine.affine_matrix, "metadata": layer.metadata,
            "multiscale": layer.multiscale, "rgb": layer.rgb}


def layer_to_volume(layer: napari.layers.Image) -> Volume:
    """The layer as a :class:`Volume` (a 2-D layer becomes a one-slice volume)."""
    return state_to_volume(layer.data, layer_state(layer))


# ----------------------------------------------------------------------------- outputs
def geometry_kwargs(layer: napari.layers.Image) -> dict[str, Any]:
    """Transform arguments that put a new layer exactly where ``layer`` is."""
    return {"scale": tuple(layer.scale), "translate": tuple(layer.translate), "rotate": np.asarray(layer.rotate),
            "shear": np.asarray(layer.shear), "affine": layer.affine.affine_matrix.copy(),
            "units": tuple(str(u) for u in layer.units), "axis_labels": tuple(layer.axis_labels)}


def slab_geometry_kwargs(layer: napari.layers.Image, axis: int, index: int) -> dict[str, Any]:
    """Geometry of a one-slice layer holding slice ``index`` of ``layer`` along data ``axis``.

    Only ``translate`` changes: it becomes where data point ``index * e_axis`` lands before
    the outer affine, so the slice overlays the source exactly, whatever the orientation.
    """
    from napari.utils.transforms import Affine

    kwargs = geometry_kwargs(layer)
    offset = np.zeros(layer.ndim)
    offset[axis] = index
    physical = Affine(scale=layer.scale, translate=layer.translate, rotate=layer.rotate, shear=layer.shear,
                      ndim=layer.ndim)
    kwargs["translate"] = tuple(np.asarray(physical(offset), dtype=float))
    return kwargs


def stacked_geometry_kwargs(kwargs: dict[str, Any], label: str = "t") -> dict[str, Any]:
    """``kwargs`` (a 3-D layer's geometry) with one more leading axis, e.g. the steps of a sweep.

    The new axis maps to itself (scale 1, no offset), so napari shows it as a slider and the
    spatial axes land exactly where the 3-D geometry puts them.
    """
    from napari.utils.transforms.transform_utils import rotate_to_matrix, shear_to_matrix

    ndim = len(kwargs["scale"])

    def grown(matrix):                 # one leading identity row and column
        bigger = np.eye(len(matrix) + 1)
        bigger[1:, 1:] = matrix
        return bigger

    return {"scale": (1.0, *kwargs["scale"]), "translate": (0.0, *kwargs["translate"]),
            "rotate": grown(rotate_to_matrix(kwargs["rotate"], ndim=ndim)),
            "shear": grown(shear_to_matrix(kwargs["shear"], ndim=ndim)),
            "affine": grown(np.asarray(kwargs["affine"], dtype=float)), "units": ("pixel", *kwargs["units"]),
            "axis_labels": (label, *kwargs["axis_labels"])}


def has_geometry_or_tags(layer: napari.layers.Image) -> bool:
    """False for a layer with unit scale, no offset, no affine and no tags (another reader's)."""
    ndim = layer.ndim
    plain = (np.allclose(layer.scale, 1.0) and np.allclose(layer.translate, 0.0)
             and np.allclose(data_to_world_matrix(ndim, layer.scale, layer.translate, layer.rotate, layer.shear,
                                                  layer.affine.affine_matrix), np.eye(ndim + 1)))
    return not plain or bool(layer.metadata.get(TAGS_KEY))


def short_prompt(prompt: str) -> str:
    """A layer-name-sized version of a prompt: its first sentence, without the boilerplate."""
    first = re.split(r"(?<=[.!?])\s+", " ".join(prompt.split()), maxsplit=1)[0].rstrip(".!? ")
    first = re.sub(r"^(an?|the)\s+", "", first, flags=re.IGNORECASE)
    first = first.replace("magnetic resonance imaging", "MRI").replace("computed tomography", "CT")
    first = re.sub(r"\s+of the brain$", "", first)
    if len(first) > SHORT_PROMPT_CHARS:
        first = first[: SHORT_PROMPT_CHARS - 1].rstrip() + "\u2026"
    return first or "prompt"


def contrast_label(prompt: str) -> str:
    """What a radiologist would write for the prompt's contrast ("T2w", "FLAIR"), else its short form.

    Layer names must stay short: napari's layer list cuts long names in the middle.
    """
    first = " ".join(prompt.split()).lower()
    first = re.sub(r"^(an?|the)\s+", "", first)
    for words, label in _CONTRAST_LABELS:
        if first.startswith(words.lower() + " magnetic resonance") or first.rstrip(".") == words.lower():
            return label
    return short_prompt(prompt)


def _label_table() -> tuple[tuple[str, str], ...]:
    from ..prompts import vocabulary as voc

    labels = {voc.T1W: "T1w", voc.T2W: "T2w", voc.PDW: "PDw", voc.FLAIR: "FLAIR", voc.STIR: "STIR",
              voc.MPRAGE: "MPRAGE", voc.DWI: "DWI", voc.T2STAR: "T2*w", voc.T1W_GRE: "T1w GRE", voc.SWI: "SWI"}
    return tuple(sorted(labels.items(), key=lambda item: -len(item[0])))   # longest words first


_CONTRAST_LABELS = _label_table()


# Every layer the plugin makes starts with SYNTHETIC, so the marker survives napari cutting
# long names in the middle; the source's name comes last ("<- source").
def synthetic_name(source: str, prompt: str) -> str:
    return f"{SYNTHETIC} {contrast_label(prompt)} <- {source}"


def preview_name(source: str, prompt: str, index: int) -> str:
    return f"{synthetic_name(source, prompt)} (slice {index})"


def difference_name(source: str, prompt: str) -> str:
    return f"{SYNTHETIC} diff {contrast_label(prompt)} - {source}"


def reference_difference_name(source: str, prompt: str, reference: str) -> str:
    return f"{SYNTHETIC} |{contrast_label(prompt)} - {reference}| <- {source}"


def uncertainty_name(source: str, prompt: str) -> str:
    return f"{SYNTHETIC} uncertainty (SD) {contrast_label(prompt)} <- {source}"


def tag_effect_name(source: str, prompt: str, tag: str, index: int) -> str:
    """The (without ``tag`` - with) difference on slice ``index``."""
    return f"{SYNTHETIC} effect of {tag} {contrast_label(prompt)} <- {source} (slice {index})"


def mix_label(prompt_a: str, prompt_b: str, t: float | None = None) -> str:
    """"T1w->T2w t=0.40" for a point on the path between two prompts (no t: the whole path)."""
    path = f"{contrast_label(prompt_a)}->{contrast_label(prompt_b)}"
    return path if t is None else f"{path} t={t:.2f}"


def explored_name(source: str, prompt_a: str, prompt_b: str, t: float, index: int | None = None) -> str:
    name = f"{SYNTHETIC} {mix_label(prompt_a, prompt_b, t)} <- {source}"
    return name if index is None else f"{name} (slice {index})"


def sweep_name(source: str, prompt_a: str, prompt_b: str, index: int) -> str:
    return f"{SYNTHETIC} sweep {mix_label(prompt_a, prompt_b)} <- {source} (slice {index})"


def is_synthetic(metadata: Mapping[str, Any] | None) -> bool:
    provenance = (metadata or {}).get(PROVENANCE_KEY) or {}
    return bool(provenance.get("synthetic"))
