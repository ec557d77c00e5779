"""Each pixel's window and baseline order, as `nmcraman.deconvolve` chooses them.

With ``window="auto"`` or ``baseline="auto"`` (the defaults), an unpooled map fits
every pixel by `nmcraman.choice`'s rule, on the batch kernels, one candidate at a
time over the whole map instead of one pixel at a time:

1. **Window** (`pixel_windows`): every candidate setting (window rule times baseline
   order, `nmcraman.choice.settings`) is fitted to every pixel with the screening
   options (`nmcraman.choice.screening_options`) and the largest band set; each
   pixel takes the window of its lowest BIC per point.
2. **Orders** (`fit_choosing`): in each window, every order is fitted in full to the
   pixels that chose it, per band set.
3. **Average**: per pixel, the orders are weighted by their BIC per point
   (`nmcraman.choice.order_weights`) and their band tables averaged with the
   spread between them in the errors (`nmcraman.choice.average_numbers`); the
   statistics describe the residual of the averaged fit, as `nmcraman.choice.average`
   does for one spectrum, so that ``bands="auto"`` chooses between band sets by the
   same BIC.

Each pixel thus gets `deconvolve`'s table, up to where warm starts from neighbouring
pixels end in another minimum (``warm_start=False`` fits each pixel from the priors).
The kept spectra (`nmcraman.results.mapspectra`) span the widest window; each pixel's
baseline is re-expressed on it (`_on_window`) and `MapResult.curves` draws it within
the pixel's own window only.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
from numpy.polynomial import legendre

from .. import choice
from .._engine.problem import Geometry
from .._kernels import batch as batch_kernel
from .._kernels import stats as stat_kernels
from ..errors import NmcramanError
from ..model import is_auto
from ..results.map import MapResult
from .pixels import (
    BatchOptions,
    assemble,
    fit_arrays,
    map_band_sets,
    map_geometry,
    prepare_block,
)

__all__ = ["fit_choosing", "fit_per_pixel", "pixel_windows"]


def fit_per_pixel(x_full, ys, bands, opts: BatchOptions, *, map_shape, coords, names,
                  meta) -> MapResult:  # fmt: skip
    """Fit an unpooled map whose window or baseline is ``"auto"``, pixel by pixel.

    ``meta`` gains ``windows``: each window rule's span (cm-1) on the data, which
    ``stats["window"]`` names per pixel; ``auto_choice`` says the choice is per pixel.
    """
    firsts = fit_choosing(x_full, ys, bands, opts, map_shape)
    largest = max(map_band_sets(bands).values(), key=len)
    kwargs = opts.model.prepare_kwargs
    spans = {}
    for c in choice.settings(x_full, largest, kwargs):
        geo = map_geometry(x_full, largest, opts.with_model(**c.overrides))
        spans[c.window] = [float(geo.x[0]), float(geo.x[-1])]
    record = {"criterion": choice.CRITERION, "window": "per pixel" if len(spans) > 1 else
              next(iter(spans)), "baseline": "auto" if is_auto(opts.model.baseline)
              else opts.model.record()["baseline"]}  # fmt: skip
    # The kept baselines have the highest order's coefficients (`_mean_baseline`).
    order = max(c.order for c in choice.settings(x_full, largest, kwargs))
    meta = {**meta, "windows": spans, "auto_choice": record}
    if is_auto(opts.model.baseline):
        meta["baseline_order"] = order
    return assemble(firsts, map_shape=map_shape, coords=coords, names=names, meta=meta)


def _scores(geo: Geometry, out: dict) -> np.ndarray:
    """BIC per point of every pixel of one pass (`choice.score`); inf where not fitted."""
    n = geo.x.size
    info = out["info"]
    rss = info[:, batch_kernel.INFO_COST] * out["scale"] ** 2
    bic = stat_kernels.information_criteria(rss, n, geo.layout.n_fitted)[1] / n
    fitted = (info[:, batch_kernel.INFO_STATUS] != batch_kernel.STATUS_SKIPPED) & np.isfinite(bic)
    return np.where(fitted, bic, np.inf)


def _rows_shape(rows: np.ndarray, n_spec: int, map_shape) -> tuple[int, ...]:
    """Return the map shape of a pass: the map's for every pixel, a line for a subset."""
    return tuple(map_shape) if rows.size == n_spec else (rows.size,)


class Screening(NamedTuple):
    """What the screening passes found (`pixel_windows`).

    ``cands``: the candidate settings (`choice.settings` of the largest band set);
    ``windows``: their window rules in order; ``chosen``: each pixel's index into
    ``windows`` (0 for a pixel no candidate could fit); ``root``: the candidate fitted
    from the priors (the others start from a neighbour candidate's solution of the
    same pixel); ``root_theta``: its solution per pixel (NaN where not fitted).
    """

    cands: list
    windows: list
    chosen: np.ndarray
    root: choice.Setting | None
    root_theta: np.ndarray | None


def pixel_windows(x_full, ys, bands, opts: BatchOptions, map_shape) -> Screening:
    """Choose each pixel's window: the window of its best-scored candidate setting.

    The candidates run as `choice.screen` runs them for one spectrum: the screening
    options, the first prior start for the first candidate and, for each other, the
    solution of the candidate before it (`choice.chain`) of the same pixel
    (`nmcraman._kernels.batch.ROW_SCREEN`). With one window only the first candidate runs:
    its solution starts its full fit (`fit_choosing`), as in `choice.fit_orders`.
    """
    largest = max(map_band_sets(bands).values(), key=len)
    cands = choice.settings(x_full, largest, opts.model.prepare_kwargs)
    windows = list(dict.fromkeys(c.window for c in cands))
    n_spec = ys.shape[0]
    quick = opts.with_model(options=choice.screening_options(opts.model.options))
    scores = np.full((len(cands), n_spec), np.inf)
    thetas: dict[str, np.ndarray] = {}
    root = None
    for c, parent in choice.chain(cands):
        if parent is None and root is None:
            root = c
        elif len(windows) == 1:
            continue
        model = quick.with_model(**c.overrides)
        start = thetas.get(parent)
        try:
            geo = map_geometry(x_full, largest, model)
        except NmcramanError:  # e.g. too few points in this window for its order
            continue
        geo = replace(geo, starts=geo.starts[:1])
        geo, out = fit_arrays(x_full, ys, largest, model, map_shape, geo=geo, row_starts=start,
                              row_mode=batch_kernel.ROW_SCREEN)  # fmt: skip
        thetas[c.label] = out["theta"]
        scores[cands.index(c)] = _scores(geo, out)
    chosen = np.zeros(n_spec, dtype=np.int64)
    if len(windows) > 1:
        best = np.argmin(scores, axis=0)
        rule = np.array([windows.index(c.window) for c in cands])
        chosen = np.where(np.isfinite(scores.min(axis=0)), rule[best], 0)
    root_theta = thetas.get(root.label) if root is not None else None
    return Screening(cands, windows, chosen, root, root_theta)


def fit_choosing(x_full, ys, bands, opts: BatchOptions, map_shape) -> dict[str, tuple]:
    """Fit every pixel with its own window and averaged orders (module docstring).

    ``x_full`` ascending, ``ys`` (N, n) in its order. Returns, per band set of
    ``bands`` (`nmcraman.maps.pixels.map_band_sets`), the geometry of the widest window
    and highest order and the per-pixel arrays that `nmcraman.maps.build.from_arrays` takes,
    with the averaged ``table`` and the statistics of the averaged fit.
    """
    screened = pixel_windows(x_full, ys, bands, opts, map_shape)
    cands, windows, chosen = screened.cands, screened.windows, screened.chosen
    widest = max(cands, key=lambda c: (windows.index(c.window), c.order))
    sets = map_band_sets(bands)
    largest = max(sets.values(), key=len)
    result = {}
    for key, band_list in sets.items():
        geo = map_geometry(x_full, band_list, opts.with_model(**widest.overrides))
        # The screened set's first candidate goes on from its screening solution.
        screened_set = [b.id for b in band_list] == [b.id for b in largest]
        parts = []
        for w, rule in enumerate(windows):
            rows = np.flatnonzero(chosen == w)
            if rows.size:
                mine = [c for c in cands if c.window == rule]
                cont = screened if screened_set else None
                parts.append((rows, _window_average(x_full, ys, rows, band_list, mine, opts,
                                                    map_shape, geo, cont)))  # fmt: skip
        out = _join(parts, ys.shape[0])
        out["window_rule"] = np.array(windows, dtype=object)[chosen]
        result[key] = (geo, out)
    return result


def _window_average(x_full, ys, rows, band_list, mine, opts: BatchOptions, map_shape,
                    union: Geometry, screened: Screening | None) -> dict:  # fmt: skip
    """Fit the orders ``mine`` of one window to the pixels ``rows`` and average them.

    Each order from the priors; the screened first candidate, if among ``mine``, from
    its screening solution too (`nmcraman._kernels.batch.ROW_CONTINUE`).
    """
    shape = _rows_shape(rows, ys.shape[0], map_shape)
    passes = []
    for c in mine:
        own = {}
        if screened is not None and screened.root == c and screened.root_theta is not None:
            own = {"row_starts": screened.root_theta[rows], "row_mode": batch_kernel.ROW_CONTINUE}
        try:
            passes.append(fit_arrays(x_full, ys[rows], band_list, opts.with_model(**c.overrides),
                                     shape, **own))  # fmt: skip
        except NmcramanError:  # too few points for the highest orders, say
            continue
    if not passes:  # every order refused: the lowest order's error
        fit_arrays(x_full, ys[rows], band_list, opts.with_model(**mine[0].overrides), shape)
    scores = np.array([_scores(geo, out) for geo, out in passes])
    with np.errstate(invalid="ignore"):
        weights = np.exp(-0.5 * choice.EVIDENCE_POINTS * (scores - scores.min(axis=0)))
        weights = np.where(np.isfinite(scores), weights, 0.0)
        total = weights.sum(axis=0)
        weights = weights / np.where(total > 0, total, 1.0)
    tables, codes = (np.stack(t) for t in zip(*(_table(g, o) for g, o in passes), strict=True))
    ref_index = np.argmax(weights, axis=0)
    geo_hi = max((g for g, _ in passes), key=lambda g: g.basis.shape[0])
    out = _reference(passes, ref_index)
    out["table"] = choice.average_numbers(tables, weights[:, :, None])
    out["band_flags"] = np.take_along_axis(codes, ref_index[None, :, None], 0)[0]
    top = opts.with_model(**mine[-1].overrides)
    rss, n_fitted = _averaged_rss(x_full, ys[rows], passes, weights, geo_hi, ref_index, top)
    n = geo_hi.x.size
    out["rss"] = rss
    out["n_points"] = np.full(rows.size, n)
    out["n_fitted"] = n_fitted
    out["redchi"] = rss / np.maximum(n - n_fitted, 1)
    coef = _mean_baseline(passes, weights, geo_hi)
    out["baseline_coef"] = _on_window(coef, geo_hi.x, union.x)
    if opts.keep_spectra:
        out.update(_kept(x_full, ys[rows], union, top))
    return out


def _table(geo: Geometry, out: dict) -> tuple[np.ndarray, np.ndarray]:
    """Return the band table (`stat_kernels.TABLE_ROWS`, pixels, bands) and flags of one pass."""
    nb = geo.layout.nb
    n_pix = out["theta"].shape[0]
    table = np.empty((len(stat_kernels.TABLE_ROWS), n_pix, nb))
    codes = np.empty((n_pix, nb), dtype=np.int64)
    stat_kernels.band_tables(out["theta"], out["coef"], out["err"], out["scale"], nb,
                       geo.shape_code, geo.lo, geo.hi, table, codes)  # fmt: skip
    return table, codes


def _reference(passes, ref_index: np.ndarray) -> dict:
    """Per pixel, the arrays of its reference fit (the order of largest weight)."""
    keys = ("info", "sigma", "bad", "saturated", "spikes", "theta")
    out = {}
    for k in keys:
        stacked = np.stack([o[k] for _, o in passes])
        index = ref_index.reshape((1, -1) + (1,) * (stacked.ndim - 2))
        out[k] = np.take_along_axis(stacked, index, 0)[0]
    out["scale"] = passes[0][1]["scale"]
    return out


def _padded(geo: Geometry, out: dict, width: int) -> np.ndarray:
    """Return a pass's areas and baseline coefficients, zeros past its order up to ``width``."""
    coef = out["coef"]
    padded = np.zeros((coef.shape[0], width))
    padded[:, : coef.shape[1]] = np.nan_to_num(coef)
    return padded


def _averaged_rss(x_full, ys_rows, passes, weights, geo_hi: Geometry, ref_index, opts):
    """Residual sum of squares of the averaged fits (data units), the reference's k."""
    width = geo_hi.layout.nb + geo_hi.basis.shape[0]
    thetas = np.stack([np.nan_to_num(o["theta"]) for _, o in passes])
    coefs = np.stack([_padded(g, o, width) for g, o in passes])
    block = prepare_block(x_full, ys_rows, geo_hi, opts)
    rss = np.empty(ys_rows.shape[0])
    batch_kernel.averaged_rss(geo_hi.x, block["ys"], geo_hi.basis, thetas, coefs,
                        np.ascontiguousarray(weights), geo_hi.layout.nb, geo_hi.shape_code,
                        rss)  # fmt: skip
    n_fitted = np.array([g.layout.n_fitted for g, _ in passes])[ref_index]
    return rss * block["scale"] ** 2, n_fitted


def _mean_baseline(passes, weights, geo_hi: Geometry) -> np.ndarray:
    """Weighted mean of the passes' baseline coefficients (data units, highest order)."""
    nb = geo_hi.layout.nb
    width = nb + geo_hi.basis.shape[0]
    coefs = np.stack([_padded(g, o, width)[:, nb:] * o["scale"][:, None] for g, o in passes])
    return np.einsum("fp,fpk->pk", weights, coefs)


def _on_window(coef: np.ndarray, x_own: np.ndarray, x_union: np.ndarray) -> np.ndarray:
    """Legendre coefficients on ``x_own``'s span re-expressed on ``x_union``'s span.

    `nmcraman.baseline.legendre_basis` maps each window's ends to -1 and 1; the same
    polynomial over the widest window has other coefficients, of the same order.
    """
    order = coef.shape[1] - 1
    if order < 0 or (x_own[0] == x_union[0] and x_own[-1] == x_union[-1]):
        return coef
    convert = np.zeros((order + 1, order + 1))
    for j in range(order + 1):
        unit = legendre.Legendre.basis(j, domain=[x_own[0], x_own[-1]])
        c = unit.convert(domain=[x_union[0], x_union[-1]]).coef[: order + 1]
        convert[: c.size, j] = c
    return coef @ convert.T


def _kept(x_full, ys_rows, union: Geometry, opts: BatchOptions) -> dict:
    """Quantise the pixels' data (and fixed starting baseline) over the widest window, quantised."""
    from .pixels import _quantised, is_poly

    block = prepare_block(x_full, ys_rows, union, opts)
    out = _quantised("data", block["window"], noise=block["sigma"] * block["scale"])
    if not is_poly(opts.model.baseline):
        out.update(_quantised("initial", block["initial"]))
    return out


def _join(parts, n_spec: int) -> dict:
    """Per-pixel arrays of the windows' pixels, put back in map order.

    Every array has pixels first, but ``table`` (`stat_kernels.TABLE_ROWS`, pixels, bands).
    """
    out = {}
    for key, first in parts[0][1].items():
        axis = 1 if key == "table" else 0
        shape = list(first.shape)
        shape[axis] = n_spec
        full = np.empty(shape, dtype=first.dtype)
        for rows, part in parts:
            if axis:
                full[:, rows] = part[key]
            else:
                full[rows] = part[key]
        out[key] = full
    return out
