"""``python -m napari_evai2i``: napari with the sample subject and the widgets docked."""

from __future__ import annotations

PLUGIN = "napari-evai2i"


def open_viewer_with_sample(sample: str = "simulated_brain", explorer: bool = True):
    """A viewer with the simulated subject open, Translate docked (Prompt explorer in a tab).

    ``sample`` is a sample key of this plugin (``simulated_brain_2mm`` is quicker on a CPU).
    Returns the viewer; the caller runs the event loop (``napari.run()``).
    """
    import napari

    viewer = napari.Viewer(title="napari-evai2i")
    viewer.open_sample(PLUGIN, sample)
    translate_dock, _ = viewer.window.add_plugin_dock_widget(PLUGIN, "Translate")
    if explorer:
        viewer.window.add_plugin_dock_widget(PLUGIN, "Prompt explorer", tabify=True)
        translate_dock.raise_()          # tabs show the last one added; Translate comes first
    return viewer
