"""The navigation dimensions of a map: their names, their coordinates, slices of them.

A map's spectra are laid out over one or more navigation dimensions, the last axis of
the cube being the Raman shift: a line scan ``(N,)``, a map ``(rows, cols)``, an operando
series ``(time, y, x)`` or more. `MapResult` keeps, besides its ``shape``:

- ``dims``: one name per navigation dimension. Unnamed, a 1-D batch is ``("row",)``, a
  map ``("row", "col")``, and a cube of more dimensions ``("dim_0", ..., "row", "col")``:
  the last two are the map's rows and columns, the others numbered as xarray numbers
  unnamed dimensions;
- ``dim_coords``: coordinates along them, ``{name: (dims, values)}`` as in xarray, e.g.
  ``{"time": (("time",), hours)}`` or ``{"voltage": (("time",), volts)}``.

In `MapResult.table` each navigation dimension is a column of integer indices named
after it; each coordinate is a column of its values, named after it, or
``<name>_coord`` for a coordinate that shares its name with a dimension (whose column
holds the index), e.g. ``time`` (0, 1, 2, ...) and ``time_coord`` (hours).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import InputError

__all__ = ["RESERVED", "check_dim_coords", "check_dims", "default_dims", "selection"]

#: Names a navigation dimension or coordinate cannot take: columns of `MapResult.table`
#: and names of `MapResult.to_xarray` and of a save file (`nmcraman.results.netcdf`).
RESERVED = frozenset(
    {
        "band", "label", "flag", "model", "phase", "name", "shift", "coef", "flat_pixel",
        "band_flags", "spectra_x", "spectra_codes", "spectra_offset", "spectra_step",
        "initial_codes", "initial_offset", "initial_step", "baseline_coef",
        "position", "position_err", "fwhm", "fwhm_err", "height", "area", "area_err",
        "area_pct", "area_pct_err", "redchi", "bic", "noise", "snr", "n_iter", "converged",
        "warm", "flags", "eta",
    }
)  # fmt: skip


def default_dims(ndim: int) -> tuple[str, ...]:
    """Names of ``ndim`` unnamed navigation dimensions (see the module docstring)."""
    if ndim == 1:
        return ("row",)
    return (*(f"dim_{i}" for i in range(ndim - 2)), "row", "col")


def check_dims(dims, shape: tuple[int, ...]) -> tuple[str, ...]:
    """Return ``dims`` as a tuple of names, one per axis of ``shape``; None: the defaults.

    Raises
    ------
    InputError
        If the count does not match ``shape``, a name repeats, is not a string or is
        one of `RESERVED`.
    """
    if dims is None:
        return default_dims(len(shape))
    if isinstance(dims, str):
        dims = (dims,)
    dims = tuple(dims)
    if len(dims) != len(shape):
        raise InputError(
            f"dims names {len(dims)} navigation dimensions {dims} but the map has"
            f" {len(shape)}, shape {tuple(shape)}: give one name per axis before the channels."
        )
    if not all(isinstance(d, str) and d for d in dims) or len(set(dims)) != len(dims):
        raise InputError(f"dims must be distinct non-empty names, got {dims}.")
    taken = sorted(set(dims) & RESERVED)
    if taken:
        raise InputError(f"a navigation dimension cannot be named {taken[0]!r}: rename it.")
    return dims


def check_dim_coords(coords, dims: tuple[str, ...], shape: tuple[int, ...]) -> dict:
    """Return navigation coordinates as ``{name: (dims, values)}``, checked against the map.

    Parameters
    ----------
    coords : dict or None
        ``{name: values}`` for a coordinate along the dimension ``name``, or
        ``{name: (dims, values)}`` for any coordinate over navigation dimensions.
    dims, shape
        The map's navigation dimensions and shape.

    Raises
    ------
    InputError
        If a coordinate is over a dimension the map does not have, its values do not
        match the dimensions' lengths, or its name is one of `RESERVED`.
    """
    out = {}
    size = dict(zip(dims, shape, strict=True))
    for name, value in (coords or {}).items():
        if isinstance(value, tuple) and len(value) == 2:
            cdims, values = value
            cdims = (cdims,) if isinstance(cdims, str) else tuple(cdims)
        else:
            cdims, values = (name,), value
        values = np.asarray(values)
        if name in RESERVED:
            raise InputError(f"a navigation coordinate cannot be named {name!r}: rename it.")
        unknown = [d for d in cdims if d not in size]
        if unknown:
            raise InputError(
                f"coordinate {name!r} is along {unknown[0]!r}, not one of the map's dims {dims}."
            )
        want = tuple(size[d] for d in cdims)
        if values.shape != want:
            raise InputError(
                f"coordinate {name!r} over {cdims} must have shape {want}; got {values.shape}."
            )
        out[str(name)] = (cdims, values)
    return out


def selection(dims: tuple[str, ...], shape: tuple[int, ...], index: Mapping) -> tuple:
    """Return the numpy index that picks ``index`` (``{dim: int}``) from an array of ``shape``.

    Raises
    ------
    InputError
        For a name that is not one of ``dims`` or an index out of range.
    """
    key: list = [slice(None)] * len(shape)
    for name, k in index.items():
        if name not in dims:
            raise InputError(f"no navigation dimension {name!r}; this map has {dims}.")
        axis = dims.index(name)
        n = shape[axis]
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise InputError(f"{name}= takes an integer index, got {k!r}.")
        if not -n <= k < n:
            raise InputError(f"{name}={k} is out of range: {name} has {n} steps.")
        key[axis] = int(k)
    return tuple(key)


def coord_column(name: str, dims: tuple[str, ...]) -> str:
    """Name of coordinate ``name``'s column in a table (see the module docstring)."""
    return f"{name}_coord" if name in dims else name


def stage_names(taken) -> tuple[str, str]:
    """Return the names of the stage x, y columns.

    ``x``, ``y``, or ``stage_x``, ``stage_y`` when a navigation dimension or coordinate
    (``taken``) is already called ``x`` or ``y``.
    """
    return ("stage_x", "stage_y") if {"x", "y"} & set(taken) else ("x", "y")


def broadcast(cdims: tuple[str, ...], values: np.ndarray, dims, shape) -> np.ndarray:
    """Values of a coordinate over ``cdims``, repeated over the whole map, flat (pixels,)."""
    order = sorted(range(len(cdims)), key=lambda i: dims.index(cdims[i]))
    values = np.transpose(values, order)
    full = tuple(shape[i] if d in cdims else 1 for i, d in enumerate(dims))
    return np.broadcast_to(values.reshape(full), tuple(shape)).ravel()
