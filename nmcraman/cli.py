"""The ``nmcraman`` command: deconvolve spectrum files, show and export band priors.

``nmcraman fit FILES... -o OUT.csv`` runs `nmcraman.deconvolve` on each file (paths or
glob patterns) and writes one CSV, long (one row per file and band) or laid out like
Table S3 (one row per band, samples side by side). ``nmcraman map INPUT -o OUT.csv``
runs `nmcraman.deconvolve_map` on a map file, a folder or a glob of spectra and writes
the tidy per-pixel table (and, with ``--images``, one PNG per parameter and band).
``nmcraman bands [PRESET]`` prints the band priors with their sources, or exports them
as a TOML file to edit.

Exit status: 0 when everything went well; 1 when some inputs failed (the others are
still written; each failure is one line ``nmcraman: FILE: reason`` on stderr) or an
output could not be written; 2 for usage errors (bad options, unknown preset, a glob
that matches nothing, an existing output without ``--force``, a missing output folder).
Outputs are written atomically: a failed or interrupted run leaves no partial file.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from ._atomic import atomic_write
from .bands import PRESETS, Band, bands_to_toml, resolve_bands
from .baseline import BASELINES
from .errors import NmcramanError
from .lineshapes import LINESHAPES
from .mapresult import QC_FLAGS
from .result import Result

__all__ = ["main"]

_PROG = "nmcraman"
#: Below this many files a progress bar is more noise than help.
_PROGRESS_MIN_FILES = 5
#: Table S3 layout: column of `Result.table` -> name after the sample stem (+ " err").
_S3_COLUMNS = {"position": "position", "fwhm": "FWHM", "area_pct": "area %"}
#: Band parameters drawn by ``map --images``: one PNG per parameter and band.
_MAP_IMAGES = ("position", "fwhm", "area_pct")

_EPILOG = """\
examples:
  nmcraman fit spectra/*.txt -o results.csv
  nmcraman fit core_75.txt cs_75.txt --format table-s3 -o table_s3.csv --plot figures
  nmcraman fit "maps/**/*.txt" --bands nmc+lo --shape pseudo_voigt --jobs 4 -o out.csv
  nmcraman map particle_map.txt -o pixels.csv --images maps/
  nmcraman map "line_scan/*.txt" --bands nmc -o line.csv
  nmcraman bands nmc+lo
  nmcraman bands --export my_priors.toml    # edit it, then: fit ... --bands my_priors.toml

exit status: 0 success; 1 some inputs failed (the others are written); 2 usage error.
"""


class _UsageError(Exception):
    """A bad option or output path, reported on one line with exit status 2."""


class _WriteError(Exception):
    """An output that passed the checks but could not be written: exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nmcraman`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name. Default is ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 some inputs failed, 2 usage error, 130 interrupted.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    debug = getattr(args, "debug", False)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        _say("interrupted; no partial output was left behind")
        return 130
    except (_UsageError, _WriteError, NmcramanError, OSError) as exc:
        if debug:
            traceback.print_exc()
        _say(f"error: {exc}")
        # Options and paths are checked before any work; what fails later (a full disk,
        # a folder removed meanwhile) is not a usage error.
        return 2 if isinstance(exc, (_UsageError, NmcramanError)) else 1


def _parser() -> argparse.ArgumentParser:
    # -q/--debug are accepted before and after the subcommand; SUPPRESS keeps a
    # subcommand's unset default from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    flag = {"action": "store_true", "default": argparse.SUPPRESS}
    common.add_argument("-q", "--quiet", **flag, help="no progress, warnings or summary")
    common.add_argument("--debug", **flag, help="show Python tracebacks of errors")
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Raman deconvolution of NMC cathodes: band positions, FWHM and area %.",
        epilog=_EPILOG,
        formatter_class=fmt,
        parents=[common],
    )
    parser.add_argument("-V", "--version", action="version", version=f"{_PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser(
        "fit",
        parents=[common],
        formatter_class=fmt,
        epilog=_EPILOG,
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
    _add_model_options(fit)
    fit.add_argument("--engine", choices=["numba", "lmfit"], default="numba")
    fit.add_argument("--criterion", choices=["bic", "aic"], default="bic", help="for auto")
    fit.add_argument(
        "--format",
        choices=["long", "table-s3"],
        default="long",
        help="long: one row per file and band; table-s3: one row per band (default: long)",
    )
    fit.add_argument("--plot", metavar="DIR", help="write one PNG per spectrum into DIR")
    fit.add_argument("--jobs", type=_number(int, 1), default=1, metavar="N", help="processes")
    fit.add_argument("--force", action="store_true", help="overwrite existing outputs")
    fit.set_defaults(run=_run_fit)

    mp = sub.add_parser(
        "map",
        parents=[common],
        formatter_class=fmt,
        epilog=_EPILOG,
        help="deconvolve every pixel of a map into one CSV",
        description=(
            "Deconvolve every pixel of a map file (LabSpec text, Renishaw .wdf), or every file"
            " of a folder or glob, and write the per-pixel table (see"
            " nmcraman.deconvolve_map). A run that completes exits 0 even if pixels are"
            " flagged; the flags are in the CSV and summarised on stderr."
        ),
    )
    mp.add_argument("input", metavar="INPUT", help="map file, folder or glob of spectra")
    mp.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="CSV to write")
    mp.add_argument(
        "--bands",
        default="auto",
        metavar="PRIORS",
        help=f"{', '.join(PRESETS)}, auto (per pixel, by BIC) or a .toml file (default: auto)",
    )
    _add_model_options(mp)
    mp.add_argument(
        "--images",
        metavar="DIR",
        help="write PNG maps of position, fwhm and area_pct per band, and flags, into DIR",
    )
    mp.add_argument(
        "--jobs", type=_number(int, 1), metavar="N", help="threads (default: all cores)"
    )
    mp.add_argument(
        "--no-warm-start",
        dest="warm_start",
        action="store_false",
        help="start every pixel from the priors (slower; same answer as fit per pixel)",
    )
    mp.add_argument("--despike", action="store_true", help="remove cosmic-ray spikes first")
    mp.add_argument("--force", action="store_true", help="overwrite existing outputs")
    mp.set_defaults(run=_run_map)

    bnd = sub.add_parser(
        "bands",
        parents=[common],
        formatter_class=fmt,
        epilog=_EPILOG,
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
    bnd.set_defaults(run=_run_bands)
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add the model options shared by ``fit`` and ``map`` (as for `deconvolve`)."""
    parser.add_argument("--shape", choices=list(LINESHAPES), default="lorentzian")
    parser.add_argument(
        "--baseline",
        choices=list(BASELINES),
        default="poly3",
        metavar="NAME",
        help=f"one of {', '.join(BASELINES)} (default: poly3, fitted jointly)",
    )
    parser.add_argument(
        "--refine",
        type=int,
        choices=range(-1, 7),
        default=1,
        metavar="N",
        help="order of the joint correction on a non-polynomial baseline (default: 1)",
    )
    parser.add_argument("--xmin", type=_number(float), help="fit window start, cm-1")
    parser.add_argument("--xmax", type=_number(float), help="fit window end, cm-1")
    parser.add_argument(
        "--eta", type=_number(float, 0, 1), help="fixed pseudo-Voigt Lorentzian fraction"
    )


def _number(kind: type, low: float = -math.inf, high: float = math.inf):
    """Argparse type: a finite `kind` (int or float) between ``low`` and ``high``."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if not low <= value <= high:
            bounds = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text!r}")
        return value

    return parse


def _say(message: str) -> None:
    print(f"{_PROG}: {message}", file=sys.stderr)


def _run_fit(args: argparse.Namespace) -> int:
    quiet = getattr(args, "quiet", False)
    files = _expand(args.files)
    out = Path(args.output)
    _check_output(out, args.force)
    if any(Path(f).resolve() == out.resolve() for f in files):
        raise _UsageError(f"{out} is also an input; choose another output name.")
    if args.xmin is not None and args.xmax is not None and args.xmin >= args.xmax:
        raise _UsageError(f"--xmin ({args.xmin:g}) must be below --xmax ({args.xmax:g}).")
    if args.eta is not None and args.shape != "pseudo_voigt":
        raise _UsageError("--eta applies only to --shape pseudo_voigt.")
    # Resolve the priors once: a bad preset or TOML file is a usage error, found before
    # any fit, and workers receive picklable Band objects instead of re-reading the file.
    priors: str | list[Band] = "auto" if args.bands == "auto" else _priors(args.bands)
    if args.format == "table-s3" or args.plot:
        _check_unique_stems(files)
    pngs = _plot_targets(args.plot, files, args.force)
    names = ("shape", "baseline", "refine", "xmin", "xmax", "eta", "engine", "criterion")
    kwargs = {"bands": priors, **{name: getattr(args, name) for name in names}}
    calls = [(f, kwargs, args.bands, png, args.force) for f, png in zip(files, pngs, strict=True)]
    outcomes = _fit_all(calls, args.jobs, quiet)
    tables = []
    for path, outcome in zip(files, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if getattr(args, "debug", False):
                traceback.print_exception(outcome)
            _say(f"{path}: {_reason(path, outcome)}")
            continue
        table, notes = outcome
        tables.append(table)
        for note in [] if quiet else notes:
            _say(f"{path}: warning: {note}")
    if not tables:
        _say(f"no spectrum could be fitted; {out} was not written.")
        return 1
    frame = _table_s3(tables) if args.format == "table-s3" else pd.concat(tables, ignore_index=True)
    _write(out, lambda tmp: frame.to_csv(tmp, index=False), args.force)
    if not quiet:
        _say(f"wrote {out} ({len(tables)} of {len(files)} spectra)")
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
                raise _UsageError(f"no file matches {pattern!r}.")
        files.extend(found)
    unique: dict[str, str] = {}
    for f in files:
        unique.setdefault(os.path.realpath(f), f)
    return list(unique.values())


def _priors(spec: str) -> list[Band]:
    if spec not in PRESETS and not spec.lower().endswith(".toml") and not os.path.isfile(spec):
        raise _UsageError(
            f"unknown preset {spec!r}; use {', '.join(PRESETS)}, auto or a .toml file."
        )
    return resolve_bands(spec)


def _check_output(path: Path, force: bool) -> None:
    if path.is_dir():
        raise _UsageError(f"{path} is a folder; give a file name.")
    if path.exists() and not force:
        raise _UsageError(f"{path} exists; pass --force to overwrite it.")
    folder = path.parent
    if not folder.is_dir():
        raise _UsageError(f"cannot write {path}: folder {folder} does not exist.")


def _write(path: Path, write: Callable[[Path], Any], force: bool) -> None:
    try:
        atomic_write(path, write, force=force)
    except (NmcramanError, OSError) as exc:
        raise _WriteError(str(exc)) from exc


def _check_unique_stems(files: Sequence[str]) -> None:
    counts = Counter(Path(f).stem for f in files)
    twice = [stem for stem, n in counts.items() if n > 1]
    if twice:
        raise _UsageError(
            f"several inputs are named {twice[0]!r}; table-s3 columns and plots are named"
            " after the file name, so rename them."
        )


def _plot_targets(folder: str | None, files: Sequence[str], force: bool) -> list[Path | None]:
    if folder is None:
        return [None] * len(files)
    where = Path(folder)
    if where.exists() and not where.is_dir():
        raise _UsageError(f"--plot {where} is a file; give a folder.")
    if not where.is_dir():
        if not where.parent.is_dir():
            raise _UsageError(f"cannot make plot folder {where}: {where.parent} does not exist.")
        where.mkdir()
    pngs = [where / f"{Path(f).stem}.png" for f in files]
    existing = [str(p) for p in pngs if p.exists()]
    if existing and not force:
        raise _UsageError(f"{existing[0]} exists; pass --force to overwrite plots.")
    return list(pngs)


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
    path: str, kwargs: dict[str, Any], preset: str, png: Path | None, force: bool
) -> tuple[pd.DataFrame, list[str]]:
    """Fit one file (in a worker process when ``--jobs`` > 1) and plot it.

    Returns
    -------
    table : pandas.DataFrame
        `Result.table` with ``file`` and ``preset`` (the one chosen for auto) first.
    notes : list of str
        Warnings raised while reading and fitting, and non-convergence.
    """
    from .fit import deconvolve

    # Warnings are returned rather than printed, so they reach the parent process and
    # come out as one line each, next to the file name.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = deconvolve(path, **kwargs)
    notes = [str(w.message) for w in caught]
    if not res.stats["converged"]:
        notes.append(res.stats["message"])
    if png is not None:
        _save_plot(res, png, Path(path).name, force)
    table = res.table.copy()
    table.insert(0, "preset", res.model_choice["chosen"] if res.model_choice else preset)
    table.insert(0, "file", path)
    return table, notes


def _save_plot(res: Result, png: Path, title: str, force: bool) -> None:
    # A bare Figure, not pyplot: no GUI backend, nothing left open in long runs.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5.2), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(4, 1))
    res.plot(ax=axes, title=title)
    atomic_write(png, lambda tmp: fig.savefig(tmp, format="png", dpi=150), force=force)


def _reason(path: str, exc: BaseException) -> str:
    if not isinstance(exc, (NmcramanError, OSError)):
        return f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
    message = str(exc)
    # Readers often start their messages with the file name; it is already on the line.
    for prefix in (f"{path}: ", f"{Path(path).name}: "):
        message = message.removeprefix(prefix)
    return message


def _table_s3(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One row per band (union over files, in prior order), samples side by side."""
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
    return pd.concat([out, pd.DataFrame(columns)], axis=1)


def _run_map(args: argparse.Namespace) -> int:
    quiet = getattr(args, "quiet", False)
    source = args.input
    out = Path(args.output)
    _check_output(out, args.force)
    is_glob = not os.path.exists(source) and any(c in source for c in "*?[")
    if is_glob and not any(os.path.isfile(f) for f in glob.glob(source, recursive=True)):
        raise _UsageError(f"no file matches {source!r}.")
    if os.path.exists(source) and Path(source).resolve() == out.resolve():
        raise _UsageError(f"{out} is also the input; choose another output name.")
    if args.xmin is not None and args.xmax is not None and args.xmin >= args.xmax:
        raise _UsageError(f"--xmin ({args.xmin:g}) must be below --xmax ({args.xmax:g}).")
    if args.eta is not None and args.shape != "pseudo_voigt":
        raise _UsageError("--eta applies only to --shape pseudo_voigt.")
    # A preset goes by name, so the table's model column names it; a TOML file is
    # resolved here, so that a bad one is a usage error found before any work.
    listed = _priors("nmc+lo" if args.bands == "auto" else args.bands)
    priors = args.bands if args.bands == "auto" or args.bands in PRESETS else listed
    images = _image_folder(args.images, [b.id for b in listed], args.force)

    from .io_maps import read_many, read_map
    from .maps import deconvolve_map

    isatty = sys.stderr.isatty()  # a progress bar only where someone watches it
    folder = os.path.isdir(source) or is_glob
    data = _map_step(args, lambda: read_many(source) if folder else read_map(source), out)
    if data is None:
        return 1
    failed = data.meta.get("failed", [])
    for name, reason in failed:  # files of a folder or glob left out: one line each
        _say(f"{name}: {reason}")
    if data.meta.get("resampled") and not quiet:
        _say(f"{source}: warning: the files' axes differ; spectra were interpolated onto one.")
    names = ("shape", "baseline", "refine", "xmin", "xmax", "eta", "jobs", "warm_start")
    kwargs = {name: getattr(args, name) for name in names}
    kwargs.update(bands=priors, despike_spectra=args.despike, progress=not quiet and isatty)
    res = _map_step(args, lambda: deconvolve_map(data, **kwargs), out)
    if res is None:
        return 1
    # deconvolve_map takes the file names from meta only when it reads the files itself.
    res.names = res.names if res.names is not None else data.meta.get("names")
    try:
        res.to_csv(out, force=args.force)
    except (NmcramanError, OSError) as exc:
        raise _WriteError(str(exc)) from exc
    written = _write_images(res, images, Path(source).name, args.force) if images else 0
    if not quiet:
        where = f" and {written} images in {images}" if images else ""
        _say(f"{_flag_summary(res.stats['flags'])}; wrote {out}{where}")
    return 1 if failed else 0


def _map_step(args: argparse.Namespace, step: Callable[[], Any], out: Path) -> Any:
    """Run one step of ``map`` (read, fit); print its warnings; None if it failed."""
    from .io_maps import _SkippedFiles

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = step()
        except Exception as exc:  # unreadable or unusable input: one line, exit 1
            if getattr(args, "debug", False):
                traceback.print_exception(exc)
            _say(f"{args.input}: {_reason(args.input, exc)}")
            _say(f"nothing was fitted; {out} was not written.")
            return None
    notes = [str(w.message) for w in caught if not issubclass(w.category, _SkippedFiles)]
    for note in [] if getattr(args, "quiet", False) else dict.fromkeys(notes):
        _say(f"{args.input}: warning: {note}")
    return value


def _image_folder(folder: str | None, band_ids: Sequence[str], force: bool) -> Path | None:
    """Check the ``--images`` folder before any work; it is made only when written to."""
    if folder is None:
        return None
    where = Path(folder)
    if where.exists() and not where.is_dir():
        raise _UsageError(f"--images {where} is a file; give a folder.")
    if not where.is_dir() and not where.parent.is_dir():
        raise _UsageError(f"cannot make image folder {where}: {where.parent} does not exist.")
    names = [f"{p}_{b}.png" for b in band_ids for p in _MAP_IMAGES] + ["flags.png"]
    existing = [str(where / n) for n in names if (where / n).exists()]
    if existing and not force:
        raise _UsageError(f"{existing[0]} exists; pass --force to overwrite images.")
    return where


def _write_images(res: Any, folder: Path, title: str, force: bool) -> int:
    """One PNG per band parameter (``area_pct_Mn_A1g.png``) and ``flags.png``."""
    from matplotlib.figure import Figure

    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise _WriteError(f"cannot make {folder}: {exc.strerror or exc}.") from exc
    jobs = [(p, b, f"{p}_{b}.png") for b in res.bands for p in _MAP_IMAGES]
    jobs.append(("flags", None, "flags.png"))  # QC bit mask: 0 is a clean pixel
    for param, band, name in jobs:
        # A bare Figure, not pyplot: no GUI backend, nothing left open.
        fig = Figure(figsize=(5, 4), layout="constrained")
        ax = fig.subplots()
        res.plot(param, band, ax=ax)
        ax.set_title(f"{title}: {param}" + (f" {band}" if band else ""))
        _write(folder / name, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=100), force)
    return len(jobs)


def _flag_summary(flags: Any) -> str:
    """``20 pixels, 3 flagged (low_snr 2, spike 1)``: pixels per QC flag."""
    counts = {name: int(((flags >> i) & 1).sum()) for i, name in enumerate(QC_FLAGS)}
    detail = ", ".join(f"{name} {n}" for name, n in counts.items() if n)
    flagged = int((flags != 0).sum())
    return f"{flags.size} pixels, {flagged} flagged" + (f" ({detail})" if detail else "")


def _run_bands(args: argparse.Namespace) -> int:
    name = args.preset
    # "auto" chooses between the presets per spectrum; nmc+lo holds every band it may use.
    band_list = _priors("nmc+lo" if name == "auto" else name)
    if args.export:
        out = Path(args.export)
        _check_output(out, args.force)
        text = bands_to_toml(band_list)
        _write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"), args.force)
        if not getattr(args, "quiet", False):
            _say(f"wrote {out}; edit it, then: nmcraman fit FILES --bands {out} -o OUT.csv")
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
    rows = [("id", "label", "centre", "window", "FWHM start", "FWHM range")]
    rows += [
        (b.id, b.label, f"{b.centre:g}", _pair(b.window), f"{b.fwhm:g}", _pair(b.fwhm_range))
        for b in band_list
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [title, ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += [
        "",
        "The fit starts at centre and FWHM start and never leaves window and FWHM range.",
        "",
        "Sources (full references in the nmcraman.bands module docstring:",
        "  python -c \"import importlib; help(importlib.import_module('nmcraman.bands'))\"):",
    ]
    idw = max(len(b.id) for b in band_list)
    lines += [f"  {b.id:<{idw}}  {b.reference or '(no reference given)'}" for b in band_list]
    return "\n".join(lines)


def _pair(pair: tuple[float, float]) -> str:
    return f"[{pair[0]:g}, {pair[1]:g}]"
