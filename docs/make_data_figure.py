"""Render docs/images/simulated_contrasts.png: one simulated subject under the preset protocols.

    python docs/make_data_figure.py [--seed 7] [--z-mm 18] [-o docs/images/simulated_contrasts.png]

One call of ``simulate_pair`` scans one warped MNI152 brain with every preset at 1.5 T and a
few presets at 3 T, so all panels show the very same anatomy. Each panel is one axial slice,
divided by the 99.5th percentile of its whole volume (the normalisation used at inference) and
shown on [0, 1]. The slice is displayed in the radiological convention (patient's left on the
right, anterior at the top). The last panel shows the tissue fractions as colours.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from napari_evai2i.data.physics import PRESETS, is_held_out, preset  # noqa: E402
from napari_evai2i.data.simulator import simulate_pair  # noqa: E402
from napari_evai2i.engine.normalization import fit_intensity_scale  # noqa: E402

KINDS_1P5T = ("T1W", "T2W", "PDW", "FLAIR", "STIR", "FLASH", "MPRAGE")
KINDS_3T = ("T1W", "T2W", "PDW", "FLAIR", "MPRAGE")
#: Notes for the empty 3 T cells (see physics.ZERO_SHOT_SPLIT).
NOTES_3T = {"STIR": "STIR is held out\nat every field\n(zero-shot)", "FLASH": "FLASH at 3 T\nis held out\n(zero-shot)"}
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "images" / "simulated_contrasts.png"


def protocol_label(protocol) -> str:
    parts = [f"TR {protocol.tr:g}", f"TE {protocol.te:g}"]
    if protocol.ti is not None:
        parts.append(f"TI {protocol.ti:g}")
    if protocol.sequence_type in ("GRE", "IRGRE"):
        parts.append(f"{protocol.flip_angle:g}°")
    return " / ".join(parts)


def display(plane: np.ndarray, affine_ras: np.ndarray) -> np.ndarray:
    """A (Y, X) axial slice of a (Z, Y, X) array turned so that anterior is up and the
    patient's left is on the right (radiological view), read from the RAS affine."""
    out = plane
    if affine_ras[1, 1] > 0:   # j runs towards anterior (RAS +y): put the last row at the top
        out = out[::-1, :]
    if affine_ras[0, 0] > 0:   # i runs towards the patient's right (RAS +x): right goes left
        out = out[:, ::-1]
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="simulated subject")
    parser.add_argument("--z-mm", type=float, default=18.0, help="axial slice position, MNI z in mm")
    parser.add_argument("--snr", type=float, default=40.0, help="noise level of every panel")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    protocols = [PRESETS[k] for k in KINDS_1P5T] + [preset(k, 3.0) for k in KINDS_3T]
    volumes = simulate_pair(protocols, seed=args.seed, resolution_mm=1, noise_snr=args.snr)
    first = volumes[0]
    affine = first.affine_ras
    k = int(round((args.z_mm - affine[2, 3]) / affine[2, 2]))
    k = int(np.clip(k, 0, first.image.shape[0] - 1))

    # Crop every panel to the brain's extent in this slice (plus a margin).
    rows, cols = np.nonzero(first.mask[k])
    margin = 6
    crop = (slice(max(rows.min() - margin, 0), rows.max() + margin + 1),
            slice(max(cols.min() - margin, 0), cols.max() + margin + 1))

    def panel(volume) -> np.ndarray:
        scale = fit_intensity_scale(volume.image)
        return display(scale.normalize(volume.image[k])[crop], affine)

    n_cols = len(KINDS_1P5T) + 1
    fig, axes = plt.subplots(2, n_cols, figsize=(2.0 * n_cols, 4.9), gridspec_kw={"hspace": 0.22, "wspace": 0.04})
    for ax in axes.ravel():
        ax.set_axis_off()

    by_kind_3t = dict(zip(KINDS_3T, volumes[len(KINDS_1P5T):]))
    for col, (kind, volume) in enumerate(zip(KINDS_1P5T, volumes)):
        ax = axes[0, col]
        ax.imshow(panel(volume), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        held_out = " (held out)" if is_held_out(volume.protocol) else ""
        ax.set_title(f"{kind} 1.5 T{held_out}\n{protocol_label(volume.protocol)}", fontsize=8)
        if kind in by_kind_3t:
            ax = axes[1, col]
            other = by_kind_3t[kind]
            ax.imshow(panel(other), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(f"{kind} 3 T\n{protocol_label(other.protocol)}", fontsize=8)
        else:
            axes[1, col].text(0.5, 0.5, NOTES_3T.get(kind, ""), ha="center", va="center", fontsize=8,
                              color="0.4", transform=axes[1, col].transAxes)

    # Tissue fractions: red = CSF, green = GM, blue = WM (shared by every panel).
    gm, wm, csf = first.tissue[:, k]
    rgb = np.stack([csf, gm, wm], axis=-1)
    ax = axes[0, -1]
    ax.imshow(np.clip(display(rgb[crop], affine), 0, 1), interpolation="nearest")
    ax.set_title("tissue fractions\nR CSF · G GM · B WM", fontsize=8)
    axes[1, -1].text(
        0.5, 0.5,
        f"seed {args.seed}, 1 mm voxels\naxial slice z = {affine[2, 3] + k * affine[2, 2]:g} mm\n(MNI152 grid)\n"
        f"SNR {args.snr:g}; bias field,\nwarp, jitter on\n\nshown: image / P99.5\nof its whole volume\n"
        "radiological view",
        ha="center", va="center", fontsize=7.5, color="0.25", transform=axes[1, -1].transAxes)

    fig.suptitle("One simulated subject (MNI152 anatomy) under the preset protocols", fontsize=11, y=0.995)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    print(args.output)
    return args.output


if __name__ == "__main__":
    main()
