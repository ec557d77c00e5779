"""Colours of a pooled map's phases: one palette for `MapResult.plot`, PNGs and the page."""

from __future__ import annotations

__all__ = ["NOT_POOLED_COLOUR", "PHASE_COLOURS", "phase_colour"]

#: Colours of the phases of a pooled map, phase k in ``PHASE_COLOURS[k % 10]``
#: (matplotlib's qualitative "tab10"): the same in `MapResult.plot`, the CLI's
#: ``phase.png`` and the HTML page.
PHASE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: Colour of the pixels of a pooled map that were not pooled (phase -1).
NOT_POOLED_COLOUR = "#d9d9d9"


def phase_colour(label: int) -> str:
    """Return the colour of a phase label: `PHASE_COLOURS`, or `NOT_POOLED_COLOUR` if < 0."""
    return NOT_POOLED_COLOUR if label < 0 else PHASE_COLOURS[label % len(PHASE_COLOURS)]
