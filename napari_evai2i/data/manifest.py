"""Cohort manifests: which image files make up a real training cohort, and their prompts.

A manifest is a flat list of entries, one per image series::

    {"subject": "sub-01",            # the co-registered group the series belongs to
     "sequence": "t2",               # unique name of the series within its subject
     "path": "sub-01/t2.nii.gz",     # file or DICOM folder; relative to the manifest's folder
     "series_uid": null,             # picks one series of a DICOM folder holding several
     "organ": "brain",               # groups subjects for the unpaired "int" domain
     "fields": {...},                # ProtocolFields.to_dict(): the facts the prompt is made of
     "split": "train"}               # train, valid or test (default train)

All series of one subject must be co-registered (same voxel grid): training uses them as
voxel-wise pairs. Stored as JSON (``{"version": 1, "entries": [...]}``) or CSV (columns
``subject, sequence, path, series_uid, organ, split, fields``; ``fields`` is a JSON string).

:func:`read_official_info` converts the official EVA-I2I ``info.json`` plus ``fold_*.csv``
files into a manifest, so cohorts prepared for the original code train here unchanged.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_file
from .._mappings import read_mapping, read_text
from ..prompts import ProtocolFields, fields_from_info_entry

__all__ = [
    "BRATS_FILE_SUFFIX",
    "CSV_COLUMNS",
    "MANIFEST_VERSION",
    "SPLITS",
    "Manifest",
    "ManifestEntry",
    "load_manifest",
    "read_official_info",
    "slugify",
    "unique_name",
]

MANIFEST_VERSION = 1
SPLITS = ("train", "valid", "test")
CSV_COLUMNS = ("subject", "sequence", "path", "series_uid", "organ", "split", "fields")
_REQUIRED = ("subject", "sequence", "path")

#: Official BraTS sequence keys of ``info.json`` -> file name suffix (``{id}_{suffix}.nii.gz``).
BRATS_FILE_SUFFIX = {"T1-weighted": "t1", "T1-contrast": "t1ce", "T2-weighted": "t2", "T2-FLAIR": "flair"}


@dataclass(frozen=True)
class ManifestEntry:
    """One image series of a cohort; see the module docstring for the meaning of each field."""

    subject: str
    sequence: str
    path: str
    series_uid: str | None = None
    organ: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    split: str = "train"

    def protocol_fields(self) -> ProtocolFields:
        """The prompt fields; the entry's ``organ`` fills in when the fields name none."""
        fields = ProtocolFields.from_dict(self.fields)
        if fields.organ is None and self.organ:
            fields = fields.replace(organ=self.organ)
        return fields

    @property
    def group(self) -> str | None:
        """Organ used to group subjects (the entry's, else the one in the fields)."""
        organ = self.organ or self.fields.get("organ")
        return str(organ).lower() if organ else None

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "sequence": self.sequence, "path": self.path,
                "series_uid": self.series_uid, "organ": self.organ, "fields": dict(self.fields),
                "split": self.split}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _entry(data: Mapping[str, Any], where: str) -> ManifestEntry:
    """Validate one raw entry (JSON object or CSV row); ``where`` names the file and row."""
    unknown = sorted(set(data) - set(CSV_COLUMNS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(CSV_COLUMNS)}")
    values = {}
    for key in _REQUIRED:
        value = data.get(key)
        if not isinstance(value, (str, int)) or not _text(value):
            raise ValueError(f"{where}: missing or empty {key!r}")
        values[key] = _text(value)
    split = _text(data.get("split")) or "train"
    if split not in SPLITS:
        raise ValueError(f"{where}: unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    fields = data.get("fields")
    if fields is None or (isinstance(fields, str) and not fields.strip()):
        fields = {}
    elif isinstance(fields, str):
        try:
            fields = json.loads(fields)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: 'fields' is not valid JSON: {exc}") from None
    if not isinstance(fields, Mapping):
        raise ValueError(f"{where}: 'fields' must be a JSON object, got {type(fields).__name__}")
    for key in ("series_uid", "organ"):
        value = data.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise ValueError(f"{where}: {key!r} must be text, got {type(value).__name__}")
    return ManifestEntry(subject=values["subject"], sequence=values["sequence"], path=values["path"],
                         series_uid=_text(data.get("series_uid")), organ=_text(data.get("organ")),
                         fields=dict(fields), split=split)


def _check_consistency(entries: list[ManifestEntry], where: list[str]) -> None:
    seen: dict[tuple[str, str], int] = {}
    split_of: dict[str, tuple[str, int]] = {}
    for i, entry in enumerate(entries):
        key = (entry.subject, entry.sequence)
        if key in seen:
            raise ValueError(f"{where[i]}: subject {entry.subject!r} already has a sequence named "
                             f"{entry.sequence!r} ({where[seen[key]]}); sequence names must be unique "
                             "within a subject")
        seen[key] = i
        first = split_of.setdefault(entry.subject, (entry.split, i))
        if first[0] != entry.split:
            raise ValueError(f"{where[i]}: subject {entry.subject!r} is in split {entry.split!r} here but in "
                             f"{first[0]!r} at {where[first[1]]}; a subject belongs to one split")


@dataclass
class Manifest:
    """The entries of a cohort. ``root`` is the folder relative paths are resolved against
    (the manifest file's folder once loaded or saved; the current directory when ``None``)."""

    entries: list[ManifestEntry] = field(default_factory=list)
    root: Path | None = None

    def __post_init__(self) -> None:
        # Entries built in code get the same checks as entries read from a file.
        self.entries = [_entry(e.to_dict() if isinstance(e, ManifestEntry) else e, f"entry {i + 1}")
                        for i, e in enumerate(self.entries)]
        _check_consistency(self.entries, [f"entry {i + 1}" for i in range(len(self.entries))])
        if self.root is not None:
            self.root = Path(self.root)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def subjects(self) -> list[str]:
        """Subject ids in order of first appearance."""
        return list(dict.fromkeys(e.subject for e in self.entries))

    def by_subject(self) -> dict[str, list[ManifestEntry]]:
        out: dict[str, list[ManifestEntry]] = {}
        for entry in self.entries:
            out.setdefault(entry.subject, []).append(entry)
        return out

    def filter(self, split: str | Iterable[str] | None = None, *,
               subjects: Iterable[str] | None = None) -> Manifest:
        """The entries of some splits and/or subjects (same root)."""
        splits = None if split is None else ({split} if isinstance(split, str) else set(split))
        for name in splits or ():
            if name not in SPLITS:
                raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        keep = None if subjects is None else set(subjects)
        return Manifest([e for e in self.entries
                         if (splits is None or e.split in splits) and (keep is None or e.subject in keep)],
                        root=self.root)

    def resolve(self, entry: ManifestEntry) -> Path:
        """Absolute path of an entry's file or folder."""
        path = Path(entry.path).expanduser()
        if not path.is_absolute():
            path = (self.root or Path.cwd()) / path
        return Path(os.path.abspath(path))

    def missing(self) -> list[ManifestEntry]:
        """Entries whose file or folder does not exist."""
        return [e for e in self.entries if not self.resolve(e).exists()]

    def with_random_splits(self, valid_fraction: float = 0.0, test_fraction: float = 0.0,
                           seed: int = 0) -> Manifest:
        """A copy with subjects (never single series) randomly put into train/valid/test."""
        if valid_fraction < 0 or test_fraction < 0 or valid_fraction + test_fraction >= 1:
            raise ValueError("valid and test fractions must be >= 0 and leave some training subjects")
        subjects = self.subjects()
        order = np.random.default_rng(seed).permutation(len(subjects))
        n_test = int(round(test_fraction * len(subjects)))
        n_valid = int(round(valid_fraction * len(subjects)))
        split = {}
        for rank, i in enumerate(order):
            split[subjects[i]] = "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
        return Manifest([dataclasses.replace(e, split=split[e.subject]) for e in self.entries], root=self.root)

    # --- files ----------------------------------------------------------------------------------

    def _portable_path(self, entry: ManifestEntry, folder: Path) -> str:
        """Path relative to ``folder`` when the file lies inside it, else absolute."""
        target = self.resolve(entry)
        try:
            return target.relative_to(folder).as_posix()
        except ValueError:
            return str(target)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON or CSV (by extension). Paths inside the file's folder are stored relative."""
        path = Path(path).expanduser()
        fmt = _format_of(path)
        folder = Path(os.path.abspath(path.parent))
        rows = [dict(e.to_dict(), path=self._portable_path(e, folder)) for e in self.entries]
        if fmt == "json":
            text = json.dumps({"version": MANIFEST_VERSION, "entries": rows}, indent=1) + "\n"
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                row["fields"] = json.dumps(row["fields"], sort_keys=True)
                writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})
            text = buffer.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read a manifest written by :meth:`save` (or by hand); errors name the file and row."""
        path = Path(path).expanduser()
        fmt = _format_of(path)
        text = read_text(path, "manifest")
        if fmt == "json":
            raw, where = _json_rows(text, path)
        else:
            raw, where = _csv_rows(text, path)
        entries = [_entry(row, w) for row, w in zip(raw, where)]
        _check_consistency(entries, where)
        if not entries:
            raise ValueError(f"{path}: the manifest has no entries")
        return cls(entries, root=Path(os.path.abspath(path.parent)))


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    return Manifest.load(path)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(f"{path}: a manifest file must end in .json or .csv")
    return suffix[1:]


def _json_rows(text: str, path: Path) -> tuple[list[Any], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or "entries" not in data:
        raise ValueError(f'{path}: expected a JSON object {{"version": 1, "entries": [...]}}')
    if data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: unsupported manifest version {data.get('version')!r} "
                         f"(this version reads {MANIFEST_VERSION})")
    rows = data["entries"]
    if not isinstance(rows, list):
        raise ValueError(f"{path}: 'entries' must be a list")
    where = [f"{path}: entry {i + 1}" for i in range(len(rows))]
    for row, w in zip(rows, where):
        if not isinstance(row, dict):
            raise ValueError(f"{w}: expected a JSON object, got {type(row).__name__}")
    return rows, where


def _csv_rows(text: str, path: Path) -> tuple[list[dict], list[str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} in the header line "
                         f"(columns: {', '.join(CSV_COLUMNS)})")
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if unknown:
        raise ValueError(f"{path}: unknown column(s) {', '.join(unknown)} (allowed: {', '.join(CSV_COLUMNS)})")
    reader.fieldnames = header
    rows, where = [], []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise ValueError(f"{path}: row at line {line} has more cells than the header")
        if not any((v or "").strip() for v in row.values()):
            continue  # blank line
        rows.append({k: (v if v is None or k == "fields" else v.strip()) or None for k, v in row.items()})
        where.append(f"{path}: row at line {line}")
    return rows, where


# --- official EVA-I2I info.json + folds ----------------------------------------------------------


def _read_folds(folds_dir: Path) -> dict[int, list[tuple[str, int]]]:
    folds: dict[int, list[tuple[str, int]]] = {}
    for file in sorted(folds_dir.glob("fold_*.csv")):
        match = re.fullmatch(r"fold_(\d+)\.csv", file.name)
        if not match:
            continue
        ids = []
        for line_no, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), 1):
            subject = line.strip().strip(",").strip()
            if subject:
                ids.append((subject, line_no))
        folds[int(match.group(1))] = ids
    return folds


def read_official_info(
    info_json: str | os.PathLike[str],
    folds_dir: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    *,
    test_fold: int = 0,
    valid_fold: int = 1,
    path_template: str | None = None,
    organ: str | None = None,
) -> Manifest:
    """A manifest from an official EVA-I2I ``info.json`` and its ``fold_0..4.csv`` files.

    * ``info.json``: ``{subject_id: {sequence_key: {tag: value}}}``; fields come from
      :func:`fields_from_info_entry`, the sequence name is the key.
    * Folds: one subject id per line, no header. Subjects of ``test_fold`` go to ``test``,
      of ``valid_fold`` to ``valid``, of the other folds to ``train``; subjects listed in no
      fold are left out (as in the official loader).
    * Paths: ``path_template`` with ``{root}``, ``{subject}`` (the id, which may contain
      ``/``), ``{basename}`` (its last component) and ``{sequence}`` (the key), e.g.
      ``"{root}/{subject}/{sequence}.nii.gz"``. Without a template the BraTS rule
      ``{root}/{id}/{basename}_{t1,t1ce,t2,flair}.nii.gz`` is used, which only knows the four
      BraTS keys (:data:`BRATS_FILE_SUFFIX`).
    * ``organ`` overrides the ``Organ`` values of the entries.
    """
    info_path, folds_path, root = Path(info_json), Path(folds_dir), Path(image_root)
    info = read_mapping(info_path, "info.json", expected="{subject_id: {sequence_key: {tag: value}}}")
    if test_fold == valid_fold:
        raise ValueError(f"test_fold and valid_fold must differ (both are {test_fold})")
    if not folds_path.is_dir():
        raise ValueError(f"{folds_path}: no such folder of fold_*.csv files")
    folds = _read_folds(folds_path)
    for fold in (test_fold, valid_fold):
        if fold not in folds:
            found = ", ".join(f"fold_{k}" for k in sorted(folds)) or "none"
            raise ValueError(f"{folds_path}: no fold_{fold}.csv (found: {found})")

    entries: list[ManifestEntry] = []
    fold_of: dict[str, str] = {}
    for fold, ids in sorted(folds.items()):
        split = "test" if fold == test_fold else "valid" if fold == valid_fold else "train"
        where_fold = folds_path / f"fold_{fold}.csv"
        for subject, line_no in ids:
            where = f"{where_fold}: line {line_no}"
            if subject in fold_of:
                raise ValueError(f"{where}: subject {subject!r} is already listed in {fold_of[subject]}")
            fold_of[subject] = where
            sequences = info.get(subject)
            if not isinstance(sequences, dict) or not sequences:
                raise ValueError(f"{where}: subject {subject!r} has no sequences in {info_path}")
            basename = subject.rstrip("/").split("/")[-1]
            for key, tags in sequences.items():
                if not isinstance(tags, dict):
                    raise ValueError(f"{info_path}: {subject!r} -> {key!r} must be an object of tags")
                if path_template is not None:
                    try:
                        path = path_template.format(root=root, subject=subject, basename=basename, sequence=key)
                    except (KeyError, IndexError) as exc:
                        raise ValueError(f"path_template {path_template!r}: unknown placeholder {exc}; use "
                                         "{root}, {subject}, {basename}, {sequence}") from None
                elif key in BRATS_FILE_SUFFIX:
                    path = str(root / subject / f"{basename}_{BRATS_FILE_SUFFIX[key]}.nii.gz")
                else:
                    raise ValueError(f"{info_path}: sequence key {key!r} of {subject!r} is not a BraTS key "
                                     f"({', '.join(BRATS_FILE_SUFFIX)}); pass path_template= for this dataset")
                fields = fields_from_info_entry(tags)
                if organ:
                    fields = fields.replace(organ=organ.lower())
                entries.append(ManifestEntry(subject=subject, sequence=key, path=path, organ=fields.organ,
                                             fields=fields.to_dict(), split=split))
    if not entries:
        raise ValueError(f"{folds_path}: the fold files list no subjects")
    return Manifest(entries)


# --- names ---------------------------------------------------------------------------------------


def slugify(text: str | None, default: str = "series") -> str:
    """A short file-system and manifest friendly name: lower case, ``[a-z0-9_]`` only."""
    slug = re.sub(r"[^a-z0-9]+", "_", (text or "").lower()).strip("_")
    return slug[:64].rstrip("_") or default


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... whichever is not in ``taken`` (which is updated)."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate
