"""Save a `MapResult` to netCDF and load it back exactly, the kept spectra lazily.

Why netCDF (``.nc``): a map of an operando series holds a hundred thousand spectra, and
JSON (`nmcraman.results.savefile`) writes every number as text. netCDF-4 is an HDF5 file that
xarray, netCDF tools and every language with an HDF5 library read; it stores binary
arrays in chunks, each compressed on its own (zlib with byte shuffling, both built into
HDF5, so no plugin is needed to read the file back), and any chunk can be read without
the rest. It is written through xarray with the h5netcdf engine, which needs only h5py
(``pip install nmcraman[netcdf]``).

The file, opened with `xarray.open_dataset`, is the map's `MapResult.to_xarray`
Dataset plus what a save needs besides:

- the band parameters over ``(*navigation, band)``, the band flags as ``band_flags``,
  every pixel statistic over the navigation dims (``model`` as integer codes of the
  names in its ``categories`` attribute), the coordinates of `MapResult.dim_coords`,
  the stage position and the names of a batch's spectra;
- the kept spectra (`nmcraman.results.mapspectra`) over a flat ``flat_pixel`` dimension in
  row-major order: ``spectra_x``, ``spectra_offset``, ``spectra_step``,
  ``baseline_coef`` and ``spectra_codes``, the 16-bit codes of each pixel stored as
  the zigzag-coded differences between consecutive points (`zigzag_delta`): noise on a
  smooth spectrum makes small differences, which compress, where the codes themselves
  do not;
- attributes: ``format`` (``"nmcraman"``), ``format_version`` (`FORMAT_VERSION`),
  ``nmcraman_version``, ``kind``, and as JSON text (`nmcraman.results.savefile`'s encoding,
  which is exact) the metadata, bands, labels, dims and the names of the coordinates.

Every value reads back bit for bit. `load` reads all but the spectra's codes at once;
the codes stay in the file (`LazyCodes`) and only the rows used are read (one pixel
for `MapResult.curves`), so that opening a saved series is quick whatever its size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from .._version import __version__
from ..errors import InputError, ReadError
from ..navigation import stage_names
from . import savefile
from .mapspectra import MapSpectra, Quantised

__all__ = ["FORMAT_VERSION", "SUFFIXES", "LazyCodes", "load", "save", "zigzag_delta"]

#: Version of the netCDF layout; raised when a change would make older readers misread it.
FORMAT_VERSION = 1
#: File name endings saved as netCDF.
SUFFIXES = (".nc",)
#: Pixels per chunk, about: a chunk of the spectra of 751 points is 1.5 MB before
#: compression, and reading one pixel's spectrum decompresses one chunk.
CHUNK_PIXELS = 1024
_COMPRESS = {"zlib": True, "complevel": 4, "shuffle": True}
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_netcdf(path) -> bool:
    """Tell whether ``path`` is an HDF5 (netCDF-4) file, by its first bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == _HDF5_SIGNATURE
    except (OSError, TypeError, ValueError):
        return False


def zigzag_delta(codes: np.ndarray) -> np.ndarray:
    """Return 16-bit codes as zigzag-coded differences along each row (uint16).

    The differences are taken modulo 2**16, so they fit 16 bits; zigzag coding maps
    0, -1, 1, -2, ... to 0, 1, 2, 3, ..., so that small differences of either sign
    have zero high bytes. `undo_zigzag_delta` inverts it exactly.
    """
    diff = np.diff(np.asarray(codes, dtype=np.uint16), axis=1, prepend=np.uint16(0))
    d = diff.view(np.int16).astype(np.int32)
    return ((d << 1) ^ (d >> 15)).astype(np.uint16)


def undo_zigzag_delta(stored: np.ndarray) -> np.ndarray:
    """Return the codes of `zigzag_delta`'s output."""
    z = np.asarray(stored, dtype=np.uint16).astype(np.int32)
    diff = ((z >> 1) ^ -(z & 1)).astype(np.int16).view(np.uint16)
    return np.cumsum(diff, axis=1, dtype=np.uint16)


class LazyCodes:
    """The 16-bit codes of a saved map's spectra, read from its file when indexed.

    Stands for the ``codes`` array of a `nmcraman.results.mapspectra.Quantised`: indexing
    by pixel (an int, a slice, a mask or indices) reads and decodes those rows only;
    `numpy.asarray` reads them all.

    Parameters
    ----------
    variable : xarray.Variable
        The file's ``spectra_codes`` (flat_pixel, shift), not loaded.
    """

    dtype = np.dtype(np.uint16)
    ndim = 2

    def __init__(self, variable):
        self.variable = variable
        self.shape = tuple(variable.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, tuple):
            if len(rows) != 2:
                raise IndexError(f"codes have 2 dimensions, not {len(rows)}.")
            return self[rows[0]][..., rows[1]]
        picked = np.arange(self.shape[0])[rows]
        flat = np.atleast_1d(picked)
        if flat.size == 0:
            return np.empty((0, self.shape[1]), dtype=np.uint16)
        unique, inverse = np.unique(flat, return_inverse=True)
        first, last = int(unique[0]), int(unique[-1]) + 1
        # One contiguous read of the rows' span, or of the rows themselves when sparse.
        if last - first <= 4 * unique.size:
            block = np.asarray(self.variable[first:last].values)[unique - first]
        else:
            block = np.asarray(self.variable[unique].values)
        codes = undo_zigzag_delta(block)[inverse]
        return codes[0] if np.ndim(picked) == 0 else codes

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        codes = self[:]
        return codes if dtype is None else codes.astype(dtype)

    def astype(self, dtype) -> np.ndarray:
        """Return every row, read from the file, as ``dtype``."""
        return self[:].astype(dtype)


def save(m, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``m`` to ``path`` as netCDF-4, atomically (see the module docstring).

    Raises
    ------
    InputError
        If xarray or h5netcdf is missing, ``path`` exists without ``force``, or the
        map holds metadata that cannot be saved.
    """
    ds, encoding = _dataset(m)
    _engine()

    def write(tmp: Path) -> None:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)

    return atomic_write(path, write, force=force)


def _engine() -> None:
    try:
        import h5netcdf  # noqa: F401
        import xarray  # noqa: F401
    except ImportError:
        raise InputError(
            "netCDF files need xarray and h5netcdf: pip install nmcraman[netcdf]."
        ) from None


def _json(value) -> str:
    return json.dumps(savefile._encode(value), allow_nan=False)


def _unjson(text: str):
    return savefile._decode(json.loads(text))


def _chunks(shape: tuple[int, ...], target: int = CHUNK_PIXELS) -> tuple[int, ...]:
    """Return a chunk of about ``target`` pixels: whole trailing dims, part of one more."""
    out = [1] * len(shape)
    size = 1
    for axis in range(len(shape) - 1, -1, -1):
        take = min(shape[axis], max(1, target // size))
        out[axis] = take
        size *= take
        if take < shape[axis]:
            break
    return tuple(out)


def _dataset(m):
    """Return the Dataset a save writes and its encoding (chunks, compression)."""
    _engine()
    import xarray as xr

    dims, shape, nb = m.dims, m.shape, len(m.bands)
    n = int(np.prod(shape))
    nav = _chunks(shape)
    data, encoding = {}, {}

    def put(name, var_dims, values, chunks=None, attrs=None):
        values = np.asarray(values)
        data[name] = xr.Variable(var_dims, values, attrs=attrs or {})
        enc = {"_FillValue": None}
        if values.size and values.dtype.kind in "biuf" and values.ndim:
            enc.update(_COMPRESS, chunksizes=chunks)
        encoding[name] = enc

    for key, arr in m.params.items():
        put(key, (*dims, "band"), arr.reshape(*shape, nb), (*nav, nb))
    put("band_flags", (*dims, "band"), m.band_flags.reshape(*shape, nb), (*nav, nb))
    for key, arr in m.stats.items():
        arr = np.asarray(arr)
        if arr.dtype.kind == "O":
            categories, codes = np.unique(arr.astype(str), return_inverse=True)
            put(key, dims, codes.astype(np.int32).reshape(shape), nav,
                {"categories": json.dumps(categories.tolist())})  # fmt: skip
        else:
            put(key, dims, arr.reshape(shape), nav)
    pix = (min(n, CHUNK_PIXELS),)
    s = m.spectra
    if s is not None:
        put("spectra_x", ("shift",), s.x)
        for name, q in (("spectra", s.data), ("initial", s.initial)):
            if q is None:
                continue
            put(f"{name}_codes", ("flat_pixel", "shift"), zigzag_delta(np.asarray(q.codes)),
                (*pix, s.x.size), {"coding": "zigzag_delta"})  # fmt: skip
            put(f"{name}_offset", ("flat_pixel",), q.offset, pix)
            put(f"{name}_step", ("flat_pixel",), q.step, pix)
        coef = s.baseline_coef
        put("baseline_coef", ("flat_pixel", "coef"), coef, (*pix, coef.shape[1]))
    coords = {"band": xr.Variable(("band",), np.array(m.bands, dtype=object))}
    for name, (cdims, values) in m.dim_coords.items():
        coords[name] = xr.Variable(cdims, values)
        encoding[name] = {"_FillValue": None}
    stage = None
    if m.coords is not None:
        stage = stage_names([*dims, *m.dim_coords])
        for k, name in enumerate(stage):
            put(name, dims, np.asarray(m.coords, dtype=np.float64)[:, k].reshape(shape), nav)
    if m.names is not None:
        coords["name"] = xr.Variable(dims, np.array(m.names, dtype=object).reshape(shape))
    attrs = {
        "format": "nmcraman",
        "format_version": FORMAT_VERSION,
        "nmcraman_version": __version__,
        "kind": "MapResult",
        "bands": json.dumps(m.bands),
        "labels": json.dumps(m.labels),
        "dims": json.dumps(list(dims)),
        "dim_coords": json.dumps(list(m.dim_coords)),
        "stage": json.dumps(stage),
        "has_names": int(m.names is not None),
        "meta": _json(m.meta),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs), encoding


def load(path: str | os.PathLike):
    """Read a map written by `save`; the spectra's codes stay in the file until used.

    Raises
    ------
    ReadError
        If the file cannot be read, is not an nmcraman map, is damaged or comes from a
        newer nmcraman.
    """
    try:
        _engine()
    except InputError as exc:
        raise ReadError(f"cannot read {path}: {exc}") from None
    import xarray as xr

    try:
        ds = xr.open_dataset(path, engine="h5netcdf", mask_and_scale=False, cache=False)
    except (OSError, ValueError) as exc:
        raise ReadError(f"cannot read {path}: {exc}.") from None
    attrs = ds.attrs
    if attrs.get("format") != "nmcraman" or attrs.get("kind") != "MapResult":
        raise ReadError(f"{path} is not an nmcraman map file (no 'format': 'nmcraman').")
    version = int(attrs.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise ReadError(
            f"{path} was written by nmcraman {attrs.get('nmcraman_version', '?')} in netCDF"
            f" format {version}; this nmcraman {__version__} reads up to {FORMAT_VERSION}:"
            " upgrade it."
        )
    try:
        return _map(ds)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ReadError(f"{path} is damaged: {type(exc).__name__} {exc}.") from None


def _map(ds):
    """Return the `MapResult` of an opened save file."""
    from .._kernels.stats import TABLE_ROWS

    attrs = ds.attrs
    bands = json.loads(attrs["bands"])
    dims = tuple(json.loads(attrs["dims"]))
    shape = tuple(int(ds.sizes[d]) for d in dims)
    n, nb = int(np.prod(shape)), len(bands)

    def flat(name, *rest):
        return np.asarray(ds[name].transpose(*dims, *rest).values).reshape(n, *(nb,) * len(rest))

    params = {key: flat(key, "band") for key in TABLE_ROWS if key in ds}
    stage = json.loads(attrs["stage"])
    stats = {}
    for key, var in ds.data_vars.items():
        if set(var.dims) != set(dims) or key in params or key in (stage or ()):
            continue
        values = flat(key)
        if "categories" in var.attrs:
            values = np.array(json.loads(var.attrs["categories"]), dtype=object)[values]
        stats[key] = values
    coords = None if stage is None else np.column_stack([flat(name) for name in stage])
    names = flat("name").tolist() if attrs.get("has_names") else None
    dim_coords = {
        name: (tuple(ds[name].dims), np.asarray(ds[name].values))
        for name in json.loads(attrs["dim_coords"])
    }
    # The MapResult, built as the JSON files build it (`savefile.register`): this module
    # sits below `nmcraman.results.map`, which imports it.
    return savefile.rebuild("__map__", {
        "shape": shape, "bands": bands, "labels": json.loads(attrs["labels"]),
        "params": params, "stats": stats, "band_flags": flat("band_flags", "band"),
        "coords": coords, "names": names, "meta": _unjson(attrs["meta"]),
        "spectra": _spectra(ds), "dims": dims, "dim_coords": dim_coords,
    })  # fmt: skip


def _spectra(ds) -> MapSpectra | None:
    if "spectra_codes" not in ds:
        return None

    def kept(name: str) -> Quantised | None:
        if f"{name}_codes" not in ds:
            return None
        return Quantised(
            LazyCodes(ds[f"{name}_codes"].variable),
            np.asarray(ds[f"{name}_offset"].values),
            np.asarray(ds[f"{name}_step"].values),
        )

    return MapSpectra(
        np.asarray(ds["spectra_x"].values), kept("spectra"),
        np.asarray(ds["baseline_coef"].values), kept("initial"),
    )  # fmt: skip


savefile.register_format(".nc", save, is_netcdf, load)
