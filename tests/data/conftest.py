"""The cohort every real-data test trains on: two subjects x three co-registered NIfTI files."""

from __future__ import annotations

import pytest
from _cohort_files import SEQUENCES, anatomy, cohort_fields, render, write_nifti

from napari_evai2i.data.manifest import Manifest, ManifestEntry


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
