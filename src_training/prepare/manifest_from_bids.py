"""Build a cohort manifest from a BIDS-like tree of anatomical NIfTI files.

    python src_training/prepare/manifest_from_bids.py ROOT -o manifest.json [--organ brain]

Files ``ROOT/sub-XX/[ses-YY/]anat/sub-XX_[ses-YY_][key-value_...]SUFFIX.nii[.gz]`` are read:

* subject: ``sub-XX``, or ``sub-XX/ses-YY`` when there are sessions (only images of one
  session share a voxel grid, which is what a manifest subject means);
* sequence: the file name without the subject and session entities and the extension
  (``sub-01_ce-gd_T1w.nii.gz`` -> ``ce-gd_T1w``);
* fields: the JSON sidecars (BIDS inheritance: matching sidecars from ROOT down to the file's
  folder, the deeper ones winning) converted to DICOM keywords and passed through
  ``fields_from_tags``. BIDS gives RepetitionTime, EchoTime and InversionTime in seconds; they
  become ms (values too large to be seconds are taken as ms already and reported). dcm2niix's
  underscore-joined ScanningSequence/SequenceVariant/ScanOptions are split into codes;
* sequence weighting: from the suffix (T1w, T2w, PDw, T2starw, FLAIR, inplaneT1/T2); a more
  specific weighting found in the sidecar (e.g. MPRAGE for a T1w) is kept. A ``ce-`` entity
  marks contrast enhancement. Other suffixes (maps, angio, masks...) are skipped.

The images of a subject must be co-registered on one voxel grid for paired training.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from _cli import UsageError, add_split_options, base_parser, run

from napari_evai2i.data.manifest import Manifest, ManifestEntry
from napari_evai2i.prompts import fields_from_tags
from napari_evai2i.prompts import vocabulary as voc

#: BIDS anatomical suffix -> weighting.
SUFFIX_SEQUENCE = {
    "T1w": voc.T1W, "inplaneT1": voc.T1W,
    "T2w": voc.T2W, "inplaneT2": voc.T2W,
    "PDw": voc.PDW, "PD": voc.PDW,
    "T2starw": voc.T2STAR, "T2star": voc.T2STAR,
    "FLAIR": voc.FLAIR,
}
#: Sidecar-derived weightings that refine (rather than contradict) a suffix's weighting.
REFINES = {voc.T1W: (voc.MPRAGE, voc.T1W_GRE), voc.T2STAR: (voc.SWI,)}

#: BIDS sidecar key -> DICOM keyword (same name when absent here and listed in _SAME_NAME).
_RENAMED = {
    "ManufacturersModelName": "ManufacturerModelName",
    "BodyPart": "BodyPartExamined",
    "ContrastBolusIngredient": "ContrastBolusAgent",
    "ImageOrientationPatientDICOM": "ImageOrientationPatient",
    "PulseSequenceDetails": "PulseSequenceName",
}
_SAME_NAME = (
    "Modality", "FlipAngle", "MagneticFieldStrength", "Manufacturer", "ManufacturerModelName",
    "SeriesDescription", "ProtocolName", "SequenceName", "BodyPartExamined", "ReceiveCoilName",
    "ContrastBolusAgent", "ImageOrientationPatient", "ScanningSequence", "SequenceVariant",
    "ScanOptions",
)
#: Seconds in BIDS; above these limits a value must already be in ms.
_SECONDS = {"RepetitionTime": 100.0, "EchoTime": 1.0, "InversionTime": 10.0}
_ENTITY = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")


def parse_name(name: str) -> tuple[dict[str, str], str] | None:
    """``sub-01_ses-a_T1w.nii.gz`` -> ({'sub': '01', 'ses': 'a'}, 'T1w'); None if not BIDS-like."""
    stem = re.sub(r"\.(nii(\.gz)?|json)$", "", name)
    parts = stem.split("_")
    entities: dict[str, str] = {}
    for part in parts[:-1]:
        match = _ENTITY.match(part)
        if not match:
            return None
        entities[match.group(1)] = match.group(2)
    suffix = parts[-1]
    return (entities, suffix) if suffix and "-" not in suffix else None


def sidecar(image: Path, root: Path, entities: dict[str, str], suffix: str) -> dict[str, Any]:
    """Merged sidecar metadata of ``image`` (BIDS inheritance principle)."""
    levels = [root]
    for part in image.parent.relative_to(root).parts:
        levels.append(levels[-1] / part)
    merged: dict[str, Any] = {}
    for level in levels:
        candidates = []
        for file in sorted(level.glob("*.json")):
            parsed = parse_name(file.name)
            if parsed is None or parsed[1] != suffix:
                continue
            if all(entities.get(k) == v for k, v in parsed[0].items()):
                candidates.append((len(parsed[0]), file))
        for _, file in sorted(candidates):
            try:
                data = json.loads(file.read_text(encoding="utf-8-sig"))
            except (OSError, json.JSONDecodeError) as exc:
                raise UsageError(f"{file}: unreadable JSON sidecar: {exc}") from None
            if not isinstance(data, dict):
                raise UsageError(f"{file}: a sidecar must be a JSON object")
            merged.update(data)
    return merged


def _codes(value: Any) -> Any:
    """dcm2niix writes 'SK_SP_MP'; DICOM uses backslashes. GE's '*_GEMS' codes stay whole."""
    if not isinstance(value, str):
        return value
    codes: list[str] = []
    for token in value.replace("\\", "_").split("_"):
        if token.upper() == "GEMS" and codes:
            codes[-1] += "_" + token
        elif token:
            codes.append(token)
    return "\\".join(codes)


def sidecar_tags(meta: dict[str, Any], notes: list[str], where: str) -> dict[str, Any]:
    """BIDS sidecar keys -> a DICOM keyword dict for ``fields_from_tags`` (times in ms)."""
    tags: dict[str, Any] = {}
    for key, value in meta.items():
        keyword = _RENAMED.get(key, key)
        if keyword in _SAME_NAME and value is not None:
            coded = keyword in ("ScanningSequence", "SequenceVariant", "ScanOptions")
            tags[keyword] = _codes(value) if coded else value
    for key, limit in _SECONDS.items():
        value = meta.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            if value > limit:
                notes.append(f"{where}: {key} {value} is too large for seconds; taken as ms")
                tags[key] = float(value)
            else:
                tags[key] = float(value) * 1000.0
    return tags


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__, "BIDS-like dataset folder (holding sub-* folders)",
                         "organ of every image, e.g. brain (else from the sidecars)")
    return add_split_options(parser).parse_args(argv)


def build(args: argparse.Namespace) -> tuple[Manifest, dict[str, int], list[str]]:
    root = args.root.expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"{args.root}: no such folder")
    images = sorted({*root.glob("sub-*/anat/*.nii*"), *root.glob("sub-*/ses-*/anat/*.nii*")})
    entries: list[ManifestEntry] = []
    skipped = {"not BIDS-named": 0, "other suffix": 0}
    notes: list[str] = []
    for image in images:
        if not re.search(r"\.nii(\.gz)?$", image.name):
            continue
        parsed = parse_name(image.name)
        if parsed is None or "sub" not in parsed[0]:
            skipped["not BIDS-named"] += 1
            continue
        entities, suffix = parsed
        if suffix not in SUFFIX_SEQUENCE:
            skipped["other suffix"] += 1
            continue
        folders = image.parent.relative_to(root).parts  # sub-XX[/ses-YY]/anat
        subject = "/".join(folders[:-1])
        sequence = "_".join([f"{k}-{v}" for k, v in entities.items() if k not in ("sub", "ses")] + [suffix])
        rel = image.relative_to(root).as_posix()
        fields = fields_from_tags(sidecar_tags(sidecar(image, root, entities, suffix), notes, rel))
        weighting = SUFFIX_SEQUENCE[suffix]
        if fields.sequence not in (weighting, *REFINES.get(weighting, ())):
            fields = fields.replace(sequence=weighting)
        if "ce" in entities and not fields.contrast:
            fields = fields.replace(contrast=True)
        organ = (args.organ or fields.organ or "").lower() or None
        if organ and fields.organ is None:
            fields = fields.replace(organ=organ)
        entries.append(ManifestEntry(subject=subject, sequence=sequence, path=str(image), organ=organ,
                                     fields=fields.to_dict()))
    if not entries:
        raise UsageError(f"{root}: no anatomical images (sub-*/[ses-*/]anat/*_{{{','.join(SUFFIX_SEQUENCE)}}}"
                         ".nii[.gz]) found")
    return Manifest(entries), skipped, notes  # absolute paths; save() stores them relative to the manifest


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv), build, ("image", "images"))


if __name__ == "__main__":
    sys.exit(main())
