"""Batch fitting: many spectra on one axis, spectral maps, dask arrays, folders of files.

The flow is ``deconvolve_map`` -> axis and cube (`_as_cube`) -> per-pixel fits, block by
block (`nmcraman.batchfit`; a dask array block by block on its scheduler,
`nmcraman.daskmap`) -> `MapResult`. With ``pooling=``, the per-pixel arrays of that
first pass go on to `nmcraman.pooledmap`, which fits each phase jointly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import fields

import numpy as np

from ._validation import as_1d_float, refuse_file_options
from .bands import BandSpec
from .batchfit import (
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
from .daskmap import dask_map
from .errors import InputError
from .mapchoice import fit_per_pixel
from .mapresult import MapResult
from .model import AUTO, ModelSpec
from .navigation import check_dim_coords, check_dims
from .options import FitOptions
from .pooledmap import check_pooling, pool_averaged, pool_map, pooling_options
from .qc import despike, noise_sigma
from .spectrum import SHIFT_KEY, check_shift

__all__ = ["deconvolve_batch", "deconvolve_map", "despike", "noise_sigma"]


def deconvolve_batch(
    x,
    ys,
    *,
    bands: BandSpec = "auto",
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = AUTO,
    refine: int = 1,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    window: str = AUTO,
    jobs: int | None = None,
    warm_start: bool | None = None,
    despike_spectra: bool = False,
    progress: bool | None = None,
    options: FitOptions | None = None,
    baseline_kwargs: dict | None = None,
    map_shape: tuple[int, ...] | None = None,
    coords: np.ndarray | None = None,
    names: list[str] | None = None,
    meta: dict | None = None,
    pooling="none",
    share: str | None = None,
    max_phases: int | None = None,
    keep_spectra: bool = True,
) -> MapResult:
    """Fit many spectra that share one Raman-shift axis, in parallel.

    The low-level entry point behind `deconvolve_map`: one kernel call per block of
    spectra, with no pandas or Python per spectrum inside the loop.

    Parameters
    ----------
    x : array-like, shape (n,)
        Raman shift, cm-1, in any order.
    ys : array-like, shape (N, n)
        One spectrum per row.
    bands, shape, baseline, refine, xmin, xmax, eta, window, options, baseline_kwargs
        As for `deconvolve`, with its defaults; ``bands="auto"`` fits both presets
        and keeps, per spectrum, the one with the lower BIC. ``window="auto"`` and
        ``baseline="auto"`` choose per spectrum as `deconvolve` does
        (`nmcraman.mapchoice`: ``stats["window"]`` names each one's window); a
        pooled map is pooled with every window and order, and each phase's fits are
        averaged, weighted by the phase's BIC per point, with the spread between them
        in the errors (`nmcraman.pooledmap.pool_averaged`; candidates in
        ``meta["auto_choice"]``, each phase's scores and weights in
        ``meta["pooling"]``); the setting with the lowest BIC per point summed over up
        to 16 evenly spaced fittable spectra (`nmcraman.autofit.choose_shared`) finds
        the phases; statistics and curves are those of the candidate of the largest
        weight. An explicit baseline is fitted with that one window.
        ``window="bands", baseline="poly3"`` is the fixed model: one fit per spectrum
        and band set instead of about eight (docs: "Maps").
    jobs : int, optional
        Threads; None uses all cores. Default is None.
    warm_start : bool, optional
        Start each spectrum from the previous one in its row (map row), falling back
        to the prior starts when that fit is poor. A spectrum without a warm start
        (every one if False, the first of each row otherwise) is fitted by the same
        procedure as `deconvolve`. Default is None: warm starts for one model on every
        spectrum (a fixed or pooled one), none where each spectrum chooses its window
        and orders (`nmcraman.batchfit.warm_default`).
    despike_spectra : bool, optional
        Remove cosmic-ray spikes before fitting (they are flagged either way).
        Default is False.
    progress : bool, optional
        Show a progress bar; None shows it for more than 5000 spectra.
    map_shape : tuple of int, optional
        Shape of the map the rows come from (rows first). Default is ``(N,)``.
    coords : numpy.ndarray, shape (N, 2), optional
        Stage x, y of each spectrum.
    names : list of str, optional
        A name per spectrum (e.g. file names).
    meta : dict, optional
        Metadata kept on the result.
    pooling, share, max_phases
        As for `deconvolve_map`.
    keep_spectra : bool, optional
        Keep each spectrum and its baseline on the result (`MapResult.spectra`).
        Default is True.

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
    share, max_phases = pooling_options(pooling, share, max_phases)
    opts = batch_options(
        bands=bands, shape=shape, baseline=baseline, refine=refine, xmin=xmin, xmax=xmax,
        eta=eta, window=window, options=options, baseline_kwargs=baseline_kwargs, jobs=jobs,
        warm_start=warm_start, despike_spectra=despike_spectra, progress=progress,
        keep_spectra=keep_spectra, pooled=not (isinstance(pooling, str) and pooling == "none"),
    )  # fmt: skip
    x_full, ys, map_shape = _as_batch(x, ys, baseline, map_shape)
    unpooled = isinstance(pooling, str) and pooling == "none"
    if unpooled and opts.model.choosing:
        meta = {**(meta or {}), **model_meta(opts.model, None)}
        target = {"map_shape": map_shape, "coords": coords, "names": names, "meta": meta}
        return fit_per_pixel(x_full, ys, bands, opts, **target)
    fixed, choice = shared_setting(x_full, ys[sample_rows(ys.shape[0])], bands, opts)
    meta = {**(meta or {}), **model_meta(fixed.model, choice)}
    target = {"map_shape": map_shape, "coords": coords, "names": names, "meta": meta}
    if unpooled:
        return fit_unpooled(x_full, ys, bands, fixed, **target)
    check_pooling(pooling, share, max_phases)
    pooled = {"share": share, "max_phases": max_phases, **target}
    cands = pooled_candidates(x_full, bands, opts, choice)
    if cands:

        def run(setting):
            each = opts.with_model(**setting.overrides)
            return first_pass(x_full, ys, bands, each, map_shape), ArraySource(x_full, ys, each)

        return pool_averaged(run, cands, choice, pooling, **pooled)
    firsts = first_pass(x_full, ys, bands, fixed, map_shape)
    return pool_map(firsts, ArraySource(x_full, ys, fixed), pooling, **pooled)


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
    if int(np.prod(map_shape)) != ys.shape[0]:
        raise InputError(f"map shape {map_shape} does not hold {ys.shape[0]} spectra.")
    return x_full, ys[:, order], map_shape


def _as_cube(data, x, shift: float = 0.0, laser_nm=None, column=None):
    """Turn the accepted map inputs into (x, ys (N, n), map_shape, coords, names, meta).

    A file, folder or glob is read with the reader options; any other input is moved
    by ``shift`` here and refuses ``laser_nm`` and ``column``. ``meta`` holds the
    names of the navigation dimensions (``"dims"``) and their coordinates
    (``"dim_coords"``) where the input has them, as a `SpectralMap` of a series does.
    """
    shift = check_shift(shift)
    if isinstance(data, (str, os.PathLike)):
        return _from_path(data, shift=shift, laser_nm=laser_nm, column=column)
    refuse_file_options(laser_nm, column)
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

    from .io import read_many, read_map

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
    laser_nm: float | None = None,
    column: str | int | None = None,
    dims: tuple[str, ...] | None = None,
    **kwargs,
) -> MapResult:
    """Deconvolve every pixel of a Raman map, each on its own or pooled by phase.

    Parameters
    ----------
    data : array-like, xarray.DataArray, dask array, SpectralMap or path
        A cube of shape ``(*navigation, channels)`` with its axis ``x``: (rows, cols,
        channels) for a map, (N, channels) for a batch or line, (time, y, x,
        channels) for an operando series, any number of navigation dimensions; a
        DataArray whose last dimension is the Raman shift (its dims and its
        coordinates over them are kept); a dask array, chunked along any navigation
        dimensions (processed chunk by chunk, so a map larger than memory works and
        a dask.distributed cluster can run it); a `SpectralMap` (its ``meta`` may
        name the dims, ``"dims"``, and hold coordinates, ``"dim_coords"``); a map
        file (`nmcraman.read_map`); or a folder or glob of single-spectrum files (one
        row per file).
    x : array-like, optional
        Raman shift, cm-1, for arrays.
    bands : str, path, dict or list of Band, optional
        As for `deconvolve`; ``"auto"`` chooses between ``"nmc"`` and ``"nmc+lo"``
        per pixel by BIC (forcing the LO band on pixels without it lets it take
        Mn_A1g area: on the synthetic core-shell map, core Mn_A1g came out at 10 %
        instead of 21.5 %). Default is ``"auto"``.
    jobs : int, optional
        Threads; None uses all cores.
    warm_start : bool, optional
        Start each pixel from its left neighbour's solution, refitting from the
        priors when that fit is poor. A pixel without a warm start (every pixel if
        False, the first of each row otherwise) is fitted by the same procedure as
        `deconvolve`. Default is None: warm starts for one model on every pixel (a
        fixed or pooled one), none where each pixel chooses its window and orders, so
        that each pixel is `deconvolve`'s fit (`nmcraman.batchfit.warm_default`).
    despike_spectra : bool, optional
        Remove cosmic-ray spikes before fitting. Default is False (spikes are
        flagged either way).
    progress : bool, optional
        Progress bar; None shows it for more than 5000 pixels.
    pooling : {"none", "phases"} or array of int, optional
        ``"none"``: every pixel fitted on its own. ``"phases"``: the pixels are
        grouped into phases by their first-pass fits (`nmcraman.phases`) and each
        phase is fitted jointly, band positions and FWHMs pooled within it as
        ``share`` says, areas and baselines per pixel (docs: "Maps", "Pooling"). An
        integer array of the map's shape gives the phases instead (negative: not
        pooled). A pixel the pooled model fits worse than its noise allows keeps its
        own fit and is flagged ``pooling_rejected``; pixels with a QC flag of
        `nmcraman.phases.EXCLUDED` are not pooled. Default is ``"none"``.
    share : {"partial", "shape", "position", "fwhm"}, optional
        What the pixels of a phase share, as for `deconvolve_joint`; for pooled maps
        only. Default is None (``"partial"`` when pooled).
    max_phases : int, optional
        Most phases ``pooling="phases"`` looks for; for that pooling only. Default is
        None (6).
    keep_spectra : bool, optional
        Keep each pixel's spectrum in the fit window and its fitted baseline on the
        result (`MapResult.spectra`, `nmcraman.mapspectra`), so that `MapResult.curves`
        and the map's HTML page can draw a pixel's fit. They are kept as 16-bit codes:
        2 bytes a point, a quarter of a float64 cube. None keeps them for an array or
        file held in memory, not for a dask array (a map larger than memory would not
        fit again in a quarter of it). Default is None.
    shift : float, optional
        Calibration shift in cm-1 added to the axis (see `nmcraman.calibration`), for
        a file or an array alike. Default is 0.
    laser_nm, column : optional
        For a map file, folder or glob only, as for `nmcraman.read_map` and
        `nmcraman.io.read_many`: the excitation wavelength (nm) that converts an axis
        in nm, and the intensity column of files with several. Default is None.
    dims : tuple of str, optional
        A name per navigation dimension, e.g. ``("time", "y", "x")``: the table's
        columns and the keywords of `MapResult.image` (`nmcraman.navigation`). A
        DataArray or `SpectralMap` that names its dims takes no other names. Default
        is None: the input's names, else ``("row", "col")`` for a map, ``("row",)``
        for a batch and ``("dim_0", ..., "row", "col")`` for more dimensions.
    **kwargs
        ``shape``, ``baseline``, ``refine``, ``xmin``, ``xmax``, ``eta``, ``window``,
        ``options``, ``baseline_kwargs`` as for `deconvolve`, with its defaults:
        ``window`` and ``baseline`` "auto" choose per pixel, or are averaged per phase
        of a pooled map (`deconvolve_batch`). Maps are fitted by the numba engine:
        ``engine="lmfit"`` is refused.

    Raises
    ------
    InputError
        For bad data or options, including options nothing would use: ``share`` or
        ``max_phases`` without pooling, ``laser_nm`` or ``column`` without a file.

    Returns
    -------
    MapResult
        ``.table`` (tidy, one row per pixel and band), ``.image(param, band)``,
        ``.ratio(band_a, band_b)``, ``.plot()``, ``.to_csv()``.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman import deconvolve_map
    >>> from nmcraman.synthetic import simulate
    >>> cube = np.array([[simulate("CS_75", snr=150, rng=3 * r + c).y for c in range(3)]
    ...                  for r in range(2)])
    >>> m = deconvolve_map(cube, np.arange(150.0, 901.0))
    >>> m.image("area_pct", band="Mn_A1g").shape
    (2, 3)
    """
    kwargs = _fit_options(kwargs)
    pooling_options(pooling, share, max_phases)  # refused before a file is read
    x, cube, map_shape, coords, names, meta = _as_cube(data, x, shift, laser_nm, column)
    map_shape = tuple(int(n) for n in map_shape)
    meta = dict(meta)
    dims = _dims(dims, meta.pop("dims", None), map_shape)
    dim_coords = check_dim_coords(meta.pop("dim_coords", None), dims, map_shape)
    common = {
        "bands": bands, "jobs": jobs, "warm_start": warm_start, "progress": progress,
        "despike_spectra": despike_spectra, "coords": coords, "names": names, "meta": meta,
        "pooling": pooling, "share": share, "max_phases": max_phases,
        "keep_spectra": not _is_dask(cube) if keep_spectra is None else keep_spectra, **kwargs,
    }  # fmt: skip
    if _is_dask(cube):
        result = dask_map(x, cube, map_shape, **common)
    else:
        result = deconvolve_batch(
            x, np.asarray(cube).reshape(-1, np.asarray(x).size), map_shape=map_shape, **common
        )
    result.dims, result.dim_coords = dims, dim_coords
    return result


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


def _fit_options(kwargs: dict) -> dict:
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
    unknown = sorted(set(kwargs) - {f.name for f in fields(ModelSpec)} - {"bands"})
    if unknown:
        raise TypeError(f"deconvolve_map() got an unexpected keyword argument {unknown[0]!r}")
    refused = {k: kwargs.pop(k) for k in _NOT_ON_MAPS if k in kwargs}
    spec = ModelSpec(**refused)
    for name in refused:
        spec.refuse("deconvolve_map", name, reason=_NOT_ON_MAPS[name])
    return kwargs
