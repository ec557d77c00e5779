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
    r"""Read one Raman spectrum from a file.

    Parameters
    ----------
    path : str or os.PathLike
        File to read. The format is recognised from the content:

        - ``"text"``: two numeric columns (shift, intensity) separated by tabs,
          commas, semicolons or spaces, with ``.`` or ``,`` as decimal mark, optional
          comment (``#``, ``%``, ``//``) or header lines, in any order of x; column
          names in a header line (``Raman Shift (cm-1)``, ``Intensity (counts)``) say
          which column is x and which the intensity, else x is the first column;
        - ``"labspec"``: Horiba LabSpec text export (``#Key=value`` lines, then two
          columns, or a one-spectrum table whose first row is the axis);
        - ``"witec"``: WITec ASCII export (``[Header]``, ``[Data]``, names and units
          lines); an axis in nm is converted to Raman shift;
        - ``"bwtek"``: B&W Tek vendor CSV (``key;value`` header, ``Pixel;...`` table);
        - ``"thermo-csv"``: Thermo DXR CSV (``;`` and decimal commas, no header);
        - ``"jasco"``: JASCO Spectra Manager text export (``KEY<TAB>value`` or
          ``KEY,value`` header, ``XYDATA``, rows, trailing ``[Section]`` blocks);
        - ``"labspec-xml"``: Horiba LabSpec XML export (``<LSX_Data>``);
        - ``"spc"``: Galactic SPC (one subfile; float or integer y);
        - ``"wdf"``: Renishaw WiRE single spectrum.
    laser_nm : float, optional
        Excitation wavelength in nm. Used to convert an axis in absolute wavelength
        (nm) to Raman shift, ``shift = 1e7 / laser_nm - 1e7 / wavelength`` in cm-1;
        when given it takes precedence over the laser stated in the file.
    column : str or int, optional
        Intensity column, by header name or by 0-based index, for files with more
        than one candidate (B&W Tek defaults to ``"Dark Subtracted #1"``). Ignored
        by binary and XML formats.
    shift : float, optional
        Calibration shift in cm-1 added to the axis after reading (see
        `Spectrum.shifted` and `nmcraman.calibration`). Default is 0.
    format : str, optional
        Read the file as this entry of ``nmcraman.io.FORMATS`` (``"wdf"``, ``"spc"``,
        ``"labspec-xml"``, ``"jasco"``, ``"witec"``, ``"bwtek"``, ``"text"``) instead
        of recognising it from its content. Default is None (recognise it).

    Returns
    -------
    Spectrum
        ``x`` in cm-1 (ascending), ``y`` as stored in the file. ``meta`` holds
        ``source`` and ``format``, and where the file tells them ``laser_nm``,
        ``instrument``, ``x_unit_original``, ``stage_x_um``/``stage_y_um``/
        ``stage_z_um``, ``header`` (raw header keys and values) and, for WITec,
        ``saturated`` (number of points at 65535 counts, kept in ``y``).

    Raises
    ------
    ReadError
        If the file is missing, a directory, empty, binary, truncated, has no
        two numeric columns, holds a map (use ``read_map``), has an axis in nm
        and no laser wavelength, or has several intensity columns and no
        ``column=``.
    InputError
        If ``laser_nm``, ``column``, ``shift`` or ``format`` are invalid, or the data
        are not a valid spectrum (NaN, repeated shifts, constant intensity); the
        message starts with the file name.

    Notes
    -----
    An axis of unknown unit is taken as Raman shift unless it looks like a CCD
    wavelength axis: monotonic, all values within 190-1100 and a median step below
    0.3. Such a file needs ``laser_nm=``, or a header naming the x column
    (e.g. ``Raman shift (cm-1)``) if it really is Raman shift.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nmcraman.io import read_spectrum
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "thermo.csv"
    >>> rows = [f"{1000 - 2 * i:.1f};{50 + i % 7},5" for i in range(100)]
    >>> _ = path.write_text("\n".join(rows).replace(".", ","))
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
        The file. Recognised from its content:

        - Horiba LabSpec text map: optional ``#Key=value`` header lines (kept in
          ``meta["header"]``), the Raman axis as first row (after one empty cell per
          coordinate column, or shorter by that many values), then one row per
          spectrum starting with its X and Y stage positions (µm); tab, ``;``, ``,``
          or space separated, ``.`` or ``,`` decimal marks. With one coordinate
          column (line scan or time series; the file does not say which) the shape
          is (N,) and the values go to ``meta["position"]``;
        - Horiba LabSpec XML map or line (``<LSX_Data>``; stage axes in µm, nm, mm or
          m, converted to µm; X or Y as the fast axis);
        - Renishaw WiRE ``.wdf`` map or series;
        - Galactic SPC with several subfiles on one axis: shape (N,), the subfile
          z values in ``meta["z"]``;
        - any single-spectrum file `nmcraman.io.read_spectrum` reads: shape (1,).
    laser_nm : float, optional
        Excitation wavelength in nm, to convert an axis in nm to Raman shift; it takes
        precedence over the file's. Default is None.
    column : str or int, optional
        Intensity column of a single-spectrum text file with several (see
        `nmcraman.io.read_spectrum`). Default is None.
    shift : float, optional
        Calibration shift in cm-1 added to the axis after reading (see
        `SpectralMap.shifted`). Default is 0.
    format : str, optional
        Read the file as this entry of ``nmcraman.io.FORMATS`` instead of recognising
        it from its content. Default is None.

    Returns
    -------
    SpectralMap
        ``coords`` holds stage X, Y (µm) per pixel where the file gives them.

    Raises
    ------
    ReadError
        If the file is missing, a folder (use `read_many`), empty, binary, has ragged
        rows, text where numbers belong or an axis row that does not match the rows,
        or a ``.wdf`` file cannot be read.
    InputError
        If ``laser_nm``, ``column``, ``shift`` or ``format`` are invalid, or the data
        are not a valid map.

    Warns
    -----
    UserWarning
        When stage positions do not fill a grid, or a ``.wdf`` map was interrupted.

    Notes
    -----
    Grid rule: rows are the distinct Y positions and columns the distinct X
    positions, both ascending; pixels go in row-major order whatever the scan order
    (serpentine included). Positions within 1e-4 of the span, or failing that
    within a quarter of the largest step (stage jitter), count as one. If the
    positions do not fill the grid once each (aborted or irregular map), the
    spectra stay in file order as shape (N,) with ``coords`` and a warning: such a
    map can still be fitted and plotted from x, y. An interrupted ``.wdf`` map keeps
    its (rows, cols) shape in acquisition order, unmeasured pixels NaN (fits flag
    them ``bad_input``).

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
