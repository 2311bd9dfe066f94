"""Real-cohort data layer: manifests, the official info.json reader, CohortPairs and the
manifest builders for DICOM and BIDS trees -- all on small real files written in tmp_path."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from napari_evai2i.data.cohort_dataset import PLANE_AXIS, CohortDataConfig, CohortPairs, intensity_augment
from napari_evai2i.data.manifest import Manifest, ManifestEntry, read_official_info
from napari_evai2i.data.simulated_dataset import collate_items
from napari_evai2i.engine.normalization import fit_intensity_scale
from napari_evai2i.prompts import ProtocolFields, fields_from_tags
from napari_evai2i.prompts import vocabulary as voc

REPO = Path(__file__).resolve().parents[2]
PREPARE = REPO / "src_training" / "prepare"
SHAPE = (12, 40, 36)  # (Z, Y, X)

#: Per sequence: (head, ventricles, lesion) intensities and the tags the prompt comes from.
SEQUENCES = {
    "t1": ((600, 200, 900), {"SeriesDescription": "t1_se_tra", "RepetitionTime": 500, "EchoTime": 12}),
    "t2": ((400, 1200, 300), {"SeriesDescription": "t2_tse_tra", "RepetitionTime": 4000, "EchoTime": 100}),
    "flair": ((500, 40, 1000), {"SeriesDescription": "t2_flair_tra", "RepetitionTime": 9000, "EchoTime": 90,
                                "InversionTime": 2500}),
}


def anatomy(shift: float = 0.0, shape=SHAPE) -> np.ndarray:
    """Labels 0 background, 1 head, 2 ventricles, 3 lesion: a few ellipsoids."""
    nz, ny, nx = shape
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx].astype(np.float32)
    cz, cy, cx = (nz - 1) / 2, (ny - 1) / 2 + shift, (nx - 1) / 2 - shift / 2

    def ellipsoid(c, r):
        return ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1

    labels = np.zeros(shape, np.uint8)
    labels[ellipsoid((cz, cy, cx), (nz / 2 - 0.5, ny / 2 - 4, nx / 2 - 4))] = 1
    labels[ellipsoid((cz, cy - 2, cx), (nz / 4, ny / 8, nx / 6))] = 2
    labels[ellipsoid((cz + 1, cy + 8, cx + 5), (2, 3, 3))] = 3
    return labels


def render(labels: np.ndarray, values) -> np.ndarray:
    lut = np.array((0, *values), np.float32)
    image = lut[labels]
    gradient = np.linspace(0.9, 1.1, labels.shape[2], dtype=np.float32)  # some texture
    return np.where(labels > 0, image * gradient, 0).astype(np.int16)


def write_nifti(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # nibabel stores (i, j, k) = (X, Y, Z); read_volume gives (Z, Y, X) back.
    nib.save(nib.Nifti1Image(array.transpose(2, 1, 0), np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return path


def cohort_fields(name: str, organ: str = "brain") -> dict:
    return fields_from_tags(dict(SEQUENCES[name][1], BodyPartExamined=organ.upper())).to_dict()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two subjects x three co-registered sequences as NIfTI files, plus their arrays."""
    root = tmp_path_factory.mktemp("cohort")
    arrays, entries = {}, []
    for s, shift in (("sub-01", 0.0), ("sub-02", 2.0)):
        labels = anatomy(shift)
        for name, (values, _) in SEQUENCES.items():
            array = render(labels, values)
            write_nifti(root / s / f"{name}.nii.gz", array)
            arrays[s, name] = array
            entries.append(ManifestEntry(subject=s, sequence=name, path=f"{s}/{name}.nii.gz", organ="brain",
                                         fields=cohort_fields(name)))
    manifest = Manifest(entries, root=root)
    manifest.save(root / "manifest.json")
    return root, manifest, arrays


def small_config(**changes) -> CohortDataConfig:
    return CohortDataConfig(**{"size": 32, "length": 64, "seed": 3, **changes})


# --- manifest files --------------------------------------------------------------------------


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


# --- CohortPairs ---------------------------------------------------------------------------------

ROLES = ("src", "tgt", "int")


def test_items_keys_shapes_and_alignment(cohort):
    root, manifest, arrays = cohort
    ds = CohortPairs(root / "manifest.json", small_config())
    assert len(ds) == 64
    for index in range(6):
        item, plan = ds[index], ds.plan(index)
        for role in ROLES:
            for key in (role, f"{role}_in"):
                assert item[key].shape == (1, 32, 32) and item[key].dtype == np.float32
            assert isinstance(item[f"{role}_text"], str) and item[f"{role}_text"]
            assert item[f"{role}_fields"]["plane"] == item["plane"]
        assert item["mask"].shape == (1, 32, 32) and item["mask"].dtype == np.float32
        assert "tissue" not in item and item["paired_int"] is False
        # src and tgt: two sequences of one subject, same slice -> same foreground
        assert plan.src.subject == plan.tgt.subject == plan.subject and plan.src.sequence != plan.tgt.sequence
        assert np.array_equal(item["src"] > 0, item["tgt"] > 0) and item["mask"].sum() > 50
        assert item["src_fields"] == plan.src.protocol_fields().replace(plane=plan.plane).to_dict()
        # int: another subject of the same organ
        assert plan.int_subject != plan.subject and plan.int.subject == plan.int_subject
        # the src image is the raw slice of that file, normalised by the whole-volume scale
        raw = arrays[plan.subject, plan.src.sequence]
        expected = np.take(raw, plan.slice_index, axis=PLANE_AXIS[plan.plane]) / fit_intensity_scale(raw).scale
        np.testing.assert_allclose(np.sort(item["src"][item["src"] > 0])[-5:],
                                   np.sort(expected[expected > 0])[-5:], rtol=1e-5)


def test_item_geometry_box_and_crop(cohort):
    root, manifest, arrays = cohort
    ds = CohortPairs(manifest, small_config(size=48, length=200))
    planes = set()
    for index in range(40):
        plan = ds.plan(index)
        axis = PLANE_AXIS[plan.plane]
        planes.add(plan.plane)
        foreground = np.any([arrays[plan.subject, s] > 0 for s in SEQUENCES], axis=0)
        coords = np.nonzero(foreground)[axis]
        lo, hi = np.percentile(coords, 20), np.percentile(coords, 80)
        assert lo - 1 <= plan.slice_index <= hi + 1
    assert planes == {"axial", "coronal", "sagittal"}
    # 48 > 40 and 36: the slice is zero-padded, all of it kept, the foreground centred
    item = ds[0]
    plan = ds.plan(0)
    raw = arrays[plan.subject, plan.src.sequence]
    expected = np.take(raw, plan.slice_index, axis=PLANE_AXIS[plan.plane]) / fit_intensity_scale(raw).scale
    ys, xs = np.nonzero(item["src"][0])
    ey, ex = np.nonzero(expected)
    assert len(ys) == len(ey)   # nothing cropped away; same pixels, same orientation (no flips)
    np.testing.assert_allclose(item["src"][0, ys.min():ys.max() + 1, xs.min():xs.max() + 1],
                               expected[ey.min():ey.max() + 1, ex.min():ex.max() + 1], rtol=1e-6)
    assert abs((ys.min() + ys.max()) / 2 - 23.5) <= 2 and abs((xs.min() + xs.max()) / 2 - 23.5) <= 2


def test_determinism_and_augmentation(cohort):
    root, manifest, _ = cohort
    a, b = CohortPairs(manifest, small_config()), CohortPairs(Manifest.load(root / "manifest.json"), small_config())
    for index in (0, 5, 17):
        x, y = a[index], b[index]
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], np.ndarray):
                np.testing.assert_array_equal(x[key], y[key])
            else:
                assert x[key] == y[key]
    other = CohortPairs(manifest, small_config(seed=4))
    assert any(a.plan(i) != other.plan(i) for i in range(5))
    assert len({(a.plan(i).subject, a.plan(i).src.sequence, a.plan(i).plane, a.plan(i).slice_index)
                for i in range(30)}) > 10
    # inputs: sometimes exactly the clean target, sometimes mildly changed
    changed = [not np.array_equal(a[i]["src_in"], a[i]["src"]) for i in range(12)]
    assert any(changed) and not all(changed)
    for i in range(12):
        item = a[i]
        assert np.abs(item["src_in"] - item["src"]).mean() < 0.1
    # the augmentation alone: mild, finite, float32
    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    cfg = CohortDataConfig(augment_probability=1.0, augment_op_probability=1.0)
    out = intensity_augment(image, np.random.default_rng(0), cfg)
    assert out.dtype == np.float32 and np.isfinite(out).all() and 0 < np.abs(out - image).mean() < 0.1


def test_volume_cache(cohort):
    _, manifest, _ = cohort
    ds = CohortPairs(manifest, small_config(cache_size=6))
    for i in range(20):
        ds[i]
    info = ds._volume.cache_info()
    assert info.misses == 6 and info.hits > 40  # each file read once
    small = CohortPairs(manifest, small_config(cache_size=1))
    small[0]
    assert small._volume.cache_info().currsize == 1


def test_paired_int_fallbacks(cohort, tmp_path):
    root, manifest, _ = cohort
    one = manifest.filter(subjects=["sub-01"])
    ds = CohortPairs(one, small_config())
    for i in range(5):
        item, plan = ds[i], ds.plan(i)
        assert item["paired_int"] is True and plan.int_subject == "sub-01"
        assert {plan.src.sequence, plan.tgt.sequence, plan.int.sequence} == set(SEQUENCES)
        assert np.array_equal(item["int"] > 0, item["src"] > 0)
    # a subject of another organ is not an int candidate
    other_organ = Manifest([ManifestEntry(**dict(e.to_dict(), organ="knee" if e.subject == "sub-02" else "brain",
                                                 fields={})) for e in manifest], root=manifest.root)
    ds = CohortPairs(other_organ, small_config())
    assert all(ds.plan(i).paired_int and ds.plan(i).int_subject == ds.plan(i).subject for i in range(6))
    # only two sequences: int repeats tgt
    two = Manifest([e for e in manifest if e.subject == "sub-01" and e.sequence != "flair"], root=manifest.root)
    plan = CohortPairs(two, small_config()).plan(0)
    assert plan.int is plan.tgt


def test_mismatched_subject_skipped_with_one_warning(cohort, tmp_path):
    root, manifest, arrays = cohort
    write_nifti(tmp_path / "bad" / "t1.nii.gz", render(anatomy(shape=(12, 40, 30)), SEQUENCES["t1"][0]))
    write_nifti(tmp_path / "bad" / "t2.nii.gz", render(anatomy(), SEQUENCES["t2"][0]))
    entries = [dict(e.to_dict(), path=str(manifest.resolve(e))) for e in manifest if e.subject == "sub-01"]
    entries += [{"subject": "bad", "sequence": s, "path": str(tmp_path / "bad" / f"{s}.nii.gz"),
                 "organ": "brain", "fields": cohort_fields(s)} for s in ("t1", "t2")]
    ds = CohortPairs(Manifest(entries), small_config())
    with pytest.warns(UserWarning, match=r"subject 'bad' skipped: its sequences have different shapes") as record:
        subjects = {ds.plan(i).subject for i in range(12)}
    assert subjects == {"sub-01"} and len([w for w in record if "bad" in str(w.message)]) == 1
    only_bad = CohortPairs(Manifest(entries[3:]), small_config())
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="no usable subject"):
        only_bad[0]


def test_dataset_errors(cohort):
    _, manifest, _ = cohort
    with pytest.raises(ValueError, match="no entries in split 'test'"):
        CohortPairs(manifest, small_config(split="test"))
    single = Manifest([e for e in manifest if e.sequence == "t1"], root=manifest.root)
    with pytest.raises(ValueError, match="two or more sequences"):
        CohortPairs(single, small_config())
    with pytest.raises(ValueError, match="planes"):
        CohortPairs(manifest, small_config(planes=("oblique",)))


def test_dataloader_workers_and_distributed_sampler(cohort):
    _, manifest, _ = cohort
    ds = CohortPairs(manifest, small_config(length=8))
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_items)
    batches = list(loader)
    assert len(batches) == 2
    batch = batches[1]
    assert batch["src"].shape == (4, 1, 32, 32) and batch["src"].dtype == torch.float32
    assert batch["paired_int"].dtype == torch.bool and len(batch["tgt_text"]) == 4
    assert isinstance(batch["int_fields"][0], dict) and len(batch["plane"]) == 4
    for j in range(4):
        direct = ds[4 + j]
        np.testing.assert_array_equal(batch["tgt_in"][j].numpy(), direct["tgt_in"])
        assert batch["src_text"][j] == direct["src_text"]
    # picklable without its per-process caches (spawn/forkserver workers)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._volume.cache_info().currsize == 0 and ds._volume.cache_info().currsize > 0
    np.testing.assert_array_equal(clone[3]["int_in"], ds[3]["int_in"])
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=False)
        indices = list(sampler)
        seen += indices
        loader = DataLoader(ds, batch_size=2, sampler=sampler, num_workers=0, collate_fn=collate_items)
        first = next(iter(loader))
        np.testing.assert_array_equal(first["int"][1].numpy(), ds[indices[1]]["int"])
    assert sorted(seen) == list(range(8))


# --- manifest builders ---------------------------------------------------------------------------


def run_script(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PREPARE / name), *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_manifest_from_bids(tmp_path):
    root = tmp_path / "bids"
    labels = anatomy()
    (root).mkdir()
    (root / "dataset_description.json").write_text('{"Name": "tiny", "BIDSVersion": "1.8.0"}')
    (root / "T2w.json").write_text(json.dumps({"RepetitionTime": 3.2, "EchoTime": 0.09,
                                               "MagneticFieldStrength": 3, "Manufacturer": "Siemens"}))
    images = {
        "sub-01/anat/sub-01_T1w": ("t1", {"RepetitionTime": 2.3, "EchoTime": 0.00298, "InversionTime": 0.9,
                                          "FlipAngle": 9, "ScanningSequence": "GR_IR", "SequenceVariant": "SK_SP_MP",
                                          "ManufacturersModelName": "Prisma", "MagneticFieldStrength": 3}),
        "sub-01/anat/sub-01_T2w": ("t2", {"EchoTime": 0.1}),   # RepetitionTime inherited
        "sub-01/anat/sub-01_FLAIR": ("flair", None),
        "sub-01/anat/sub-01_ce-gd_T1w": ("t1", {"RepetitionTime": 500, "EchoTime": 0.012}),  # TR in ms by mistake
        "sub-01/anat/sub-01_T1map": ("t1", None),               # quantitative map: skipped
        "sub-02/ses-a/anat/sub-02_ses-a_T1w": ("t1", None),
        "sub-02/ses-a/anat/sub-02_ses-a_PDw": ("t2", None),
    }
    for stem, (name, meta) in images.items():
        write_nifti(root / f"{stem}.nii.gz", render(labels, SEQUENCES[name][0]))
        if meta:
            (root / f"{stem}.json").write_text(json.dumps(meta))
    out = tmp_path / "m.json"
    result = run_script("manifest_from_bids.py", root, "-o", out, "--organ", "brain")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout and "2 subjects, 6 images" in result.stdout and "1 other suffix" in result.stdout
    assert "RepetitionTime 500 is too large for seconds" in result.stderr
    manifest = Manifest.load(out)
    entries = {(e.subject, e.sequence): e for e in manifest}
    assert set(entries) == {("sub-01", "T1w"), ("sub-01", "T2w"), ("sub-01", "FLAIR"), ("sub-01", "ce-gd_T1w"),
                            ("sub-02/ses-a", "T1w"), ("sub-02/ses-a", "PDw")}
    t1 = entries["sub-01", "T1w"].protocol_fields()
    assert t1.repetition_time == pytest.approx(2300) and t1.echo_time == pytest.approx(2.98)
    assert t1.inversion_time == pytest.approx(900) and t1.flip_angle == 9 and t1.field_strength == 3
    assert t1.sequence == voc.MPRAGE and t1.model_name == "Prisma" and t1.organ == "brain"  # refined by sidecar
    t2 = entries["sub-01", "T2w"].protocol_fields()
    assert t2.sequence == voc.T2W and t2.repetition_time == pytest.approx(3200) and t2.echo_time == pytest.approx(100)
    assert t2.manufacturer is not None and t2.field_strength == 3
    assert entries["sub-01", "FLAIR"].protocol_fields().sequence == voc.FLAIR
    ce = entries["sub-01", "ce-gd_T1w"].protocol_fields()
    assert ce.contrast and ce.repetition_time == 500 and ce.echo_time == pytest.approx(12)
    # sub-01_T1w.json also applies to sub-01_ce-gd_T1w (BIDS inheritance); its own sidecar wins
    assert ce.flip_angle == 9 and ce.sequence == voc.MPRAGE
    assert entries["sub-02/ses-a", "PDw"].protocol_fields().sequence == voc.PDW
    assert '"sub-01/anat/sub-01_T1w.nii.gz"' not in out.read_text()  # outside the manifest folder: absolute
    # the manifest trains: real files, items from one session
    item = CohortPairs(manifest, small_config())[0]
    assert item["src"].shape == (1, 32, 32)
    # errors: one line on stderr, exit 2
    bad = run_script("manifest_from_bids.py", tmp_path / "nothing", "-o", tmp_path / "x.json")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and bad.stderr.count("\n") == 1
    again = run_script("manifest_from_bids.py", root, "-o", out)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_manifest_from_dicom(tmp_path):
    from napari_evai2i.io import Volume, write_dicom_series

    root = tmp_path / "dicom"
    labels = {"patA": anatomy(), "patB": anatomy(1.0)}
    tags = {"t1": {"RepetitionTime": 500.0, "EchoTime": 12.0, "ScanningSequence": "SE", "MagneticFieldStrength": 1.5,
                   "BodyPartExamined": "BRAIN"},
            "t2": {"RepetitionTime": 4000.0, "EchoTime": 100.0, "ScanningSequence": "SE",
                   "MagneticFieldStrength": 1.5, "BodyPartExamined": "BRAIN"}}
    for patient, lab in labels.items():
        for name, description in (("t1", "T1 SE tra"), ("t2", "T2 TSE tra")):
            volume = Volume(render(lab, SEQUENCES[name][0]), spacing=(2.0, 1.0, 1.0), tags=tags[name])
            folder = root / patient / "study1" / name
            write_dicom_series(volume, folder, series_description=description, derived=False)
    # patB: both series in one folder (the manifest then needs series_uid), plus a localizer
    for file in (root / "patB" / "study1" / "t2").iterdir():
        file.rename(root / "patB" / "study1" / "t1" / f"t2_{file.name}")
    (root / "patB" / "study1" / "t2").rmdir()
    scout = Volume(render(anatomy()[:2], SEQUENCES["t1"][0]), spacing=(2.0, 1.0, 1.0))
    write_dicom_series(scout, root / "patB" / "scout", series_description="localizer")
    (root / "notes.txt").write_text("not dicom")

    out = root / "manifest.csv"
    result = run_script("manifest_from_dicom.py", root, "-o", out, "--organ", "brain")
    assert result.returncode == 0, result.stderr
    assert "2 subjects, 4 series" in result.stdout and "1 too few slices" in result.stdout
    manifest = Manifest.load(out)
    entries = {(e.subject, e.sequence): e for e in manifest}
    assert set(entries) == {("patA", "t1_se_tra"), ("patA", "t2_tse_tra"), ("patB", "t1_se_tra"),
                            ("patB", "t2_tse_tra")}
    assert all(e.series_uid and e.organ == "brain" for e in manifest)
    assert entries["patB", "t1_se_tra"].path == entries["patB", "t2_tse_tra"].path == "patB/study1/t1"
    t2 = entries["patA", "t2_tse_tra"].protocol_fields()
    assert t2.sequence == voc.T2W and t2.repetition_time == 4000 and t2.echo_time == 100 and t2.field_strength == 1.5
    assert entries["patA", "t1_se_tra"].protocol_fields().sequence == voc.T1W
    ds = CohortPairs(manifest, small_config())
    item, plan = ds[0], ds.plan(0)
    assert item["paired_int"] is False and plan.src.subject != plan.int.subject
    assert np.array_equal(item["src"] > 0, item["tgt"] > 0) and item["mask"].sum() > 50
    # deeper subjects, de-duplicated names, an error line
    deep = run_script("manifest_from_dicom.py", root, "-o", tmp_path / "deep.json", "--subject-depth", "2")
    assert deep.returncode == 0, deep.stderr
    assert Manifest.load(tmp_path / "deep.json").subjects() == ["patA/study1", "patB/study1"]
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run_script("manifest_from_dicom.py", empty, "-o", tmp_path / "e.json")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "no usable DICOM series" in bad.stderr
