"""Translate and Prompt explorer driven the way a person drives them: keys and mouse clicks.

Every value under test is typed, chosen with the keyboard or clicked on the native Qt widget;
no Python setter stands in for an interaction. Each test names the problem it guards against.
"""

from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLineEdit
from user_actions import (PLUGIN, TIMEOUT_MS, choose, clear_and_type, click, dock, paste, run_by_click,
                          slider_keys, toggle, type_choice, type_number)

from napari_evai2i.plugin.layers import PROVENANCE_KEY, RESULT_KEY, SYNTHETIC, is_synthetic

pytestmark = pytest.mark.gui
PD_PROMPT = "A proton density weighted magnetic resonance imaging of the brain. TR 3000 ms, TE 20 ms."
FLAIR_TEXT = "A T2-weighted fluid-attenuated inversion recovery magnetic resonance imaging of the brain."


# ----------------------------------------------------------------------------- checks
def made_by_plugin(viewer) -> list:
    return [layer for layer in viewer.layers if RESULT_KEY in layer.metadata]


def assert_marked(layer, *prompt_words: str) -> None:
    """Synthetic in name (first word), metadata, and the layer-list tooltip with the full prompt."""
    assert layer.name.startswith(f"{SYNTHETIC} "), layer.name
    assert is_synthetic(layer.metadata), layer.name
    tooltip = layer.get_source_str()          # what napari's layer list shows on hover
    for words in prompt_words:
        assert " ".join(words.split()) in tooltip, (layer.name, tooltip)


def assert_on_source(layer, source, axis: int = 0, index: int | None = None) -> None:
    """Every voxel of ``layer`` lands in world space where the matching source voxel is.

    ``index``: the layer is one slice (``index`` along ``axis``) of the source. Leading axes
    beyond the source's (a sweep's steps) are not spatial and may be anything.
    """
    extra = layer.ndim - source.ndim
    shape = source.data.shape
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = [float(rng.uniform(0, n - 1)) for n in shape]
        if index is not None:
            point[axis] = float(index)
        layer_point = list(point)
        if index is not None:
            layer_point[axis] = 0.0
        world = np.asarray(layer.data_to_world([0.0] * extra + layer_point))[extra:]
        np.testing.assert_allclose(world, source.data_to_world(point), atol=1e-6)


# ----------------------------------------------------------------------------- Translate
@pytest.fixture
def translate(slab_viewer, qtbot):
    widget = dock(slab_viewer, qtbot, "Translate")
    choose(qtbot, widget.source, "T1 ")
    return widget


def test_typed_and_pasted_prompts_are_what_run_uses(slab_viewer, translate, qtbot):
    """Broken before: magicgui's TextEdit.changed does not fire on typing, so "prompt used" and
    Run kept the previous prompt, and an emptied box still ran."""
    widget, source = translate, slab_viewer.layers["T1 slab"]
    assert widget.source.value is source
    type_choice(qtbot, widget.prompt.mode, "free")
    assert widget.prompt.mode.value == "free text"

    clear_and_type(qtbot, widget.prompt.text.native, "")
    assert widget.prompt.used.value == ""
    click(qtbot, widget.run_button)
    assert widget.worker is None and "prompt is empty" in widget.status.value

    clear_and_type(qtbot, widget.prompt.text.native, PD_PROMPT)
    assert widget.prompt.prompt == PD_PROMPT
    type_number(qtbot, widget.batch_size, 5)
    assert run_by_click(qtbot, widget) == "done"
    (translation,) = [layer for layer in made_by_plugin(slab_viewer)
                      if layer.metadata[RESULT_KEY]["role"] == "translation"]
    assert translation.metadata[PROVENANCE_KEY]["prompt"] == PD_PROMPT
    assert translation.metadata[PROVENANCE_KEY]["batch_size"] == 5
    assert translation.name == "SYNTHETIC PDw <- T1 slab"
    assert f"Done: made {translation.name!r}" in widget.status.value

    paste(qtbot, widget.prompt.text.native, FLAIR_TEXT)
    assert widget.prompt.prompt == FLAIR_TEXT and widget.prompt.used.value == FLAIR_TEXT


def test_protocol_form_derives_the_weighting_from_typed_timing(slab_viewer, translate, qtbot):
    """Broken before: TR 4000 / TE 100 with the sequence left alone still said "A T1-weighted"."""
    builder = translate.prompt
    type_choice(qtbot, builder.mode, "fo")
    assert builder.mode.value == "form" and builder.prompt.startswith("A T1-weighted")   # the T1 source's tags
    form = builder.form
    assert (form.repetition_time.value, form.echo_time.value, form.organ.value) == (500, 15, "brain")
    type_number(qtbot, builder.form.repetition_time, 4000)
    type_number(qtbot, builder.form.echo_time, 100)
    assert builder.prompt.startswith("A T2-weighted magnetic resonance imaging of the brain.")
    assert "TR 4000 ms, TE 100 ms" in builder.used.value
    type_number(qtbot, builder.form.inversion_time, 2500)
    type_number(qtbot, builder.form.repetition_time, 9000)
    assert builder.prompt.startswith("A T2-weighted fluid-attenuated inversion recovery")
    choose(qtbot, builder.form.sequence, "proton")                      # an explicit choice wins
    assert builder.prompt.startswith("A proton density weighted")
    toggle(qtbot, form.fat_saturation)
    assert "fat saturation" in builder.prompt and builder.used.value == builder.prompt


def test_a_weighting_word_that_contradicts_the_typed_timing_is_said_in_the_status(slab_viewer, translate, qtbot):
    """TR 4000 / TE 30 is proton density weighting; calling it T2-weighted is a prompt training never
    shows, and the demo answers it like TE 120 ms (model card, Limits)."""
    builder = translate.prompt
    type_choice(qtbot, builder.mode, "fo")
    type_number(qtbot, builder.form.repetition_time, 4000)
    type_number(qtbot, builder.form.echo_time, 30)
    assert builder.prompt.startswith("A proton density weighted")        # derived from the timing: consistent
    choose(qtbot, builder.form.sequence, "T2-weighted")                  # the person insists on the word
    assert builder.prompt.startswith("A T2-weighted magnetic") and "TE 30 ms" in builder.prompt
    assert run_by_click(qtbot, translate) == "done"                      # said, not refused
    first, *warned = translate.status.value.split("\nWarning: ")
    assert first.startswith("Done: made ")
    assert any("says T2-weighted, but its own TR, TE and TI make it proton density weighted" in w for w in warned)


def test_every_translate_layer_is_synthetic_first_and_sits_on_the_source(slab_viewer, translate, qtbot):
    """Broken before: names began with the source's ("T1w (simulated...weighted MRI]" once cut),
    the difference layers carried no marker and the layer-list tooltip had no prompt."""
    viewer, widget, source = slab_viewer, translate, slab_viewer.layers["T1 slab"]
    choose(qtbot, widget.prompt.known, "FLA")
    choose(qtbot, widget.reference, "T2 ")
    assert widget.reference.value is viewer.layers["T2 slab"]
    prompt = widget.prompt.prompt
    assert run_by_click(qtbot, widget) == "done"

    roles = {layer.metadata[RESULT_KEY]["role"]: layer for layer in made_by_plugin(viewer)}
    assert set(roles) == {"translation", "difference", "reference difference"}
    assert roles["translation"].name == "SYNTHETIC FLAIR <- T1 slab"
    assert roles["difference"].name == "SYNTHETIC diff FLAIR - T1 slab"
    assert roles["reference difference"].name == "SYNTHETIC |FLAIR - T2 slab| <- T1 slab"
    for layer in roles.values():
        assert_marked(layer, prompt)
        assert_on_source(layer, source)
    assert f"Done: made {roles['translation'].name!r}" in widget.status.value

    # Cancel a FLAIR re-run: the earlier FLAIR result stays and the status says so.
    type_number(qtbot, widget.batch_size, 1)
    widget.progressed.connect(lambda done, _: click(qtbot, widget.run_button) if done == 1 else None)
    assert run_by_click(qtbot, widget) == "cancelled"
    assert "the earlier result 'SYNTHETIC FLAIR <- T1 slab' is unchanged" in widget.status.value
    (preview,) = [layer for layer in made_by_plugin(viewer) if layer.metadata[RESULT_KEY]["role"] == "preview"]
    assert preview.name.startswith("SYNTHETIC FLAIR <- T1 slab (slice ")
    index = preview.metadata[PROVENANCE_KEY]["preview_slice"]
    assert_marked(preview, prompt)
    assert_on_source(preview, source, axis=0, index=index)

    # A cancelled run with another prompt: no earlier result, and its preview replaces the first.
    choose(qtbot, widget.prompt.known, "PD")
    assert run_by_click(qtbot, widget) == "cancelled"
    assert "no volume layer was made" in widget.status.value
    previews = [layer for layer in made_by_plugin(viewer) if layer.metadata[RESULT_KEY]["role"] == "preview"]
    assert [layer.name.split(" (slice")[0] for layer in previews] == ["SYNTHETIC PDw <- T1 slab"]
    assert_marked(previews[0], widget.prompt.prompt)


def test_a_layer_from_another_reader_is_reported(make_napari_viewer, qtbot, tmp_path, brain_like_volume):
    """A NIfTI opened with napari's builtin reader has no voxel size and no tags: Translate says so."""
    import nibabel as nib

    path = tmp_path / "head.nii"          # napari's builtin reader cannot open .nii.gz at all
    nib.save(nib.Nifti1Image(brain_like_volume.transpose(2, 1, 0), np.diag([0.9, 0.9, 3.0, 1.0])), path)
    viewer = make_napari_viewer()
    viewer.open(path, plugin="napari")                  # what picking "napari builtins" does
    viewer.open(path, plugin=PLUGIN)
    plain, ours = viewer.layers
    assert np.allclose(plain.scale, 1.0)
    widget = dock(viewer, qtbot, "Translate")
    choose(qtbot, widget.source, plain.name)
    assert widget.source.value is plain
    assert "no voxel size, orientation or DICOM tags" in widget.status.value
    widget.source.native.setFocus()
    qtbot.keyClick(widget.source.native, Qt.Key.Key_Down)      # the next layer: ours
    assert widget.source.value is ours
    assert "no voxel size" not in widget.status.value


def test_a_file_stored_lps_is_translated_in_the_training_axes_and_a_plain_layer_as_stored(
        make_napari_viewer, qtbot, tmp_path, brain_like_volume):
    """Broken before: the widget passed the voxel size but not the direction, so a file stored
    LPS (DICOM's order) reached the network with every slice turned by 180 degrees."""
    import nibabel as nib

    from napari_evai2i.engine.pipeline import VolumeTranslation
    from napari_evai2i.engine.request import TranslationRequest
    from napari_evai2i.io import Volume, read_volume

    path = tmp_path / "head_lps.nii"
    stored = np.ascontiguousarray(brain_like_volume[:, ::-1, ::-1].transpose(2, 1, 0)).astype(np.float32)
    nib.save(nib.Nifti1Image(stored, np.diag([-1.0, -1.0, 2.0, 1.0])), path)
    viewer = make_napari_viewer()
    viewer.open(path, plugin="napari")                  # orientation unknown to us
    viewer.open(path, plugin=PLUGIN)
    plain, ours = viewer.layers
    widget = dock(viewer, qtbot, "Translate")
    made = {}
    for layer in (ours, plain):
        choose(qtbot, widget.source, layer.name)
        assert widget.source.value is layer
        assert run_by_click(qtbot, widget) == "done"
        (made[layer.name],) = [out for out in made_by_plugin(viewer) if out.metadata[RESULT_KEY]["role"] ==
                               "translation" and out.name.endswith(f"<- {layer.name}")]
    prompt = widget.prompt.prompt
    turned = VolumeTranslation(read_volume(path), TranslationRequest(prompt, model="demo")).run()
    assert turned.provenance["orientation"]["turned"]
    np.testing.assert_allclose(made[ours.name].data, turned.volume.array, rtol=1e-4, atol=1e-2)
    assert made[ours.name].metadata[PROVENANCE_KEY]["orientation"]["stored"] == "LPS"
    as_stored = VolumeTranslation(Volume(np.asarray(plain.data, dtype=np.float32), spacing=(1.0, 1.0, 1.0)),
                                  TranslationRequest(prompt, model="demo", reorient=False)).run()
    np.testing.assert_allclose(made[plain.name].data, as_stored.volume.array, rtol=1e-4, atol=1e-2)
    assert made[plain.name].metadata[PROVENANCE_KEY]["orientation"]["turned"] is False


# ----------------------------------------------------------------------------- Prompt explorer
def test_explorer_rerenders_on_typed_prompts_and_presets_and_marks_every_layer(slab_viewer, qtbot, tmp_path):
    """Broken before: editing prompt A/B or "B from" did not re-render until t moved; the explored
    slice and the sweep had no SYNTHETIC marker; the sweep sat at z 0..N without the source's
    geometry; the GIF defaulted to the home folder."""
    viewer, source = slab_viewer, slab_viewer.layers["T1 slab"]
    widget = dock(viewer, qtbot, "Prompt explorer")
    assert widget.source.value is source
    default_gif = Path(str(widget.gif_path.value))

    with qtbot.waitSignal(widget.preview_updated, timeout=TIMEOUT_MS) as shown:
        slider_keys(qtbot, widget.t, Qt.Key.Key_PageUp)
    t = widget.t.value
    assert t > 0 and shown.args == [pytest.approx(t)]

    with qtbot.waitSignal(widget.preview_updated, timeout=TIMEOUT_MS):
        clear_and_type(qtbot, widget.prompt_b.native, FLAIR_TEXT)
    (preview,) = [layer for layer in made_by_plugin(viewer) if layer.metadata[RESULT_KEY]["role"] == "explorer preview"]
    assert preview.metadata[PROVENANCE_KEY]["prompt_b"] == FLAIR_TEXT
    assert preview.name.startswith(f"SYNTHETIC T1w->FLAIR t={t:.2f} <- T1 slab (slice ")
    assert_marked(preview, FLAIR_TEXT, widget.prompt_a.value)
    assert_on_source(preview, source, axis=0, index=preview.metadata[PROVENANCE_KEY]["preview_slice"])

    with qtbot.waitSignal(widget.preview_updated, timeout=TIMEOUT_MS):
        choose(qtbot, widget.preset_b, "PD")
    (preview,) = [layer for layer in made_by_plugin(viewer) if layer.metadata[RESULT_KEY]["role"] == "explorer preview"]
    assert "T1w->PDw" in preview.name and "proton density" in preview.metadata[PROVENANCE_KEY]["prompt_b"]

    type_number(qtbot, widget.steps, 3)
    gif_box = widget.gif_path.native.findChild(QLineEdit)
    clear_and_type(qtbot, gif_box, str(tmp_path / "sweep.gif"))
    with qtbot.waitSignal(widget.sweep_exported, timeout=TIMEOUT_MS) as exported:
        click(qtbot, widget.export_button)
    assert exported.args == [str(tmp_path / "sweep.gif")] and (tmp_path / "sweep.gif").is_file()
    (sweep,) = [layer for layer in made_by_plugin(viewer) if layer.metadata[RESULT_KEY]["role"] == "sweep"]
    index = sweep.metadata[PROVENANCE_KEY]["preview_slice"]
    assert sweep.data.shape == (3, 1, *source.data.shape[1:])
    assert sweep.name == f"SYNTHETIC sweep T1w->PDw <- T1 slab (slice {index})"
    assert_marked(sweep, widget.prompt_b.value)
    assert_on_source(sweep, source, axis=0, index=index)
    assert sweep.axis_labels[0] == "sweep step"

    with qtbot.waitSignal(widget.volume_rendered, timeout=TIMEOUT_MS):
        click(qtbot, widget.render_button)
    volume = next(layer for layer in made_by_plugin(viewer) if layer.metadata[RESULT_KEY]["role"] == "translation")
    assert volume.name == f"SYNTHETIC T1w->PDw t={t:.2f} <- T1 slab"
    assert_marked(volume, widget.prompt_b.value)
    assert_on_source(volume, source)
    assert all(layer.name.startswith(f"{SYNTHETIC} ") for layer in made_by_plugin(viewer))
    assert default_gif.parent == Path.cwd()             # the working folder, not the home folder
