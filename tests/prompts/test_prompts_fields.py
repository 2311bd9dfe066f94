"""ProtocolFields: JSON round trip, lenient loading, derived facts."""

from __future__ import annotations

import json

import pytest

from napari_evai2i.prompts import ProtocolFields
from napari_evai2i.prompts.fields import to_codes, to_float, to_text

FULL = ProtocolFields(
    modality="MR",
    sequence="T2-weighted",
    organ="brain",
    scanning_sequence=("spin echo",),
    sequence_variant=("segmented k-space",),
    scan_options=("fat saturation", "flow compensation"),
    repetition_time=4000.0,
    echo_time=2.81,
    inversion_time=2000.0,
    flip_angle=90.0,
    field_strength=1.5,
    manufacturer="Siemens",
    model_name="Avanto",
    contrast=True,
    contrast_agent="Omniscan",
    b_value=1000.0,
    kvp=120.0,
    tube_current=170.0,
    exposure_time=1601.0,
    coil="head coil",
    preprocessing=("skull removal",),
    plane="axial",
)


def test_dict_round_trip_through_json():
    data = json.loads(json.dumps(FULL.to_dict()))
    assert ProtocolFields.from_dict(data) == FULL
    assert data["scan_options"] == ["fat saturation", "flow compensation"]


def test_defaults_round_trip():
    assert ProtocolFields.from_dict(ProtocolFields().to_dict()) == ProtocolFields()


def test_from_dict_ignores_unknown_keys_and_coerces_types():
    fields = ProtocolFields.from_dict(
        {
            "repetition_time": "4000",
            "echo_time": 100,
            "contrast": "yes",
            "scan_options": "fat saturation",
            "modality": "ct",
            "plane": "Coronal",
            "written_by_a_newer_version": {"anything": 1},
        }
    )
    assert fields.repetition_time == 4000.0 and isinstance(fields.repetition_time, float)
    assert fields.echo_time == 100.0
    assert fields.contrast is True
    assert fields.scan_options == ("fat saturation",)
    assert fields.modality == "CT"
    assert fields.plane == "coronal"


def test_from_dict_drops_ill_typed_values():
    fields = ProtocolFields.from_dict(
        {
            "repetition_time": "abc",
            "echo_time": [100],
            "flip_angle": float("nan"),
            "organ": 5,
            "manufacturer": {"name": "x"},
            "contrast": "maybe",
            "scan_options": [1, 2],
            "plane": "oblique",
            "modality": None,
        }
    )
    assert fields == ProtocolFields()


def test_list_arguments_become_tuples_so_fields_stay_hashable():
    fields = ProtocolFields(scan_options=["fat saturation"], preprocessing=["skull removal"])
    assert fields.scan_options == ("fat saturation",)
    assert hash(fields) == hash(ProtocolFields(scan_options=("fat saturation",), preprocessing=("skull removal",)))


def test_fat_saturated():
    assert FULL.fat_saturated
    assert not ProtocolFields(scan_options=("flow compensation",)).fat_saturated
    assert ProtocolFields(scan_options=("Fat Saturation",)).fat_saturated


def test_replace_returns_a_changed_copy():
    sagittal = FULL.replace(plane="sagittal")
    assert sagittal.plane == "sagittal" and FULL.plane == "axial"
    assert sagittal.replace(plane="axial") == FULL
    with pytest.raises(TypeError):
        FULL.replace(not_a_field=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("4000.0000", 4000.0), (" 2.81 ", 2.81), ([350, 10], 350.0), ([], None), ("", None), ("abc", None),
     (None, None), (True, None), (float("inf"), None), (b"1.5", 1.5), ({"a": 1}, None)],
)
def test_to_float(value, expected):
    assert to_float(value) == expected


def test_to_text_and_codes_accept_pydicom_values():
    from pydicom.multival import MultiValue

    codes = MultiValue(str, ["GR", "IR"])
    assert to_codes(codes) == ["GR", "IR"]
    assert to_codes("SAT2\\FS") == ["SAT2", "FS"]
    assert to_codes("") == [] and to_codes(None) == []
    assert to_text("  t1_vibe   fs ") == "t1_vibe fs"
    assert to_text("   ") is None and to_text({"a": 1}) is None
