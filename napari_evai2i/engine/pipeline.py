"""Translate a volume: the one path behind the command, the main job, the widgets and the writer.

``Volume`` + :class:`TranslationRequest` -> :class:`VolumeTranslation` (model loaded, source
prompt resolved, intensity scale fitted, prompt bound once) -> slices on demand or the whole
volume batch by batch -> :class:`TranslatedVolume`: the translation with the source's geometry,
tags of a derived image, and one provenance record. :func:`write_translation` writes it with
that provenance in the file (DICOM) and in a JSON sidecar, whatever the front door.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._atomic import atomic_file
from ..io import SYNTHETIC_NOTICE, Volume, write_dicom_series, write_volume
from ..io._safety import check_file_target, check_folder_target, check_target, resolved
from ..io.errors import VolumeWriteError
from ..io.read import ITK_EXTENSIONS, NIFTI_EXTENSIONS, file_extension
from .memory import available_device_memory, check_memory, plan_memory
from .normalization import MR_PERCENTILE
from .orientation import Reorientation
from .planes import HEAD_MARGIN_MM, WORKING_PIXEL_MM, fuse, head_box, in_plane_zoom
from .provenance import derived_tags, image_comments, series_description
from .request import NONFINITE_RULES, PromptMix, TranslationRequest, source_prompt_of
from .source_contrast import ContrastReading, untagged_source_prompt
from .translator import TranslationStep, Translator, load_model, run_steps
from .uncertainty import UNCERTAINTY_DESCRIPTION, RunningSpread, passes_for

SIDECAR_SUFFIX = ".json"
UNCERTAINTY_SUFFIX = "_uncertainty"
UNCERTAINTY_NOTICE = "SYNTHETIC uncertainty (SD over passes) by napari-evai2i; not an image of anatomy"


@dataclass
class TranslatedVolume:
    """A translation: float32 voxels in the source's geometry, derived tags, provenance; and,
    when asked for, its uncertainty map (same geometry)."""

    volume: Volume
    provenance: dict[str, Any] = field(default_factory=dict)
    uncertainty: Volume | None = None

_RULE_TEXT = {"p99.5": f"MR: divided by the volume's {MR_PERCENTILE:g}th percentile",
              "brain-core-median": "MR: divided so that the median of the brain core (deeper than 10 mm "
                                   "inside the head) is 0.5",
              "hu": "CT: (HU + 1024) / 3000"}


class VolumeTranslation:
    """One volume being translated by one request: a preview slice, then every batch.

    Everything that depends only on the volume and the request is settled here, once, so a
    preview slice and the full volume use the same scale, prompt kernels and provenance.
    Holds no lock and changes nothing shared: any number may run at once on one cached model.
    """

    def __init__(self, volume: Volume, request: TranslationRequest, translator: Translator | None = None) -> None:
        if not isinstance(request.target, PromptMix) and not str(request.target or "").strip():
            raise ValueError("the target prompt is empty; type a prompt or choose a contrast")
        if volume.array.ndim != 3:
            raise ValueError(f"expected a (Z, Y, X) volume, got an array of shape {volume.array.shape}")
        if request.axis not in (0, 1, 2):
            raise ValueError(f"slicing axis must be 0, 1 or 2, not {request.axis}")
        if request.nonfinite not in NONFINITE_RULES:
            raise ValueError(f"nonfinite must be one of {', '.join(NONFINITE_RULES)}, not {request.nonfinite!r}")
        what = volume.source_path or "the volume"
        _check_voxel_type(volume.array, what)
        self.translator = translator or load_model(request.model, request.device, request.precision)
        self.plan, self.passes = passes_for(volume.array.shape, volume.spacing,
                                            None if isinstance(request.target, PromptMix) else request.target,
                                            request.planes, request.axis, request.fusion,
                                            request.uncertainty_passes)
        floating = np.issubdtype(volume.array.dtype, np.floating)
        self.memory = plan_memory(volume.array.shape, self.plan, self.passes,
                                  uncertainty=bool(request.uncertainty_passes), input_copy=floating,
                                  batch=int(request.batch_size or self.translator.default_batch_size()),
                                  translator=self.translator, spacing=volume.spacing)
        check_memory(self.memory, what, device_available=available_device_memory(self.translator.device))
        self.nonfinite_voxels = count_nonfinite(volume.array) if floating else 0
        if self.nonfinite_voxels:
            if request.nonfinite == "refuse":
                raise ValueError(
                    f"{what}: {self.nonfinite_voxels:,} of {volume.array.size:,} voxels are NaN or infinite; "
                    "set them to 0 (nonfinite=zero) or repair the file")
            volume = volume.with_array(_zero_nonfinite(volume.array))
        self.volume = volume
        #: turns the stored axes to the training slices' axes for the network, and back
        self.orientation = Reorientation.of(volume) if request.reorient else Reorientation.none()
        modality = str(volume.tags.get("Modality") or "MR").upper()
        self.scale = self.translator.fit_scale(volume.array, "CT" if modality == "CT" else "MR", volume.spacing)
        self._head_boxes: dict[int, tuple[slice, slice] | bool] = {}
        origin = "given"
        source_prompt = request.source_prompt
        #: the contrast reader's reading, where it was asked (no tags, no contrast in the name)
        self.source_reading: ContrastReading | None = None
        if source_prompt is None:
            source_prompt = source_prompt_of(volume.tags)
            origin = "DICOM tags" if source_prompt else "unknown"
            if not source_prompt and modality == "MR":
                turn = self.orientation
                names = [Path(str(volume.source_path)).name if volume.source_path else None,
                         volume.tags.get("SeriesDescription"), volume.tags.get("ProtocolName")]
                source_prompt, origin, self.source_reading = untagged_source_prompt(
                    turn.apply(volume.array), turn.spacing(volume.spacing), turn.axis(request.axis), names,
                    scale=self.scale)
        elif not source_prompt.strip():          # "" says: unknown, even where tags exist
            source_prompt, origin = None, "unknown"
        self.request = replace(request, source_prompt=source_prompt)
        self.source_prompt_origin = origin
        trained_on = self.translator.trained_modalities
        if trained_on is not None and modality not in trained_on:
            warnings.warn(f"{what}: a {modality} series given to model {self.translator.label}, which was trained "
                          f"on {' and '.join(trained_on)} only; its translation is not a meaningful image",
                          UserWarning, stacklevel=2)
        if isinstance(request.target, str):
            _warn_on_weighting_conflict(request.target)
        self.bound = self.translator.bind(self._embedding())
        self.provenance = self._provenance()

    @property
    def total(self) -> int:
        """Slices translated in all, over every plane and uncertainty pass."""
        return sum(self.volume.array.shape[p.axis] for p in self.passes)

    def _embedding(self):
        target = self.request.target
        if not isinstance(target, PromptMix):
            return target
        t = self.translator
        return t.interpolate(t.embed_prompt(target.a), t.embed_prompt(target.b), target.t)

    def _provenance(self) -> dict[str, Any]:
        request, translator = self.request, self.translator
        provenance = translator.provenance(request.target_text, request.source_prompt)
        provenance.update(
            software=f"napari-evai2i {__version__}", model_label=translator.label,
            source_prompt_from=self.source_prompt_origin, slicing_axis=request.axis,
            batch_size=request.batch_size or translator.default_batch_size(),
            normalization={**self.scale.to_dict(),
                           "description": _RULE_TEXT.get(self.scale.rule, self.scale.rule)},
            orientation=self.orientation.describe())
        if isinstance(request.target, PromptMix):
            provenance.update(prompt_a=request.target.a, prompt_b=request.target.b, t=request.target.t)
        if self.source_reading is not None:
            provenance["source_contrast_reading"] = self.source_reading.to_dict()
        if request.planes != 1:
            provenance["planes"] = {**self.plan.to_dict(), "description": self.plan.describe()}
        resampled = self.in_plane_resampling()
        if resampled:
            provenance["in_plane_resampling"] = resampled
        boxed = self.head_box_lines()
        if boxed:
            provenance["head_box"] = boxed
        if self.nonfinite_voxels:
            provenance["nonfinite_voxels_set_to_zero"] = self.nonfinite_voxels
        if request.uncertainty_passes:
            provenance["uncertainty"] = {"passes": [p.describe() for p in self.passes],
                                         "description": UNCERTAINTY_DESCRIPTION}
        return provenance

    def in_plane_resampling(self) -> list[str]:
        """One line per slicing axis whose slices are translated on the finer working grid."""
        turn, spacing = self.orientation, self.volume.spacing
        lines = []
        for axis in sorted({p.axis for p in self.passes}):
            if in_plane_zoom(turn.spacing(spacing), turn.axis(axis)) is not None:
                pixel = " x ".join(f"{s:g}" for i, s in enumerate(spacing) if i != axis)
                lines.append(f"axis {axis}: {pixel} mm slices translated on a {WORKING_PIXEL_MM:g} mm grid "
                             "and averaged back")
        return lines

    def head_box_lines(self) -> list[str]:
        """One line per slicing axis whose slices are translated inside the head's box."""
        lines = []
        for axis in sorted({p.axis for p in self.passes}):
            box = self._volume_head_box(self.orientation.axis(axis))
            if box:
                sides = " x ".join(f"{b.stop - b.start}" for b in box)
                lines.append(f"axis {axis}: translated inside the head's box ({sides} pixels: the foreground plus "
                             f"{HEAD_MARGIN_MM:g} mm); air outside it")
        return lines

    def _run(self, array: np.ndarray, batch: int | None, axis: int | None = None,
             bound=None, mirrored: bool = False) -> Generator[TranslationStep, None, np.ndarray]:
        """Translate ``array`` (stored layout) along stored ``axis``: the network sees it in the
        training axes, and the result lands in the stored layout (no copy either way). ``array``
        is the volume or some of its slices, translated inside the whole volume's head box (found
        once per axis), so a preview slice is the slice the whole translation gives; ``mirrored``:
        it is the volume flipped, whose own box the translator finds."""
        turn = self.orientation
        axis = turn.axis(self.request.axis if axis is None else axis)
        out = np.empty(array.shape, dtype=np.float32)
        yield from self.translator.iter_translate(
            turn.apply(array), self.bound if bound is None else bound,
            axis=axis, batch_size=batch,
            source_prompt=self.request.source_prompt, scale=self.scale, out=turn.apply(out),
            spacing=turn.spacing(self.volume.spacing), crop_to_head=True if mirrored else self._volume_head_box(axis))
        return out

    def _volume_head_box(self, turned_axis: int) -> tuple[slice, slice] | bool:
        """The whole volume's head box for slices along ``turned_axis`` (False: none)."""
        if turned_axis not in self._head_boxes:
            turn = self.orientation
            self._head_boxes[turned_axis] = head_box(turn.apply(self.volume.array), turned_axis,
                                                     turn.spacing(self.volume.spacing)) or False
        return self._head_boxes[turned_axis]

    def translate_slice(self, index: int) -> np.ndarray:
        """Slice ``index`` along the slicing axis, shaped like the volume with that axis of length 1
        (always one plane: a preview of the look, not of the fusion)."""
        count = self.volume.array.shape[self.request.axis]
        if not 0 <= index < count:
            raise ValueError(f"slice {index} is outside the volume's {count} slices")
        return run_steps(self._run(np.take(self.volume.array, [index], axis=self.request.axis), 1))

    def translate_slices(self, indices, prompt: str | None = None) -> np.ndarray:
        """Slices ``indices`` along the slicing axis (stacked along it), with this job's scale and,
        unless another ``prompt`` is given, its prompt (tag effects compare prompts this way)."""
        array = np.take(self.volume.array, list(indices), axis=self.request.axis)
        bound = None if prompt is None else self.translator.bind(prompt)
        return run_steps(self._run(array, self.request.batch_size, bound=bound))

    def steps(self) -> Generator[TranslationStep, None, TranslatedVolume]:
        """The whole volume, one :class:`TranslationStep` per batch over every pass; stop pulling to cancel."""
        planes: dict[int, np.ndarray] = {}
        spread = RunningSpread() if self.request.uncertainty_passes else None
        done, total = 0, self.total
        for p in self.passes:
            source = self.volume.array if p.mirror_axis is None else np.flip(self.volume.array, p.mirror_axis)
            bound = None if p.wording is None else self.translator.bind(p.wording)
            run = self._run(source, self.request.batch_size, p.axis, bound, mirrored=p.mirror_axis is not None)
            while True:
                try:
                    step = next(run)
                except StopIteration as finished:
                    out = finished.value
                    break
                yield TranslationStep(done + step.start, done + step.stop, total)
            done += self.volume.array.shape[p.axis]
            if p.mirror_axis is not None:
                out = np.ascontiguousarray(np.flip(out, p.mirror_axis))
            if p.wording is None and p.mirror_axis is None:
                planes[p.axis] = out
            if spread is not None:
                spread.add(out)
        fused = fuse([planes[a] for a in self.plan.axes], self.plan)
        return self.result(fused, None if spread is None else spread.std())

    def derived_tags(self) -> dict[str, Any]:
        """Tags of the translated image: the source's that stay true, plus the synthetic marking."""
        return derived_tags(self.volume.tags, self.request.target_text, self.translator.label)

    def result(self, array: np.ndarray, uncertainty: np.ndarray | None = None) -> TranslatedVolume:
        """Wrap translated voxels (and an uncertainty map) as derived, synthetic volumes with this run's provenance."""
        translated = self.volume.with_array(array)
        translated.tags = self.derived_tags()
        translated.source_path = self.volume.source_path
        spread = None
        if uncertainty is not None:
            spread = self.volume.with_array(uncertainty)
            spread.tags = derived_tags(self.volume.tags, f"uncertainty of: {self.request.target_text}",
                                       self.translator.label)
            spread.source_path = self.volume.source_path
        return TranslatedVolume(translated, {**self.provenance, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                                spread)

    def run(self, progress: Callable[[int, int], bool | None] | None = None) -> TranslatedVolume:
        """The whole volume; ``progress(done, total)`` after each batch, returning False cancels."""
        return run_steps(self.steps(), progress)


def _warn_on_weighting_conflict(prompt: str) -> None:
    """Say so when the target prompt's weighting word and its own timing disagree."""
    from ..prompts.heuristics import weighting_conflict

    conflict = weighting_conflict(prompt)
    if conflict:
        stated, implied = conflict
        warnings.warn(f"the target prompt says {stated}, but its own TR, TE and TI make it {implied}; the model "
                      "has practically never seen such a prompt, so its contrast is unreliable: let the words "
                      "match the timing (in the Translate widget's form, leave the sequence at \"(from TR, TE, TI)\")",
                      UserWarning, stacklevel=3)


def _check_voxel_type(array: np.ndarray, what: str) -> None:
    """Refuse voxels that are not real numbers before anything is computed from them."""
    if np.iscomplexobj(array):
        raise ValueError(f"{what}: complex-valued voxels ({array.dtype}); translating would drop the imaginary "
                         "part, so translate the magnitude image instead (numpy.abs of the data)")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{what}: voxels of type {array.dtype} are not numbers; give a numeric image")


#: Slices per block when counting or replacing non-finite voxels (no full-size boolean mask).
_BLOCK_SLICES = 16


def count_nonfinite(array: np.ndarray) -> int:
    """NaN and infinite voxels of ``array``, counted a block of slices at a time."""
    return sum(int(np.count_nonzero(~np.isfinite(array[i:i + _BLOCK_SLICES])))
               for i in range(0, array.shape[0], _BLOCK_SLICES))


def _zero_nonfinite(array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=np.float32)
    for i in range(0, array.shape[0], _BLOCK_SLICES):
        block = array[i:i + _BLOCK_SLICES]
        out[i:i + _BLOCK_SLICES] = np.where(np.isfinite(block), block, 0)
    return out


def translate_volume(volume: Volume, request: TranslationRequest, translator: Translator | None = None,
                     progress: Callable[[int, int], bool | None] | None = None) -> TranslatedVolume:
    """Translate ``volume`` as ``request`` says (see :class:`VolumeTranslation`)."""
    return VolumeTranslation(volume, request, translator).run(progress)


# ----------------------------------------------------------------------------- writing
def is_file_output(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a volume file (NIfTI, MHA/MHD, NRRD); anything else is a DICOM folder."""
    return file_extension(path) in NIFTI_EXTENSIONS + ITK_EXTENSIONS


def check_output(output: str | os.PathLike[str], *, overwrite: bool = False,
                 protect: tuple[str | os.PathLike[str], ...] = (), uncertainty: bool = False) -> None:
    """Refuse, before any work, an output :func:`write_translation` would refuse after it.

    The writers' own checks (an input, an existing output, sidecar or uncertainty map without
    ``overwrite``, a folder holding other files), plus a parent that is a file or a folder
    without write permission.
    """
    output = Path(output).expanduser()
    file = is_file_output(output)
    protected = [resolved(p) for p in protect]
    for target in [output] + ([uncertainty_path(output)] if uncertainty else []):
        check_target(target, protected, folder=not file)
        if file:
            check_file_target(target, overwrite)
        else:
            check_folder_target(target, overwrite)
    sidecar = sidecar_path(output)
    check_target(sidecar, protected, folder=False)
    check_file_target(sidecar, overwrite)
    ancestor = output.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise VolumeWriteError(f"{output}: cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise VolumeWriteError(f"{output}: no permission to write in {ancestor}; choose another output location")


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """``out.nii.gz`` -> ``out.json``; a DICOM folder ``out/`` -> ``out.json`` beside it (BIDS style)."""
    output = Path(output)
    extension = file_extension(output) if is_file_output(output) else ""
    return output.with_name(output.name[: len(output.name) - len(extension)] + SIDECAR_SUFFIX)


def write_translation(result: TranslatedVolume, output: str | os.PathLike[str], *,
                      reference: Volume | None = None, deidentify: bool = False,
                      protect: tuple[str | os.PathLike[str], ...] = (), overwrite: bool = False) -> Path:
    """Write a translation as a file (by its suffix) or a DICOM series folder, plus its sidecar.

    ``reference`` is the source series: a DICOM output joins its patient and study.
    DICOM files carry the marker, prompt, model, checkpoint, precision and device in
    SeriesDescription, ImageComments and DerivationDescription; every output gets ``<name>.json`` with the
    whole provenance. Neither may replace a protected path (the input).
    """
    output = Path(output).expanduser()
    protected = [Path(p).expanduser().resolve() for p in (*protect, result.volume.source_path) if p]
    sidecar = sidecar_path(output)
    if sidecar.resolve() in protected:
        raise ValueError(f"the provenance sidecar {sidecar} would replace an input; choose another output name")
    if sidecar.exists() and not overwrite:
        raise ValueError(f"{sidecar} already exists; pass overwrite to replace it")
    provenance = result.provenance
    if is_file_output(output):
        written = write_volume(result.volume, output, description=SYNTHETIC_NOTICE, protect=protected,
                               overwrite=overwrite)
    else:
        prompt = str(provenance.get("prompt") or "translation")
        label = str(provenance.get("model_label") or provenance.get("model") or "unknown model")
        comments = f"{image_comments(prompt, label)} | {derivation_description(provenance)}"
        write_dicom_series(result.volume, output, series_description=series_description(prompt),
                           image_comments=comments, derived=True, reference=reference,
                           deidentify=deidentify, protect=protected, overwrite=overwrite)
        written = output
    extra = {}
    if result.uncertainty is not None:
        extra["uncertainty_output"] = _write_uncertainty(result, output, protected, reference, deidentify,
                                                         overwrite).name
    _write_json_atomic(sidecar, {"synthetic": True, "notice": SYNTHETIC_NOTICE, "output": written.name,
                                 **extra, **_jsonable(provenance)})
    return written


def uncertainty_path(output: str | os.PathLike[str]) -> Path:
    """``out.nii.gz`` -> ``out_uncertainty.nii.gz``; a DICOM folder ``out/`` -> ``out_uncertainty/``."""
    output = Path(output)
    extension = file_extension(output) if is_file_output(output) else ""
    return output.with_name(output.name[: len(output.name) - len(extension)] + UNCERTAINTY_SUFFIX + extension)


def _write_uncertainty(result: TranslatedVolume, output: Path, protected: list[Path], reference: Volume | None,
                       deidentify: bool, overwrite: bool) -> Path:
    path = uncertainty_path(output)
    if is_file_output(output):
        return write_volume(result.uncertainty, path, description=UNCERTAINTY_NOTICE, protect=protected,
                            overwrite=overwrite)
    prompt = str(result.provenance.get("prompt") or "translation")
    label = str(result.provenance.get("model_label") or "unknown model")
    write_dicom_series(result.uncertainty, path, series_description=f"SYNTHETIC UNCERTAINTY SD {prompt}"[:64],
                       image_comments=f"{UNCERTAINTY_NOTICE}: {UNCERTAINTY_DESCRIPTION}. Model: {label}. "
                                      f"Prompt: {' '.join(prompt.split())}",
                       derived=True, reference=reference, deidentify=deidentify, protect=protected,
                       overwrite=overwrite)
    return path


def derivation_description(provenance: Mapping[str, Any]) -> str:
    """One line saying how the image was made: software, model, checkpoint, precision, device."""
    return (f"{provenance.get('software', 'napari-evai2i')} translation by model "
            f"{provenance.get('model_label') or provenance.get('model')} (checkpoint "
            f"{provenance.get('checkpoint_sha256', 'unknown')}), {provenance.get('precision', '?')} on "
            f"{provenance.get('device', '?')}, slicing axis {provenance.get('slicing_axis', '?')}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, ".json") as temporary:
        temporary.write_text(json.dumps(data, indent=2))
