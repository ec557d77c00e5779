"""The formats `read_spectrum` and `read_map` know, and how a file's format is found.

Each format is a module with a ``sniff`` (does this content look like mine?), a
spectrum reader and, if the format holds maps, a map reader; `FORMATS` lists them in
the order they are tried. Adding a format is adding its module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError
from ..spectrum import SpectralMap
from . import _bwtek, _columns, _jasco, _labspec, _lsx, _spc, _wdf, _witec
from ._files import Parsed, Source


@dataclass(frozen=True)
class Format:
    """How one file format is recognised and read.

    Attributes
    ----------
    sniff : callable
        ``sniff(source) -> bool``: True if the content is in this format. Binary
        formats look at ``source.raw``; text formats at ``source.lines``, which
        raises `ReadError` for binary content.
    spectrum : callable
        ``spectrum(source) -> (x, y, meta)``: x in any order and unit the reader
        has converted to Raman shift (cm-1), ``meta["format"]`` set.
    map : callable or None
        ``map(source) -> SpectralMap | None``: the map the file holds, or None if it
        holds one spectrum. None if the format has no maps: every file is one pixel.
    """

    sniff: Callable[[Source], bool]
    spectrum: Callable[[Source], Parsed]
    map: Callable[[Source], SpectralMap | None] | None = None


#: Formats by name, in the order they are tried: binary formats first (they look at
#: bytes), then text formats from the most specific to plain columns, which take
#: any text.
FORMATS: dict[str, Format] = {
    "wdf": Format(_wdf.sniff, _wdf.read_spectrum, _wdf.read_map),
    "spc": Format(_spc.sniff, _spc.read_spectrum, _spc.read_map),
    "labspec-xml": Format(_lsx.sniff, _lsx.read_spectrum, _lsx.read_map),
    "jasco": Format(_jasco.sniff, _jasco.read_spectrum),
    "witec": Format(_witec.sniff, _witec.read_spectrum),
    "bwtek": Format(_bwtek.sniff, _bwtek.read_spectrum),
    "text": Format(_columns.sniff, _columns.read_spectrum, _labspec.read_map),
}


def sniff(source: Source) -> Format:
    """Return the first format of `FORMATS` that recognises the content."""
    return next(fmt for fmt in FORMATS.values() if fmt.sniff(source))


def choose(name: str | None) -> Format | None:
    """Return the format named ``name``, or None for None (recognise the content).

    Raises
    ------
    InputError
        If ``name`` is not a key of `FORMATS`.
    """
    if name is None:
        return None
    if not isinstance(name, str) or name not in FORMATS:
        raise InputError(f"unknown format {name!r}; use one of {', '.join(FORMATS)} or None.")
    return FORMATS[name]
