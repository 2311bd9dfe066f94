"""Dock widgets: Translate, Prompt explorer and Train (magicgui Containers)."""
