"""The Translate widget driven like a user: sample, prompt, Run, cancel, re-run, reference, errors.

Every choice is made with real clicks and keys (``user_actions``), never a widget's setter.
"""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLineEdit
from user_actions import TIMEOUT_MS, choose, clear_and_type, click, dock, paste, type_choice, type_number
from user_actions import run_by_click as run_and_wait

from napari_evai2i.plugin.layers import PROVENANCE_KEY, RESULT_KEY

pytestmark = pytest.mark.gui


def results(viewer, role):
    return [layer for layer in viewer.layers if (layer.metadata.get(RESULT_KEY) or {}).get("role") == role]


def test_run_translates_preview_first_then_volume(slab_viewer, translate_widget, qtbot, tmp_path):
    viewer, widget = slab_viewer, translate_widget
    source = viewer.layers["T1 slab"]
    choose(qtbot, widget.prompt.known, "T2W")
    prompt = widget.prompt.prompt
    assert widget.prompt.used.read_only and "T2-weighted" in prompt
    events = []
    widget.preview_ready.connect(lambda index: events.append(("preview", index, len(results(viewer, "translation")))))
    widget.progressed.connect(lambda done, total: events.append(("step", done, total)))
    type_number(qtbot, widget.batch_size, 4)

    assert run_and_wait(qtbot, widget) == "done"

    # The slice under the viewer's position came first, before any batch of the volume.
    assert events[0][0] == "preview" and events[0][2] == 0
    assert [e[0] for e in events[1:]] == ["step"] * 3 and events[-1][1:] == (10, 10)
    preview_index = events[0][1]
    assert preview_index == int(round(source.world_to_data(viewer.dims.point)[0]))

    (translated,) = results(viewer, "translation")
    assert translated.name == "SYNTHETIC T2w <- T1 slab"
    assert translated.data.shape == source.data.shape
    np.testing.assert_allclose(translated.scale, source.scale)
    np.testing.assert_allclose(translated.translate, source.translate)
    np.testing.assert_allclose(translated.affine.affine_matrix, source.affine.affine_matrix)
    provenance = translated.metadata[PROVENANCE_KEY]
    assert provenance["synthetic"] is True and provenance["prompt"] == prompt
    # The shipped demo checkpoint is what a user gets by default; provenance names its exact file.
    assert provenance["model"] == "demo" and len(provenance["checkpoint_sha256"]) == 16
    assert "UNTRAINED" not in provenance["model_label"] and provenance["device"] == "cpu"
    assert not results(viewer, "preview"), "the preview slice is replaced by the full result"

    (diff,) = results(viewer, "difference")
    assert diff.colormap.name == "PiYG" and diff.data.shape == source.data.shape
    low, high = diff.contrast_limits
    assert low == pytest.approx(-high) and high > 0

    # Saved as NIfTI, the synthetic marking travels with the file.
    import nibabel as nib

    path = tmp_path / "t2_synthetic.nii.gz"
    translated.save(str(path), plugin="napari-evai2i")
    assert b"SYNTHETIC" in nib.load(str(path)).header["descrip"].tobytes()

    # Side by side: source and translation in a two-pane grid, then back.
    click(qtbot, widget.grid_button)
    assert viewer.grid.enabled
    assert {layer.name for layer in viewer.layers if layer.visible} == {source.name, translated.name}
    layers = list(viewer.layers)
    assert viewer.grid.position(layers.index(source), layers) == (0, 0)       # source on the left
    assert viewer.grid.position(layers.index(translated), layers) == (0, 1)
    click(qtbot, widget.grid_button)
    assert not viewer.grid.enabled and viewer.layers["T1w (simulated)"].visible

    # Choosing a reference compares the last result with it: |translation - reference|, PSNR, SSIM.
    choose(qtbot, widget.reference, "T2 slab")
    qtbot.waitUntil(lambda: "PSNR:" in widget.metrics.value, timeout=TIMEOUT_MS)
    assert "SSIM:" in widget.metrics.value and "LPIPS: weights not available" in widget.metrics.value
    (abs_diff,) = results(viewer, "reference difference")
    assert abs_diff.data.min() >= 0 and abs_diff.data.shape == source.data.shape

    # Same source and prompt again (reference still set): every result layer is replaced.
    count = len(viewer.layers)
    widget.metrics.value = ""
    assert run_and_wait(qtbot, widget) == "done"
    assert len(viewer.layers) == count
    assert [len(results(viewer, role)) for role in ("translation", "difference", "reference difference")] == [1, 1, 1]
    assert "PSNR:" in widget.metrics.value


def offered(combo):
    return [combo.native.itemText(i) for i in range(combo.native.count())]


def test_bf16_is_offered_only_where_it_runs_natively(slab_viewer, translate_widget, qtbot):
    """bf16 on a CPU without native bf16 (AVX2 only, like ours) would be emulated about 12x
    slower than fp32: for that CPU the device box's choices leave it out, and say why."""
    from napari_evai2i.engine.translator import native_bf16_on_cpu
    from napari_evai2i.plugin.widgets.model_picker import precision_choices

    widget = translate_widget
    picker = widget.model
    assert picker.precision.value == "auto"
    assert precision_choices("cuda") == ["auto", "fp32", "bf16"]        # a GPU always has it
    native = native_bf16_on_cpu()
    for device in ("cpu", "auto"):
        choose(qtbot, picker.device, device)
        cpu = device == "cpu" or "cuda" not in offered(picker.device)
        assert ("bf16" in offered(picker.precision)) == (native or not cpu)
        assert ("has no native bf16" in picker.precision.tooltip) == (cpu and not native)

    choose(qtbot, picker.device, "cpu")
    choose(qtbot, picker.precision, "fp32")
    assert run_and_wait(qtbot, widget) == "done"
    (fp32,) = results(slab_viewer, "translation")
    provenance = fp32.metadata[PROVENANCE_KEY]
    assert (provenance["precision"], provenance["precision_requested"], provenance["device"]) == ("fp32", "fp32",
                                                                                                  "cpu")
    if not native:
        return
    fp32_data = np.array(fp32.data)
    choose(qtbot, picker.precision, "bf16")
    assert run_and_wait(qtbot, widget) == "done"
    (bf16,) = results(slab_viewer, "translation")                        # same prompt: replaced
    assert bf16.metadata[PROVENANCE_KEY]["precision"] == "bf16"
    assert 0 < np.abs(bf16.data - fp32_data).max() / np.abs(fp32_data).max() < 2e-2


def test_cancel_leaves_no_volume_layer(slab_viewer, translate_widget, qtbot):
    viewer, widget = slab_viewer, translate_widget
    type_number(qtbot, widget.batch_size, 1)
    assert widget.batch_size.value == 1
    widget.progressed.connect(lambda done, total: click(qtbot, widget.run_button) if done == 1 else None)
    layers_before = len(viewer.layers)

    outcome = run_and_wait(qtbot, widget)

    assert outcome == "cancelled"
    assert not results(viewer, "translation") and not results(viewer, "difference")
    assert len(results(viewer, "preview")) == 1 and len(viewer.layers) == layers_before + 1
    assert "Cancelled" in widget.status.value
    assert widget.run_button.text == "Run" and widget.run_button.enabled and widget.worker is None
    # The viewer is still fully usable.
    viewer.dims.set_current_step(0, 3)
    viewer.add_image(np.zeros((4, 4)), name="still works")
    assert "still works" in viewer.layers


def test_bad_inputs_become_messages(slab_viewer, translate_widget, qtbot, tmp_path):
    widget = translate_widget
    type_choice(qtbot, widget.prompt.mode, "free")
    clear_and_type(qtbot, widget.prompt.text.native, "   ")
    click(qtbot, widget.run_button)
    assert widget.worker is None and "prompt is empty" in widget.status.value

    paste(qtbot, widget.prompt.text.native, "T2-weighted " * 60)   # far beyond the text encoder's context
    assert run_and_wait(qtbot, widget) == "error"
    assert "tokens" in widget.status.value

    clear_and_type(qtbot, widget.prompt.text.native, "A T2-weighted magnetic resonance imaging of the brain.")
    choose(qtbot, widget.model.model, "checkpoint folder")
    folder_box = widget.model.checkpoint.native.findChild(QLineEdit)
    clear_and_type(qtbot, folder_box, str(tmp_path))      # a folder that holds no checkpoint
    qtbot.keyClick(folder_box, Qt.Key.Key_Return)
    click(qtbot, widget.run_button)
    assert widget.worker is None and "not a model checkpoint" in widget.status.value
    assert not results(slab_viewer, "translation")


def test_model_list_falls_back_to_untrained_tiny_model(translate_widget):
    from napari_evai2i.plugin.widgets.model_picker import demo_installed

    values = list(translate_widget.model.model.choices)
    assert "tiny-random" in values
    assert ("demo" in values) == demo_installed()
    assert "cpu" in translate_widget.model.device.choices


def test_all_image_layers_translates_every_acquired_layer_from_files(make_napari_viewer, qtbot, tmp_path,
                                                                    brain_like_volume):
    """Two NIfTI files opened through the plugin; the source "(all image layers)" picked with the
    keyboard and Run clicked: each file gets its own translation, synthetic layers are skipped."""
    import nibabel as nib

    from napari_evai2i.plugin.layers import is_synthetic

    viewer = make_napari_viewer()
    for name, shift in (("first", 0), ("second", 2)):
        affine = np.diag([0.9, 1.1, 2.5, 1.0])
        affine[:3, 3] = [10.0 * shift, -5.0, 3.0]
        path = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(np.roll(brain_like_volume[:4], shift, axis=2).transpose(2, 1, 0), affine), path)
        viewer.open(path, plugin="napari-evai2i")
    widget = dock(viewer, qtbot, "Translate")
    type_choice(qtbot, widget.source, "(all")
    assert widget.source.value == "all image layers"
    type_number(qtbot, widget.batch_size, 4)

    assert run_and_wait(qtbot, widget) == "done"

    translations = results(viewer, "translation")
    assert sorted(layer.metadata[RESULT_KEY]["source"] for layer in translations) == ["first", "second"]
    for layer in translations:
        source = viewer.layers[layer.metadata[RESULT_KEY]["source"]]
        assert is_synthetic(layer.metadata) and layer.data.shape == source.data.shape
        np.testing.assert_allclose(layer.translate, source.translate)
        np.testing.assert_allclose(layer.scale, source.scale)
        assert layer.metadata[PROVENANCE_KEY]["source_layer"] == source.name
    assert "Done" in widget.status.value

    # Running again translates only the two acquired layers, never the translations themselves.
    assert [layer.name for layer in widget.acquired_layers()] == ["first", "second"]
