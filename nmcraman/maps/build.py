"""Build a `MapResult` from the per-pixel arrays of the batch kernels.

The map drivers (`nmcraman.maps.pixels`, `nmcraman.maps.pooled`, `nmcraman.maps.choice`)
fit; this module turns their arrays into the result: band tables and flags from the
kernels' solutions (`from_arrays`), and, for ``bands="auto"``, each pixel's better
band set (`choose`). `MapResult` itself only holds, queries and exports.
"""

from __future__ import annotations

import numpy as np

from .._engine.problem import Geometry
from .._kernels import batch as batch_kernel
from .._kernels import stats as stat_kernels
from .._kernels.levmar import STATUS_MAX_ITER
from ..bands import held_parameters
from ..qc import is_low_snr, is_poor_fit, signal_to_noise
from ..results.map import _BIT, BAND_PARAMS, MapResult
from ..results.mapspectra import MapSpectra, Quantised

__all__ = ["choose", "from_arrays", "join_blocks"]


def from_arrays(geo: Geometry, out: dict, *, map_shape, coords, names, meta) -> MapResult:
    """Assemble from the arrays of `nmcraman.maps.pixels.fit_block` (scaled units)."""
    lay = geo.layout
    nb = lay.nb
    theta, info, scale = (out[k] for k in ("theta", "info", "scale"))
    n_pix = theta.shape[0]
    if "table" in out:  # averaged over orders already (`nmcraman.maps.choice`)
        table, band_flags = out["table"], out["band_flags"]
    else:
        table = np.empty((len(BAND_PARAMS), n_pix, nb))
        band_flags = np.empty((n_pix, nb), dtype=np.int64)
        stat_kernels.band_tables(theta, out["coef"], out["err"], scale, nb, geo.shape_code, geo.lo,
                      geo.hi, table, band_flags)  # fmt: skip
    params = dict(zip(BAND_PARAMS, table, strict=True))
    n = out.get("n_points", geo.x.size)
    status = info[:, batch_kernel.INFO_STATUS]
    skipped = status == batch_kernel.STATUS_SKIPPED
    converged = ~skipped & (status != STATUS_MAX_ITER)
    band_flags[skipped] = 0
    at_bound = (
        band_flags & (stat_kernels.FLAG_POSITION_AT_BOUND | stat_kernels.FLAG_FWHM_AT_BOUND)
    ) != 0
    unresolved = (band_flags & stat_kernels.FLAG_UNRESOLVED) != 0
    with np.errstate(invalid="ignore"):
        sigma = out["sigma"]
        snr = signal_to_noise(params["height"], sigma)
        redchi = out.get("redchi", info[:, batch_kernel.INFO_REDCHI] * scale**2)
        rss = out.get("rss", info[:, batch_kernel.INFO_COST] * scale**2)
        bic = stat_kernels.information_criteria(rss, n, out.get("n_fitted", lay.n_fitted))[1]
        flags = (
            out["bad"] * _BIT["bad_input"]
            + out["saturated"] * _BIT["saturated"]
            + out["spikes"] * _BIT["spike"]
            + (~skipped & ~converged) * _BIT["not_converged"]
            + at_bound.any(axis=1) * _BIT["band_at_bound"]
            + unresolved.any(axis=1) * _BIT["band_unresolved"]
            + (~skipped & is_low_snr(snr)) * _BIT["low_snr"]
            + (~skipped & is_poor_fit(redchi, sigma)) * _BIT["poor_fit"]
        )
    for v in params.values():
        v[skipped] = np.nan
    stats = {
        "redchi": np.where(skipped, np.nan, redchi),
        "bic": np.where(skipped, np.nan, bic),
        "noise": sigma,
        "snr": np.where(skipped, np.nan, snr),
        "n_iter": np.where(skipped, 0, info[:, batch_kernel.INFO_N_ITER]).astype(int),
        "converged": converged,
        "warm": info[:, batch_kernel.INFO_START] == batch_kernel.START_WARM,
        "flags": flags.astype(np.int64),
        "model": np.where(skipped, "none", meta.get("preset", "custom")).astype(object),
    }
    if geo.shape == "pseudo_voigt":
        stats["eta"] = np.where(skipped, np.nan, theta[:, lay.eta])
    if "window_rule" in out:  # each pixel's own window (`nmcraman.maps.choice`)
        stats["window"] = np.where(skipped, "none", out["window_rule"]).astype(object)
    meta = dict(meta)
    meta.update(
        shape_name=geo.shape,
        window=(float(geo.x[0]), float(geo.x[-1])),
        n_points=int(geo.x.size),
    )
    held = held_parameters(geo.bands)
    if held:
        meta["held"] = held
    return MapResult(
        shape=map_shape, bands=[b.id for b in geo.bands], labels=[b.label for b in geo.bands],
        params=params, stats=stats, band_flags=band_flags, coords=coords, names=names,
        meta=meta, spectra=_spectra(geo, out),
    )  # fmt: skip


def choose(fits: list[MapResult], names: list[str], chosen=None) -> MapResult:
    """Per pixel, keep the fit with the lowest BIC (``bands="auto"`` on maps).

    ``chosen`` (pixels,), if given, is the index of the fit to keep instead (a pooled
    map keeps the band set its phase was pooled with).
    """
    bic = np.array([f.stats["bic"] for f in fits])
    bic = np.where(np.isnan(bic), np.inf, bic)
    best = np.argmin(bic, axis=0) if chosen is None else np.asarray(chosen)
    src = fits[max(range(len(fits)), key=lambda i: len(fits[i].bands))]
    # Copies: the fits given are left as they were.
    params = {key: arr.copy() for key, arr in src.params.items()}
    stats = {key: np.array(arr, copy=True) for key, arr in src.stats.items()}
    band_flags = src.band_flags.copy()
    spectra = src.spectra
    for i, f in enumerate(fits):
        if f is src:
            continue
        pick = best == i
        cols = [src.bands.index(b) for b in f.bands]
        missing = [j for j, b in enumerate(src.bands) if b not in f.bands]
        for key, arr in params.items():
            arr[np.ix_(pick, cols)] = f.params[key][pick]
            arr[np.ix_(pick, missing)] = np.nan
        band_flags[np.ix_(pick, cols)] = f.band_flags[pick]
        band_flags[np.ix_(pick, missing)] = 0
        for key, arr in stats.items():
            if key != "model":
                arr[pick] = f.stats[key][pick]
        if spectra is not None and f.spectra is not None:
            spectra = spectra.with_baselines(pick, f.spectra)
    stats["model"] = np.where(
        np.isinf(bic).all(axis=0), "none", np.array(names, dtype=object)[best]
    )
    # The band set is each pixel's own (``stats["model"]``), not the widest one's.
    meta = {**src.meta, "preset": "auto: " + ", ".join(names), "criterion": "bic"}
    return MapResult(
        shape=src.shape, bands=src.bands, labels=src.labels, params=params, stats=stats,
        band_flags=band_flags, coords=src.coords, names=src.names, meta=meta,
        spectra=spectra, dims=src.dims, dim_coords=src.dim_coords,
    )  # fmt: skip


def _spectra(geo: Geometry, out: dict) -> MapSpectra | None:
    """Return the spectra that `nmcraman.maps.pixels.fit_block` kept (baseline in data units)."""
    if "data_codes" not in out:
        return None

    def kept(name: str) -> Quantised | None:
        if f"{name}_codes" not in out:
            return None
        return Quantised(*(out[f"{name}_{k}"] for k in ("codes", "offset", "step")))

    if "baseline_coef" in out:  # averaged over orders already (`nmcraman.maps.choice`)
        coef = out["baseline_coef"]
    else:
        coef = out["coef"][:, geo.layout.nb :] * out["scale"][:, None]
    return MapSpectra(np.array(geo.x), kept("data"), coef, kept("initial"))


def join_blocks(parts: list[MapResult], shape: tuple[int, ...]) -> MapResult:
    """Join the maps of consecutive blocks of pixels (a dask array's chunks) into one."""
    first = parts[0]
    return MapResult(
        shape=shape,
        bands=first.bands,
        labels=first.labels,
        params={k: np.concatenate([p.params[k] for p in parts]) for k in first.params},
        stats={k: np.concatenate([p.stats[k] for p in parts]) for k in first.stats},
        band_flags=np.concatenate([p.band_flags for p in parts]),
        coords=None,
        names=None,
        meta=first.meta,
        spectra=(
            MapSpectra.concat([p.spectra for p in parts])
            if all(p.spectra is not None for p in parts)
            else None
        ),
    )
