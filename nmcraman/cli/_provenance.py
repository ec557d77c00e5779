"""Provenance sidecars: what made each CSV the ``nmcraman`` command writes.

Beside every CSV ``OUT.csv`` the command writes ``OUT.csv.json`` (the CSV's own file
name plus ``.json``, so that each output, ``OUT_spectra.csv`` of ``--joint`` too, has
exactly one sidecar, listed next to it): the nmcraman version, the command line, the
date, the band priors (each band's numbers as `nmcraman.Band` holds them), shape,
baseline, fit window, every option, and each input file with its SHA-256, so that a
table in a paper can be traced to the data and settings that made it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..bands import PRESETS, resolve_bands
from ._common import PROG, UsageError, check_output, write_output

#: Parsed arguments that are not options of the run (handlers, or listed elsewhere).
_NOT_OPTIONS = ("run", "argv", "files", "input", "output")
_CHUNK = 1 << 20


def sidecar_path(out: Path) -> Path:
    """Return the provenance file of the output ``out``: ``OUT.csv`` -> ``OUT.csv.json``."""
    return out.with_name(f"{out.name}.json")


def check_sidecar(out: Path, force: bool) -> None:
    """Refuse, before any work, to overwrite an existing sidecar without ``--force``."""
    side = sidecar_path(out)
    if side.is_dir():
        raise UsageError(f"{side} is a folder; it is where the provenance of {out} goes.")
    if side.exists() and not force:
        raise UsageError(f"{side} exists; pass --force to overwrite it.")


def table_output(args: argparse.Namespace) -> Path:
    """Return the table ``OUT`` (``args.output``) of ``fit`` or ``map``, checked before any work.

    Raises
    ------
    UsageError
        If ``OUT`` or its sidecar cannot be written (`check_output`, `check_sidecar`).
    """
    out = Path(args.output)
    check_output(out, args.force)
    check_sidecar(out, args.force)
    return out


def sha256(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file's bytes in hex, or None if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _priors(args: argparse.Namespace, priors: Any) -> Any:
    """Band priors as dicts; for ``auto``, those of each preset it chooses between."""
    if args.bands == "auto":
        return {name: [dataclasses.asdict(b) for b in resolve_bands(name)] for name in PRESETS}
    listed = priors if isinstance(priors, list) else resolve_bands(args.bands)
    return [dataclasses.asdict(b) for b in listed]


def record(
    args: argparse.Namespace,
    inputs: Sequence[str],
    priors: Any,
    failed: Sequence[tuple[str, str]] = (),
    done: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Return the provenance of one run: version, command, date, model, options and inputs.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (with ``argv``, the arguments as given).
    inputs : sequence of str
        Input files, each recorded with its SHA-256 and size in bytes.
    priors : str or list of Band
        The priors the run fitted (``"auto"`` or a preset name, or bands).
    failed : sequence of (str, str)
        Inputs left out of the CSV, with the reason.
    done : sequence of dict
        What was fitted (`fitted`), per input or for the whole map: the requested
        ``window`` and ``baseline`` above are the options as given, these what they
        became.
    """
    argv = list(getattr(args, "argv", []))
    options = {
        k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
        for k, v in vars(args).items()
        if k not in _NOT_OPTIONS
    }
    return {
        "nmcraman_version": __version__,
        "command": shlex.join([PROG, *argv]),
        "argv": argv,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "bands": args.bands,
        "priors": _priors(args, priors),
        "shape": args.shape,
        "baseline": args.baseline,
        "window": [args.xmin, args.xmax],
        "window_rule": getattr(args, "window", None),
        "options": options,
        "inputs": [{"path": str(f), "sha256": sha256(f), "bytes": _size(f)} for f in inputs],
        "failed": [{"path": str(p), "reason": r} for p, r in failed],
        "fitted": list(done),
    }


#: Keys of a result's ``meta`` that say what was fitted: the window and baseline
#: actually used (orders and weights when averaged, the pybaselines method), the
#: constraints held, the model specification, the preset and, for a pooled map, the
#: pooling record (each phase's pixels, rejections and misfit check).
FITTED_KEYS = ("preset", "bands", "shape", "shape_name", "window", "baseline", "auto_choice",
               "held", "model", "pooling")  # fmt: skip


def fitted(path: str, meta: dict) -> dict[str, Any]:
    """Return what was fitted to ``path``, from its result's ``meta`` (`FITTED_KEYS`)."""
    return {"path": str(path), **{k: _plain(meta[k]) for k in FITTED_KEYS if k in meta}}


def _plain(value: Any) -> Any:
    """``value`` as JSON takes it: lists for tuples and arrays, None for NaN, floats."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and value != value:
        return None
    return value


def _size(path: str | os.PathLike) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def write_with_provenance(
    out: Path, write: Callable[[Path], Any], force: bool, provenance: dict[str, Any]
) -> None:
    """Write ``out`` (atomically) and then its sidecar; on failure, neither is left.

    The sidecar text is made before either file is written; if the sidecar cannot be
    written, the new CSV is removed again, so that no CSV is left without its record.
    """
    text = json.dumps({"output": out.name, **provenance}, indent=1, allow_nan=False)
    write_output(out, write, force)
    try:
        write_output(sidecar_path(out), lambda tmp: tmp.write_text(text, "utf-8"), force)
    except BaseException:  # a failed write, or Ctrl-C in between
        out.unlink(missing_ok=True)
        raise
