"""``nmcraman calibrate``: measure the axis offset from a silicon or polystyrene spectrum."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..calibration import AGREEMENT_K, AxisOffset, offset_from_polystyrene, offset_from_silicon
from ._common import add_reader_options, reader_options, say

#: The standards ``--standard`` takes, and the function that measures each.
STANDARDS = {"silicon": offset_from_silicon, "polystyrene": offset_from_polystyrene}


def add_parser(subparsers: argparse._SubParsersAction, **shared: Any) -> None:
    """Add ``calibrate`` to the ``nmcraman`` subcommands, its parser made with ``shared``."""
    cal = subparsers.add_parser(
        "calibrate",
        **shared,
        help="measure the Raman-shift offset from a silicon or polystyrene spectrum",
        description="Measure how far the Raman-shift axis is off, from a spectrum of a"
        " standard taken on the same instrument and day (silicon 520.7 cm-1, or the"
        " polystyrene bands of ASTM E1840), and print the --shift to pass to fit and map.",
    )
    cal.add_argument("file", metavar="FILE", help="spectrum of the standard")
    cal.add_argument(
        "--standard",
        choices=list(STANDARDS),
        default="silicon",
        help="what the spectrum is of (default: silicon)",
    )
    add_reader_options(cal)
    cal.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from ..io import read_spectrum

    spectrum = read_spectrum(args.file, **reader_options(args))
    offset = STANDARDS[args.standard](spectrum)
    print(offset_text(offset, Path(args.file).name))
    if offset.agrees:
        return 0
    bands = ", ".join(f"{b:g}" for b in offset.disagreeing)
    say(
        f"{args.file}: {len(offset.disagreeing)} of {len(offset.reference)} bands ({bands} cm-1)"
        f" disagree with {offset.standard}; no --shift given."
    )
    return 1


def offset_text(offset: AxisOffset, source: str) -> str:
    """Return the report of ``nmcraman calibrate``: the offset, each band, the flag to pass.

    The ``--shift`` line is there only if every band agrees with the standard
    (`AxisOffset.agrees`); otherwise the bands that disagree are listed instead.
    """
    rows = [("reference", "measured", "corrected - reference", "uncertainty (1 sigma)", "agrees")]
    agrees = offset.within_tolerance(AGREEMENT_K)
    for ref, got, res, unc, ok in zip(
        offset.reference, offset.measured, offset.residuals, offset.uncertainty, agrees,
        strict=True,
    ):  # fmt: skip
        rows.append((f"{ref:g}", f"{got:.2f}", f"{res:+.2f}", f"{unc:.2f}", "yes" if ok else "NO"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{source}: {offset}", ""]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if offset.skipped:
        lines.append(f"not measured: {', '.join(f'{b:g}' for b in offset.skipped)} cm-1")
    lines += [
        "",
        f"agrees: within {AGREEMENT_K:g} combined standard uncertainties (the standard's spread,",
        "the offset's error and the band's fit error).",
    ]
    if offset.agrees:
        lines.append(f"Correct spectra measured the same day with: --shift {offset.shift:+.2f}")
    else:
        bands = ", ".join(f"{b:g}" for b in offset.disagreeing)
        lines += [
            f"Bands that disagree: {bands} cm-1. No shift corrects this spectrum: it is not",
            f"{offset.standard}, or its axis is off by different amounts at different shifts.",
        ]
    return "\n".join(lines)
