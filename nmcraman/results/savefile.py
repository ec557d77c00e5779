"""Save fits to a file and load them back exactly: `Result`, `JointResult`, `MapResult`.

Why JSON: it is an open, plain-text format any language reads; two saves can be
compared with ``diff``; and Python's ``json`` needs no extra dependency. Floats are
written by ``repr``, the shortest text that reads back to the same float64, so the
round trip is bit-exact. JSON has no NaN or infinity: they are written as
``{"__float__": "nan"}`` (``"inf"``, ``"-inf"``), never as the non-standard bare
``NaN`` that other JSON readers refuse. Tuples, numpy arrays (dtype and shape),
numpy scalars, tables, band priors and nested fits are tagged the same way, so that
`load` rebuilds the same Python types.

The file is an object ``{"format": "nmcraman", "format_version": 2, "nmcraman_version":
..., "kind": "Result", "data": {...}}``. A file from a newer ``format_version`` is
refused rather than misread. Version 2 added the spectra a map keeps
(`nmcraman.results.mapspectra`, tag ``__spectra__``), whose 16-bit codes are written as base64
text: as numbers, the 7.5 million of a 100 x 100 map of 751 points would take several
times the room. Version 1 files read as before.

A map saved to a name ending ``.nc`` is written as netCDF-4 instead, binary, chunked
and compressed (`nmcraman.results.netcdf`, which says why): JSON stays the format of single
fits and sets, and of maps saved under any other name. `load` tells the two apart by
the file's first bytes.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from .._version import __version__
from ..bands import Band
from ..errors import InputError, ReadError

#: A `Result`, `JointResult` or `MapResult`: not imported, they import this module.
Fit = Any

__all__ = ["FORMAT_VERSION", "load", "save"]

#: Version of the file layout; raised when a change would make older readers misread it.
FORMAT_VERSION = 2
_MAGIC = "nmcraman"
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
#: The fit types a file may hold, by tag: (class, its fields to save, class from fields).
#: Each result module registers its own type (`register`), so that this module needs
#: none of them.
_KINDS: dict[str, tuple[type, Any, Any]] = {}
_TAGS = ("__float__", "__tuple__", "__array__", "__scalar__", "__frame__", "__band__",
         "__path__", "__dict__", "__result__", "__joint__", "__map__", "__spectra__")  # fmt: skip


#: Other file formats, by suffix: (write, is_format, read), registered by the modules
#: that write them (`register_format`, `nmcraman.results.netcdf`), as the fit types are.
_FORMATS: dict[str, tuple[Any, Any, Any]] = {}
#: The modules of this package that register a saved type or file format: `load`
#: imports them by name before reading, since ``import nmcraman`` loads none of them.
_REGISTRANTS = ("result", "joint", "map", "netcdf")


def register_format(suffix: str, write, is_format, read) -> None:
    """Let maps be saved to names ending ``suffix`` by ``write(obj, path, force=)``.

    ``is_format(path)`` tells a file of that format by its first bytes, and
    ``read(path)`` reads one back (`load`).
    """
    _FORMATS[suffix] = (write, is_format, read)


def rebuild(tag: str, fields: dict) -> Fit:
    """Make the fit type registered under ``tag`` from its saved ``fields`` (`register`)."""
    return _KINDS[tag][2](fields)


def register(tag: str, cls: type, fields, build) -> None:
    """Let ``cls`` be saved under ``tag``.

    ``fields(obj)`` gives a dict of what to save, ``build(dict)`` makes the object again;
    both deal in values this module encodes (arrays, tuples, Bands, tables, fits).
    """
    _KINDS[tag] = (cls, fields, build)


def save(obj: Fit, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``obj`` to ``path`` as JSON, atomically (see the module docstring).

    Parameters
    ----------
    obj : Result, JointResult or MapResult
        The fit to save.
    path : str or path
        Output file; a `MapResult` saved to a name ending ``.nc`` is written as
        netCDF-4 (`nmcraman.results.netcdf`).
    force : bool, optional
        Overwrite an existing file (without it, an existing file is an
        `InputError`). Default is False.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        If ``obj`` is not a fit, holds metadata that cannot be saved, or ``path``
        cannot be written.
    """
    if not any(isinstance(obj, cls) for cls, _, _ in _KINDS.values()):
        raise InputError(f"can save a Result, JointResult or MapResult, not {type(obj).__name__}.")
    if _suffix(path) in (".nc", ".zarr"):
        if type(obj).__name__ != "MapResult" or _suffix(path) not in _FORMATS:
            raise InputError(
                f"{_suffix(path)} files hold maps as netCDF (.nc); save a"
                f" {type(obj).__name__} as .json."
            )
        return _FORMATS[_suffix(path)][0](obj, path, force=force)
    doc = {
        "format": _MAGIC,
        "format_version": FORMAT_VERSION,
        "nmcraman_version": __version__,
        "kind": type(obj).__name__,
        "data": _encode(obj),
    }
    text = json.dumps(doc, allow_nan=False, indent=1)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return atomic_write(path, write, force=force)


def load(path: str | os.PathLike) -> Fit:
    """Read a fit written by `Result.save`, `JointResult.save` or `MapResult.save`.

    Parameters
    ----------
    path : str or path
        A file written by ``save``.

    Returns
    -------
    Result, JointResult or MapResult
        Equal, number for number, to the object saved; a map saved as netCDF
        (`nmcraman.results.netcdf`) reads its kept spectra from the file when they are used.

    Raises
    ------
    ReadError
        If the file cannot be read, is not an nmcraman save file, is damaged, or comes
        from a newer nmcraman (a later ``format_version``).

    Examples
    --------
    >>> import tempfile, os
    >>> from nmcraman import deconvolve, load
    >>> from nmcraman.synthetic import simulate
    >>> s = simulate("Core_75", snr=200, rng=1)
    >>> res = deconvolve(s.x, s.y, bands="nmc")
    >>> path = os.path.join(tempfile.mkdtemp(), "core.json")
    >>> res.save(path)
    >>> load(path).table.equals(res.table)
    True
    """
    for name in _REGISTRANTS:
        importlib.import_module(f"{__package__}.{name}")
    for _, is_format, read in _FORMATS.values():
        if is_format(path):
            return read(path)
    try:
        text = Path(os.fspath(path)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise ReadError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise ReadError(f"{path} is not an nmcraman save file (not JSON).") from None
    if not isinstance(doc, dict) or doc.get("format") != _MAGIC:
        raise ReadError(f"{path} is not an nmcraman save file (no 'format': 'nmcraman').")
    version = doc.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ReadError(f"{path}: format_version {version!r} is not valid.")
    if version > FORMAT_VERSION:
        raise ReadError(
            f"{path} was written by nmcraman {doc.get('nmcraman_version', '?')} in save format"
            f" {version}; this nmcraman {__version__} reads up to {FORMAT_VERSION}: upgrade it."
        )
    try:
        obj = _decode(doc["data"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ReadError(f"{path} is damaged: {type(exc).__name__} {exc}.") from None
    if type(obj).__name__ != doc.get("kind"):
        raise ReadError(f"{path} is damaged: it says {doc.get('kind')!r} but holds another fit.")
    return obj


def _suffix(path) -> str:
    try:
        return Path(os.fspath(path)).suffix.lower()
    except TypeError:
        return ""


def _float(v: float) -> Any:
    if math.isfinite(v):
        return v
    return {"__float__": "nan" if v != v else ("inf" if v > 0 else "-inf")}


def _encode(v: Any) -> Any:
    """Return a JSON-ready copy of ``v``, its types tagged (see the module docstring)."""
    if v is None or isinstance(v, (bool, str)) or type(v) is int:
        return v
    if type(v) is float:
        return _float(v)
    if isinstance(v, np.generic):
        return {"__scalar__": v.dtype.str, "value": _encode(v.item())}
    if isinstance(v, np.ndarray):
        if v.dtype.kind not in "biufUO":
            raise InputError(f"cannot save an array of dtype {v.dtype}.")
        data = (
            [_float(x) for x in v.ravel().tolist()]
            if v.dtype.kind == "f"
            else _encode(v.ravel().tolist())
        )
        return {"__array__": v.dtype.str, "shape": list(v.shape), "data": data}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, tuple):
        return {"__tuple__": [_encode(x) for x in v]}
    if isinstance(v, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in v):
            return {k: _encode(x) for k, x in v.items()}
        return {"__dict__": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, PurePath):
        return {"__path__": str(v)}
    if isinstance(v, Band):
        return {"__band__": {f.name: _encode(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    for tag, (cls, fields, _) in _KINDS.items():
        if isinstance(v, cls):
            return {tag: _encode(fields(v))}
    if isinstance(v, pd.DataFrame):
        return _frame(v)
    raise InputError(f"cannot save a value of type {type(v).__name__} ({v!r:.60}).")


def _frame(df: pd.DataFrame) -> dict:
    """Encode a table column by column, each with its dtype (`JointResult.summary`)."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        raise InputError("can save tables with a plain 0..n-1 index only.")
    cols = [[str(c), str(df[c].dtype), _encode(df[c].to_numpy())] for c in df.columns]
    return {"__frame__": cols, "rows": len(df)}


def _decode(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    tag = next((t for t in _TAGS if t in v), None)
    if tag is None:
        return {k: _decode(x) for k, x in v.items()}
    body = v[tag]
    if tag == "__float__":
        return _FLOATS[body]
    if tag == "__tuple__":
        return tuple(_decode(x) for x in body)
    if tag == "__array__":
        dtype = np.dtype(body)
        data = _decode(v["data"])
        arr = np.array(data, dtype=dtype) if dtype.kind != "O" else _objects(data)
        return arr.reshape(v["shape"])
    if tag == "__scalar__":
        return np.dtype(body).type(_decode(v["value"]))
    if tag == "__dict__":
        return {_decode(k): _decode(x) for k, x in body}
    if tag == "__path__":
        return Path(body)
    if tag == "__band__":
        return Band(**_decode(body))
    if tag == "__frame__":
        return pd.DataFrame(
            {name: pd.Series(_decode(values), dtype=dtype) for name, dtype, values in body},
            index=pd.RangeIndex(v["rows"]),
        )
    return _KINDS[tag][2](_decode(body))


def _objects(values: list) -> np.ndarray:
    """Return an object array of ``values`` (np.array would turn strings into a str dtype)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out
