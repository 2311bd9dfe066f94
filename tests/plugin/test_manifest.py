"""The npe2 manifest is valid and importing the plugin stays light."""

import subprocess
import sys
from pathlib import Path



def test_npe2_validate_passes():
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run([str(npe2), "validate", "napari-evai2i"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_manifest_contributions():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-evai2i")
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {"Translate", "Prompt explorer", "Train"}
    assert "simulated_brain" in {s.key for s in contributions.sample_data}
    assert contributions.readers[0].accepts_directories
    extensions = {ext for w in contributions.writers for ext in w.filename_extensions}
    assert {".nii.gz", ".nii", ".mha", ".dcm"} <= extensions
    assert all(c.id.startswith("napari-evai2i.") for c in contributions.commands)
    menu_commands = {item.command for items in contributions.menus.values() for item in items}
    assert "napari-evai2i.make_default_reader" in menu_commands


def test_plugin_modules_import_without_torch():
    code = ("import sys\n"
            "import napari_evai2i.plugin.layers, napari_evai2i.plugin.reader, napari_evai2i.plugin.writer\n"
            "import napari_evai2i.plugin.samples, napari_evai2i.plugin.jobs, napari_evai2i.plugin.launch\n"
            "import napari_evai2i.plugin.training_run, napari_evai2i.plugin.reader_choice\n"
            "import napari_evai2i.plugin.widgets.translate, napari_evai2i.plugin.widgets.prompt_explorer\n"
            "import napari_evai2i.plugin.widgets.train\n"
            "print('torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"

