"""Make napari-evai2i the reader napari uses for medical volumes, without asking.

napari's builtin reader also claims ``*.nii``, ``*.nii.gz``, ``*.dcm``, ``*.mha``, ... so
napari asks which reader to use (and ``viewer.open(path)`` without ``plugin=`` refuses).
npe2 has no reader priority; the one switch is napari's own setting
``settings.plugins.extension2reader`` (filename pattern -> plugin name), which napari saves
to its settings file as soon as it changes. :func:`make_default_reader` fills it in for
every filename pattern our reader declares.

Folders are left alone: a folder pattern would send every folder, DICOM or not, to us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PLUGIN = "napari-evai2i"
BUILTINS = "napari"              # napari's builtin reader (imageio), the one that loses geometry
MANIFEST = Path(__file__).resolve().parents[1] / "napari.yaml"


def reader_patterns() -> list[str]:
    """The filename patterns of our reader, as the manifest declares them."""
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    return [pattern for reader in manifest.contributions.readers for pattern in reader.filename_patterns]


@dataclass(frozen=True)
class ReaderChoice:
    """What :func:`make_default_reader` did, pattern by pattern."""

    changed: dict[str, str | None] = field(default_factory=dict)  # pattern -> previous reader (None: none)
    already: list[str] = field(default_factory=list)               # patterns that were ours already
    kept: dict[str, str] = field(default_factory=dict)             # pattern -> another plugin, left as chosen

    def summary(self) -> str:
        lines = []
        if self.changed:
            lines.append(f"{PLUGIN} is now the reader for: " + ", ".join(
                pattern if previous is None else f"{pattern} (was {previous})"
                for pattern, previous in self.changed.items()))
        if self.already:
            lines.append(f"already read by {PLUGIN}: " + ", ".join(self.already))
        if self.kept:
            lines.append("kept your choice of another plugin: " + ", ".join(
                f"{pattern} -> {plugin}" for pattern, plugin in self.kept.items())
                + " (change it in File > Preferences > Plugins)")
        return "\n".join(lines)


def current_reader(pattern: str) -> str | None:
    """The reader napari's preferences pick for a file matching ``pattern`` (None: napari asks).

    A broader saved pattern counts too: napari's reader dialog saves a choice made for
    ``scan.nii.gz`` as ``*.gz``.
    """
    from napari.plugins.utils import get_preferred_reader

    return get_preferred_reader(pattern.replace("*", "volume"))


def make_default_reader() -> ReaderChoice:
    """Let napari-evai2i read every one of its filename patterns without napari asking.

    Replaces no choice and a choice of napari's builtin reader; keeps a choice of any other
    plugin. Saved through napari's settings, so it lasts across sessions.
    """
    from napari.settings import get_settings

    changed: dict[str, str | None] = {}
    already: list[str] = []
    kept: dict[str, str] = {}
    for pattern in reader_patterns():
        reader = current_reader(pattern)
        if reader == PLUGIN:
            already.append(pattern)
        elif reader in (None, BUILTINS):
            changed[pattern] = reader
        else:
            kept[pattern] = reader
    if changed:
        settings = get_settings().plugins
        ours = dict.fromkeys(changed, PLUGIN)
        rest = {pattern: plugin for pattern, plugin in settings.extension2reader.items() if pattern not in ours}
        # napari ranks "*.gz" and "*.nii.gz" as equally specific and takes the first saved: ours go first.
        settings.extension2reader = {**ours, **rest}
    return ReaderChoice(changed, already, kept)


def make_default_reader_command() -> None:
    """File > IO utilities menu command: :func:`make_default_reader`, reported as a notification."""
    from napari.utils.notifications import show_info

    show_info(make_default_reader().summary())
