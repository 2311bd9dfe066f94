"""Fuzzing the readers' header parsing (issue 12): random NIfTI headers and random DICOM geometry
and pixel-description tags, written to real files. ``read_volume`` must either return a volume
with finite geometry or raise VolumeReadError; nothing else may escape.

Example counts come from the hypothesis profile in tests/conftest.py (EVAI2I_FUZZ_EXAMPLES).
"""

import copy
import gzip
import struct
import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.datadict import tag_for_keyword

from napari_evai2i.io import Volume, VolumeReadError, read_volume

# Every datatype code nibabel knows (bool/binary, ints, floats, complex, RGB/RGBA, float128),
# and codes that are none of them.
_NIFTI_DATATYPES = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, 7, -5, 999]
_ODD_FLOATS = st.sampled_from([0.0, -0.0, -1.0, 1.0, 2.5, 1e-30, 1e30, 3.4e38, float("nan"), float("inf"),
                               float("-inf")])
_FLOATS = st.one_of(_ODD_FLOATS, st.floats(-1e4, 1e4, width=32))


def _check(path):
    """The property: a volume with finite, sane geometry, or our error; warnings are allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            volume = read_volume(path)
        except VolumeReadError as exc:
            assert str(path) in str(exc)
            return "refused"
    assert isinstance(volume, Volume)
    assert volume.array.ndim == 3 and min(volume.array.shape) >= 1
    assert all(np.isfinite(volume.spacing)) and all(s > 0 for s in volume.spacing)
    assert np.all(np.isfinite(volume.origin)) and np.all(np.isfinite(volume.direction))
    return "read"


@st.composite
def nifti_files(draw):
    """Bytes of a NIfTI-1 file with a random header and a few bytes of data."""
    header = nib.Nifti1Header()
    sane = draw(st.booleans())  # half the headers describe a readable image: the geometry path runs
    if sane:
        shape = draw(st.lists(st.integers(1, 4), min_size=3, max_size=3))
        header.set_data_dtype(draw(st.sampled_from([np.uint8, np.int16, np.int32, np.float32, np.float64])))
        header["dim"] = [3, *shape, 1, 1, 1, 1]
        needed = int(np.prod(shape)) * header.get_data_dtype().itemsize
        payload_size = draw(st.sampled_from([needed, needed + 7, max(0, needed - 1)]))
    else:
        header["dim"] = [draw(st.integers(-2, 9))] + draw(st.lists(
            st.one_of(st.integers(-3, 6), st.sampled_from([0, 4000, 32767, -32768])), min_size=7, max_size=7))
        header["datatype"] = draw(st.sampled_from(_NIFTI_DATATYPES))
        header["bitpix"] = draw(st.sampled_from([0, 1, 8, 16, 24, 32, 64, 128, 7]))
        payload_size = draw(st.integers(0, 600))
    pixdim = st.one_of(st.floats(0.25, 5.0, width=32), _FLOATS) if sane else _FLOATS
    header["pixdim"] = draw(st.lists(pixdim, min_size=8, max_size=8))
    header["qform_code"] = draw(st.sampled_from([0, 1, 2, 3, 4, -1, 5, 300]))
    header["quatern_b"], header["quatern_c"], header["quatern_d"] = (
        draw(st.lists(st.floats(-0.5, 0.5, width=32), min_size=3, max_size=3)) if sane and draw(st.booleans())
        else [draw(_FLOATS) for _ in range(3)])
    header["sform_code"] = draw(st.sampled_from([0, 1, 2, 3, 4, -1, 5, 300]))
    for field in ("qoffset_x", "qoffset_y", "qoffset_z", "scl_slope", "scl_inter"):
        header[field] = draw(_FLOATS)
    if sane and draw(st.booleans()):
        header["scl_slope"], header["scl_inter"] = draw(st.sampled_from([(0.0, 0.0), (1.0, 0.0), (2.5, -10.0)]))
    for row in ("srow_x", "srow_y", "srow_z"):
        header[row] = draw(st.lists(_FLOATS, min_size=4, max_size=4))
    header["vox_offset"] = 352.0 if sane and draw(st.booleans()) else draw(
        st.sampled_from([352.0, 0.0, 348.0, 353.0, 1e9, -1.0, float("nan")]))
    header["xyzt_units"] = draw(st.integers(0, 255))
    block = bytearray(header.binaryblock)
    if draw(st.integers(0, 9)) == 0:  # now and then a broken size or magic
        block[0:4] = struct.pack("<i", draw(st.sampled_from([0, 540, -348, 1 << 30])))
    if draw(st.integers(0, 9)) == 0:
        block[344:348] = draw(st.sampled_from([b"ni1\0", b"xyz\0", b"n+2\0", b"\0\0\0\0"]))
    payload = draw(st.binary(min_size=payload_size, max_size=payload_size))
    return bytes(block) + b"\0" * 4 + payload, draw(st.booleans())


@given(nifti_files())
def test_random_nifti_headers(tmp_path_factory, case):
    content, compressed = case
    folder = tmp_path_factory.mktemp("nifti")
    path = folder / ("fuzz.nii.gz" if compressed else "fuzz.nii")
    written = gzip.compress(content) if compressed else content
    path.write_bytes(written)
    _OUTCOMES["nifti"].append(_check(path))
    assert path.read_bytes() == written  # the input is never touched


# --------------------------------------------------------------------------- DICOM
def _raw(ds, keyword, vr, value):
    """Put ``value`` (bytes, or a string / int list to encode) into ``ds`` unchecked, as a file
    would carry it: pydicom converts it only when the reader looks at it."""
    tag = tag_for_keyword(keyword)
    if value is None:
        if keyword in ds:
            del ds[keyword]
        return
    if vr in ("US", "SS"):
        data = b"".join(struct.pack("<H" if vr == "US" else "<h", v) for v in value)
    else:
        data = value.encode("latin-1")
        if len(data) % 2:
            data += b" "
    ds[tag] = RawDataElement(tag, vr, len(data), data, 0, False, True)


_DS_ITEM = st.one_of(_FLOATS.map(lambda v: repr(float(v))[:16]),
                     st.sampled_from(["nan", "inf", "-inf", "", "abc", "1e999", "0", "-0", "1.5.2", " 1 "]))


def _ds_values(count):
    """A DS multi-value string: usually ``count`` items, sometimes the wrong number."""
    return st.one_of(
        st.lists(_DS_ITEM, min_size=count, max_size=count),
        st.lists(_DS_ITEM, min_size=0, max_size=count + 3),
        st.lists(st.floats(-1, 1, width=32).map(lambda v: f"{v:.6f}"), min_size=count, max_size=count),
    ).map(lambda items: "\\".join(items)[:64 * max(1, count)])


_GEOMETRY = {
    "ImageOrientationPatient": ("DS", st.one_of(st.none(), _ds_values(6),
                                                st.just("1\\0\\0\\0\\1\\0"), st.just("1\\0\\0\\1\\0\\0"))),
    "PixelSpacing": ("DS", st.one_of(st.none(), _ds_values(2), st.sampled_from(["0\\0", "-1\\1", "0.5"]))),
    "SliceThickness": ("DS", st.one_of(st.none(), _DS_ITEM)),
    "SpacingBetweenSlices": ("DS", st.one_of(st.none(), _DS_ITEM)),
    "ImagePositionPatient": ("DS", st.one_of(st.none(), _ds_values(3))),
}
_PIXELS = {
    "Rows": ("US", st.one_of(st.just([64]), st.lists(st.sampled_from([0, 1, 63, 65, 128, 65535]), min_size=1,
                                                     max_size=2))),
    "Columns": ("US", st.one_of(st.just([64]), st.lists(st.sampled_from([0, 1, 32, 65535]), min_size=1, max_size=1))),
    "BitsAllocated": ("US", st.one_of(st.just([16]), st.lists(st.sampled_from([0, 1, 7, 8, 12, 17, 32, 64, 65535]),
                                                              min_size=1, max_size=1))),
    "BitsStored": ("US", st.one_of(st.just([16]), st.lists(st.sampled_from([0, 1, 12, 17, 33]), min_size=1,
                                                           max_size=1))),
    "HighBit": ("US", st.one_of(st.just([15]), st.lists(st.sampled_from([0, 11, 16, 40]), min_size=1, max_size=1))),
    "PixelRepresentation": ("US", st.one_of(st.just([1]), st.lists(st.sampled_from([0, 2, 65535]), min_size=1,
                                                                   max_size=1))),
    "SamplesPerPixel": ("US", st.one_of(st.just([1]), st.lists(st.sampled_from([0, 3]), min_size=1, max_size=1))),
    "NumberOfFrames": ("IS", st.one_of(st.none(), st.sampled_from(["1", "0", "2", "-1", "abc", "1.5", ""]))),
}


@st.composite
def tag_changes(draw, table):
    """Some entries of ``table`` (keyword -> (VR, value strategy)) with drawn values."""
    keywords = draw(st.lists(st.sampled_from(sorted(table)), min_size=1, max_size=len(table), unique=True))
    return {keyword: (table[keyword][0], draw(table[keyword][1])) for keyword in keywords}


_BASE = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
_OUTCOMES = {"nifti": [], "dicom file": [], "dicom series": []}
# Writing deliberately invalid values makes pydicom warn; reading them is what is under test.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _slice(changes, z=None, index=0):
    ds = copy.deepcopy(_BASE)
    ds.SOPInstanceUID = f"{_BASE.SOPInstanceUID}.{index}"
    if z is not None:
        ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    for keyword, (vr, value) in changes.items():
        _raw(ds, keyword, vr, value)
    return ds


@given(changes=tag_changes({**_GEOMETRY, **_PIXELS}))
def test_random_dicom_tags_single_file(tmp_path_factory, changes):
    path = tmp_path_factory.mktemp("dicom") / "fuzz.dcm"
    _slice(changes).save_as(path)
    before = path.read_bytes()
    _OUTCOMES["dicom file"].append(_check(path))
    assert path.read_bytes() == before


@given(changes=tag_changes(_GEOMETRY), on_every_slice=st.booleans(), which=st.integers(0, 2),
       gaps=st.sampled_from([(0, 5, 10), (0, 5, 5), (0, 5, 11), (10, 0, 5)]))
def test_random_dicom_geometry_series(tmp_path_factory, changes, on_every_slice, which, gaps):
    folder = tmp_path_factory.mktemp("series")
    for index, z in enumerate(gaps):
        mine = changes if on_every_slice or index == which else {}
        _slice(mine, z=z, index=index).save_as(folder / f"im{index}.dcm")
    _OUTCOMES["dicom series"].append(_check(folder))


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    """Print how many examples each property ran and how many were read or refused."""
    yield
    for name, outcomes in _OUTCOMES.items():
        if outcomes:
            print(f"\nfuzz {name}: {len(outcomes)} examples, {outcomes.count('read')} read, "
                  f"{outcomes.count('refused')} refused")
