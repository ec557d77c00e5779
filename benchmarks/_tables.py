"""Markdown tables for the benchmark reports (without the optional tabulate package)."""

from __future__ import annotations

import pandas as pd


def markdown(table: pd.DataFrame) -> list[str]:
    """Return the lines of a Markdown table of ``table``; floats with two decimals."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    for row in table.itertuples(index=False):
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
