"""``python -m napari_evai2i``: napari with the sample subject and the widgets docked."""

from __future__ import annotations

PLUGIN = "napari-evai2i"


def open_viewer_with_sample(sample: str = "simulated_brain", explorer: bool = True):
    """A viewer with the simulated subject open and Translate in front (Prompt explorer in a tab).

    ``sample`` is a sample key of this plugin (``simulated_brain_2mm`` is quicker on a CPU).
    Returns the viewer; the caller runs the event loop (``napari.run()``).
    """
    import napari

    viewer = napari.Viewer(title="napari-evai2i")
    viewer.open_sample(PLUGIN, sample)
    # A tabified dock is shown in front when it is added, so Translate comes last.
    if explorer:
        viewer.window.add_plugin_dock_widget(PLUGIN, "Prompt explorer")
    viewer.window.add_plugin_dock_widget(PLUGIN, "Translate", tabify=explorer)
    return viewer
