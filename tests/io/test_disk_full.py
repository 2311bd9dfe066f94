"""A disk that fills up during a write: no partial output, an earlier output untouched, and a
message that says what happened (issue 12).

The kernel itself refuses the bytes: a child process writes with a file size limit
(RLIMIT_FSIZE, SIGXFSZ ignored so write() fails with EFBIG), as a full disk would with ENOSPC.
A series that fills the disk half-way through is made at pydicom's boundary, since a size limit
applies per file and every slice file has the same size.
"""

import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pydicom
import pytest

from napari_evai2i.io import Volume, VolumeWriteError, write_dicom_series, write_volume

resource = pytest.importorskip("resource", reason="RLIMIT_FSIZE needs a POSIX system")

_CHILD = textwrap.dedent(
    """
    import resource, signal, sys
    import numpy as np
    import nibabel, pydicom, SimpleITK  # imported before the limit: no cache file may hit it
    from napari_evai2i.io import Volume, VolumeWriteError, write_dicom_series, write_volume

    kind, target, limit, overwrite = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    volume = Volume(np.random.default_rng(0).normal(100, 30, (6, 40, 40)).astype(np.float32), spacing=(2, 1, 1))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        if kind == "dicom":
            write_dicom_series(volume, target, series_description="s", overwrite=overwrite)
        else:
            write_volume(volume, target, overwrite=overwrite)
    except VolumeWriteError as exc:
        print(exc)
        sys.exit(3)
    print("written")
    """
)


def _write_limited(kind, target, limit, overwrite=False):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", _CHILD, kind, str(target), str(limit), "1" if overwrite else "0"],
                          capture_output=True, text=True, timeout=120, env=env)


def _disk_full(target):
    return f"{target}: disk full (or file size limit) while writing; nothing was written; free space and retry"


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("name", ["out.nii", "out.nii.gz", "out.mha", "series"])
def test_a_size_limit_hit_mid_write_leaves_nothing(tmp_path, name):
    target = tmp_path / name
    run = _write_limited("dicom" if name == "series" else "volume", target, 4096)
    assert run.returncode == 3, run.stdout + run.stderr
    assert run.stdout.strip() == _disk_full(target)
    assert run.stderr == ""
    assert _listing(tmp_path) == []  # no file, no half series, no temporary


@pytest.mark.parametrize("name", ["out.nii.gz", "series"])
def test_an_earlier_output_survives_a_failed_overwrite(tmp_path, name):
    target = tmp_path / name
    first = _write_limited("dicom" if name == "series" else "volume", target, 1 << 24)
    assert first.returncode == 0 and first.stdout.strip() == "written", first.stderr  # the limit alone is harmless
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    run = _write_limited("dicom" if name == "series" else "volume", target, 4096, overwrite=True)
    assert run.returncode == 3 and run.stdout.strip() == _disk_full(target)
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == before


def test_disk_filling_half_way_through_a_series(tmp_path, monkeypatch):
    volume = Volume(np.random.default_rng(1).normal(100, 30, (6, 16, 16)).astype(np.float32), spacing=(2, 1, 1))
    write_dicom_series(volume, tmp_path / "series", series_description="old")
    before = {p.name: p.read_bytes() for p in (tmp_path / "series").iterdir()}
    real_write = pydicom.dcmwrite
    calls = []

    def filling_disk(filename, dataset, *args, **kwargs):
        """pydicom writing into a file system that has room for three and a half slices."""
        calls.append(filename)
        if len(calls) < 4:
            return real_write(filename, dataset, *args, **kwargs)
        with open(filename, "wb") as handle:
            handle.write(b"\0" * 700)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(filename))

    monkeypatch.setattr(pydicom, "dcmwrite", filling_disk)
    with pytest.raises(VolumeWriteError) as info:
        write_dicom_series(volume, tmp_path / "series", series_description="new", overwrite=True)
    assert str(info.value) == _disk_full(tmp_path / "series")
    assert len(calls) == 4
    assert _listing(tmp_path) == ["series"] + [f"series/{name}" for name in sorted(before)]
    assert {p.name: p.read_bytes() for p in (tmp_path / "series").iterdir()} == before
    with pytest.raises(VolumeWriteError, match=r"fresh: disk full"):
        calls.clear()
        write_dicom_series(volume, tmp_path / "fresh", series_description="new")
    assert not (tmp_path / "fresh").exists()


def test_other_write_failures_keep_their_own_message(tmp_path, make_volume):
    """Only a full disk or a size limit is called one."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VolumeWriteError) as info:
        write_volume(make_volume(), blocker / "out.nii")
    assert "disk full" not in str(info.value)
