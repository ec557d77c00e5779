"""What the ``nmcraman`` subcommands share: messages, errors, checks and outputs."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._atomic import atomic_write
from ..bands import PRESETS, Band, resolve_bands
from ..baseline import BASELINES
from ..choice import FIXED
from ..errors import NmcramanError
from ..io._axis import LASER_RANGE_NM
from ..lineshapes import LINESHAPES
from ..model import AUTO, WINDOWS

PROG = "nmcraman"


class UsageError(Exception):
    """A bad option or output path, reported on one line with exit status 2."""


class WriteError(Exception):
    """An output that passed the checks but could not be written: exit status 1."""


#: A Python keyword the library's messages name (``laser_nm=``, ``column=1``,
#: ``force=True``) that is an option here, with the value after it if any.
_PYTHON_OPTION = re.compile(
    r"(?<![\w.\-])(laser_nm|column|shift|force)="
    r"(True\b|'[^']*'|-?\d+(?:\.\d+)?(?![\d.]\d)|[A-Za-z_]\w*)?"
)
#: A reader keyword as the fitting functions' ``read=`` spells it
#: (`nmcraman._validation.read_spelling`): ``read={'laser_nm': ...}``, ``read={'column': 5}``.
_READ_OPTION = re.compile(r"read=\{'(laser_nm|column)': (\.\.\.|'[^']*'|-?\d+(?:\.\d+)?)\}")


def cli_spelling(message: str) -> str:
    """Return ``message`` with the options spelled as on the command line.

    The library names options as Python does (``pass laser_nm= to convert it``,
    ``column=5 is out of range``, ``pass force=True``); here they are ``--laser-nm``,
    ``--column 5`` and ``--force``.
    """

    def spelled(match: re.Match) -> str:
        flag = "--" + match[1].replace("_", "-")
        value = match[2]
        return flag if value in (None, "True", "...") else f"{flag} {value.strip(chr(39))}"

    return _PYTHON_OPTION.sub(spelled, _READ_OPTION.sub(spelled, message))


def say(message: str) -> None:
    """Print one line on stderr, after the program name, options spelled as here."""
    print(f"{PROG}: {cli_spelling(message)}", file=sys.stderr)


def number(kind: type, low: float = -math.inf, high: float = math.inf):
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


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add the model options shared by ``fit`` and ``map`` (as for `deconvolve`).

    Window and baseline default to ``auto``, as on every door: chosen per spectrum
    (per set or per map when shapes are pooled).
    """
    parser.add_argument("--shape", choices=list(LINESHAPES), default="lorentzian")
    parser.add_argument(
        "--baseline",
        choices=list(BASELINES),
        default="auto",
        metavar="NAME",
        help=f"one of {', '.join(BASELINES)} (polyN: a polynomial fitted jointly; auto:"
        " orders 2 to 5 fitted and averaged, or on pooled fits the one order that fits"
        f" the set best; default: auto; the fixed model is {FIXED['baseline']})",
    )
    parser.add_argument(
        "--refine",
        type=int,
        choices=range(-1, 7),
        default=1,
        metavar="N",
        help="order of the joint correction on a non-polynomial baseline (default: 1)",
    )
    parser.add_argument("--xmin", type=number(float), help="fit window start, cm-1")
    parser.add_argument("--xmax", type=number(float), help="fit window end, cm-1")
    parser.add_argument(
        "--window",
        choices=["auto", *WINDOWS],
        default="auto",
        help="rule for the fit window: bands (prior windows +-150 cm-1), wide (at least 150"
        " to 900 cm-1) or auto (whichever fits best; it also places a side --xmin/--xmax"
        f" leave out); default: auto; the fixed model is {FIXED['window']}",
    )
    parser.add_argument(
        "--eta", type=number(float, 0, 1), help="fixed pseudo-Voigt Lorentzian fraction"
    )


def _column(text: str) -> str | int:
    """Argparse type: a 0-based column index if ``text`` is an integer, else a name."""
    try:
        return int(text)
    except ValueError:
        return text


def add_reader_options(parser: argparse.ArgumentParser) -> None:
    """Add the options ``fit`` and ``map`` pass to the readers (`nmcraman.read_spectrum`)."""
    parser.add_argument(
        "--shift",
        type=number(float),
        default=0.0,
        metavar="CM-1",
        help="calibration shift added to the Raman-shift axis, e.g. 520.7 minus where the"
        " Si line came out (see nmcraman.calibration; default: 0)",
    )
    parser.add_argument(
        "--laser-nm",
        dest="laser_nm",
        type=number(float, *LASER_RANGE_NM),
        metavar="NM",
        help="excitation wavelength, for files whose axis is in nm (overrides the file's)",
    )
    parser.add_argument(
        "--column",
        type=_column,
        metavar="NAME|INDEX",
        help="intensity column of files with several: a header name or a 0-based index",
    )


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the reader keyword arguments of `add_reader_options`, as parsed."""
    return {"shift": args.shift, "laser_nm": args.laser_nm, "column": args.column}


def model_options(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """Return the `add_model_options` arguments ``names``, the window from its three options.

    ``--xmin``/``--xmax`` give ``window=(xmin, xmax)`` (a side left out placed by
    ``"auto"``, as in Python); ``--window`` alone gives the rule.

    Raises
    ------
    UsageError
        For ``--window`` other than auto beside ``--xmin`` or ``--xmax``.
    """
    kwargs = {name: getattr(args, name) for name in names}
    if args.xmin is not None or args.xmax is not None:
        if args.window != AUTO:
            raise UsageError(
                "--xmin/--xmax set the fit window themselves (a side left out is placed as"
                " by --window auto); drop --window."
            )
        kwargs["window"] = (args.xmin, args.xmax)
    else:
        kwargs["window"] = args.window
    return kwargs


def check_model_options(args: argparse.Namespace) -> None:
    """Reject model options that are valid one by one but not together.

    Raises
    ------
    UsageError
        If ``--xmin`` is not below ``--xmax``, or ``--eta`` is given for a shape other
        than pseudo-Voigt.
    """
    if args.xmin is not None and args.xmax is not None and args.xmin >= args.xmax:
        raise UsageError(f"--xmin ({args.xmin:g}) must be below --xmax ({args.xmax:g}).")
    if args.eta is not None and args.shape != "pseudo_voigt":
        raise UsageError("--eta applies only to --shape pseudo_voigt.")


def resolve_priors(spec: str) -> list[Band]:
    """Resolve a preset name or TOML file into bands.

    Raises
    ------
    UsageError
        If ``spec`` is neither a preset nor a ``.toml`` file name nor an existing file.
    """
    if spec not in PRESETS and not spec.lower().endswith(".toml") and not os.path.isfile(spec):
        raise UsageError(
            f"unknown preset {spec!r}; use {', '.join(PRESETS)}, auto or a .toml file."
        )
    return resolve_bands(spec)


def check_output(path: Path, force: bool) -> None:
    """Check before any work that ``path`` can be written.

    Raises
    ------
    UsageError
        If ``path`` is a folder, exists and ``force`` is False, or its folder is missing.
    """
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a file name.")
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it.")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist.")


def write_output(path: Path, write: Callable[[Path], Any], force: bool) -> None:
    """`atomic_write`, failing with `WriteError`: the checks passed, the write did not."""
    try:
        atomic_write(path, write, force=force)
    except (NmcramanError, OSError) as exc:
        raise WriteError(str(exc)) from exc


def describe_failure(path: str, exc: BaseException) -> str:
    """Why the input ``path`` failed, in one line to follow its name."""
    if not isinstance(exc, (NmcramanError, OSError)):
        return f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
    message = str(exc)
    # Readers often start their messages with the file name; it is already on the line.
    for prefix in (f"{path}: ", f"{Path(path).name}: "):
        message = message.removeprefix(prefix)
    return message


def folder_targets(
    option: str,
    folder: str,
    files: Sequence[str],
    suffix: str,
    force: bool,
    *,
    noun: str,
    hint: str = "give a folder",
) -> list[Path]:
    """One output per input file in ``folder``, named after the file, checked before any work.

    The folder is made if missing (not its parent). ``option`` and ``noun`` name the
    outputs in the one-line errors (``--plot``, ``plot``).

    Raises
    ------
    UsageError
        If ``folder`` is a file, its parent is missing, or an output exists and ``force``
        is False.
    """
    where = Path(folder)
    if where.exists() and not where.is_dir():
        raise UsageError(f"{option} {where} is a file; {hint}.")
    if not where.is_dir():
        if not where.parent.is_dir():
            raise UsageError(f"cannot make {noun} folder {where}: {where.parent} does not exist.")
        where.mkdir()
    out = [where / f"{Path(f).stem}{suffix}" for f in files]
    existing = [str(p) for p in out if p.exists()]
    if existing and not force:
        raise UsageError(f"{existing[0]} exists; pass --force to overwrite {noun}s.")
    return out
