"""CohortPairs: training slice triples from real files (geometry, determinism, caches, workers)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _cohort_files import SEQUENCES, anatomy, cohort_fields, render, small_config, write_nifti
from torch.utils.data import DataLoader, DistributedSampler

from napari_evai2i.data.cohort_dataset import PLANE_AXIS, CohortDataConfig, CohortPairs, intensity_augment
from napari_evai2i.data.manifest import Manifest, ManifestEntry
from napari_evai2i.data.simulated_dataset import ROLES, collate_items
from napari_evai2i.engine.normalization import fit_intensity_scale


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


def test_a_subject_stored_lps_trains_on_the_same_slices_as_stored_ras(cohort, tmp_path):
    """Training sees the axes inference turns its input to (engine.orientation), whatever the storage."""
    import nibabel as nib

    _, manifest, _ = cohort
    entry = next(iter(manifest))
    ras = CohortPairs(manifest, small_config()).volume(entry)
    image = nib.load(str(manifest.resolve(entry)))
    flipped = np.asarray(image.dataobj)[::-1, ::-1]                 # x and y reversed ...
    affine = image.affine @ np.array([[-1.0, 0, 0, flipped.shape[0] - 1], [0, -1.0, 0, flipped.shape[1] - 1],
                                      [0, 0, 1, 0], [0, 0, 0, 1]])     # ... and so is the affine: LPS
    path = tmp_path / "lps.nii.gz"
    nib.save(nib.Nifti1Image(np.ascontiguousarray(flipped), affine), str(path))
    assert nib.aff2axcodes(affine) == ("L", "P", "S")
    entries = [ManifestEntry(**dict(e.to_dict(), path=str(path))) if e is entry else e for e in manifest]
    lps = Manifest(entries, root=manifest.root)
    np.testing.assert_array_equal(CohortPairs(lps, small_config()).volume(entries[0]), ras)
