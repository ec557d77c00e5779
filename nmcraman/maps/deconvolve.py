"""Batch fitting: many spectra on one axis, spectral maps, dask arrays, folders of files.

The flow is ``deconvolve_map`` -> axis and cube (`_as_cube`) -> per-pixel fits, block by
block (`nmcraman.maps.pixels`; a dask array block by block on its scheduler,
`nmcraman.maps.dask_map`) -> `MapResult`. With ``pooling=``, the per-pixel arrays of that
first pass go on to `nmcraman.maps.pooled`, which fits each phase jointly.
"""

from __future__ import annotations

import os
from dataclasses import fields

import numpy as np

from .._validation import as_1d_float, check_read, reading_with_read, refuse_file_options
from ..bands import BandSpec
from ..errors import InputError
from ..model import AUTO, ModelSpec
from ..navigation import check_dim_coords, check_dims
from ..qc import despike, noise_sigma
from ..results.map import MapResult
from ..spectrum import SHIFT_KEY, check_shift
from .choice import fit_per_pixel
from .dask_map import dask_map
from .pixels import (
    ArraySource,
    axis_order,
    batch_options,
    first_pass,
    fit_unpooled,
    model_meta,
    pooled_candidates,
    sample_rows,
    shared_setting,
)
from .pooled import check_pooling, pool_averaged, pool_map, pooling_options
from .pooltime import check_through

__all__ = ["deconvolve_batch", "deconvolve_map", "despike", "noise_sigma"]


def deconvolve_batch(
    x,
    ys,
    *,
    bands: BandSpec = "auto",
    jobs: int | None = None,
    warm_start: bool | None = None,
    despike_spectra: bool = False,
    progress: bool | None = None,
    names: list[str] | None = None,
    coords: np.ndarray | None = None,
    pooling="none",
    share: str | None = None,
    max_phases: int | None = None,
    keep_spectra: bool = True,
    **model,
) -> MapResult:
    """Fit many spectra that share one Raman-shift axis, in parallel.

    The entry point behind `deconvolve_map`: one kernel call per block of spectra, with
    no pandas or Python per spectrum inside the loop.

    Parameters
    ----------
    x : array-like, shape (n,)
        Raman shift, cm-1, in any order.
    ys : array-like, shape (N, n)
        One spectrum per row.
    bands, jobs, warm_start, despike_spectra, progress, pooling, share, max_phases
        As for `deconvolve_map`.
    names, coords : list of str, numpy.ndarray of shape (N, 2), optional
        A name per spectrum (e.g. its file), and its stage x, y (µm).
    keep_spectra : bool, optional
        Keep each spectrum and its baseline on the result (`MapResult.spectra`).
    **model
        ``shape``, ``baseline``, ``window``, ``eta``, ``refine``, ``baseline_kwargs``
        and ``options``, as for `deconvolve` and with its defaults: the "auto" window
        and baseline choose per spectrum (`nmcraman.maps.choice`; ``stats["window"]``
        names each one's window), or once for a pooled map
        (`nmcraman.pooled_choice.choose_shared`, in ``meta["auto_choice"]``).
        ``window="bands", baseline="poly3"`` is the fixed model, one fit per spectrum.

    Returns
    -------
    MapResult

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman.maps import deconvolve_batch
    >>> from nmcraman.synthetic import simulate
    >>> spectra = [simulate("Core_75", snr=150, rng=i) for i in range(4)]
    >>> m = deconvolve_batch(spectra[0].x, np.array([s.y for s in spectra]), bands="nmc")
    >>> m.image("position", band="Mn_A1g").shape
    (4,)
    """
    run = {"jobs": jobs, "warm_start": warm_start, "despike_spectra": despike_spectra,
           "progress": progress, "keep_spectra": keep_spectra}  # fmt: skip
    labels = {"map_shape": None, "coords": coords, "names": names, "meta": None}
    pooled = {"pooling": pooling, "share": share, "max_phases": max_phases}
    return fit_batch(x, ys, bands, _fit_options("deconvolve_batch", model), run, pooled, labels)


def fit_batch(x, ys, bands, model: dict, run: dict, pooled: dict, labels: dict) -> MapResult:
    """Fit the rows ``ys`` (`deconvolve_batch`, and `deconvolve_map` in memory).

    ``model`` holds the `ModelSpec` fields, ``run`` how the fits run (jobs, warm starts,
    despiking, progress, kept spectra), ``pooled`` the pooling options and ``labels``
    the map's shape, stage coordinates, names and metadata.
    """
    pooling, share, max_phases = pooled["pooling"], pooled["share"], pooled["max_phases"]
    share, max_phases = pooling_options(pooling, share, max_phases)
    unpooled = isinstance(pooling, str) and pooling == "none"
    opts = batch_options(bands=bands, **model, **run, pooled=not unpooled)
    x_full, ys, map_shape = _as_batch(x, ys, model.get("baseline", AUTO), labels["map_shape"])
    target = {"map_shape": map_shape, "coords": labels["coords"], "names": labels["names"]}
    meta = dict(labels["meta"] or {})
    if unpooled and opts.model.choosing:
        meta.update(model_meta(opts.model, None))
        return fit_per_pixel(x_full, ys, bands, opts, **target, meta=meta)
    fixed, choice = shared_setting(x_full, ys[sample_rows(ys.shape[0])], bands, opts)
    meta.update(model_meta(fixed.model, choice))
    if unpooled:
        return fit_unpooled(x_full, ys, bands, fixed, **target, meta=meta)
    check_pooling(pooling, share, max_phases)
    pool = {"share": share, "max_phases": max_phases, "through": pooled.get("through"),
            **target, "meta": meta}  # fmt: skip
    cands = pooled_candidates(x_full, bands, opts, choice)
    if cands:  # "auto": every window and order pooled, averaged per phase

        def run(setting):
            each = opts.with_model(**setting.overrides)
            return first_pass(x_full, ys, bands, each, map_shape), ArraySource(x_full, ys, each)

        return pool_averaged(run, cands, choice, pooling, **pool, xmin=opts.model.xmin)
    firsts = first_pass(x_full, ys, bands, fixed, map_shape)
    return pool_map(firsts, ArraySource(x_full, ys, fixed), pooling, **pool)


def _as_batch(x, ys, baseline, map_shape) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Check the inputs of `deconvolve_batch`; return ascending x, spectra and map shape."""
    x_full, order = axis_order(x, baseline)
    ys = np.asarray(ys, dtype=np.float64)
    if ys.ndim != 2 or ys.shape[1] != x_full.size:
        raise InputError(
            f"spectra must be an array of shape (N, {x_full.size}) matching x; got {ys.shape}."
        )
    if ys.shape[0] == 0:
        raise InputError("no spectra to fit: the map is empty.")
    map_shape = tuple(map_shape or (ys.shape[0],))
    return x_full, ys[:, order], map_shape


def _as_cube(data, x, shift: float = 0.0, read: dict | None = None):
    """Turn the accepted map inputs into (x, ys (N, n), map_shape, coords, names, meta).

    A file, folder or glob is read with the reader options ``read``; any other input is
    moved by ``shift`` here and refuses ``read``. ``meta`` holds the
    names of the navigation dimensions (``"dims"``) and their coordinates
    (``"dim_coords"``) where the input has them, as a `SpectralMap` of a series does.
    """
    shift = check_shift(shift)
    if isinstance(data, (str, os.PathLike)):
        with reading_with_read():
            return _from_path(data, shift=shift, **read)
    refuse_file_options(read)
    x, cube, map_shape, coords, names, meta = _from_data(data, x)
    if shift:
        x = np.asarray(x, dtype=np.float64) + shift
        meta = {**meta, SHIFT_KEY: meta.get(SHIFT_KEY, 0.0) + shift}
    return x, cube, map_shape, coords, names, meta


def _from_data(data, x):
    """(x, ys, map_shape, coords, names, meta) of a map held in memory or in dask."""
    if type(data).__module__.startswith("xarray"):
        return _from_xarray(data, x)
    if hasattr(data, "spectra") and hasattr(data, "x") and hasattr(data, "coords"):
        return (
            data.x, np.asarray(data.spectra).reshape(-1, data.x.size), data.spectra.shape[:-1],
            data.coords, data.meta.get("names"), dict(data.meta),
        )  # fmt: skip
    if x is None:
        raise InputError("give the Raman-shift axis: deconvolve_map(cube, x).")
    arr = np.asarray(data) if not _is_dask(data) else data
    if arr.ndim < 2:
        raise InputError(
            "a map must have shape (*navigation, channels), e.g. (rows, cols, channels) or"
            f" (N, channels); got {arr.shape}."
        )
    x = as_1d_float(x, "x")
    if arr.shape[-1] != x.size:
        raise InputError(
            f"the map's last axis has {arr.shape[-1]} channels but x has {x.size} values;"
            " put the spectral axis last."
        )
    return x, arr, arr.shape[:-1], None, None, {}


def _is_dask(data) -> bool:
    return type(data).__module__.startswith("dask")


def _from_xarray(da, x):
    """Return the map of a DataArray, keeping its dims and its coordinates over them.

    Coordinates along the Raman shift, or without dimensions, are left out.
    """
    dim = da.dims[-1]
    if dim not in da.coords and x is None:
        raise InputError(
            f"the DataArray's last dimension {dim!r} must carry the Raman shift (cm-1):"
            " give it a coordinate, or pass x."
        )
    axis = np.asarray(da[dim].values if dim in da.coords else x, dtype=float)
    if axis.ndim != 1 or axis.size != da.shape[-1]:
        raise InputError("the DataArray's last dimension must carry the Raman shift (cm-1).")
    nav = tuple(str(d) for d in da.dims[:-1])
    coords = {
        str(name): (tuple(str(d) for d in c.dims), np.asarray(c.values))
        for name, c in da.coords.items()
        if c.dims and set(c.dims) <= set(nav)
    }
    meta = {"dims": nav, "dim_coords": coords, "spectral_dim": str(dim)}
    return axis, da.data, da.shape[:-1], None, None, meta


def _from_path(path, **reader):
    from pathlib import Path

    from ..io import read_many, read_map

    p = Path(path)
    if p.is_dir() or any(ch in str(path) for ch in "*?["):
        sm = read_many(path, **reader)
    else:
        sm = read_map(p, **reader)
    names = sm.meta.get("names")
    return sm.x, sm.spectra.reshape(-1, sm.x.size), sm.spectra.shape[:-1], sm.coords, names, sm.meta


def deconvolve_map(
    data,
    x=None,
    *,
    bands: BandSpec = "auto",
    jobs: int | None = None,
    warm_start: bool | None = None,
    despike_spectra: bool = False,
    progress: bool | None = None,
    pooling="none",
    share: str | None = None,
    max_phases: int | None = None,
    keep_spectra: bool | None = None,
    shift: float = 0.0,
    read: dict | None = None,
    dims: tuple[str, ...] | None = None,
    through: str | None = None,
    **model,
) -> MapResult:
    """Deconvolve every pixel of a Raman map, each on its own or pooled by phase.

    Parameters
    ----------
    data, x : array-like, xarray.DataArray, dask array, SpectralMap or path; array-like
        A cube ``(*navigation, channels)`` and its axis ``x`` (cm-1); a DataArray (dims
        and coordinates kept); a dask array (chunked along any navigation dimension); a
        `SpectralMap`; a map file (`nmcraman.read_map`), a folder or glob of spectra.
    bands : str, path, dict or list of Band, optional
        As for `deconvolve`; ``"auto"`` chooses ``"nmc"`` or ``"nmc+lo"`` per pixel.
    jobs, progress, despike_spectra : optional
        Threads (None: all cores); a progress bar (None: above 5000 pixels); remove
        cosmic-ray spikes first (they are flagged either way).
    warm_start : bool, optional
        Start each pixel from its neighbour's solution; None: only where one model
        fits every pixel (`nmcraman.maps.pixels.warm_default`).
    pooling, share, max_phases, through : optional
        ``"phases"`` (at most ``max_phases``, `nmcraman.maps.phases`) or an integer
        array of phases: each phase shares positions and FWHMs as ``share`` says;
        ``through`` pools a series step by step along that dimension, the steps linked
        by a random walk (`nmcraman.maps.pooltime`).
    keep_spectra : bool, optional
        Keep data and baselines for `MapResult.curves` (None: not for dask arrays).
    shift, read, dims : optional
        As for `deconvolve`; ``dims`` names the navigation dimensions, ``("time", "y", "x")``.
    **model
        ``shape``, ``baseline``, ``window``, ``eta``, ``refine``, ``baseline_kwargs``,
        ``options``, as for `deconvolve` (``engine`` and ``criterion`` are refused).

    Returns
    -------
    MapResult
        ``.table``, ``.image()``, ``.plot()``; docs "Maps" and "Operando series".

    Examples
    --------
    >>> from nmcraman import deconvolve_map, synthetic
    >>> cube, x, truth = synthetic.core_shell_map(2, 3, rng=0)
    >>> deconvolve_map(cube, x).image("area_pct", band="Mn_A1g").shape
    (2, 3)
    """
    model = _fit_options("deconvolve_map", model)
    pooling_options(pooling, share, max_phases)  # refused before a file is read
    check_through(through, pooling)
    x, cube, map_shape, coords, names, meta = _as_cube(data, x, shift, check_read(read))
    map_shape = tuple(int(n) for n in map_shape)
    meta = dict(meta)
    dims = _dims(dims, meta.pop("dims", None), map_shape)
    dim_coords = check_dim_coords(meta.pop("dim_coords", None), dims, map_shape)
    run = {
        "jobs": jobs,
        "warm_start": warm_start,
        "despike_spectra": despike_spectra,
        "progress": progress,
        "keep_spectra": not _is_dask(cube) if keep_spectra is None else keep_spectra,
    }
    axis = check_through(through, pooling, dims)
    pooled = {"pooling": pooling, "share": share, "max_phases": max_phases, "through": axis}
    labels = {"map_shape": map_shape, "coords": coords, "names": names, "meta": meta}
    if _is_dask(cube):
        result = dask_map(
            x,
            cube,
            map_shape,
            bands=bands,
            **run,
            **pooled,
            coords=coords,
            names=names,
            meta=meta,
            **model,
        )
    else:
        ys = np.asarray(cube).reshape(-1, np.asarray(x).size)
        result = fit_batch(x, ys, bands, model, run, pooled, labels)  # fmt: skip
    meta = result.meta
    if through is not None:
        meta = {**meta, "pooling": {**meta["pooling"], "through": through}}
    return result.replace(dims=dims, dim_coords=dim_coords, meta=meta)


def _dims(given, named, shape: tuple[int, ...]) -> tuple[str, ...]:
    """Return the navigation dims: ``dims=`` or the input's names, which must then agree."""
    if named is not None:
        named = check_dims(named, shape)
        if given is not None and check_dims(given, shape) != named:
            raise InputError(
                f"the data names its dims {named}; dims={tuple(given)} would rename them:"
                " drop dims= or rename them in the data."
            )
        return named
    return check_dims(given, shape)


#: The `deconvolve` options a map takes through ``**kwargs`` (`deconvolve_map`).
#: Fields of `ModelSpec` that maps do not take, and why (`_fit_options` refuses them).
_NOT_ON_MAPS = {
    "engine": "maps are fitted by the numba kernels; engine='lmfit' fits one spectrum at a"
    " time: use deconvolve on single pixels",
    "criterion": "maps choose each pixel's band set by BIC",
    "despike": "maps spell it despike_spectra=",
}


#: The `ModelSpec` fields a map takes as keywords: ``window=(xmin, xmax)`` spells the
#: sides, as in `deconvolve`.
_MAP_FIELDS = frozenset(f.name for f in fields(ModelSpec)) - {"bands", "xmin", "xmax"}


def _fit_options(door: str, kwargs: dict) -> dict:
    """Return the `deconvolve` options of a map, refusing those it would not honour.

    Raises
    ------
    InputError
        For a field of `ModelSpec` that maps do not honour (`_NOT_ON_MAPS`), unless
        at its default.
    TypeError
        For a keyword `deconvolve_map` does not take, named as Python names it.
    """
    kwargs = dict(kwargs)
    unknown = sorted(set(kwargs) - _MAP_FIELDS)
    if unknown:
        raise TypeError(f"{door}() got an unexpected keyword argument {unknown[0]!r}")
    refused = {k: kwargs.pop(k) for k in _NOT_ON_MAPS if k in kwargs}
    spec = ModelSpec(**refused)
    for name in refused:
        spec.refuse(door, name, reason=_NOT_ON_MAPS[name])
    return kwargs
