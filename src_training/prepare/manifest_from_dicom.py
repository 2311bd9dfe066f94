"""Build a cohort manifest from a folder tree of DICOM series.

    python src_training/prepare/manifest_from_dicom.py ROOT -o manifest.json [--organ brain]

Every folder under ROOT that holds DICOM image files is scanned (``list_dicom_series``); each
series becomes one manifest entry:

* subject: the first ``--subject-depth`` (default 1) path components of the series' folder
  below ROOT, joined with ``/`` (``ROOT/patient7/study1/t2/`` -> ``patient7``); series lying
  directly in ROOT (or less deep than the depth) are skipped with a note;
* sequence: the SeriesDescription, slugified (``"T2 TSE tra"`` -> ``t2_tse_tra``) and made
  unique within the subject (``_2``, ``_3``...);
* path: the series' folder (relative to the manifest when inside its folder) plus its
  SeriesInstanceUID, so folders holding several series work;
* fields: the prompt facts from the header of the series' first file (``fields_from_dicom``).

Only MR and CT series with at least ``--min-slices`` slices are kept (localizers and scouts are
left out). Training pairs the series of a subject voxel by voxel, so they must be resampled
onto one grid first; subjects whose series differ in size are reported.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from _cli import UsageError, add_split_options, base_parser, run

from napari_evai2i.data.manifest import Manifest, ManifestEntry, slugify, unique_name
from napari_evai2i.io import VolumeReadError, list_dicom_series
from napari_evai2i.prompts import fields_from_dicom


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = base_parser(__doc__, "folder tree holding the DICOM series",
                         "organ of every series, e.g. brain (else from the headers)")
    parser.add_argument("--subject-depth", type=int, default=1,
                        help="number of leading folder levels below ROOT that name a subject (default 1)")
    parser.add_argument("--min-slices", type=int, default=10,
                        help="skip series with fewer slices (files, or frames of a multi-frame file; default 10)")
    return add_split_options(parser).parse_args(argv)


def _shape(header) -> tuple[int, ...] | None:
    try:
        return (int(header.get("NumberOfFrames", 0) or 0), int(header.Rows), int(header.Columns))
    except (AttributeError, TypeError, ValueError):
        return None


def build(args: argparse.Namespace) -> tuple[Manifest, dict[str, int], list[str]]:
    import pydicom

    root = args.root.expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"{args.root}: no such folder")
    if args.subject_depth < 1:
        raise UsageError("--subject-depth must be at least 1")
    entries: list[ManifestEntry] = []
    taken: dict[str, set[str]] = {}
    shapes: dict[str, set[tuple[int, ...]]] = {}
    skipped = {"too few slices": 0, "not MR/CT": 0, "no subject folder": 0, "unreadable": 0}
    notes: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        if not files:
            continue
        try:
            series = list_dicom_series(folder)
        except VolumeReadError as exc:
            notes.append(f"skipped folder {folder}: {exc}")
            continue
        parts = Path(folder).relative_to(root).parts
        for info in series:
            if len(parts) < args.subject_depth:
                skipped["no subject folder"] += 1
                continue
            if info.modality.upper() not in ("MR", "CT"):
                skipped["not MR/CT"] += 1
                continue
            try:
                header = pydicom.dcmread(info.files[0], stop_before_pixels=True)
                fields = fields_from_dicom(header)
            except Exception as exc:  # noqa: BLE001 - one bad header must not stop the scan
                skipped["unreadable"] += 1
                notes.append(f"skipped series {info.uid} in {folder}: {exc}")
                continue
            shape = _shape(header)
            slices = shape[0] if shape and info.n_files == 1 and shape[0] > 1 else info.n_files
            if slices < args.min_slices:
                skipped["too few slices"] += 1
                continue
            subject = "/".join(parts[: args.subject_depth])
            organ = (args.organ or fields.organ or "").lower() or None
            if organ and fields.organ is None:
                fields = fields.replace(organ=organ)
            sequence = unique_name(slugify(info.description), taken.setdefault(subject, set()))
            entries.append(ManifestEntry(subject=subject, sequence=sequence, path=folder, series_uid=info.uid,
                                         organ=organ, fields=fields.to_dict()))
            if shape is not None:
                shapes.setdefault(subject, set()).add((shape[0] or info.n_files, *shape[1:]))
    for subject, found in shapes.items():
        if len(found) > 1:
            notes.append(f"subject {subject}: series differ in size {sorted(found)}; resample them onto one grid "
                         "before training (such subjects are skipped)")
    if not entries:
        raise UsageError(f"{root}: no usable DICOM series found below this folder "
                         f"(skipped: {', '.join(f'{k} {v}' for k, v in skipped.items() if v) or 'none'})")
    return Manifest(entries), skipped, notes  # absolute paths; save() stores them relative to the manifest


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv), build, ("series", "series"))


if __name__ == "__main__":
    sys.exit(main())
