"""``nmcraman map FILES... --series``: one map file per step, fitted as one series.

The files (a list, a folder or a glob) are read by `nmcraman.io.read_series` into a
(step, y, x) cube, with the step values from ``--times``, else the files' acquisition
times, else their order; `nmcraman.deconvolve_map` fits it. Besides the table (a column
per navigation dimension and coordinate, and the ``file`` of each step) and its
provenance, the command writes ``OUT_trend.png``: the mean position, FWHM and area %
of one band (``--trend-band``, default Mn_A1g) at each step with its standard error
(`nmcraman.results.map.MapResult.plot_trend`); ``--images`` draws every step's images.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NmcramanError
from ._common import UsageError, write_output

#: Band parameters drawn in the trend plot, one panel each, as ``map --images`` draws them.
TREND_PARAMS = ("position", "fwhm", "area_pct")
#: The band the trend plot follows unless ``--trend-band`` names another.
TREND_BAND = "Mn_A1g"


def add_series_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--series``, ``--times``, ``--dim`` and ``--trend-band`` to ``map``."""
    parser.add_argument(
        "--series",
        action="store_true",
        help="the inputs are one map file per step (files, a folder or a glob): fit them as"
        " one series and write OUT_trend.png beside the CSV",
    )
    parser.add_argument(
        "--times",
        metavar="TIMES.csv",
        help="with --series: the step values, one per line in file order or file,time"
        " pairs (default: the files' acquisition times, else their order 0, 1, ...)",
    )
    parser.add_argument(
        "--dim",
        metavar="NAME",
        help="with --series: name of the series dimension, e.g. voltage (default: time)",
    )
    parser.add_argument(
        "--trend-band",
        dest="trend_band",
        metavar="BAND",
        help=f"with --series: the band OUT_trend.png follows (default: {TREND_BAND})",
    )


def check_series_options(args: argparse.Namespace, band_ids: Sequence[str]) -> None:
    """Check the series options before any work; fill in their defaults for ``--series``.

    Raises
    ------
    UsageError
        If a series option is given without ``--series``, several inputs without it,
        an input of a series is missing, the times file is
        missing, or the trend band is not one of ``band_ids``.
    """
    options = (("--times", args.times), ("--dim", args.dim), ("--trend-band", args.trend_band))
    if not args.series:
        for option, value in options:
            if value is not None:
                raise UsageError(f"{option} applies to --series; add it or drop {option}.")
        if len(args.input) > 1:
            raise UsageError(
                f"{len(args.input)} inputs: pass --series to fit one map file per step, or"
                " give the spectra of one map as a folder or a quoted glob."
            )
        return
    if len(args.input) > 1:
        missing = [f for f in args.input if not os.path.isfile(f)]
        if missing:
            raise UsageError(f"no such file {missing[0]!r}; give files, or one folder or glob.")
    if args.times is not None and not os.path.isfile(args.times):
        raise UsageError(f"--times {args.times}: no such file.")
    args.dim = args.dim or "time"
    args.trend_band = args.trend_band or TREND_BAND
    if args.trend_band not in band_ids:
        raise UsageError(
            f"--trend-band {args.trend_band} is not a band of the priors; use one of"
            f" {', '.join(band_ids)}."
        )


def series_source(inputs: Sequence[str]) -> str:
    """Name of the inputs in messages: the one input, or the first and how many more."""
    return inputs[0] if len(inputs) == 1 else f"{inputs[0]} and {len(inputs) - 1} more files"


def read(args: argparse.Namespace, reader: dict[str, Any]):
    """Read the series (`nmcraman.io.read_series`).

    Raises
    ------
    UsageError
        If the files do not make one series (none found, a file unreadable, shapes or
        axes that differ, times that do not fit the files): nothing is fitted.
    """
    from ..io import read_series

    files = args.input if len(args.input) > 1 else args.input[0]
    try:
        return read_series(files, times=args.times, dim=args.dim, **reader)
    except NmcramanError as exc:
        raise UsageError(f"{exc} Nothing was fitted.") from exc


def pixel_files(data) -> list[str]:
    """Return the file of each pixel of a series: its step's, in the map's row-major order."""
    files = data.meta["files"]
    return np.repeat(np.asarray(files, dtype=object), data.spectra[0, ..., 0].size).tolist()


def trend_path(out: Path) -> Path:
    """Return the trend plot's path: ``OUT.csv`` -> ``OUT_trend.png``."""
    return out.with_name(f"{out.stem}_trend.png")


def step_suffixes(dim: str, steps: int) -> list[str]:
    """Suffix of each step's images: ``_time00`` ... (zero-padded, so they sort in order)."""
    width = len(str(steps - 1))
    return [f"_{dim}{k:0{width}d}" for k in range(steps)]


def existing_step_images(folder: Path, stems: Sequence[str], dim: str) -> list[str]:
    """Images of a previous run in ``folder``: ``{stem}_{dim}<digits>.png`` for any stem."""
    pattern = re.compile(rf"({'|'.join(map(re.escape, stems))})_{re.escape(dim)}\d+\.png")
    return sorted(p for p in glob.glob(str(folder / "*.png")) if pattern.fullmatch(Path(p).name))


def write_trend(res, path: Path, band: str, data_meta: dict, title: str, force: bool) -> None:
    """Write the trend plot: one panel per `TREND_PARAMS`, mean +- err against the steps."""
    from matplotlib.figure import Figure

    dim = res.dims[0]
    column = f"{dim}_coord"
    source = data_meta.get("time_source")
    unit = data_meta.get("time_unit")
    xlabel = f"{dim} ({unit})" if unit else f"{dim} (file order)" if source == "order" else dim
    # A bare Figure, not pyplot: no GUI backend, nothing left open.
    fig = Figure(figsize=(5.5, 2.2 * len(TREND_PARAMS)), layout="constrained")
    axes = fig.subplots(len(TREND_PARAMS), 1, sharex=True)
    for ax, param in zip(axes, TREND_PARAMS, strict=True):
        res.plot_trend(param, band=band, along=dim, x=column, ax=ax)
        ax.set_xlabel("")
    axes[-1].set_xlabel(xlabel)
    axes[0].set_title(f"{title}: {band}, mean +- standard error over pixels")
    write_output(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100), force)
