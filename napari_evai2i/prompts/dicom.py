"""Protocol fields from DICOM headers, plain tag dicts and official ``info.json`` entries.

Everything funnels through :func:`fields_from_tags`, which takes a dict keyed by DICOM keywords.
A pydicom Dataset is first flattened into such a dict (Enhanced MR functional groups included),
so a simulated volume that writes the same tag values gets exactly the same prompt as a real
scan. A missing or malformed tag is left out of the prompt; it never stops the others.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from . import heuristics as rules
from . import vocabulary as voc
from .fields import ProtocolFields, to_bool, to_codes, to_float, to_text
from .glossary import expand, normalize_manufacturer

__all__ = ["dataset_tags", "fields_from_dicom", "fields_from_info_entry", "fields_from_tags"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: What a malformed tag value raises on access or conversion; anything else is a real bug.
#: pydicom converts raw bytes only when a value is read: a sequence that does not parse is an
#: OSError or struct.error, an unknown VR a NotImplementedError, bytes of the wrong length
#: pydicom's BytesLengthException (added by :func:`_dataset_errors`; found by
#: tests/prompts/test_fuzz_prompts.py).
TAG_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError, OSError, struct.error,
              NotImplementedError)

#: Keywords read from a header; also the keys :func:`fields_from_tags` understands.
KEYWORDS = (
    "Modality", "BodyPartExamined", "StudyDescription", "SeriesDescription", "ProtocolName",
    "SequenceName", "PulseSequenceName", "ScanningSequence", "SequenceVariant", "ScanOptions",
    "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle", "MagneticFieldStrength",
    "Manufacturer", "ManufacturerModelName", "ContrastBolusAgent", "DiffusionBValue", "KVP",
    "XRayTubeCurrent", "ExposureTime", "ReceiveCoilName", "AcquisitionContrast",
    "ImageOrientationPatient", "EchoPulseSequence", "EchoPlanarPulseSequence", "InversionRecovery",
    "Spoiling", "MagnetizationTransfer", "SegmentedKSpaceTraversal", "SpectrallySelectedSuppression",
)  # fmt: skip

#: Enhanced (multi-frame) objects keep some values in functional-group items under other names.
_GROUP_ALIASES = {
    "EchoTime": ("EffectiveEchoTime", "EchoTime"),
    "InversionTime": ("InversionTimes", "InversionTime"),
    "XRayTubeCurrent": ("XRayTubeCurrentInmA", "XRayTubeCurrent"),
    "ExposureTime": ("ExposureTimeInms", "ExposureTime"),
}

# Nominal field strengths; headers often carry the exact value (1.494 T, 2.89 T).
_NOMINAL_TESLA = (0.2, 0.23, 0.25, 0.3, 0.35, 0.5, 0.55, 0.6, 1.0, 1.2, 1.5, 3.0, 4.0, 5.0, 7.0, 9.4, 10.5, 11.7)
_FAT_SUPPRESSION = frozenset({"FAT", "FAT_AND_WATER", "SILICON_AND_FAT"})


# --- reading a Dataset ---------------------------------------------------------------------------


def _dataset_errors() -> tuple[type[BaseException], ...]:
    """:data:`TAG_ERRORS` and pydicom's own, imported only once a Dataset is being read."""
    from pydicom.errors import BytesLengthException

    return (*TAG_ERRORS, BytesLengthException)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, (str, bytes)):
        return bool(value.strip())
    try:
        return len(value) > 0
    except TypeError:
        return True


def _sequence(ds: Any, keyword: str) -> list[Any]:
    """The items of a sequence element; [] when absent, not a sequence, or unparsable."""
    from pydicom.sequence import Sequence

    try:
        value = ds.get(keyword)
    except _dataset_errors() as exc:
        log.debug("ignoring unreadable %s: %s", keyword, exc)
        return []
    return list(value) if isinstance(value, Sequence) else []


def _group_items(ds: Any, frame: int) -> list[Any]:
    """Per-frame items first (they are specific to the frame), then the shared ones."""
    items = []
    per_frame = _sequence(ds, "PerFrameFunctionalGroupsSequence")
    if per_frame:
        if not 0 <= frame < len(per_frame):
            raise ValueError(f"frame {frame} is out of range; the object has {len(per_frame)} frames")
        items.append(per_frame[frame])
    shared = _sequence(ds, "SharedFunctionalGroupsSequence")
    if shared:
        items.append(shared[0])
    return items


def _from_groups(groups: list[Any], names: tuple[str, ...]) -> Any:
    for group in groups:
        for element in group:
            if element.VR != "SQ":
                continue
            for item in element.value:
                for name in names:
                    if name in item and _present(item[name].value):
                        return item[name].value
    return None


def dataset_tags(ds: Any, *, frame: int = 0) -> dict[str, Any]:
    """The :data:`KEYWORDS` present in ``ds`` as a plain dict (the input of fields_from_tags).

    Top-level values win; for Enhanced MR/CT the functional groups of ``frame`` fill the gaps
    (MR timing, echo, modifier, diffusion, receive coil and plane orientation items).
    """
    errors = _dataset_errors()
    groups = _group_items(ds, frame)
    tags: dict[str, Any] = {}
    for keyword in KEYWORDS:
        try:
            value = ds[keyword].value if keyword in ds else None
            if not _present(value) and groups:
                value = _from_groups(groups, _GROUP_ALIASES.get(keyword, (keyword,)))
        except errors as exc:
            log.debug("ignoring unreadable tag %s: %s", keyword, exc)
            continue
        if _present(value):
            tags[keyword] = value
    if "ContrastBolusAgent" not in tags:
        try:
            agents = ds.get("ContrastBolusAgentSequence") or ()
            meaning = agents[0].get("CodeMeaning") if len(agents) else None
        except errors as exc:
            log.debug("ignoring unreadable ContrastBolusAgentSequence: %s", exc)
            meaning = None
        if _present(meaning):
            tags["ContrastBolusAgent"] = meaning
    return tags


def _load(source: Any, series_uid: str | None = None) -> Any:
    import pydicom

    if isinstance(source, pydicom.Dataset):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"expected a pydicom Dataset or a path, got {type(source).__name__}")
    path = Path(source)
    if path.is_dir():
        from ..io import read_series_header  # the volume reader's choice of series

        return read_series_header(path, series_uid)
    if not path.exists():
        raise FileNotFoundError(f"no such DICOM file or folder: {str(path)!r}")
    # The volume reader's own: every damaged file (truncated, bytes flipped in the header, not
    # DICOM at all) is one VolumeReadError naming it; pydicom raises a dozen types for them.
    from ..io._dicom import read_dataset

    return read_dataset(path, stop_before_pixels=True)


def fields_from_dicom(source: Any, *, frame: int = 0, series_uid: str | None = None) -> ProtocolFields:
    """Protocol fields of a pydicom Dataset, a DICOM file, or a folder of one series.

    A folder means what it means to :func:`napari_evai2i.io.read_volume`: the one series of
    image files directly inside it (other files and DICOMDIR indexes are skipped), or the one
    ``series_uid`` names; a :class:`ValueError` otherwise. ``frame`` picks the per-frame values
    of an Enhanced multi-frame object.
    """
    return fields_from_tags(dataset_tags(_load(source, series_uid), frame=frame))


# --- tags -> fields ------------------------------------------------------------------------------


class _Tags:
    """Reads one keyword at a time, turning any malformed value into None."""

    def __init__(self, tags: Mapping[str, Any]):
        self._tags = tags

    def get(self, keyword: str, convert: Callable[[Any], T]) -> T | None:
        try:
            value = self._tags.get(keyword)
            return None if value is None else convert(value)
        except TAG_ERRORS as exc:
            log.debug("ignoring malformed tag %s: %s", keyword, exc)
            return None

    def text(self, keyword: str) -> str | None:
        return self.get(keyword, to_text)

    def codes(self, keyword: str) -> list[str]:
        return self.get(keyword, to_codes) or []

    def positive(self, keyword: str, *, allow_zero: bool = False) -> float | None:
        value = self.get(keyword, to_float)
        if value is None or value < 0 or (value == 0 and not allow_zero):
            return None
        return value


def _nominal_tesla(value: float | None) -> float | None:
    if value is None:
        return None
    if value >= 1000:  # old headers store gauss
        value /= 10000.0
    nearest = min(_NOMINAL_TESLA, key=lambda nominal: abs(nominal - value))
    return nearest if abs(nearest - value) <= 0.05 * nearest else value


def _plane(orientation: Any) -> str | None:
    """Acquisition plane from ImageOrientationPatient: the axis the slice normal points along."""
    items = orientation.split("\\") if isinstance(orientation, str) else list(orientation)
    values = [to_float(v) for v in items]
    if len(values) != 6 or any(v is None for v in values):
        return None
    (a, b, c), (d, e, f) = values[:3], values[3:]
    normal = (b * f - c * e, c * d - a * f, a * e - b * d)
    magnitudes = [abs(n) for n in normal]
    if max(magnitudes) == 0:
        return None
    return ("sagittal", "coronal", "axial")[magnitudes.index(max(magnitudes))]


def _phrases(kind: str, codes: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for code in codes:
        phrase = expand(kind, code)
        if phrase and phrase not in out:
            out.append(phrase)
    return tuple(out)


def _enhanced_codes(tags: _Tags) -> tuple[list[str], list[str], list[str]]:
    """Classic ScanningSequence/SequenceVariant/ScanOptions codes implied by Enhanced MR tags."""
    scanning: list[str] = []
    echo = (tags.text("EchoPulseSequence") or "").upper()
    if echo in ("SPIN", "BOTH"):
        scanning.append("SE")
    if echo in ("GRADIENT", "BOTH"):
        scanning.append("GR")
    if (tags.text("InversionRecovery") or "").upper() == "YES":
        scanning.append("IR")
    if (tags.text("EchoPlanarPulseSequence") or "").upper() == "YES":
        scanning.append("EP")
    variants: list[str] = []
    if (tags.text("SegmentedKSpaceTraversal") or "").upper() in ("PARTIAL", "FULL"):
        variants.append("SK")
    if (tags.text("MagnetizationTransfer") or "").upper() in ("ON_RESONANCE", "OFF_RESONANCE"):
        variants.append("MTC")
    if (tags.text("Spoiling") or "").upper() in ("RF", "GRADIENT", "RF_AND_GRADIENT"):
        variants.append("SP")
    options = ["FS"] if (tags.text("SpectrallySelectedSuppression") or "").upper() in _FAT_SUPPRESSION else []
    return scanning, variants, options


def fields_from_tags(tags: Mapping[str, Any]) -> ProtocolFields:
    """Protocol fields from a dict keyed by DICOM keywords (see :data:`KEYWORDS`).

    Values may be numbers, strings, lists or pydicom MultiValues. The weighting comes from the
    series/protocol/sequence names, else Enhanced MR's AcquisitionContrast, else the physics.
    """
    t = _Tags(tags)
    modality = (t.text("Modality") or voc.MODALITY_MR).upper()
    modality = voc.MODALITY_MR if modality == "MRI" else modality
    names = [t.text(k) for k in ("SeriesDescription", "ProtocolName", "SequenceName", "PulseSequenceName")]

    scanning_codes = t.codes("ScanningSequence")
    variant_codes = t.codes("SequenceVariant")
    option_codes = t.codes("ScanOptions")
    enhanced = _enhanced_codes(t)
    scanning_codes = scanning_codes or enhanced[0]
    variant_codes = variant_codes or enhanced[1]
    option_codes = option_codes or enhanced[2]
    scan_options = _phrases("ScanOptions", option_codes)
    if "fat saturation" not in scan_options and rules.fat_saturation_in_names(names[:2]):
        scan_options += ("fat saturation",)

    tr = t.positive("RepetitionTime")
    te = t.positive("EchoTime")
    ti = t.positive("InversionTime")
    flip = t.positive("FlipAngle")
    flip = flip if flip is not None and flip <= 360 else None
    b_value = t.positive("DiffusionBValue", allow_zero=True)
    if b_value is None and modality == voc.MODALITY_MR:
        b_value = rules.b_value_from_names(names)

    sequence = None
    if modality == voc.MODALITY_MR:
        sequence = (
            rules.sequence_from_names(names)
            or rules.sequence_from_acquisition_contrast(t.text("AcquisitionContrast"))
            or (voc.DWI if b_value else None)
            or rules.sequence_from_physics(scanning_codes, variant_codes, tr, te, ti, flip)
        )
        sequence = rules.refine_for_gradient_echo(sequence, scanning_codes, variant_codes)

    contrast, agent = rules.contrast_agent(t.text("ContrastBolusAgent"))
    if not contrast and rules.contrast_in_names(names[:2]):
        contrast = True

    orientation = t.get("ImageOrientationPatient", lambda v: v)
    return ProtocolFields(
        modality=modality,
        sequence=sequence,
        organ=rules.organ_from_body_part(t.text("BodyPartExamined"))
        or rules.organ_from_names(names[:2] + [t.text("StudyDescription")]),
        scanning_sequence=_phrases("ScanningSequence", scanning_codes),
        sequence_variant=_phrases("SequenceVariant", variant_codes),
        scan_options=scan_options,
        repetition_time=tr,
        echo_time=te,
        inversion_time=ti,
        flip_angle=flip,
        field_strength=_nominal_tesla(t.positive("MagneticFieldStrength")),
        manufacturer=normalize_manufacturer(t.text("Manufacturer")),
        model_name=t.text("ManufacturerModelName"),
        contrast=contrast,
        contrast_agent=agent if contrast else None,
        # b = 0 on a non-diffusion frame is a placeholder, not a fact about the image.
        b_value=b_value if sequence == voc.DWI else None,
        kvp=t.positive("KVP"),
        tube_current=t.positive("XRayTubeCurrent"),
        exposure_time=t.positive("ExposureTime"),
        coil=t.text("ReceiveCoilName"),
        plane=None if orientation is None else _safe_plane(orientation),
    )


def _safe_plane(orientation: Any) -> str | None:
    try:
        return _plane(orientation)
    except TAG_ERRORS as exc:
        log.debug("ignoring malformed ImageOrientationPatient: %s", exc)
        return None


# --- official info.json entries ------------------------------------------------------------------

_MODALITY_FROM_WORDS = {words: code for code, words in voc.MODALITY_WORDS.items()}


def _info_phrases(kind: str, value: Any) -> tuple[str, ...]:
    """Values are words or codes, as a list or one string ('spin echo, inversion recovery')."""
    items = to_codes(value)
    if len(items) == 1 and "," in items[0]:
        items = [part for part in items[0].split(",")]
    return _phrases(kind, [item.strip() for item in items if item.strip()])


def fields_from_info_entry(entry: Mapping[str, Any]) -> ProtocolFields:
    """Protocol fields of one sequence entry of an official EVA-I2I ``info.json``.

    Values there are already plain words. ``Contrast`` may be an agent name, ``"unknown"`` (an
    unnamed agent) or a yes/no value. DCE frame numbers, acquisition times and spacing are not
    prompt facts here and are ignored.
    """
    t = _Tags(entry)
    modality_text = t.text("Modality") or voc.MODALITY_MR
    modality = _MODALITY_FROM_WORDS.get(modality_text.lower(), modality_text.upper())
    modality = voc.MODALITY_MR if modality in ("MRI", "MAGNETIC RESONANCE") else modality

    raw_contrast = t.get("Contrast", lambda v: v)
    if isinstance(raw_contrast, str) and to_bool(raw_contrast) is None:
        # An agent name, or "unknown" for an agent nobody recorded.
        contrast, agent = rules.contrast_agent(raw_contrast)
        agent = None if agent is not None and agent.lower() == "unknown" else agent
    else:
        contrast, agent = bool(to_bool(raw_contrast)), None

    sequence = rules.canonical_sequence(t.text("Sequence"))
    if sequence is not None and sequence.lower() == voc.MODALITY_WORDS.get(modality, "").lower():
        sequence = None  # CT/CBCT entries repeat the modality as their "sequence"
    plane = (t.text("Plane") or "").lower()

    preprocess = t.codes("Preprocess")
    organ = t.text("Organ")
    return ProtocolFields(
        modality=modality,
        sequence=sequence,
        organ=organ.lower() if organ else None,
        scanning_sequence=_info_phrases("ScanningSequence", entry.get("ScanningSequence")),
        sequence_variant=_info_phrases("SequenceVariant", entry.get("SequenceVariant")),
        scan_options=_info_phrases("ScanOptions", entry.get("ScanOptions")),
        repetition_time=t.positive("RepetitionTime"),
        echo_time=t.positive("EchoTime"),
        inversion_time=t.positive("InversionTime"),
        flip_angle=t.positive("FlipAngle"),
        field_strength=t.positive("MagneticFieldStrength"),
        model_name=t.text("ManufacturerModelName"),
        contrast=contrast,
        contrast_agent=agent,
        b_value=t.positive("bvalue", allow_zero=True),
        kvp=t.positive("KVP"),
        tube_current=t.positive("XRayTubeCurrent"),
        exposure_time=t.positive("ExposureTime"),
        coil=t.text("Coil"),
        preprocessing=tuple(dict.fromkeys(p for p in preprocess if p)),
        plane=plane if plane in voc.PLANES else None,
    )
