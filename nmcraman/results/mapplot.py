"""Draw one parameter of a map as an image (`MapResult.plot`)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from ..errors import InputError
from .palette import phase_colour

__all__ = ["plot_map"]


def plot_map(m, param: str, band: str | None, ax=None, *, select=None, **kwargs):
    """Draw ``param`` of ``band`` of the map ``m``; see `nmcraman.results.map.MapResult.plot`."""
    import matplotlib.pyplot as plt

    img = m.image(param, band if param in m.params else None, **(select or {}))
    if img.ndim > 2:
        raise InputError(
            f"a map of {img.ndim} dimensions {m.dims} draws one 2-D slice at a time:"
            f" pass select=, e.g. select={{{m.dims[0]!r}: 0}}."
        )
    if img.ndim == 1:
        img = img[None, :]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
    else:
        fig = ax.figure
    key = _phase_key(img) if param == "phase" else None
    style = {"cmap": key[0], "norm": key[1]} if key else {}
    im = ax.imshow(img, origin="upper", interpolation="nearest", **{**style, **kwargs})
    unit = {"position": " (cm-1)", "fwhm": " (cm-1)", "area_pct": " (%)"}.get(param, "")
    label = f"{param}{unit}" + (f", {band}" if param in m.params else "")
    if key:
        bar = fig.colorbar(im, ax=ax, label=label, ticks=key[2])
        bar.ax.set_yticklabels(["not pooled" if k < 0 else str(k) for k in key[2]])
    else:
        fig.colorbar(im, ax=ax, label=label)
    shown = [d for d in m.dims if d not in (select or {})]
    if len(shown) == 2 and shown != ["row", "col"]:  # a series' (y, x): name them
        ax.set_xlabel(shown[1])
        ax.set_ylabel(shown[0])
    else:
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    return fig


def _phase_key(img: np.ndarray):
    """Colour map, norm and labels that draw each phase label of ``img`` in its colour."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    labels = np.unique(img).astype(int).tolist()
    # Each label alone in a bin: boundaries half-way between consecutive labels.
    edges = [labels[0] - 0.5, *((a + b) / 2 for a, b in pairwise(labels)), labels[-1] + 0.5]
    cmap = ListedColormap([phase_colour(k) for k in labels])
    return cmap, BoundaryNorm(edges, len(labels)), labels
