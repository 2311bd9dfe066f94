"""napari-evai2i as napari's reader for medical volumes, without napari asking.

napari consults the reader preference for drag and drop, File > Open and
``viewer.open(path, plugin=None)``; ``viewer.open(path)`` itself defaults to
``plugin="napari"`` (the builtin reader). Each test gets its own napari settings file in tmp_path, so the user's real settings are
never read or written.
"""

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from napari_evai2i.plugin.layers import TAGS_KEY
from napari_evai2i.plugin.reader_choice import PLUGIN, make_default_reader, reader_patterns

pytestmark = pytest.mark.gui

SPACING_ZYX = (2.5, 1.2, 0.8)
MENU_TITLE = "Open medical volumes with EVA-I2I by default"


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    """napari's settings, saved to tmp_path/settings.yaml instead of the user's config."""
    import napari.settings
    from napari.settings import NapariSettings

    path = tmp_path / "settings.yaml"
    monkeypatch.setattr(napari.settings, "_SETTINGS", NapariSettings(config_path=path))
    return path


@pytest.fixture
def nifti_path(tmp_path):
    """A small gzipped NIfTI with 0.8 x 1.2 x 2.5 mm voxels (x, y, z)."""
    import nibabel as nib

    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(6, 5, 4)   # x, y, z
    affine = np.diag([*SPACING_ZYX[::-1], 1.0])
    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def saved_choices(settings_file):
    return yaml.safe_load(settings_file.read_text())["plugins"]["extension2reader"]


def assert_read_by_us(layers):
    (layer,) = layers
    np.testing.assert_allclose(layer.scale, SPACING_ZYX)
    assert TAGS_KEY in layer.metadata


def drop(viewer, path):
    """Drop ``path`` on the canvas, as from a file manager; returns the layers it added."""
    from qtpy.QtCore import QMimeData, QPointF, Qt, QUrl
    from qtpy.QtGui import QDropEvent

    from napari.plugins.utils import get_preferred_reader

    assert get_preferred_reader(path) == PLUGIN            # else napari's reader dialog would block the test
    before = len(viewer.layers)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    viewer.window._qt_viewer.dropEvent(event)
    return list(viewer.layers)[before:]


def test_without_a_choice_napari_asks_and_the_builtin_reader_fails(make_napari_viewer, nifti_path):
    from napari.errors import MultipleReaderError

    viewer = make_napari_viewer()
    with pytest.raises(MultipleReaderError):               # the GUI shows its reader dialog here
        viewer.open(str(nifti_path), plugin=None)
    with pytest.raises(Exception, match="backend"):        # imageio cannot open .nii.gz at all
        viewer.open(str(nifti_path))                       # = plugin="napari"
    assert len(viewer.layers) == 0

    plain = nifti_path.with_name("scan.nii")               # a plain .nii opens, but loses what we keep
    plain.write_bytes(gzip.decompress(nifti_path.read_bytes()))
    (layer,) = viewer.open(str(plain))
    assert tuple(layer.scale) == (1.0, 1.0, 1.0) and TAGS_KEY not in layer.metadata
    assert_read_by_us(viewer.open(str(plain), plugin=PLUGIN))


def test_make_default_reader_sets_every_pattern_and_is_saved(make_napari_viewer, nifti_path, settings_file):
    viewer = make_napari_viewer()
    choice = make_default_reader()
    assert choice.changed == dict.fromkeys(reader_patterns())   # none chosen before
    assert not choice.kept and not choice.already
    assert "*.nii.gz" in choice.summary()
    assert saved_choices(settings_file) == dict.fromkeys(reader_patterns(), PLUGIN)
    assert_read_by_us(viewer.open(str(nifti_path), plugin=None))

    again = make_default_reader()
    assert again.already == reader_patterns() and not again.changed


def test_menu_command_replaces_the_builtin_choice(make_napari_viewer, nifti_path, settings_file):
    from napari.settings import get_settings

    viewer = make_napari_viewer()
    # What the reader dialog's "Remember this choice" saves after picking napari's builtin
    # reader for a .nii.gz file (it keeps only the last suffix).
    get_settings().plugins.extension2reader = {"*.gz": "napari", "*.nii": "napari"}

    io_menu = next(action.menu() for action in viewer.window.file_menu.actions()
                   if action.menu() is not None and action.text() == "IO Utilities")
    io_menu.aboutToShow.emit()
    (item,) = [action for action in io_menu.actions() if action.text().startswith(MENU_TITLE)]
    item.trigger()

    choices = get_settings().plugins.extension2reader
    assert choices["*.gz"] == "napari"                      # the broad pattern stays, ours is more specific
    assert {pattern: choices[pattern] for pattern in reader_patterns()} == dict.fromkeys(reader_patterns(), PLUGIN)
    assert saved_choices(settings_file)["*.nii"] == PLUGIN
    assert_read_by_us(drop(viewer, nifti_path))            # no reader dialog: it would block here


def test_a_choice_of_another_plugin_is_kept():
    from napari.settings import get_settings

    get_settings().plugins.extension2reader = {"*.dcm": "other-dicom-plugin", "*.gz": "other-gz-plugin"}
    choice = make_default_reader()
    assert choice.kept == {"*.dcm": "other-dicom-plugin", "*.nii.gz": "other-gz-plugin"}
    assert "*.dcm" not in choice.changed and "*.nii" in choice.changed
    assert "other-dicom-plugin" in choice.summary()
    choices = get_settings().plugins.extension2reader
    assert choices["*.dcm"] == "other-dicom-plugin" and "*.nii.gz" not in choices
    assert choices["*.nii"] == PLUGIN


def test_command_line_flag_saves_the_choice_and_exits(tmp_path, settings_file):
    settings_file.write_text(yaml.safe_dump({"plugins": {"extension2reader": {"*.dcm": "other-dicom-plugin"}}}))
    env = {**os.environ, "NAPARI_CONFIG": str(settings_file)}
    result = subprocess.run([sys.executable, "-m", "napari_evai2i", "--default-reader"], capture_output=True,
                            text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "is now the reader for: *.nii, *.nii.gz" in result.stdout
    assert "*.dcm -> other-dicom-plugin" in result.stdout
    saved = saved_choices(settings_file)
    assert saved["*.dcm"] == "other-dicom-plugin" and saved["*.mha"] == PLUGIN
    assert not (tmp_path / "evai2i_demo").exists()            # it did not go on to the main job
