"""``nmcraman map``: deconvolve every pixel of a map, or a series of maps, into one CSV.

Also PNG images (``--images``), an HTML page (``--html``) and, for a series
(``--series``, `nmcraman.cli._series`), the trend plot.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..bands import PRESETS
from ..maps.phases import MAX_PHASES
from ..maps.pooled import POOLING_SHARES
from ..results.map import QC_FLAGS
from ._common import (
    UsageError,
    WriteError,
    add_model_options,
    add_reader_options,
    check_model_options,
    check_output,
    describe_failure,
    model_options,
    number,
    reader_options,
    resolve_priors,
    say,
    write_output,
)
from ._provenance import fitted, record, table_output, write_with_provenance
from ._series import (
    add_series_options,
    check_series_options,
    existing_step_images,
    pixel_files,
    series_source,
    step_suffixes,
    trend_path,
    write_trend,
)

#: Band parameters drawn by ``map --images``: one PNG per parameter and band.
_MAP_IMAGES = ("position", "fwhm", "area_pct")


def add_parser(subparsers: argparse._SubParsersAction, **shared: Any) -> None:
    """Add ``map`` to the ``nmcraman`` subcommands, its parser made with ``shared``."""
    mp = subparsers.add_parser(
        "map",
        **shared,
        help="deconvolve every pixel of a map into one CSV",
        description=(
            "Deconvolve every pixel of a map file (LabSpec text, Renishaw .wdf), or every file"
            " of a folder or glob, and write the per-pixel table (see"
            " nmcraman.deconvolve_map); with --series, one map file per step of a series"
            " (nmcraman.io.read_series), and OUT_trend.png. A run that completes exits 0"
            " even if pixels are flagged; the flags are in the CSV and summarised on stderr."
        ),
    )
    mp.add_argument(
        "input",
        nargs="+",
        metavar="INPUT",
        help="map file, folder or glob of spectra; with --series, the map files of the steps",
    )
    mp.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="CSV to write")
    mp.add_argument(
        "--bands",
        default="auto",
        metavar="PRIORS",
        help=f"{', '.join(PRESETS)}, auto (per pixel, by BIC) or a .toml file (default: auto)",
    )
    add_model_options(mp)
    add_reader_options(mp)
    mp.add_argument(
        "--images",
        metavar="DIR",
        help="write PNG maps of position, fwhm and area_pct per band, flags and (with"
        " --pooling) phase, into DIR; with --series, one of each per step",
    )
    mp.add_argument("--jobs", type=number(int, 1), metavar="N", help="threads (default: all cores)")
    mp.add_argument(
        "--no-warm-start",
        dest="warm_start",
        action="store_const",
        const=False,
        help="start every pixel from the priors (the default where each pixel chooses its"
        " window and orders): each pixel's table is then that of fit",
    )
    mp.add_argument("--despike", action="store_true", help="remove cosmic-ray spikes first")
    mp.add_argument(
        "--pooling",
        choices=["none", "phases"],
        default="none",
        help="phases: group the pixels into phases and fit each phase jointly, band shapes"
        " pooled (nmcraman.deconvolve_map; default: none, every pixel on its own)",
    )
    mp.add_argument(
        "--share",
        choices=list(POOLING_SHARES),
        help="with --pooling phases: what the pixels of a phase share (default: partial)",
    )
    mp.add_argument(
        "--max-phases",
        type=number(int, 1),
        metavar="N",
        help=f"with --pooling phases: most phases looked for (default: {MAX_PHASES})",
    )
    mp.add_argument(
        "--through",
        action="store_true",
        help="with --series and --pooling phases: pool each phase step by step, its band"
        " shapes linked through the series by a random walk (deconvolve_map(...,"
        " through=DIM))",
    )
    mp.add_argument(
        "--html",
        metavar="PAGE.html",
        help="a self-contained HTML page of the map: images, a click shows a pixel's bands",
    )
    add_series_options(mp)
    mp.add_argument("--force", action="store_true", help="overwrite existing outputs")
    mp.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    quiet = getattr(args, "quiet", False)
    source = series_source(args.input)
    out = table_output(args)
    if args.html is not None:
        check_output(Path(args.html), args.force)
    for given in args.input:
        is_glob = not os.path.exists(given) and any(c in given for c in "*?[")
        if is_glob and not any(os.path.isfile(f) for f in glob.glob(given, recursive=True)):
            raise UsageError(f"no file matches {given!r}.")
        if os.path.exists(given) and Path(given).resolve() == out.resolve():
            raise UsageError(f"{out} is also the input; choose another output name.")
    check_model_options(args)
    pooling_only = (("--share", args.share), ("--max-phases", args.max_phases))
    for option, value in (*pooling_only, ("--through", args.through or None)):
        if value is not None and args.pooling == "none":
            raise UsageError(f"{option} applies to --pooling phases; add it or drop {option}.")
    if args.pooling != "none":  # recorded in the provenance as fitted
        args.share = args.share or "partial"
        args.max_phases = args.max_phases or MAX_PHASES
    # A preset goes by name, so the table's model column names it; a TOML file is
    # resolved here, so that a bad one is a usage error found before any work.
    listed = resolve_priors("nmc+lo" if args.bands == "auto" else args.bands)
    priors = args.bands if args.bands == "auto" or args.bands in PRESETS else listed
    pooled = args.pooling != "none"
    check_series_options(args, [b.id for b in listed])
    if args.through and not args.series:
        raise UsageError("--through pools through the steps of a series; add --series.")
    series = args.dim if args.series else None
    images = _image_folder(args.images, [b.id for b in listed], args.force, pooled, series)
    trend = trend_path(out) if args.series else None
    if trend is not None:
        check_output(trend, args.force)

    from ..io import read_many, read_map
    from ..maps import deconvolve_map
    from ._series import read as read_series

    isatty = sys.stderr.isatty()  # a progress bar only where someone watches it
    folder = os.path.isdir(source) or is_glob
    reader = reader_options(args)
    if args.series:
        step = partial(read_series, args, reader)
    else:
        step = partial(read_many if folder else read_map, source, **reader)
    data = _map_step(args, step, out, source)
    if data is None:
        return 1
    failed = data.meta.get("failed", [])
    for name, reason in failed:  # files of a folder or glob left out: one line each
        say(f"{name}: {reason}")
    if data.meta.get("resampled") and not quiet:
        say(f"{source}: warning: the files' axes differ; spectra were interpolated onto one.")
    kwargs = model_options(args, ("shape", "baseline", "refine", "eta", "jobs", "warm_start"))
    kwargs.update(bands=priors, despike_spectra=args.despike, progress=not quiet and isatty)
    kwargs.update(pooling=args.pooling, share=args.share, max_phases=args.max_phases)
    if args.through:
        kwargs["through"] = args.dim
    res = _map_step(args, lambda: deconvolve_map(data, **kwargs), out, source)
    if res is None:
        return 1
    # The spectra of a folder or glob are named by their paths, in a "file" column as
    # in the table of fit; the pixels of a series by their step's file.
    if args.series:
        res = res.replace(names=pixel_files(data))
    elif data.meta.get("files"):
        res = res.replace(names=list(data.meta["files"]))
    table = res.table.rename(columns={"name": "file"})
    inputs = list(data.meta.get("files") or [source])
    inputs += [args.times] if args.series and args.times is not None else []
    provenance = record(args, inputs, priors, failed, [fitted(source, res.meta)])
    write_with_provenance(out, lambda tmp: table.to_csv(tmp, index=False), args.force, provenance)
    title = Path(args.input[0]).name
    written = _write_images(res, images, title, args.force, series) if images else 0
    if trend is not None:
        write_trend(res, trend, args.trend_band, data.meta, title, args.force)
    if args.html is not None:
        res.to_html(args.html, title=Path(source).name, force=args.force)
    if not quiet:
        where = f" and {written} images in {images}" if images else ""
        where += f" and {trend}" if trend is not None else ""
        where += f" and {args.html}" if args.html is not None else ""
        say(f"{_flag_summary(res.stats['flags'])}; wrote {out}{where}")
    return 1 if failed else 0


def _map_step(args: argparse.Namespace, step: Callable[[], Any], out: Path, source: str) -> Any:
    """Run one step of ``map`` (read, fit); print its warnings; None if it failed.

    A `UsageError` (a series whose files do not make one) is not caught: exit 2.
    """
    from ..io._folders import SkippedFiles

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = step()
        except UsageError:
            raise
        except Exception as exc:  # unreadable or unusable input: one line, exit 1
            if getattr(args, "debug", False):
                traceback.print_exception(exc)
            say(f"{source}: {describe_failure(source, exc)}")
            say(f"nothing was fitted; {out} was not written.")
            return None
    notes = [str(w.message) for w in caught if not issubclass(w.category, SkippedFiles)]
    for note in [] if getattr(args, "quiet", False) else dict.fromkeys(notes):
        say(f"{source}: warning: {note}")
    return value


def _image_folder(
    folder: str | None, band_ids: Sequence[str], force: bool, pooled: bool, series: str | None
) -> Path | None:
    """Check the ``--images`` folder before any work; it is made only when written to.

    ``series`` names the series dimension of ``--series``: each step has its images.
    """
    if folder is None:
        return None
    where = Path(folder)
    if where.exists() and not where.is_dir():
        raise UsageError(f"--images {where} is a file; give a folder.")
    if not where.is_dir() and not where.parent.is_dir():
        raise UsageError(f"cannot make image folder {where}: {where.parent} does not exist.")
    names = [f"{p}_{b}.png" for b in band_ids for p in _MAP_IMAGES] + ["flags.png"]
    names += ["phase.png"] if pooled else []
    if series is None:
        existing = [str(where / n) for n in names if (where / n).exists()]
    else:
        existing = existing_step_images(where, [n.removesuffix(".png") for n in names], series)
    if existing and not force:
        raise UsageError(f"{existing[0]} exists; pass --force to overwrite images.")
    return where


def _write_images(res: Any, folder: Path, title: str, force: bool, series: str | None) -> int:
    """One PNG per band parameter (``area_pct_Mn_A1g.png``), ``flags.png``, ``phase.png``.

    For a series (``series`` names its dimension), one of each per step, named with
    the step's index: ``area_pct_Mn_A1g_time03.png``.
    """
    from matplotlib.figure import Figure

    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot make {folder}: {exc.strerror or exc}.") from exc
    jobs = [(p, b, f"{p}_{b}.png") for b in res.bands for p in _MAP_IMAGES]
    jobs.append(("flags", None, "flags.png"))  # QC bit mask: 0 is a clean pixel
    if "phase" in res.stats:  # a pooled map: the phase of each pixel, -1 not pooled
        jobs.append(("phase", None, "phase.png"))
    if series is None:
        steps = [("", {}, "")]
    else:
        suffixes = step_suffixes(series, res.shape[res.dims.index(series)])
        steps = [(s, {series: k}, f", {series} {k}") for k, s in enumerate(suffixes)]
    for suffix, select, caption in steps:
        for param, band, name in jobs:
            # A bare Figure, not pyplot: no GUI backend, nothing left open.
            fig = Figure(figsize=(5, 4), layout="constrained")
            ax = fig.subplots()
            res.plot(param, band, ax=ax, select=select)
            ax.set_title(f"{title}: {param}" + (f" {band}" if band else "") + caption)
            path = folder / name.replace(".png", f"{suffix}.png")
            write_output(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=100), force)
    return len(jobs) * len(steps)


def _flag_summary(flags: Any) -> str:
    """``20 pixels, 3 flagged (low_snr 2, spike 1)``: pixels per QC flag."""
    counts = {name: int(((flags >> i) & 1).sum()) for i, name in enumerate(QC_FLAGS)}
    detail = ", ".join(f"{name} {n}" for name, n in counts.items() if n)
    flagged = int((flags != 0).sum())
    return f"{flags.size} pixels, {flagged} flagged" + (f" ({detail})" if detail else "")
