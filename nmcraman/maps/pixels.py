"""Per-pixel fitting of many spectra on one axis: QC, scaling, one kernel call per block.

The first stage of every map (`nmcraman.maps`, `nmcraman.maps.dask_map`): blocks of spectra
go through vectorised QC and scaling (`prepare_block`), then one kernel call per block
(`fit_block`, no Python per spectrum) on a pool of threads (`fit_arrays`), giving
per-pixel arrays that `MapResult` assembles or `nmcraman.maps.pooled` pools by phase.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace

import numpy as np

from .. import pooled_choice
from .._engine.problem import MIN_SEPARATION, Geometry, geometry
from .._kernels import batch as batch_kernel
from .._kernels import levmar
from .._validation import as_1d_float
from ..bands import PRESETS, band_sets, resolve_bands
from ..baseline import BASELINES, baseline_meta, baseline_stage, joint_order
from ..errors import InputError
from ..model import ModelSpec
from ..qc import despike, has_spike, is_saturated, noise_sigma
from ..results.map import MapResult
from ..results.mapspectra import Quantised
from ..spectrum import Spectrum
from . import build

__all__ = [
    "ArraySource",
    "BatchOptions",
    "assemble",
    "axis_order",
    "batch_options",
    "first_pass",
    "fit_arrays",
    "fit_block",
    "fit_unpooled",
    "map_band_sets",
    "map_geometry",
    "model_meta",
    "pooled_candidates",
    "prepare_block",
    "preset_meta",
    "sample_rows",
    "shared_setting",
    "warm_default",
    "workers",
]  # fmt: skip

#: Most pixels per kernel call: the progress bar advances once per block.
BLOCK_PIXELS = 2048
#: Blocks per thread at least, so that threads finishing early take more work.
BLOCKS_PER_JOB = 8


@dataclass(frozen=True)
class BatchOptions:
    """How `deconvolve_batch` runs: its model and how the spectra are worked through.

    Built once per call (`batch_options`) and passed down whole (to each preset of
    ``bands="auto"`` and each block of spectra), so that a new option is a new field,
    not a new argument threaded through every function.

    Attributes
    ----------
    model : ModelSpec
        What is fitted (`nmcraman.model.ModelSpec`); its ``despike`` is
        `deconvolve_batch`'s ``despike_spectra``.
    jobs, warm_start, progress, keep_spectra
        As the arguments of `deconvolve_batch`.
    """

    model: ModelSpec
    jobs: int | None = None
    warm_start: bool = True
    progress: bool | None = None
    keep_spectra: bool = True

    def with_model(self, **changes) -> BatchOptions:
        """Return a copy whose model has ``changes``."""
        return replace(self, model=self.model.replace(**changes))


def batch_options(
    *, jobs=None, warm_start=None, progress=None, keep_spectra=True, despike_spectra=False,
    pooled=False, **model,
) -> BatchOptions:  # fmt: skip
    """`BatchOptions` from the keyword arguments of `deconvolve_batch` (model ones checked).

    The model's window and baseline default to ``"auto"``, as for `nmcraman.deconvolve`.
    ``warm_start=None`` becomes `warm_default`'s answer for the model and ``pooled``.
    """
    spec = ModelSpec(**model, despike=despike_spectra)
    if warm_start is None:
        warm_start = warm_default(spec, pooled)
    elif not isinstance(warm_start, (bool, np.bool_)):
        raise InputError(f"warm_start must be True, False or None, got {warm_start!r}.")
    return BatchOptions(spec, jobs, bool(warm_start), progress, bool(keep_spectra))


def warm_default(spec: ModelSpec, pooled: bool) -> bool:
    """Whether a map's pixels start from their neighbours' solutions by default.

    Yes for one model on every pixel (the fixed model, or the one setting a pooled map
    chooses): a warm start saves most of a fit's iterations. No where each pixel
    chooses its window and averages its orders (`nmcraman.maps.choice`): there the
    candidates already start from each other's solutions of the same pixel, a warm
    start saves no time, and without it every pixel is `deconvolve`'s fit of its
    spectrum (with it, 4 % of the pixels of a synthetic core-shell map ended in other
    minima; ``benchmarks/results/map_default.md``).
    """
    return pooled or not spec.choosing


def _bad_rows(ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows that cannot be fitted (non-finite, empty or constant) and saturated rows."""
    finite = np.isfinite(ys).all(axis=1)
    flat = np.ptp(np.where(np.isfinite(ys), ys, 0.0), axis=1) == 0
    return ~finite | flat, is_saturated(ys)


def prepare_block(x_full: np.ndarray, ys_full: np.ndarray, geo: Geometry, opts: BatchOptions):
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
    model = opts.model
    baseline, refine, baseline_kwargs = model.baseline, model.refine, model.baseline_kwargs or {}
    if model.despike and good.any():
        ys_full[good], spikes[good] = despike(ys_full[good])
    elif good.any():
        spikes[good] = has_spike(ys_full[good])
    initial = np.zeros((n_spec, geo.x.size))
    if not is_poly(baseline):
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


def fit_block(
    x_full: np.ndarray, ys_full: np.ndarray, geo: Geometry, opts: BatchOptions, chunk_len: int,
    row_starts: np.ndarray | None = None, row_mode: int = batch_kernel.ROW_NONE,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Fit one block of spectra (rows of ``ys_full``); return per-spectrum arrays.

    ``row_starts`` (rows, parameters; NaN where none) and ``row_mode`` give rows their
    own starts (`nmcraman._kernels.batch.fit_batch`).
    """
    n_spec = ys_full.shape[0]
    block = prepare_block(x_full, ys_full, geo, opts)
    ys, scale, sigma, skip = (block[k] for k in ("ys", "scale", "sigma", "skip"))
    lay = geo.layout
    opt = geo.options
    # Pixels without a warm start run the prior starts by ``all_starts`` as
    # `deconvolve` does (`nmcraman._kernels.batch.fit_cold`); warm-started ones by ``warm_ratio``.
    settings = levmar.make_settings(
        geo.shape_code, geo.fit_eta, opt, MIN_SEPARATION, all_starts=opt.all_starts,
        warm_ratio=opt.warm_ratio if opts.warm_start else 0.0,
    )  # fmt: skip
    chunks = np.unique(np.r_[np.arange(0, n_spec, max(chunk_len, 1)), n_spec]).astype(np.int64)
    theta = np.full((n_spec, lay.n_theta), np.nan)
    coef = np.full((n_spec, lay.n_linear), np.nan)
    err = np.full((n_spec, lay.n_errors), np.nan)
    info = np.full((n_spec, len(batch_kernel.INFO)), np.nan)
    if row_starts is None:
        row_starts = np.empty((0, lay.n_theta))
    batch_kernel.fit_batch(
        geo.x, ys, geo.basis, geo.starts, geo.lo, geo.hi, geo.order, geo.link, settings,
        chunks, sigma**2, skip, np.ascontiguousarray(row_starts, dtype=np.float64), row_mode,
        theta, coef, err, info,
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
        out.update(_quantised("data", block["window"], noise=sigma * scale))
        if not is_poly(opts.model.baseline):
            out.update(_quantised("initial", block["initial"]))
    return out


def _quantised(name: str, values: np.ndarray, noise=None) -> dict[str, np.ndarray]:
    """``values`` quantised (`nmcraman.results.mapspectra.Quantised`), as flat per-pixel arrays.

    Flat, so that the blocks' arrays join as the others do (`fit_arrays`);
    `nmcraman.maps.build.from_arrays` puts them together again. The data are quantised on their
    noise (``noise``), the smooth fixed starting baseline on its range.
    """
    q = Quantised.of(values, noise)
    return {f"{name}_codes": q.codes, f"{name}_offset": q.offset, f"{name}_step": q.step}


def is_poly(baseline) -> bool:
    """Tell whether the baseline is the joint polynomial alone (no fixed start)."""
    if baseline is None:
        return True
    key = baseline.lower() if isinstance(baseline, str) else ""
    return key == "none" or (key.startswith("poly") and key in BASELINES)


def axis_order(x, baseline) -> tuple[np.ndarray, np.ndarray]:
    """Check a map's axis and baseline; return the ascending axis and its sorting order."""
    x_raw = as_1d_float(x, "x")
    if baseline is not None and not isinstance(baseline, str) and not callable(baseline):
        raise InputError(
            "a fixed baseline array cannot serve a whole map; give a method name or a"
            " callable f(x, y) evaluated per spectrum."
        )
    order = np.argsort(x_raw, kind="stable")
    x_full = x_raw[order]
    if not np.all(np.isfinite(x_full)) or np.any(np.diff(x_full) == 0):
        raise InputError("x must be finite with no repeated values.")
    return x_full, order


def map_band_sets(bands) -> dict[str, list]:
    """`nmcraman.bands.band_sets` keyed for a map: by preset name, or ``"custom"``."""
    key = bands if isinstance(bands, str) and bands in PRESETS else "custom"
    return {name or key: band_list for name, band_list in band_sets(bands).items()}


def preset_meta(meta, key: str) -> dict:
    """Return the map's metadata, naming the preset when ``key`` is one."""
    meta = dict(meta or {})
    if key != "custom":
        meta["preset"] = key
    return meta


def fit_unpooled(x_full, ys, bands, opts: BatchOptions, *, map_shape, coords, names, meta):
    """Fit every spectrum on its own; for ``bands="auto"`` keep each one's better preset.

    ``x_full`` ascending and ``ys`` (N, n) in its order, as `nmcraman.maps` checks them.
    """
    firsts = first_pass(x_full, ys, bands, opts, map_shape)
    return assemble(firsts, map_shape=map_shape, coords=coords, names=names, meta=meta)


def assemble(firsts: dict, *, map_shape, coords, names, meta) -> MapResult:
    """`MapResult` of per-pixel arrays per band set; for several, each pixel's better one."""
    target = {"map_shape": map_shape, "coords": coords, "names": names}
    fits = [
        build.from_arrays(*geo_out, meta=preset_meta(meta, key), **target)
        for key, geo_out in firsts.items()
    ]
    return fits[0] if len(fits) == 1 else build.choose(fits, list(firsts))


def model_meta(model: ModelSpec, choice: dict | None) -> dict:
    """Return a map's metadata of its model: baseline, specification, the setting chosen."""
    meta = {**baseline_meta(model.baseline, model.refine), "model": model.record()}
    if choice is not None:
        meta["auto_choice"] = choice
    return meta


def first_pass(x_full, ys, bands, opts: BatchOptions, map_shape) -> dict[str, tuple]:
    """Per band set (`map_band_sets`): its `Geometry` and the per-pixel arrays of `fit_arrays`."""
    sets = map_band_sets(bands)
    return {key: fit_arrays(x_full, ys, b, opts, map_shape) for key, b in sets.items()}


def map_geometry(x_full, bands, opts: BatchOptions) -> Geometry:
    """Return the fit window, baseline basis and bounds of every pixel of a map."""
    m = opts.model
    return geometry(
        x_full, resolve_bands(bands), shape=m.shape,
        baseline_order=joint_order(m.baseline, m.refine), xmin=m.xmin, xmax=m.xmax, eta=m.eta,
        options=m.options, window=m.window,
    )  # fmt: skip


def shared_setting(x_full, ys, bands, opts: BatchOptions) -> tuple[BatchOptions, dict | None]:
    """Settle ``window`` and ``baseline`` "auto" once for every spectrum (rows of ``ys``).

    The spectra share one window and basis; the setting is the one with the lowest BIC
    per point summed over up to `pooled_choice.SHARED_SAMPLE` evenly spaced fittable rows of
    ``ys``, with the largest band set of ``bands`` (`pooled_choice.choose_shared`). ``ys``
    holds the map's rows `sample_rows` picks, on the ascending axis ``x_full``: the same
    rows in memory and on a dask array, where only they are computed. Returns the
    options with that setting and its record (None if neither was "auto").
    """
    if not opts.model.choosing:
        return opts, None
    kwargs = opts.model.prepare_kwargs
    bad, saturated = _bad_rows(ys)
    good = np.flatnonzero(~bad & ~saturated)
    picks = np.linspace(0, good.size - 1, min(pooled_choice.SHARED_SAMPLE, good.size)).round()
    rows = ys[good[np.unique(picks).astype(int)]] if good.size else ys[:0]
    if opts.model.despike and rows.size:
        rows = despike(rows)[0]
    largest = max(map_band_sets(bands).values(), key=len)
    fixed, record = pooled_choice.choose_shared(
        x_full, [Spectrum(x_full, y) for y in rows], largest, kwargs
    )
    return opts.with_model(window=fixed["window"], baseline=fixed["baseline"]), record


def pooled_candidates(x_full, bands, opts: BatchOptions, record: dict | None) -> list:
    """Return the settings a pooled map averages (`nmcraman.pooled_choice.pooled_settings`).

    Those of the largest band set of ``bands`` on the ascending axis ``x_full``, with
    ``opts`` as given (window and baseline possibly "auto") and ``record`` of
    `shared_setting`: the chosen setting first, or none when there is nothing to average.
    """
    largest = max(map_band_sets(bands).values(), key=len)
    return pooled_choice.pooled_settings(x_full, largest, opts.model.prepare_kwargs, record)


def sample_rows(n_spec: int) -> np.ndarray:
    """Rows of a map of ``n_spec`` spectra whose spectra settle a shared setting.

    Four times `pooled_choice.SHARED_SAMPLE`, evenly spaced, so that enough are left once
    the unfittable ones are set aside (`shared_setting`).
    """
    idx = np.linspace(0, n_spec - 1, min(4 * pooled_choice.SHARED_SAMPLE, n_spec))
    return np.unique(idx.round()).astype(int)


def fit_arrays(x_full, ys, bands, opts: BatchOptions, map_shape, *, geo: Geometry | None = None,
               row_starts: np.ndarray | None = None,
               row_mode: int = batch_kernel.ROW_NONE):  # fmt: skip
    """Fit every spectrum with one set of bands, block by block on a pool of threads.

    ``geo`` replaces the map's geometry (`map_geometry`); ``row_starts`` and
    ``row_mode`` give spectra their own starts (`fit_block`). Returns the `Geometry`
    and the per-spectrum arrays of `fit_block` (scaled units).
    """
    geo = map_geometry(x_full, bands, opts) if geo is None else geo
    n_spec = ys.shape[0]
    chunk_len = map_shape[-1] if len(map_shape) > 1 else max(1, n_spec // 64)
    threads = workers(opts.jobs)
    per_block = min(BLOCK_PIXELS, -(-n_spec // (BLOCKS_PER_JOB * threads)))
    block = max(chunk_len, (per_block // chunk_len) * chunk_len)
    show = n_spec > 5000 if opts.progress is None else opts.progress

    def fit(start: int) -> dict[str, np.ndarray]:
        own = None if row_starts is None else row_starts[start : start + block]
        return fit_block(x_full, ys[start : start + block], geo, opts, chunk_len, own, row_mode)

    with progress_bar(n_spec, show) as bar, ThreadPoolExecutor(threads) as pool:
        futures = {pool.submit(fit, start): start for start in range(0, n_spec, block)}
        for done in as_completed(futures):
            bar.update(min(block, n_spec - futures[done]))
        parts = [f.result() for f in futures]
    return geo, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class ArraySource:
    """Spectra in memory, as `nmcraman.maps.pooled` reads them.

    `load` prepares rows; `run` runs chunk jobs on a pool of threads. ``x_full`` is
    ascending, ``ys`` (N, n) in its order, ``opts`` the map's options.
    `nmcraman.maps.dask_map.DaskSource` is the same for a dask array.
    """

    def __init__(self, x_full: np.ndarray, ys: np.ndarray, opts: BatchOptions):
        self.x_full, self.ys, self.opts = x_full, ys, opts

    def load(self, rows: np.ndarray, geo: Geometry) -> dict:
        """`prepare_block` of the spectra ``rows``."""
        return prepare_block(self.x_full, self.ys[rows], geo, self.opts)

    def run(self, job: Callable, chunks: list[np.ndarray], args: list[tuple], geo: Geometry):
        """``job(load(rows), *arg)`` for each chunk of rows and its arguments, in parallel."""

        def one(k: int):
            return job(self.load(chunks[k], geo), *args[k])

        threads = max(1, min(workers(self.opts.jobs), len(chunks)))
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, range(len(chunks))))


def workers(jobs: int | None) -> int:
    """Return the number of threads: ``jobs``, or every core when None."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise InputError(f"jobs must be a positive number of threads, got {jobs!r}.")
    return int(jobs)


def progress_bar(total: int, show: bool):
    """Return a tqdm bar over ``total`` spectra, hidden unless ``show``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not show, unit="spectrum", desc="nmcraman", leave=False)
