"""`read_spectrum` and `read_map`: open a file, find its format, call its reader.

The formats and their order live in `._formats`; this module holds what every read
shares: the path and option checks, and the conversion of a reader's output into a
`Spectrum` or `SpectralMap` whose errors name the file.
"""

from __future__ import annotations

import os

from ..errors import InputError, ReadError
from ..spectrum import SpectralMap, Spectrum, check_shift
from ._axis import check_laser
from ._files import Source, as_path, read_bytes, shown
from ._formats import Format, choose, sniff
from ._grid import one_pixel


def read_spectrum(
    path: str | os.PathLike,
    *,
    laser_nm: float | None = None,
    column: str | int | None = None,
    shift: float = 0.0,
    format: str | None = None,
) -> Spectrum:
    r"""Read one Raman spectrum from a file, its format recognised from the content.

    Parameters
    ----------
    path : str or os.PathLike
        Text (two columns, any separator and decimal mark, optional header naming
        them), Horiba LabSpec text and XML, WITec ASCII, B&W Tek and Thermo DXR CSV,
        JASCO text, Galactic SPC or Renishaw ``.wdf`` (docs: "Reading instrument
        files" says what each holds and how an axis of unknown unit is taken).
    laser_nm : float, optional
        Excitation wavelength, nm, to convert an axis in nm (``1e7 / laser_nm -
        1e7 / wavelength`` cm-1); it takes precedence over the file's.
    column : str or int, optional
        Intensity column (header name or 0-based index) of a file with several.
    shift : float, optional
        Calibration shift, cm-1, added to the axis (`nmcraman.calibration`).
    format : str, optional
        An entry of ``nmcraman.io.FORMATS`` to read the file as, instead of guessing.

    Returns
    -------
    Spectrum
        ``x`` in cm-1 (ascending), ``y`` as stored; ``meta`` holds ``source``,
        ``format`` and what the file tells (``laser_nm``, ``instrument``, ``header``).

    Raises
    ------
    ReadError, InputError
        A file that cannot be read as a spectrum; invalid options or data.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nmcraman.io import read_spectrum
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "thermo.csv"
    >>> _ = path.write_text("\n".join(f"{1000 - 2 * i}.0;{50 + i % 7},5" for i in range(100)))
    >>> s = read_spectrum(path)
    >>> s.meta["format"], len(s), float(s.x[0]), float(s.y[-1])
    ('thermo-csv', 100, 802.0, 50.5)
    """
    path = as_path(path)
    laser_nm = check_laser(laser_nm)
    shift = check_shift(shift)
    fmt = choose(format)
    source = Source(path, read_bytes(path), laser_nm, column)
    spectrum = _spectrum(source, fmt)
    return spectrum.shifted(shift) if shift else spectrum


def read_map(
    path: str | os.PathLike,
    *,
    laser_nm: float | None = None,
    column: str | int | None = None,
    shift: float = 0.0,
    format: str | None = None,
) -> SpectralMap:
    r"""Read a Raman map (or line, series or single spectrum) from one file.

    Parameters
    ----------
    path : str or os.PathLike
        A Horiba LabSpec text or XML map, a Renishaw ``.wdf`` map or series, a Galactic
        SPC file of several subfiles, or any file `read_spectrum` reads (shape (1,)).
        Stage positions become a grid of rows (Y) and columns (X), whatever the scan
        order; how, and what happens when they do not fill one: docs "Reading
        instrument files".
    laser_nm, column, shift, format : optional
        As for `read_spectrum`.

    Returns
    -------
    SpectralMap
        ``coords`` holds stage X, Y (µm) per pixel where the file gives them.

    Raises
    ------
    ReadError, InputError
        A file that cannot be read as a map (a folder: `read_many`); invalid options.

    Warns
    -----
    UserWarning
        When stage positions do not fill a grid, or a ``.wdf`` map was interrupted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nmcraman.io import read_map
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.txt"
    >>> axis = "\t\t" + "\t".join(str(150.0 + i) for i in range(20))
    >>> rows = [f"{x}\t{y}\t" + "\t".join(["1"] * 19 + [str(x + y)])
    ...         for y in (0.0, 2.0) for x in (0.0, 1.0, 2.0)]
    >>> _ = path.write_text("#Laser (nm)=532\n" + "\n".join([axis, *rows]))
    >>> m = read_map(path)
    >>> m.shape, m.meta["laser_nm"], m.coords[4].tolist()
    ((2, 3), 532.0, [1.0, 2.0])
    """
    path = as_path(path)
    laser_nm = check_laser(laser_nm)
    shift = check_shift(shift)
    if path.is_dir():
        raise ReadError(f"{shown(path)} is a folder; use read_many for a folder of spectra.")
    fmt = choose(format)
    # up to 1 GiB: 1e8 numbers, a 300 x 300 x 1000 map
    source = Source(path, read_bytes(path), laser_nm, column)
    fmt = fmt or sniff(source)
    found = fmt.map(source) if fmt.map is not None else None
    found = found if found is not None else one_pixel(_spectrum(source, fmt))
    return found.shifted(shift) if shift else found


def _spectrum(source: Source, fmt: Format | None) -> Spectrum:
    x, y, meta = (fmt or sniff(source)).spectrum(source)
    meta = {"source": str(source.path), **{k: v for k, v in meta.items() if v is not None}}
    try:
        return Spectrum(x, y, meta)
    except InputError as exc:
        raise InputError(f"{source.name}: {exc}") from exc
