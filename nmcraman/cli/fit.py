"""``nmcraman fit``: deconvolve spectrum files into one CSV, long or as Table S3."""

from __future__ import annotations

import argparse
import glob
import os
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import atomic_write
from ..bands import PRESETS, Band
from ..joint import SHARES
from ..model import CRITERIA
from ..results.result import Result
from ._common import (
    UsageError,
    add_model_options,
    add_reader_options,
    check_model_options,
    describe_failure,
    folder_targets,
    model_options,
    number,
    reader_options,
    resolve_priors,
    say,
)
from ._html import add_html_option, page_targets
from ._joint import run_joint
from ._provenance import fitted, record, table_output, write_with_provenance

#: Below this many files a progress bar is more noise than help.
_PROGRESS_MIN_FILES = 5
#: Table S3 layout: column of `Result.table` -> name after the sample stem (+ " err").
_S3_COLUMNS = {"position": "position", "fwhm": "FWHM", "area_pct": "area %"}


def add_parser(subparsers: argparse._SubParsersAction, **shared: Any) -> None:
    """Add ``fit`` to the ``nmcraman`` subcommands, its parser made with ``shared``."""
    fit = subparsers.add_parser(
        "fit",
        **shared,
        help="deconvolve spectrum files into one CSV",
        description="Deconvolve each spectrum file and write one CSV (see nmcraman.deconvolve).",
    )
    fit.add_argument("files", nargs="+", metavar="FILE", help="spectrum files or glob patterns")
    fit.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="CSV to write")
    fit.add_argument(
        "--bands",
        default="auto",
        metavar="PRIORS",
        help=f"{', '.join(PRESETS)}, auto (picks by --criterion) or a .toml file (default: auto)",
    )
    add_model_options(fit)
    add_reader_options(fit)
    fit.add_argument("--engine", choices=["numba", "lmfit"], default="numba")
    fit.add_argument("--criterion", choices=list(CRITERIA), default="bic", help="for auto")
    fit.add_argument(
        "--format",
        choices=["long", "table-s3"],
        default="long",
        help="long: one row per file and band; table-s3: one row per band (default: long)",
    )
    fit.add_argument(
        "--despike",
        action="store_true",
        help="remove cosmic-ray spikes before fitting (flagged 'spike' either way)",
    )
    fit.add_argument("--plot", metavar="DIR", help="write one PNG per spectrum into DIR")
    add_html_option(fit)
    fit.add_argument(
        "--joint",
        action="store_true",
        help="the files are spectra of one sample: fit them together (nmcraman.deconvolve_joint);"
        " OUT.csv gets the summary, OUT_spectra.csv every spectrum's bands",
    )
    fit.add_argument(
        "--share",
        choices=list(SHARES),
        help="with --joint: what the spectra share (default: partial)",
    )
    fit.add_argument("--jobs", type=number(int, 1), default=1, metavar="N", help="processes")
    fit.add_argument("--force", action="store_true", help="overwrite existing outputs")
    fit.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    quiet = getattr(args, "quiet", False)
    files = _expand(args.files)
    out = table_output(args)
    if any(Path(f).resolve() == out.resolve() for f in files):
        raise UsageError(f"{out} is also an input; choose another output name.")
    check_model_options(args)
    # Resolve the priors once: a bad preset or TOML file is a usage error, found before
    # any fit, and workers receive picklable Band objects instead of re-reading the file.
    priors: str | list[Band] = "auto" if args.bands == "auto" else resolve_priors(args.bands)
    if args.share is not None and not args.joint:
        raise UsageError("--share applies to --joint fits; add --joint or drop --share.")
    if args.joint:
        if args.plot or args.format != "long":
            raise UsageError("--joint writes its own summary table; drop --plot and --format.")
        if args.despike:
            raise UsageError("--despike applies to single fits; drop --joint or --despike.")
        return run_joint(args, files, out, priors)
    if args.format == "table-s3" or args.plot or args.html:
        _check_unique_stems(files)
    pngs = _plot_targets(args.plot, files, args.force)
    pages = page_targets(args.html, files, args.force)
    names = ("shape", "baseline", "refine", "eta", "engine", "criterion", "despike")
    kwargs = {"bands": priors, **model_options(args, names)}
    reader = reader_options(args)
    calls = [
        (f, reader, kwargs, args.bands, png, page, args.force)
        for f, png, page in zip(files, pngs, pages, strict=True)
    ]
    outcomes = _fit_all(calls, args.jobs, quiet)
    tables, failed, done = [], [], []
    for path, outcome in zip(files, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if getattr(args, "debug", False):
                traceback.print_exception(outcome)
            failed.append((path, describe_failure(path, outcome)))
            say(f"{path}: {failed[-1][1]}")
            continue
        table, notes, what = outcome
        tables.append(table)
        done.append(what)
        for note in [] if quiet else notes:
            say(f"{path}: warning: {note}")
    if not tables:
        say(f"no spectrum could be fitted; {out} was not written.")
        return 1
    frame = _table_s3(tables) if args.format == "table-s3" else pd.concat(tables, ignore_index=True)
    provenance = record(args, files, priors, failed, done)
    write_with_provenance(out, lambda tmp: frame.to_csv(tmp, index=False), args.force, provenance)
    if not quiet:
        say(f"wrote {out} ({len(tables)} of {len(files)} spectra) and its provenance {out}.json")
    return 0 if len(tables) == len(files) else 1


def _expand(patterns: Sequence[str]) -> list[str]:
    """Expand glob patterns (shells on Windows do not), keep input order, drop repeats."""
    files: list[str] = []
    for pattern in patterns:
        # A path that exists is taken literally, so names like "a[1].txt" still work.
        if os.path.exists(pattern) or not any(c in pattern for c in "*?["):
            found = [pattern]
        else:
            found = [f for f in sorted(glob.glob(pattern, recursive=True)) if os.path.isfile(f)]
            if not found:
                raise UsageError(f"no file matches {pattern!r}.")
        files.extend(found)
    unique: dict[str, str] = {}
    for f in files:
        unique.setdefault(os.path.realpath(f), f)
    return list(unique.values())


def _check_unique_stems(files: Sequence[str]) -> None:
    counts = Counter(Path(f).stem for f in files)
    twice = [stem for stem, n in counts.items() if n > 1]
    if twice:
        raise UsageError(
            f"several inputs are named {twice[0]!r}; table-s3 columns and plots are named"
            " after the file name, so rename them."
        )


def _plot_targets(folder: str | None, files: Sequence[str], force: bool) -> list[Path | None]:
    if folder is None:
        return [None] * len(files)
    return folder_targets("--plot", folder, files, ".png", force, noun="plot")


def _fit_all(calls: Sequence[tuple], jobs: int, quiet: bool) -> list[Any]:
    """Run `_fit_file` on each argument tuple, in input order.

    Each outcome is ``(table, warnings)`` or the exception the file raised.
    """
    from tqdm import tqdm

    n = len(calls)
    outcomes: list[Any] = [None] * n
    # Progress goes to stderr only: stdout stays clean for pipes.
    bar = tqdm(
        total=n,
        unit="spectrum",
        file=sys.stderr,
        disable=quiet or n < _PROGRESS_MIN_FILES or not sys.stderr.isatty(),
    )
    with bar:
        if jobs == 1 or n == 1:
            for i, call in enumerate(calls):
                try:
                    outcomes[i] = _fit_file(*call)
                except Exception as exc:  # one bad file must not stop the others
                    outcomes[i] = exc
                bar.update()
            return outcomes
        pool = ProcessPoolExecutor(max_workers=min(jobs, n))
        try:
            futures = {pool.submit(_fit_file, *call): i for i, call in enumerate(calls)}
            for future in as_completed(futures):
                try:
                    outcomes[futures[future]] = future.result()
                except Exception as exc:
                    outcomes[futures[future]] = exc
                bar.update()
        finally:
            # On Ctrl-C or an error here, cancel the queued fits instead of running them.
            pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


def _fit_file(
    path: str,
    reader: dict[str, Any],
    kwargs: dict[str, Any],
    preset: str,
    png: Path | None,
    page: Path | None,
    force: bool,
) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """Read (with the ``reader`` options), fit, plot one file and write its HTML ``page``.

    A worker when ``--jobs`` > 1.

    Returns
    -------
    table : pandas.DataFrame
        `Result.table` with ``file`` and ``preset`` (the one chosen for auto) first;
        the spectrum's `Result.qc` flags join each band's flag, as in a map's table.
    notes : list of str
        Warnings raised while reading and fitting, and non-convergence.
    done : dict
        What was fitted, for the provenance (`_provenance.fitted`).
    """
    from ..fit import deconvolve
    from ..io import read_spectrum

    # Warnings are returned rather than printed, so they reach the parent process and
    # come out as one line each, next to the file name.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = deconvolve(read_spectrum(path, **reader), **kwargs)
    notes = [str(w.message) for w in caught]
    if not res.stats["converged"]:
        notes.append(res.stats["message"])
    if png is not None:
        _save_plot(res, png, Path(path).name, force)
    if page is not None:
        res.to_html(page, title=Path(path).name, force=force)
    table = res.table.copy()
    if res.qc:
        table["flag"] = [";".join(w for w in (f, *res.qc) if w != "ok") for f in table["flag"]]
    table.insert(0, "preset", res.model_choice["chosen"] if res.model_choice else preset)
    table.insert(0, "file", path)
    return table, notes, fitted(path, res.meta)


def _save_plot(res: Result, png: Path, title: str, force: bool) -> None:
    # A bare Figure, not pyplot: no GUI backend, nothing left open in long runs.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5.2), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(4, 1))
    res.plot(ax=axes, title=title)
    atomic_write(png, lambda tmp: fig.savefig(tmp, format="png", dpi=150), force=force)


def _table_s3(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per band (union over files, in prior order), samples side by side.

    Each sample has its value and error columns and ``<stem> flag``; a band not in a
    sample's model has empty cells there.
    """
    order: list[str] = []
    labels: dict[str, str] = {}
    for table in tables:
        # Insert a band not seen yet right after its predecessor in this file's
        # order, so that e.g. LO_RS from an nmc+lo fit lands where nmc+lo puts it.
        cursor = -1
        for band, label in zip(table["band"], table["label"], strict=True):
            if band not in labels:
                order.insert(cursor + 1, band)
                labels[band] = label
            cursor = order.index(band)
    out = pd.DataFrame({"band": order, "label": [labels[b] for b in order]})
    columns = {}
    for table in tables:
        stem = Path(table["file"].iloc[0]).stem
        values = table.set_index("band").reindex(order)
        for column, name in _S3_COLUMNS.items():
            columns[f"{stem} {name}"] = values[column].to_numpy()
            columns[f"{stem} {name} err"] = values[f"{column}_err"].to_numpy()
        columns[f"{stem} flag"] = values["flag"].to_numpy()
    return pd.concat([out, pd.DataFrame(columns)], axis=1)
