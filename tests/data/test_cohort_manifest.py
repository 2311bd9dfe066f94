"""Cohort manifests: JSON/CSV files, their errors, and the official info.json + folds reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from napari_evai2i.data.manifest import Manifest, read_official_info
from napari_evai2i.prompts import ProtocolFields
from napari_evai2i.prompts import vocabulary as voc


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_manifest_round_trip(cohort, tmp_path, suffix):
    root, manifest, _ = cohort
    inside = manifest.save(root / f"copy{suffix}")
    outside = manifest.save(tmp_path / f"elsewhere{suffix}")
    for path in (inside, outside):
        loaded = Manifest.load(path)
        assert len(loaded) == 6 and loaded.subjects() == ["sub-01", "sub-02"]
        for a, b in zip(manifest, loaded):
            assert (a.subject, a.sequence, a.series_uid, a.organ, a.split) == (b.subject, b.sequence, b.series_uid,
                                                                               b.organ, b.split)
            assert ProtocolFields.from_dict(a.fields) == ProtocolFields.from_dict(b.fields)
            assert manifest.resolve(a) == loaded.resolve(b)
            assert loaded.resolve(b).is_file()
    # Inside the manifest's folder paths stay relative (the cohort folder can be moved).
    text = inside.read_text()
    assert "sub-01/t1.nii.gz" in text and str(root) not in text
    assert str(root) in outside.read_text()


def test_manifest_queries(cohort):
    _, manifest, _ = cohort
    groups = manifest.by_subject()
    assert list(groups) == ["sub-01", "sub-02"] and [e.sequence for e in groups["sub-02"]] == ["t1", "t2", "flair"]
    split = manifest.with_random_splits(valid_fraction=0.5, seed=1)
    assert sorted(e.split for e in split) == ["train"] * 3 + ["valid"] * 3
    valid = split.filter(split="valid")
    assert len(valid.subjects()) == 1 and valid.root == manifest.root
    assert len(split.filter(["train", "valid"])) == 6
    assert manifest.entries[0].protocol_fields().sequence == voc.T1W
    assert not manifest.missing()
    with pytest.raises(ValueError, match="unknown split"):
        manifest.filter(split="training")


BAD_CSV = {
    "missing column": ("subject,path\ns1,a.nii.gz\n", r"missing column\(s\) sequence"),
    "unknown column": ("subject,sequence,path,splits\ns1,t1,a.nii.gz,train\n", r"unknown column\(s\) splits"),
    "unknown split": ("subject,sequence,path,split\ns1,t1,a.nii.gz,train\ns1,t2,b.nii.gz,training\n",
                      r"row at line 3: unknown split 'training'"),
    "duplicate sequence": ("subject,sequence,path\ns1,t1,a.nii.gz\ns1,t1,b.nii.gz\n",
                           r"row at line 3: subject 's1' already has a sequence named 't1'.*line 2"),
    "bad fields": ('subject,sequence,path,fields\ns1,t1,a.nii.gz,"{oops"\n', r"line 2: 'fields' is not valid JSON"),
    "empty path": ("subject,sequence,path\ns1,t1,\n", r"line 2: missing or empty 'path'"),
    "two splits": ("subject,sequence,path,split\ns1,t1,a.nii.gz,train\ns1,t2,b.nii.gz,test\n",
                   r"line 3: subject 's1' is in split 'test'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_manifest(tmp_path, case):
    text, message = BAD_CSV[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        Manifest.load(path)
    assert "bad.csv" in str(info.value)


@pytest.mark.parametrize("document, message", [
    ({"entries": []}, r"unsupported manifest version None"),
    ({"version": 1, "entries": [{"subject": "s", "sequence": "t1"}]}, r"entry 1: missing or empty 'path'"),
    ({"version": 1, "entries": [{"subject": "s", "sequence": "t1", "path": "a", "organs": "x"}]},
     r"entry 1: unknown key\(s\) organs"),
    ({"version": 1, "entries": [{"subject": "s", "sequence": "t1", "path": "a", "fields": [1]}]},
     r"entry 1: 'fields' must be a JSON object"),
    ({"version": 1, "entries": [{"subject": "s", "sequence": "t1", "path": "a"},
                                {"subject": "s", "sequence": "t1", "path": "b"}]}, r"entry 2: subject 's' already"),
    ({"version": 1, "entries": []}, r"no entries"),
])
def test_bad_json_manifest(tmp_path, document, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=message) as info:
        Manifest.load(path)
    assert str(path) in str(info.value)


def test_manifest_file_type_and_syntax(tmp_path):
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ValueError, match=r"must end in \.json or \.csv"):
        Manifest.load(tmp_path / "m.txt")
    (tmp_path / "m.json").write_text("{\n nope")
    with pytest.raises(ValueError, match=r"m.json: not valid JSON \(line 2"):
        Manifest.load(tmp_path / "m.json")


# --- official info.json + folds -----------------------------------------------------------------

OFFICIAL_INFO = {
    "T1-weighted": {"Modality": "magnetic resonance imaging", "Sequence": "T1-weighted", "Organ": "brain",
                    "MagneticFieldStrength": 3},
    "T1-contrast": {"Modality": "magnetic resonance imaging", "Sequence": "T1-weighted", "Contrast": "gadolinium",
                    "Organ": "brain"},
    "T2-weighted": {"Modality": "magnetic resonance imaging", "Sequence": "T2-weighted", "Organ": "brain"},
    "T2-FLAIR": {"Modality": "magnetic resonance imaging",
                 "Sequence": "T2-weighted-fluid-attenuated inversion recovery", "Organ": "brain"},
}


def write_official(tmp_path: Path, n_subjects: int = 5) -> tuple[Path, Path, list[str]]:
    ids = [f"BraTS_Training/BraTS2021_{i:05d}" for i in range(n_subjects)]
    info = {sid: OFFICIAL_INFO for sid in ids}
    (tmp_path / "info.json").write_text(json.dumps(info))
    folds = tmp_path / "folds"
    folds.mkdir()
    for k in range(5):  # one subject per fold, no header, trailing blank line
        (folds / f"fold_{k}.csv").write_text("\n".join(ids[k::5]) + "\n\n")
    return tmp_path / "info.json", folds, ids


def test_read_official_info(tmp_path):
    info, folds, ids = write_official(tmp_path)
    manifest = read_official_info(info, folds, "/data/brats", test_fold=0, valid_fold=1)
    assert len(manifest) == 20 and manifest.subjects() == ids
    splits = {e.subject: e.split for e in manifest}
    assert splits[ids[0]] == "test" and splits[ids[1]] == "valid" and {splits[i] for i in ids[2:]} == {"train"}
    flair = next(e for e in manifest if e.subject == ids[3] and e.sequence == "T2-FLAIR")
    assert flair.path == "/data/brats/BraTS_Training/BraTS2021_00003/BraTS2021_00003_flair.nii.gz"
    assert flair.protocol_fields().sequence == voc.FLAIR and flair.organ == "brain"
    t1ce = next(e for e in manifest if e.subject == ids[3] and e.sequence == "T1-contrast")
    assert t1ce.path.endswith("BraTS2021_00003_t1ce.nii.gz")
    assert t1ce.protocol_fields().contrast and t1ce.protocol_fields().contrast_agent == "gadolinium"
    # other folds as test/valid; a template for other datasets; the result saves and loads
    other = read_official_info(info, folds, "/x", test_fold=4, valid_fold=2,
                               path_template="{root}/{subject}/{sequence}.nii.gz")
    assert {e.subject: e.split for e in other}[ids[4]] == "test"
    assert other.entries[0].path == f"/x/{ids[0]}/T1-weighted.nii.gz"
    saved = Manifest.load(other.save(tmp_path / "official.csv"))
    assert [e.path for e in saved] == [e.path for e in other]


def test_read_official_info_errors(tmp_path):
    info, folds, ids = write_official(tmp_path)
    (folds / "fold_2.csv").write_text("BraTS_Training/nobody\n")
    with pytest.raises(ValueError, match=r"fold_2.csv: line 1: subject 'BraTS_Training/nobody' has no sequences"):
        read_official_info(info, folds, "/x")
    (folds / "fold_2.csv").write_text(ids[0] + "\n")
    with pytest.raises(ValueError, match=r"fold_2.csv: line 1: .* already listed in .*fold_0.csv: line 1"):
        read_official_info(info, folds, "/x")
    (folds / "fold_2.csv").write_text(ids[2] + "\n")
    with pytest.raises(ValueError, match="no fold_7.csv"):
        read_official_info(info, folds, "/x", test_fold=7)
    info.write_text(json.dumps({sid: {"IXI-T1": {"Sequence": "T1"}} for sid in ids}))
    with pytest.raises(ValueError, match=r"'IXI-T1' .* not a BraTS key.*path_template"):
        read_official_info(info, folds, "/x")
