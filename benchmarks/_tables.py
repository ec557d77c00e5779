"""Markdown tables and report files for the benchmarks (without the optional tabulate package)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def markdown(table: pd.DataFrame) -> list[str]:
    """Return the lines of a Markdown table of ``table``; floats with two decimals."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    for row in table.itertuples(index=False):
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(out: Path, name: str, lines: list[str]) -> str:
    """Write ``lines`` to ``out / name`` (making ``out``), print them and return the text."""
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    (out / name).write_text(text)
    print(text)
    return text
