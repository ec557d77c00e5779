"""Batch fitting: many spectra on one axis, spectral maps, dask arrays, folders of files.

The flow is ``deconvolve_map`` -> axis and cube (`_as_cube`) -> per-block
`_fit_block` on a pool of threads (vectorised QC and scaling, then one kernel call
per block, no Python per spectrum) -> `MapResult`. With ``pooling=``, the per-pixel
arrays of that first pass go on to `nmcraman.pooledmap`, which fits each phase jointly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from . import _batch as B
from . import _levmar as LM
from ._problem import MIN_SEPARATION, Geometry, geometry
from ._validation import as_1d_float
from .bands import PRESETS, BandSpec, resolve_bands
from .baseline import BASELINES, baseline_stage, joint_order
from .errors import InputError
from .mapresult import MapResult
from .mapspectra import Quantised
from .options import FitOptions
from .phases import MAX_PHASES
from .pooledmap import check_pooling, pool_map
from .qc import despike, has_spike, is_saturated, noise_sigma

__all__ = ["deconvolve_batch", "deconvolve_map", "despike", "noise_sigma"]

#: Most pixels per kernel call: the progress bar advances once per block.
BLOCK_PIXELS = 2048
#: Blocks per thread at least, so that threads finishing early take more work.
BLOCKS_PER_JOB = 8


@dataclass(frozen=True)
class BatchOptions:
    """The options of `deconvolve_batch` that apply to every spectrum and every preset.

    Built once per call and passed down whole (to each preset of ``bands="auto"`` and
    each block of spectra), so that a new option is a new field, not a new argument
    threaded through every function. Fields as the arguments of `deconvolve_batch`.
    """

    shape: str = "lorentzian"
    baseline: str | Callable | None = "poly3"
    refine: int = 1
    xmin: float | None = None
    xmax: float | None = None
    eta: float | None = None
    jobs: int | None = None
    warm_start: bool = True
    despike_spectra: bool = False
    progress: bool | None = None
    options: FitOptions | None = None
    baseline_kwargs: dict | None = None
    keep_spectra: bool = True


def _bad_rows(ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows that cannot be fitted (non-finite, empty or constant) and saturated rows."""
    finite = np.isfinite(ys).all(axis=1)
    flat = np.ptp(np.where(np.isfinite(ys), ys, 0.0), axis=1) == 0
    return ~finite | flat, is_saturated(ys)


def _prepare_block(x_full: np.ndarray, ys_full: np.ndarray, geo: Geometry, opts: BatchOptions):
    """QC and scaling of a block of spectra (rows of ``ys_full``) for the kernels.

    Returns ``ys`` (fit window, any fixed starting baseline removed, each row divided by
    its ``scale``), ``scale``, ``sigma`` (noise of the scaled rows), the QC masks
    ``bad``, ``saturated``, ``spikes`` and ``skip`` (rows not to fit), and ``window``
    and ``initial``: the data in the fit window as fitted (despiked if asked) and the
    fixed starting baseline there (zeros for a joint polynomial).
    """
    n_spec = ys_full.shape[0]
    ys_full = np.array(ys_full, dtype=np.float64)
    bad, saturated = _bad_rows(ys_full)
    spikes = np.zeros(n_spec, dtype=bool)
    good = ~bad
    baseline, refine, baseline_kwargs = opts.baseline, opts.refine, opts.baseline_kwargs or {}
    if opts.despike_spectra and good.any():
        ys_full[good], spikes[good] = despike(ys_full[good])
    elif good.any():
        spikes[good] = has_spike(ys_full[good])
    initial = np.zeros((n_spec, geo.x.size))
    if not _is_poly(baseline):
        for i in np.flatnonzero(good & ~saturated):
            stage = baseline_stage(x_full, ys_full[i], baseline, refine, **baseline_kwargs)
            initial[i] = stage.initial[geo.sel]
    window = ys_full[:, geo.sel]
    ys = window - initial
    ys[bad] = 0.0
    scale = np.max(np.abs(ys), axis=1)
    skip = bad | saturated | (scale == 0)
    scale[skip] = 1.0
    ys = np.ascontiguousarray(ys / scale[:, None])
    return {
        "ys": ys, "scale": scale, "sigma": noise_sigma(ys), "bad": bad,
        "saturated": saturated, "spikes": spikes, "skip": skip, "window": window,
        "initial": initial,
    }  # fmt: skip


def _fit_block(
    x_full: np.ndarray, ys_full: np.ndarray, geo: Geometry, opts: BatchOptions, chunk_len: int
) -> dict[str, np.ndarray]:
    """Fit one block of spectra (rows of ``ys_full``); return per-spectrum arrays."""
    n_spec = ys_full.shape[0]
    block = _prepare_block(x_full, ys_full, geo, opts)
    ys, scale, sigma, skip = (block[k] for k in ("ys", "scale", "sigma", "skip"))
    lay = geo.layout
    opt = geo.options
    # Pixels without a warm start run the prior starts by ``all_starts`` as
    # `deconvolve` does (`_batch.fit_cold`); warm-started ones by ``warm_ratio``.
    settings = LM.make_settings(
        geo.shape_code, geo.fit_eta, opt, MIN_SEPARATION, all_starts=opt.all_starts,
        warm_ratio=opt.warm_ratio if opts.warm_start else 0.0,
    )  # fmt: skip
    chunks = np.unique(np.r_[np.arange(0, n_spec, max(chunk_len, 1)), n_spec]).astype(np.int64)
    theta = np.full((n_spec, lay.n_theta), np.nan)
    coef = np.full((n_spec, lay.n_linear), np.nan)
    err = np.full((n_spec, lay.n_errors), np.nan)
    info = np.full((n_spec, len(B.INFO)), np.nan)
    B.fit_batch(
        geo.x, ys, geo.basis, geo.starts, geo.lo, geo.hi, geo.order, settings, chunks,
        sigma**2, skip, theta, coef, err, info,
    )  # fmt: skip
    out = {
        "theta": theta,
        "coef": coef,
        "err": err,
        "info": info,
        "scale": scale,
        "sigma": sigma * scale,
        "bad": block["bad"],
        "saturated": block["saturated"],
        "spikes": block["spikes"],
    }
    if opts.keep_spectra:
        out.update(_quantised("data", block["window"]))
        if not _is_poly(opts.baseline):
            out.update(_quantised("initial", block["initial"]))
    return out


def _quantised(name: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """``values`` quantised (`nmcraman.mapspectra.Quantised`), as flat per-pixel arrays.

    Flat, so that the blocks' arrays join as the others do (`_fit_arrays`);
    `MapResult.from_arrays` puts them together again.
    """
    q = Quantised.of(values)
    return {f"{name}_codes": q.codes, f"{name}_offset": q.offset, f"{name}_step": q.step}


def _is_poly(baseline) -> bool:
    """Tell whether the baseline is the joint polynomial alone (no fixed start)."""
    if baseline is None:
        return True
    key = baseline.lower() if isinstance(baseline, str) else ""
    return key == "none" or (key.startswith("poly") and key in BASELINES)


def deconvolve_batch(
    x,
    ys,
    *,
    bands: BandSpec = "auto",
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = "poly3",
    refine: int = 1,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    jobs: int | None = None,
    warm_start: bool = True,
    despike_spectra: bool = False,
    progress: bool | None = None,
    options: FitOptions | None = None,
    baseline_kwargs: dict | None = None,
    map_shape: tuple[int, ...] | None = None,
    coords: np.ndarray | None = None,
    names: list[str] | None = None,
    meta: dict | None = None,
    pooling="none",
    share: str = "partial",
    max_phases: int = MAX_PHASES,
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
    bands, shape, baseline, refine, xmin, xmax, eta, options, baseline_kwargs
        As for `deconvolve`; ``bands="auto"`` fits both presets and keeps, per
        spectrum, the one with the lower BIC.
    jobs : int, optional
        Threads; None uses all cores. Default is None.
    warm_start : bool, optional
        Start each spectrum from the previous one in its row (map row), falling back
        to the prior starts when that fit is poor. A spectrum without a warm start
        (every one if False, the first of each row otherwise) is fitted by the same
        procedure as `deconvolve` (docs: "Maps" for how close). Default is True.
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
    x_full, ys, map_shape = _as_batch(x, ys, baseline, map_shape)
    opts = BatchOptions(
        shape=shape, baseline=baseline, refine=refine, xmin=xmin, xmax=xmax, eta=eta, jobs=jobs,
        warm_start=warm_start, despike_spectra=despike_spectra, progress=progress,
        options=options, baseline_kwargs=baseline_kwargs, keep_spectra=bool(keep_spectra),
    )  # fmt: skip
    target = {"map_shape": map_shape, "coords": coords, "names": names, "meta": meta}
    if not (isinstance(pooling, str) and pooling == "none"):
        check_pooling(pooling, share, max_phases)
        sets = PRESETS if isinstance(bands, str) and bands == "auto" else [bands]
        firsts = {
            (b if isinstance(b, str) and b in PRESETS else "custom"): _fit_arrays(
                x_full, ys, b, opts, map_shape
            )
            for b in sets
        }

        def prepare(rows, geo):
            return _prepare_block(x_full, ys[rows], geo, opts)

        return pool_map(
            firsts, prepare, pooling, share=share, max_phases=max_phases,
            jobs=_workers(jobs), **target,
        )  # fmt: skip
    if isinstance(bands, str) and bands == "auto":
        fits = [_fit_preset(x_full, ys, preset, opts, **target) for preset in PRESETS]
        return MapResult.choose(fits, list(PRESETS))
    return _fit_preset(x_full, ys, bands, opts, **target)


def _as_batch(x, ys, baseline, map_shape) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Check the inputs of `deconvolve_batch`; return ascending x, spectra and map shape."""
    x_raw = as_1d_float(x, "x")
    if baseline is not None and not isinstance(baseline, str) and not callable(baseline):
        raise InputError(
            "a fixed baseline array cannot serve a whole map; give a method name or a"
            " callable f(x, y) evaluated per spectrum."
        )
    ys = np.asarray(ys, dtype=np.float64)
    if ys.ndim != 2 or ys.shape[1] != x_raw.size:
        raise InputError(
            f"spectra must be an array of shape (N, {x_raw.size}) matching x; got {ys.shape}."
        )
    if ys.shape[0] == 0:
        raise InputError("no spectra to fit: the map is empty.")
    order = np.argsort(x_raw, kind="stable")
    x_full = x_raw[order]
    if not np.all(np.isfinite(x_full)) or np.any(np.diff(x_full) == 0):
        raise InputError("x must be finite with no repeated values.")
    map_shape = tuple(map_shape or (ys.shape[0],))
    if int(np.prod(map_shape)) != ys.shape[0]:
        raise InputError(f"map shape {map_shape} does not hold {ys.shape[0]} spectra.")
    return x_full, ys[:, order], map_shape


def _fit_preset(x_full, ys, bands, opts: BatchOptions, *, map_shape, coords, names, meta):
    """Fit every spectrum with one set of bands; assemble the `MapResult`."""
    geo, out = _fit_arrays(x_full, ys, bands, opts, map_shape)
    return MapResult.from_arrays(
        geo, out, map_shape=map_shape, coords=coords, names=names, meta=_preset_meta(meta, bands)
    )


def _preset_meta(meta, bands) -> dict:
    """Return the map's metadata, naming the preset when ``bands`` is one."""
    meta = dict(meta or {})
    if isinstance(bands, str) and bands in PRESETS:
        meta["preset"] = bands
    return meta


def _fit_arrays(x_full, ys, bands, opts: BatchOptions, map_shape):
    """Fit every spectrum with one set of bands, block by block on a pool of threads.

    Returns the `Geometry` and the per-spectrum arrays of `_fit_block` (scaled units).
    """
    geo = geometry(
        x_full, resolve_bands(bands), shape=opts.shape,
        baseline_order=joint_order(opts.baseline, opts.refine), xmin=opts.xmin, xmax=opts.xmax,
        eta=opts.eta, options=opts.options,
    )  # fmt: skip
    n_spec = ys.shape[0]
    chunk_len = map_shape[-1] if len(map_shape) > 1 else max(1, n_spec // 64)
    workers = _workers(opts.jobs)
    per_block = min(BLOCK_PIXELS, -(-n_spec // (BLOCKS_PER_JOB * workers)))
    block = max(chunk_len, (per_block // chunk_len) * chunk_len)
    show = n_spec > 5000 if opts.progress is None else opts.progress

    def fit(start: int) -> dict[str, np.ndarray]:
        return _fit_block(x_full, ys[start : start + block], geo, opts, chunk_len)

    with _progress(n_spec, show) as bar, ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(fit, start): start for start in range(0, n_spec, block)}
        for done in as_completed(futures):
            bar.update(min(block, n_spec - futures[done]))
        parts = [f.result() for f in futures]
    return geo, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _workers(jobs: int | None) -> int:
    """Return the number of threads: ``jobs``, or every core when None."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InputError(f"jobs must be a positive number of threads, got {jobs!r}.")
    return int(jobs)


def _progress(total: int, show: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not show, unit="spectrum", desc="nmcraman", leave=False)


def _as_cube(data, x):
    """Turn the accepted map inputs into (x, ys (N, n), map_shape, coords, names, meta)."""
    if isinstance(data, (str, os.PathLike)):
        return _from_path(data, x)
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
            f"a map must have shape (rows, cols, channels) or (N, channels); got {arr.shape}."
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
    dim = da.dims[-1]
    axis = np.asarray(da[dim].values if dim in da.coords else x, dtype=float)
    if axis is None or axis.ndim != 1:
        raise InputError("the DataArray's last dimension must carry the Raman shift (cm-1).")
    return axis, da.data, da.shape[:-1], None, None, {"dims": list(da.dims)}


def _from_path(path, x):
    from pathlib import Path

    from .io import read_many, read_map

    p = Path(path)
    if p.is_dir() or any(ch in str(path) for ch in "*?["):
        sm = read_many(path)
    else:
        sm = read_map(p)
    names = sm.meta.get("names")
    return sm.x, sm.spectra.reshape(-1, sm.x.size), sm.spectra.shape[:-1], sm.coords, names, sm.meta


def deconvolve_map(
    data,
    x=None,
    *,
    bands: BandSpec = "auto",
    jobs: int | None = None,
    warm_start: bool = True,
    despike_spectra: bool = False,
    progress: bool | None = None,
    pooling="none",
    share: str = "partial",
    max_phases: int = MAX_PHASES,
    keep_spectra: bool | None = None,
    **kwargs,
) -> MapResult:
    """Deconvolve every pixel of a Raman map, each on its own or pooled by phase.

    Parameters
    ----------
    data : array-like, xarray.DataArray, dask array, SpectralMap or path
        A (rows, cols, channels) or (N, channels) cube with its axis ``x``; a
        DataArray whose last dimension is the Raman shift; a dask array (processed
        block by block, so a map larger than memory works and a dask.distributed
        cluster can run it); a map file (`nmcraman.read_map`); or a folder or glob
        of single-spectrum files (one row per file).
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
        `deconvolve` (docs: "Maps" for how close). Default is True.
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
        What the pixels of a phase share, as for `deconvolve_joint`. Default is
        ``"partial"``.
    max_phases : int, optional
        Most phases ``pooling="phases"`` looks for. Default is 6.
    keep_spectra : bool, optional
        Keep each pixel's spectrum in the fit window and its fitted baseline on the
        result (`MapResult.spectra`, `nmcraman.mapspectra`), so that `MapResult.curves`
        and the map's HTML page can draw a pixel's fit. They are kept as 16-bit codes:
        2 bytes a point, a quarter of a float64 cube. None keeps them for an array or
        file held in memory, not for a dask array (a map larger than memory would not
        fit again in a quarter of it). Default is None.
    **kwargs
        ``shape``, ``baseline``, ``refine``, ``xmin``, ``xmax``, ``eta``, ``options``,
        ``baseline_kwargs`` as for `deconvolve`.

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
    x, cube, map_shape, coords, names, meta = _as_cube(data, x)
    common = {
        "bands": bands, "jobs": jobs, "warm_start": warm_start, "progress": progress,
        "despike_spectra": despike_spectra, "coords": coords, "names": names, "meta": meta,
        "pooling": pooling, "share": share, "max_phases": max_phases,
        "keep_spectra": not _is_dask(cube) if keep_spectra is None else keep_spectra, **kwargs,
    }  # fmt: skip
    if _is_dask(cube):
        if not (isinstance(pooling, str) and pooling == "none"):
            raise InputError(
                "pooling a dask array is not supported yet: compute it (cube.compute()) or"
                " use pooling='none'."
            )
        return _dask_map(x, cube, map_shape, common)
    return deconvolve_batch(
        x, np.asarray(cube).reshape(-1, np.asarray(x).size), map_shape=map_shape, **common
    )


def _dask_map(x, cube, map_shape, common) -> MapResult:
    """Fit a dask array one block of map rows per task.

    Each task loads only its rows, so memory stays bounded; the tasks run on the
    active dask scheduler, a dask.distributed cluster included.
    """
    import dask

    rows_per = cube.chunks[0][0]
    # One thread per task: the dask scheduler runs the tasks in parallel.
    kw = dict(common, coords=None, names=None, progress=False, jobs=1)
    tasks = [
        dask.delayed(_fit_rows)(x, cube[start : start + rows_per], map_shape[1:], kw)
        for start in range(0, cube.shape[0], rows_per)
    ]
    merged = MapResult.concat(list(dask.compute(*tasks)), map_shape)
    if common.get("coords") is not None:
        merged.coords = common["coords"]
    return merged


def _fit_rows(x, block, rest_shape, kw) -> MapResult:
    block = np.asarray(block)
    sub_shape = (block.shape[0], *rest_shape)
    return deconvolve_batch(x, block.reshape(-1, block.shape[-1]), map_shape=sub_shape, **kw)
