"""Fields from real DICOM headers, tag dicts and info.json entries."""

from __future__ import annotations

import shutil
import warnings

import pytest
from pydicom import Dataset, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from napari_evai2i.prompts import (
    canonical_prompt,
    fields_from_dicom,
    fields_from_info_entry,
    fields_from_tags,
    vocabulary as voc,
)
from napari_evai2i.prompts.dicom import dataset_tags


def test_mr_small_spin_echo(mr_small):
    fields = fields_from_dicom(mr_small)
    prompt = canonical_prompt(fields)
    assert fields.modality == "MR"
    assert fields.scanning_sequence == ("spin echo",)
    assert fields.sequence_variant == ()  # NONE is not a fact
    assert (fields.repetition_time, fields.echo_time, fields.flip_angle) == (4000.0, 240.0, 90.0)
    assert fields.sequence == voc.T2W  # TR 4000 / TE 240 spin echo
    assert fields.manufacturer == "Toshiba" and fields.model_name == "MRT50H1"
    assert not fields.contrast  # ContrastBolusAgent is blank
    assert "TR 4000 ms" in prompt and "TE 240 ms" in prompt
    assert prompt.startswith("A T2-weighted magnetic resonance imaging.")


def test_path_string_and_dataset_give_the_same_fields(mr_small):
    expected = fields_from_dicom(mr_small)
    assert fields_from_dicom(str(mr_small)) == expected
    assert fields_from_dicom(dcmread(mr_small)) == expected


def test_siemens_vibe_fat_saturated_with_contrast(siemens_overlays):
    fields = fields_from_dicom(siemens_overlays)
    prompt = canonical_prompt(fields)
    assert fields.fat_saturated
    assert fields.scan_options == ("second saturation band", "fat saturation")
    assert fields.contrast and fields.contrast_agent == "Omniscan"  # "11 ml " dose dropped
    assert fields.organ == "abdomen"
    assert fields.field_strength == 1.5  # header says 1.4939999580383
    assert fields.sequence == voc.T1W_GRE  # t1_vibe named T1, acquired as spoiled GR
    assert fields.scanning_sequence == ("gradient recalled",) and fields.sequence_variant == ("spoiled",)
    for words in ("fat saturation", "Omniscan", "TR 5.53 ms", "TE 2.81 ms", "flip angle 10 degrees", "1.5 T"):
        assert words in prompt


def test_pydicom_overlay_example_has_the_same_protocol(overlay_example, siemens_overlays):
    assert fields_from_dicom(overlay_example) == fields_from_dicom(siemens_overlays)


def test_nibabel_inversion_recovery(siemens_ir):
    fields = fields_from_dicom(siemens_ir)
    assert fields.scanning_sequence == ("gradient recalled", "inversion recovery")
    assert fields.sequence_variant == ("spoiled", "magnetization prepared")
    assert fields.inversion_time == 6376.0 and fields.field_strength == 3.0
    assert fields.sequence == voc.MPRAGE
    assert "TI 6376 ms" in canonical_prompt(fields)


def test_ct_small(ct_small):
    fields = fields_from_dicom(ct_small)
    prompt = canonical_prompt(fields)
    assert fields.modality == "CT" and fields.sequence is None
    assert (fields.kvp, fields.tube_current, fields.exposure_time) == (120.0, 170.0, 1601.0)
    assert fields.contrast and fields.contrast_agent == "ISOVUE300/100"
    assert prompt.startswith("A computed tomography.")
    assert "120 kVp" in prompt and "170 mA" in prompt and "magnetic resonance" not in prompt


def test_enhanced_mr_top_level_attributes(enhanced_mr):
    fields = fields_from_dicom(enhanced_mr)
    assert fields.field_strength == 3.0
    assert fields.organ == "brain"  # BodyPartExamined HEAD
    assert fields.sequence == voc.T1W_GRE  # T1 contrast, GRADIENT echo pulse sequence
    assert fields.scanning_sequence == ("gradient recalled",)
    assert fields.sequence_variant == ("segmented k-space", "spoiled")
    assert "3 T" in canonical_prompt(fields)


def _functional_group(**sequences) -> Dataset:
    group = Dataset()
    for keyword, values in sequences.items():
        item = Dataset()
        for name, value in values.items():
            setattr(item, name, value)
        setattr(group, keyword, [item])
    return group


def test_enhanced_mr_functional_groups(enhanced_mr):
    ds = dcmread(enhanced_mr, stop_before_pixels=True)
    ds.SharedFunctionalGroupsSequence = [
        _functional_group(
            MRTimingAndRelatedParametersSequence={"RepetitionTime": 8.1, "FlipAngle": 8},
            MREchoSequence={"EffectiveEchoTime": 3.7},
            MRModifierSequence={"InversionRecovery": "YES", "InversionTimes": [900.0]},
            MRReceiveCoilSequence={"ReceiveCoilName": "SENSE-Head-8"},
        )
    ]
    ds.PerFrameFunctionalGroupsSequence = [
        _functional_group(PlaneOrientationSequence={"ImageOrientationPatient": [1, 0, 0, 0, 1, 0]}),
        _functional_group(
            PlaneOrientationSequence={"ImageOrientationPatient": [0, 1, 0, 0, 0, -1]},
            MREchoSequence={"EffectiveEchoTime": 4.6},
        ),
    ]
    first = fields_from_dicom(ds)
    assert (first.repetition_time, first.flip_angle, first.echo_time) == (8.1, 8.0, 3.7)
    assert first.inversion_time == 900.0 and first.coil == "SENSE-Head-8"
    assert first.scanning_sequence == ("gradient recalled", "inversion recovery")
    assert first.sequence == voc.MPRAGE  # T1 with an inversion pulse on a gradient echo
    assert first.plane == "axial"
    second = fields_from_dicom(ds, frame=1)
    assert second.echo_time == 4.6 and second.plane == "sagittal"  # per-frame beats shared
    with pytest.raises(ValueError, match="frame 5"):
        fields_from_dicom(ds, frame=5)


def test_enhanced_diffusion_b_value_per_frame(enhanced_mr):
    ds = dcmread(enhanced_mr, stop_before_pixels=True)
    ds.AcquisitionContrast = "DIFFUSION"
    del ds.PulseSequenceName  # "T1TFE" would name the weighting first
    ds.PerFrameFunctionalGroupsSequence = [_functional_group(MRDiffusionSequence={"DiffusionBValue": 1000.0})]
    fields = fields_from_dicom(ds)
    assert fields.sequence == voc.DWI and fields.b_value == 1000.0
    assert "b-value of 1000 s/mm2" in canonical_prompt(fields)


def test_philips_t1_spin_echo(philips_t1_se):
    fields = fields_from_dicom(philips_t1_se)
    prompt = canonical_prompt(fields)
    assert fields.sequence == voc.T1W  # ProtocolName T1W/SE/1024
    assert fields.scanning_sequence == ("spin echo",)
    assert fields.sequence_variant == ()  # OTHER says nothing
    assert fields.manufacturer == "Philips" and fields.field_strength == 1.5
    assert fields.organ == "shoulder"  # from StudyDescription
    assert prompt.startswith("A T1-weighted magnetic resonance imaging of the shoulder.")
    assert "TR 350 ms, TE 27 ms" in prompt and "flow compensation" in prompt


def test_series_folder(mra_series_folder):
    fields = fields_from_dicom(mra_series_folder)
    assert fields.organ == "brain"  # StudyDescription Brain-MRA
    assert fields.manufacturer == "Philips" and fields.field_strength == 1.5
    assert (fields.repetition_time, fields.echo_time, fields.flip_angle) == (30.0, 6.0, 35.0)
    assert fields.scan_options == ("flow compensation", "spatial presaturation")
    assert fields.sequence == voc.T1W_GRE
    # "Eclipse 1.5T" already names the field strength
    assert "The scan is acquired on a Philips Eclipse 1.5T scanner." in canonical_prompt(fields)


def test_folder_skips_other_files_and_dicomdir(tmp_path, mr_small, dicomdir_file):
    (tmp_path / "0_notes.txt").write_text("not a DICOM file")
    shutil.copy(dicomdir_file, tmp_path / "DICOMDIR")
    shutil.copy(mr_small, tmp_path / "img.dcm")
    assert fields_from_dicom(tmp_path) == fields_from_dicom(mr_small)


def test_folder_means_the_series_the_volume_reader_reads(tmp_path, mr_small, ct_small):
    # Images only in a sub-folder: the volume reader refuses the folder, and so do prompts.
    (tmp_path / "series").mkdir()
    shutil.copy(mr_small, tmp_path / "series" / "img.dcm")
    with pytest.raises(ValueError, match="sub-folders: series"):
        fields_from_dicom(tmp_path)
    # Two series in one folder: name one, as for read_volume.
    shutil.copy(mr_small, tmp_path / "b_mr.dcm")
    shutil.copy(ct_small, tmp_path / "a_ct.dcm")
    with pytest.raises(ValueError, match="2 DICOM series"):
        fields_from_dicom(tmp_path)
    mr_uid = str(dcmread(mr_small).SeriesInstanceUID)
    assert fields_from_dicom(tmp_path, series_uid=mr_uid) == fields_from_dicom(mr_small)


def test_folder_without_dicom_names_the_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(ValueError, match=str(tmp_path.name)):
        fields_from_dicom(tmp_path)


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError):
        fields_from_dicom(tmp_path / "missing.dcm")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match=f"{junk}: not a DICOM file"):
        fields_from_dicom(junk)
    with pytest.raises(TypeError):
        fields_from_dicom(42)


def test_ill_typed_tags_are_left_out(mr_small):
    ds = dcmread(mr_small)
    ds[Tag("RepetitionTime")] = RawDataElement(Tag("RepetitionTime"), "DS", 4, b"abc ", 0, True, True)
    ds.EchoTime = []
    ds.FlipAngle = None
    ds.MagneticFieldStrength = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid DS itself
        fields = fields_from_dicom(ds)
    prompt = canonical_prompt(fields)
    assert fields.repetition_time is fields.echo_time is fields.flip_angle is fields.field_strength is None
    assert fields.scanning_sequence == ("spin echo",) and fields.manufacturer == "Toshiba"
    for word in ("TR", "TE", "flip angle", "tesla", " T "):
        assert word not in prompt


def test_garbage_tag_dict_never_crashes():
    fields = fields_from_tags(
        {
            "Modality": ["MR"],
            "RepetitionTime": "abc",
            "EchoTime": [],
            "InversionTime": -5,
            "FlipAngle": object(),
            "MagneticFieldStrength": "",
            "ScanningSequence": 5,
            "ContrastBolusAgent": {"agent": "x"},
            "DiffusionBValue": "nan",
            "ImageOrientationPatient": "not numbers",
            "BodyPartExamined": "   ",
        }
    )
    assert fields.modality == "MR"
    assert fields.repetition_time is fields.echo_time is fields.inversion_time is fields.flip_angle is None
    assert fields.plane is None and not fields.contrast and fields.b_value is None
    canonical_prompt(fields)


def test_simulator_dict_and_dicom_dataset_give_identical_prompts(simulated_t2):
    ds = Dataset()
    for keyword, value in simulated_t2.items():
        setattr(ds, keyword, value)
    from_dict = fields_from_tags(simulated_t2)
    assert fields_from_dicom(ds) == from_dict
    assert canonical_prompt(from_dict) == (
        "A T2-weighted magnetic resonance imaging of the brain. The scan is acquired on a 3 T scanner. "
        "The scanning sequence is spin echo. TR 4000 ms, TE 100 ms."
    )
    assert dataset_tags(ds)["RepetitionTime"] == 4000


@pytest.mark.parametrize(
    ("codes", "tr", "te", "ti", "flip", "variant", "expected"),
    [
        ("SE", 500, 15, None, 90, "NONE", voc.T1W),
        ("SE", 4000, 100, None, 90, "NONE", voc.T2W),
        ("SE", 3000, 20, None, 90, "NONE", voc.PDW),
        ("SE\\IR", 9000, 120, 2500, 90, "SK", voc.FLAIR),
        ("SE\\IR", 4000, 40, 150, 90, "SK", voc.STIR),
        ("GR", 8, 3, None, 10, "SP", voc.T1W_GRE),
        ("GR", 600, 20, None, 20, "SP", voc.T2STAR),
        ("GR\\IR", 2300, 3, 900, 9, "SK\\SP\\MP", voc.MPRAGE),
        ("SE", 1500, 50, None, 90, "NONE", None),  # in between: no guess
    ],
)
def test_weighting_from_physics(codes, tr, te, ti, flip, variant, expected):
    tags = {"ScanningSequence": codes, "SequenceVariant": variant, "RepetitionTime": tr, "EchoTime": te,
            "InversionTime": ti, "FlipAngle": flip}
    assert fields_from_tags(tags).sequence == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("t2_tse_flair_tra", voc.FLAIR),
        ("T1W/SE/1024", voc.T1W),
        ("t2_tse_tra", voc.T2W),
        ("PD_TSE_FS", voc.PDW),
        ("STIR cor", voc.STIR),
        ("ep2d_diff_3scan", voc.DWI),
        ("SWI_Images", voc.SWI),
        ("T2* GRE", voc.T2STAR),
        ("t1_mprage_sag", voc.MPRAGE),
        ("localizer", None),
    ],
)
def test_weighting_from_series_names(name, expected):
    assert fields_from_tags({"SeriesDescription": name, "ScanningSequence": "SE"}).sequence == expected


def test_b_value_from_siemens_sequence_name():
    fields = fields_from_tags({"SequenceName": "*ep_b1000t", "ScanningSequence": "EP"})
    assert fields.sequence == voc.DWI and fields.b_value == 1000.0
    assert fields_from_tags({"SeriesDescription": "B1 map"}).b_value is None


def test_contrast_words_organ_words_and_nominal_field():
    t1c = fields_from_tags({"SeriesDescription": "T1+C ax", "ContrastBolusAgent": "NONE"})
    assert t1c.contrast and t1c.contrast_agent is None and t1c.sequence == voc.T1W
    assert not fields_from_tags({"ContrastBolusAgent": "none"}).contrast
    assert fields_from_tags({"StudyDescription": "Brain-MRA"}).organ == "brain"
    assert fields_from_tags({"BodyPartExamined": "L_SPINE"}).organ == "spine"
    assert fields_from_tags({"BodyPartExamined": "ELBOW"}).organ == "elbow"
    assert fields_from_tags({"MagneticFieldStrength": "2.89362"}).field_strength == 3.0
    assert fields_from_tags({"MagneticFieldStrength": 15000}).field_strength == 1.5
    assert fields_from_tags({"MagneticFieldStrength": 0.7}).field_strength == 0.7
    fat = fields_from_tags({"ProtocolName": "T2 FatSat ax", "ScanOptions": "FC"})
    assert fat.scan_options == ("flow compensation", "fat saturation") and fat.fat_saturated


def test_info_entry_brats_t1c():
    entry = {"Organ": "brain", "Modality": "magnetic resonance imaging", "Sequence": "T1-weighted",
             "Contrast": "Gadolinium", "Preprocess": ["skull removal"], "Spacing": [1, 1, 1]}
    fields = fields_from_info_entry(entry)
    assert fields.modality == "MR" and fields.sequence == voc.T1W and fields.organ == "brain"
    assert fields.contrast and fields.contrast_agent == "Gadolinium"
    assert fields.preprocessing == ("skull removal",)
    assert canonical_prompt(fields) == (
        "A T1-weighted magnetic resonance imaging of the brain. The image is contrast-enhanced with Gadolinium. "
        "The image preprocessing consists of skull removal."
    )


def test_info_entry_words_and_codes():
    flair = fields_from_info_entry({"Sequence": "T2-weighted-fluid-attenuated inversion recovery",
                                    "ScanningSequence": ["spin echo", "IR"], "ScanOptions": "FS",
                                    "EchoTime": "120", "InversionTime": 2500, "bvalue": None})
    assert flair.sequence == voc.FLAIR
    assert flair.scanning_sequence == ("spin echo", "inversion recovery") and flair.fat_saturated
    assert flair.echo_time == 120.0 and flair.inversion_time == 2500.0
    unknown = fields_from_info_entry({"Contrast": "unknown"})
    assert unknown.contrast and unknown.contrast_agent is None
    assert not fields_from_info_entry({"Contrast": False}).contrast
    ct = fields_from_info_entry({"Modality": "computed tomography", "Sequence": "computed tomography",
                                 "KVP": 120, "XRayTubeCurrent": 300, "Organ": "Abdomen"})
    assert ct.modality == "CT" and ct.sequence is None and ct.organ == "abdomen"
    dwi = fields_from_info_entry({"Sequence": "diffusion weighted imaging", "bvalue": 800})
    assert dwi.sequence == voc.DWI and dwi.b_value == 800.0
