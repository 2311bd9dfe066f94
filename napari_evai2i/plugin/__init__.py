"""The napari plugin: reader, writers, sample data and dock widgets (see ``napari.yaml``).

Only this package imports napari, Qt or magicgui; it builds on the engine, never the other
way round. Importing it is cheap: torch is loaded by the widgets' workers when needed.
"""
