"""``nmcraman bands``: print band priors with their sources, or export them as TOML."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..bands import PRESETS, Band, bands_to_toml
from ._common import check_output, resolve_priors, say, write_output


def add_parser(subparsers: argparse._SubParsersAction, **shared: Any) -> None:
    """Add ``bands`` to the ``nmcraman`` subcommands, its parser made with ``shared``."""
    bnd = subparsers.add_parser(
        "bands",
        **shared,
        help="show or export the band priors",
        description="Print band priors (centre, window, FWHM) and their literature sources.",
    )
    bnd.add_argument(
        "preset",
        nargs="?",
        default="nmc+lo",
        metavar="PRESET",
        help=f"{', '.join(PRESETS)}, auto or a .toml file (default: nmc+lo)",
    )
    bnd.add_argument("--export", metavar="FILE.toml", help="write the priors as TOML to edit")
    bnd.add_argument("--force", action="store_true", help="overwrite an existing export")
    bnd.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    name = args.preset
    # "auto" chooses between the presets per spectrum; nmc+lo holds every band it may use.
    band_list = resolve_priors("nmc+lo" if name == "auto" else name)
    if args.export:
        out = Path(args.export)
        check_output(out, args.force)
        text = bands_to_toml(band_list)
        write_output(out, lambda tmp: tmp.write_text(text, encoding="utf-8"), args.force)
        if not getattr(args, "quiet", False):
            say(f"wrote {out}; edit it, then: nmcraman fit FILES --bands {out} -o OUT.csv")
        return 0
    print(_bands_text(name, band_list))
    return 0


def _bands_text(name: str, band_list: Sequence[Band]) -> str:
    if name == "auto":
        title = (
            "auto: fits 'nmc' and 'nmc+lo' and keeps the one the information criterion"
            " prefers. Bands of 'nmc+lo' (cm-1):"
        )
    elif name in PRESETS:
        title = f"Band priors of preset {name!r} (cm-1):"
    else:
        title = f"Band priors from {name} (cm-1):"
    rows = [("id", "label", "centre", "window", "FWHM start", "FWHM range", "fix / tie")]
    rows += [
        (b.id, b.label, f"{b.centre:g}", _pair(b.window), f"{b.fwhm:g}", _pair(b.fwhm_range),
         _constraints(b))
        for b in band_list
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title, ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [
        "",
        "The fit starts at centre and FWHM start and never leaves window and FWHM range.",
        "fix: held at the prior value, not fitted; tie: the FWHM of another band (one value).",
        "",
        "Sources (full references in the nmcraman.bands module docstring:",
        "  python -c \"import importlib; help(importlib.import_module('nmcraman.bands'))\"):",
    ]
    idw = max(len(b.id) for b in band_list)
    lines += [f"  {b.id:<{idw}}  {b.reference or '(no reference given)'}" for b in band_list]
    return "\n".join(lines)


def _constraints(b: Band) -> str:
    """``fix position; tie fwhm = Mn_Eg``: what of the band is held or shared, else -."""
    parts = [f"fix {', '.join(b.fix)}"] if b.fix else []
    parts += [f"tie {param} = {target}" for param, target in b.tie]
    return "; ".join(parts) or "-"


def _pair(pair: tuple[float, float]) -> str:
    return f"[{pair[0]:g}, {pair[1]:g}]"
