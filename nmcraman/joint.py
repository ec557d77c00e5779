"""Joint deconvolution of many spectra of one sample: band shapes shared, areas per spectrum.

One NMC spectrum does not pin down seven broad overlapping bands; the spectra of other
spots of the same sample do, because their area ratios differ while their band
positions and widths do not (or hardly). The flow is: each spectrum alone
(`nmcraman.deconvolve`, for a robust start and for the sharing test) -> the median of
their centres and widths -> one fit of all spectra with the parameters shared as
``share`` says (`nmcraman._engine.pooled`) -> a `JointResult`.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from . import choice, pooled_choice
from ._engine import pooled as pooled_engine
from ._engine import tau as tau_engine
from ._engine.problem import MIN_SEPARATION, parameter_map, prepare
from ._kernels.stats import TABLE_ROWS
from ._validation import check_read, reading_with_read, refuse_file_options
from .bands import Band, BandSpec, band_sets
from .errors import InputError, NmcramanError
from .fit import despiked, fit_spectrum
from .misfit import MisfitTest, mean_residual_test, moments
from .model import AUTO, ModelSpec
from .options import FitOptions
from .qc import MODEL_MISFIT, noise_sigma
from .results.joint import SUMMARY_COLUMNS, JointResult
from .results.result import Result, choose_model
from .spectrum import SpectralMap, Spectrum, check_shift

__all__ = ["SHARES", "deconvolve_joint"]

#: What ``share=`` accepts: which of the band parameters every spectrum shares.
SHARES: dict[str, str] = {
    "shape": "positions and FWHMs shared by every spectrum",
    "position": "positions shared; FWHMs per spectrum",
    "fwhm": "FWHMs shared; positions per spectrum",
    "partial": "positions and FWHMs per spectrum, drawn towards shared values by a spread"
    " estimated from the data",
    "none": "independent fits, as deconvolve gives them spectrum by spectrum",
}
#: Kind of the position and FWHM slots (`nmcraman._engine.pooled`) for each ``share``.
_KINDS = {
    "shape": (pooled_engine.SHARED, pooled_engine.SHARED),
    "position": (pooled_engine.SHARED, pooled_engine.FREE),
    "fwhm": (pooled_engine.FREE, pooled_engine.SHARED),
    "partial": (pooled_engine.POOLED, pooled_engine.POOLED),
}
#: Level of the likelihood-ratio test below which shared values are flagged as not
#: consistent with the data (``stats["sharing_consistent"]``).
ALPHA = 0.01


def _expand(item) -> list[tuple[str, Spectrum | str]]:
    if isinstance(item, (str, os.PathLike)):
        text = os.fspath(item)
        # A file that exists is taken as named, so that "a[1].txt" is not a pattern.
        literal = os.path.exists(text) or not glob.has_magic(text)
        paths = [text] if literal else sorted(glob.glob(text))
        if not paths:
            raise InputError(f"no file matches {text!r}.")
        return [(p, p) for p in paths]
    if isinstance(item, Spectrum):
        return [("", item)]
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return [("", Spectrum(item[0], item[1]))]
    raise InputError(
        f"cannot read a spectrum from a {type(item).__name__}: give (x, y) pairs, Spectrum"
        " objects, file paths or globs."
    )


def _as_spectra(spectra, x) -> list[tuple[str, Spectrum | str]]:
    """Return the set as (name, Spectrum or path) pairs; unnamed ones get their index."""
    if isinstance(spectra, SpectralMap):
        ys = spectra.spectra.reshape(-1, spectra.x.size)
        items = [("", Spectrum(spectra.x, y)) for y in ys]
    elif isinstance(spectra, np.ndarray) and spectra.ndim == 2:
        if x is None:
            raise InputError("an (N, channels) array of spectra needs its axis: give x.")
        items = [("", Spectrum(x, y)) for y in spectra]
    elif isinstance(spectra, (str, os.PathLike)):
        items = _expand(spectra)
    elif isinstance(spectra, Sequence):
        items = [pair for item in spectra for pair in _expand(item)]
    else:
        raise InputError(
            "spectra must be a list of (x, y) pairs, Spectrum objects or paths, a glob,"
            f" a SpectralMap or an (N, channels) array; got {type(spectra).__name__}."
        )
    if x is not None and not isinstance(spectra, np.ndarray):
        raise InputError("x is only for an (N, channels) array of spectra.")
    return [(name or str(i), s) for i, (name, s) in enumerate(items)]


def deconvolve_joint(
    spectra,
    x=None,
    *,
    bands: BandSpec = "auto",
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = AUTO,
    window: str | tuple[float | None, float | None] = AUTO,
    share: str = "partial",
    tau: tuple[float, float] | None = None,
    eta: float | None = None,
    refine: int = 1,
    baseline_kwargs: dict | None = None,
    options: FitOptions | None = None,
    criterion: str = "bic",
    despike: bool = False,
    shift: float = 0.0,
    read: dict | None = None,
) -> JointResult:
    """Deconvolve several spectra of one sample together, sharing band shapes.

    Parameters
    ----------
    spectra : list, str, SpectralMap or array
        (x, y) pairs (axes may differ), `Spectrum` objects, file paths or globs; a
        glob; a `SpectralMap`; or an (N, channels) array with its axis ``x`` (cm-1).
    bands, shape, baseline, window, eta, refine, baseline_kwargs, options, criterion
        As for `nmcraman.deconvolve`; ``bands="auto"`` chooses once for the set. With
        ``share="none"`` the "auto" window and baseline choose per spectrum (each table
        is `deconvolve`'s); when shapes are shared, the set is fitted with every window
        and order, averaged by its BIC per point (`nmcraman.pooled_choice.pooled_weights`).
    share : {"partial", "shape", "position", "fwhm", "none"}, optional
        ``"partial"`` (default): each spectrum keeps its own positions and FWHMs, drawn
        towards shared values by a spread estimated from the data; ``"shape"``: both
        shared; ``"position"``, ``"fwhm"``: that one; ``"none"``: independent fits.
    tau : (float, float), optional
        Partial pooling's spread of positions (cm-1) and of FWHMs (relative to the
        median of the spectra's own FWHMs), given instead of estimated.
    despike, shift, read : optional
        As for `nmcraman.deconvolve`, for every spectrum; ``read`` for files only.

    Returns
    -------
    JointResult
        ``.summary`` (the sample's Table S3 with error bars), ``.table``,
        ``.results`` (a `Result` per spectrum), ``.stats`` (with the test of whether
        the shared values agree with the data), ``.report()``. A set whose mean
        residual keeps structure (`nmcraman.misfit`) falls back to each spectrum's own
        fit, flagged ``model_misfit``. Why: docs "Many spectra of one sample".

    Examples
    --------
    >>> from nmcraman import deconvolve_joint, synthetic
    >>> sets = [synthetic.simulate("Core_75", snr=150, rng=i) for i in range(4)]
    >>> jr = deconvolve_joint([(s.x, s.y) for s in sets], bands="nmc")
    >>> list(jr.summary["band"])
    ['Ni_Eg', 'Co_Eg', 'Co_A1g', 'Ni_A1g', 'Mn_Eg', 'Mn_A1g']
    """
    if not isinstance(share, str) or share not in SHARES:
        raise InputError(f"unknown share {share!r}; use one of {', '.join(SHARES)}.")
    spec = ModelSpec(
        bands=bands, shape=shape, eta=eta, baseline=baseline, refine=refine,
        baseline_kwargs=baseline_kwargs, window=window, options=options, criterion=criterion,
        despike=despike,
    )  # fmt: skip
    if tau is not None:
        tau = _check_tau(tau, share)
    items = _as_spectra(spectra, x)
    if len(items) < 2:
        raise InputError(f"a joint fit needs two or more spectra, got {len(items)}.")
    names = tuple(n for n, _ in items)
    sources = _spectra_of(items, check_shift(shift), check_read(read))
    if spec.despike:
        sources = [despiked(s) for s in sources]
    band_lists = band_sets(spec.bands)
    auto = "" not in band_lists
    if share == "none":  # each spectrum on its own: its own window and orders too
        kw, record = spec.prepare_kwargs, None
    else:
        kw, record = _shared_setting(sources, max(band_lists.values(), key=len), spec)
    fits = {
        k: _with_record(_fit_set(names, sources, b, share, tau, kw), record, spec)
        for k, b in band_lists.items()
    }
    jr = choose_model(fits, spec.criterion) if auto else fits[""]
    if share == "none" or record is None:
        return jr
    band_list = band_lists[jr.model_choice["chosen"] if auto else ""]
    return _averaged(jr, names, sources, band_list, share, tau, kw, record, spec)


def _shared_setting(sources: list[Spectrum], band_list: list[Band], spec: ModelSpec):
    """Settle ``window`` and ``baseline`` "auto" once for the set (`pooled_choice.choose_shared`).

    The candidates are those of the widest axis, scored on each spectrum and summed.
    Returns the keyword arguments of `nmcraman._engine.problem.prepare` and the choice's record.
    """
    kw = spec.prepare_kwargs
    if not spec.choosing:
        return kw, None
    widest = max(sources, key=lambda s: float(s.x.max() - s.x.min())).x
    return pooled_choice.choose_shared(np.sort(widest), sources, band_list, kw)


def _averaged(jr: JointResult, names, sources, band_list, share, tau, kw, record,
              spec: ModelSpec) -> JointResult:  # fmt: skip
    """Fit the set with every candidate setting; average the fits by the set's evidence.

    ``jr`` is the fit with the setting `pooled_choice.choose_shared` chose (``kw``, its
    ``record``), which also chose the band set; every other candidate of
    `pooled_choice.pooled_settings` is fitted to the set in the same way, each scored by its
    `pooled_choice.pooled_score` and weighted by `choice.order_weights`. Each spectrum's
    table is the weighted average with the spread between candidates in its errors
    (`pooled_choice.average_tables`), and so is the summary (`_average_summary`); curves and
    statistics are those of the candidate of the largest weight. A candidate the
    library refuses (too few points in its window, say) is left out. ``jr`` unchanged
    when there is nothing to average (`pooled_choice.pooled_settings`). When every
    candidate fails the set's misfit check with structure at the window's low end,
    the first window is fitted again past it (`pooled_choice.trimmed_settings`), as a
    pooled map's phase is.
    """
    widest = max(sources, key=lambda s: float(s.x.max() - s.x.min())).x
    cands = pooled_choice.pooled_settings(np.sort(widest), band_list, spec.prepare_kwargs, record)
    if not cands:
        return jr
    fits, kept = [jr], [cands[0]]
    _fit_candidates(fits, kept, cands[1:], (names, sources, band_list, share, tau, kw))
    more = pooled_choice.trimmed_settings(kept, [[f.stats for f in fits]], spec.xmin)
    _fit_candidates(fits, kept, more, (names, sources, band_list, share, tau, kw))
    flagged = [bool(f.stats.get("model_misfit")) for f in fits]
    tested = [np.isfinite(f.stats.get("misfit_pvalue") or np.nan) for f in fits]
    scores, _ = pooled_choice.without_misfits([_set_score(f) for f in fits], flagged, tested)
    # Each spectrum's evidence, for at most as many spectra as choose_shared scores: a
    # large set (a map's pixels fitted jointly) is no longer a few separate spots.
    credited = min(len(names), pooled_choice.SHARED_SAMPLE)
    weights = pooled_choice.pooled_weights(scores, credited, [c.window for c in kept], "set")
    rec = pooled_choice.pooled_record(record, kept, scores, weights)
    model = spec.record()
    results = tuple(
        dataclasses.replace(
            r := pooled_choice.average_tables([f.results[s] for f in fits], weights, rec),
            meta={**r.meta, "model": model},
        )
        for s in range(len(names))
    )
    ref = fits[int(np.argmax(weights))]
    summary = _average_summary([f.summary for f in fits], weights, results)
    return dataclasses.replace(jr, results=results, summary=summary, stats=ref.stats)


def _fit_candidates(fits: list, kept: list, cands, args: tuple) -> None:
    """Fit the set with each candidate of ``cands``, appending to ``fits`` and ``kept``.

    ``args``: names, sources, band list, share, tau and the keyword arguments of the
    set's setting. A candidate the library refuses (too few points in its window for
    its order, say) is left out.
    """
    names, sources, band_list, share, tau, kw = args
    for c in cands:
        try:
            fits.append(_fit_set(names, sources, band_list, share, tau, {**kw, **c.overrides}))
        except NmcramanError:
            continue
        kept.append(c)


def _set_score(jr: JointResult) -> float:
    """`pooled_choice.pooled_score` of a joint fit: its spectra's residuals, its parameter count."""
    rss = [r.stats["chi2"] for r in jr.results]
    n = [r.stats["n_points"] for r in jr.results]
    return pooled_choice.pooled_score(rss, n, jr.stats["n_params"])


def _average_summary(summaries: list[pd.DataFrame], weights, results) -> pd.DataFrame:
    """Summaries of a set's candidate fits averaged as `choice.average_numbers` does.

    Position, FWHM and area %: weighted means, errors with the spread between the
    candidates; ``area_pct_sd`` the spread between the averaged spectra's area %; the
    other columns the reference's (the largest weight).
    """
    rows = list(TABLE_ROWS)
    values = np.full((len(summaries), len(rows), len(summaries[0])), np.nan)
    for f, frame in enumerate(summaries):
        for col in ("position", "position_err", "fwhm", "fwhm_err", "area_pct", "area_pct_err"):
            values[f, rows.index(col)] = frame[col].to_numpy(dtype=float)
    numbers = choice.average_numbers(values, np.asarray(weights)[:, None])
    out = summaries[int(np.argmax(weights))].copy()
    for col in ("position", "position_err", "fwhm", "fwhm_err", "area_pct", "area_pct_err"):
        out[col] = numbers[rows.index(col)]
    pct = np.array([r.table["area_pct"].to_numpy() for r in results])
    out["area_pct_sd"] = pct.std(axis=0, ddof=1)
    return out


def _with_record(jr: JointResult, record: dict | None, spec: ModelSpec) -> JointResult:
    """``jr`` with the model and the setting choice in each spectrum's ``meta``.

    ``meta["model"]`` is ``spec``'s record (`ModelSpec.record`), ``meta["auto_choice"]``
    the set's choice of window and baseline, if there was one.
    """
    model = spec.record()

    def mark(r: Result) -> Result:
        r = choice.with_record(r, record)
        return dataclasses.replace(r, meta={**r.meta, "model": model})

    return dataclasses.replace(jr, results=tuple(mark(r) for r in jr.results))


def _spectra_of(items, shift: float, read: dict) -> list[Spectrum]:
    """Read the files of the set with the reader options ``read``; shift every spectrum."""
    from .io import read_spectrum

    if all(isinstance(s, Spectrum) for _, s in items):
        refuse_file_options(read)
    reader = {"shift": shift, **read}
    out = []
    for _, s in items:
        if not isinstance(s, Spectrum):
            with reading_with_read():
                out.append(read_spectrum(s, **reader))
        else:
            out.append(s.shifted(shift) if shift else s)
    return out


def _check_tau(tau, share: str) -> tuple[float, float]:
    if share != "partial":
        raise InputError("tau is the spread of partial pooling: use it with share='partial'.")
    try:
        pos, rel = (float(t) for t in tau)
    except (TypeError, ValueError):
        raise InputError(
            f"tau must be two numbers (positions in cm-1, FWHMs relative), got {tau!r}."
        ) from None
    if not (np.isfinite(pos) and np.isfinite(rel) and pos > 0 and rel > 0):
        raise InputError(f"tau must be two positive numbers, got {tau!r}.")
    return pos, rel


def _fit_set(names, spectra, band_list: list[Band], share, tau, kw) -> JointResult:
    singles = [fit_spectrum(s, ModelSpec(bands=band_list, **kw)) for s in spectra]
    if share == "none":
        return _independent(names, singles)
    problems = [prepare(s, band_list, **kw) for s in spectra]
    setup = _Setup(problems, singles, _KINDS[share])
    if share == "partial":
        fit, cov, tau = setup.partial(tau)
    else:
        fit = setup.fit(np.zeros(setup.model.q))
        cov = setup.covariance(fit, np.zeros(setup.model.q))
    jr = setup.result(names, share, fit, cov, tau)
    test = _misfit_test(
        jr.results, int(np.sum(setup.model.kind != pooled_engine.SHARED)) + setup.n_lin
    )
    if not test.misfit:
        return dataclasses.replace(jr, stats={**jr.stats, **test.record()})
    # The fallback: the set's shapes are not shared through a model that misses
    # something every spectrum has; each spectrum keeps its own fit and errors.
    own = _independent(names, singles)
    flagged = tuple(dataclasses.replace(r, table=_flagged(r.table)) for r in own.results)
    return dataclasses.replace(
        own, results=flagged, summary=_flagged(own.summary),
        stats={**own.stats, "share_asked": share, **test.record()},
    )  # fmt: skip


def _misfit_test(results, removed: int) -> MisfitTest:
    """Test the mean residual of a pooled set's spectra for structure (`nmcraman.misfit`).

    ``removed``: the parameters each spectrum fits that the set does not share exactly.
    """
    found = [moments(r.x, r.residual[None], noise_sigma(r.y[None])) for r in results]
    return mean_residual_test(sum(found[1:], found[0]), removed)


def _flagged(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with `MODEL_MISFIT` added to every row's flag."""
    out = table.copy()
    out["flag"] = [MODEL_MISFIT if f == "ok" else f"{f};{MODEL_MISFIT}" for f in out["flag"]]
    return out


def _independent(names, singles: list[Result]) -> JointResult:
    chi2 = sum(r.stats["chi2"] / noise_sigma(r.y[None])[0] ** 2 for r in singles)
    n = sum(r.stats["n_points"] for r in singles)
    k = sum(r.stats["n_params"] for r in singles)
    stats = _stats("none", len(singles), chi2, n, k, sum(r.stats["n_iter"] for r in singles),
                   all(r.stats["converged"] for r in singles))  # fmt: skip
    tab = pd.concat([r.table for r in singles])
    g = tab.groupby("band", sort=False)
    pos, fwhm = g["position"], g["fwhm"]
    summary = _summary(
        singles[0], pos.mean(), pos.std() / np.sqrt(len(singles)), fwhm.mean(),
        fwhm.std() / np.sqrt(len(singles)), singles,
    )  # fmt: skip
    return JointResult(tuple(names), tuple(singles), summary, stats)


def _stats(share, n_spectra, chi2, n, k, n_iter, converged, **extra) -> dict:
    dof = max(n - k, 1)
    return {
        "share": share,
        "n_spectra": n_spectra,
        "chi2": float(chi2),
        "redchi": float(chi2 / dof),
        "n_points": int(n),
        "n_params": int(k),
        "n_iter": int(n_iter),
        "converged": bool(converged),
        "aic": float(chi2 + 2 * k),
        "bic": float(chi2 + np.log(n) * k),
        "lr_statistic": None,
        "lr_df": None,
        "lr_pvalue": None,
        "sharing_consistent": None,
        "tau_position": None,
        "tau_fwhm": None,
        "misfit_statistic": None,
        "misfit_df": None,
        "misfit_pvalue": None,
        "model_misfit": None,
        "misfit_low_edge": None,
        "share_asked": None,
        **extra,
    }


def _summary(first: Result, pos, pos_err, fwhm, fwhm_err, results) -> pd.DataFrame:
    pct = np.array([r.table["area_pct"].to_numpy() for r in results])
    flags = np.array([r.table["flag"].to_numpy() for r in results])
    n = len(results)
    flag = []
    for k in range(pct.shape[1]):
        bad = flags[:, k] != "ok"
        if bad.sum() * 2 > n:
            values, counts = np.unique(flags[bad, k], return_counts=True)
            flag.append(f"{values[np.argmax(counts)]} ({bad.sum()} of {n})")
        else:
            flag.append("ok")
    frame = pd.DataFrame(
        {
            "band": first.table["band"].to_numpy(),
            "label": first.table["label"].to_numpy(),
            "position": np.asarray(pos, dtype=float),
            "position_err": np.asarray(pos_err, dtype=float),
            "fwhm": np.asarray(fwhm, dtype=float),
            "fwhm_err": np.asarray(fwhm_err, dtype=float),
            "area_pct": pct.mean(axis=0),
            "area_pct_err": pct.std(axis=0, ddof=1) / np.sqrt(n),
            "area_pct_sd": pct.std(axis=0, ddof=1),
            "n_spectra": n,
            "flag": flag,
        }
    )
    return frame[list(SUMMARY_COLUMNS)]


class _Setup:
    """The pooled model of one set: groups by axis, weights, start, parameter kinds."""

    def __init__(self, problems, singles, kinds):
        p0 = problems[0]
        lay = p0.layout
        self.problems, self.singles = problems, singles
        self.nb, self.n_lin = lay.nb, lay.n_linear
        fold, offset = parameter_map(p0.bands, lay.fit_eta)
        kind = pooled_engine.slot_kinds(fold, lay.nb, kinds)
        eta0 = float(np.median([r.stats["eta"] or p0.starts[0, lay.eta] for r in singles]))
        self.model = pooled_engine.Model(
            lay.nb, p0.shape_code, lay.fit_eta, eta0, kind, fold, offset, np.array(p0.lo),
            np.array(p0.hi), np.array(p0.order), MIN_SEPARATION,
        )  # fmt: skip
        self.groups = _groups(problems)
        self.w = np.array([1.0 / max(noise_sigma(p.y[None])[0], 1e-12) ** 2 for p in problems])
        own = self.model.reduce(np.array([_theta_of(r, lay) for r in singles]))
        self.mu0 = np.median(own, axis=0)
        # Every spectrum starts from the median too, values it fits on its own included:
        # a single fit's own FWHMs (or positions) belong with its own positions (or
        # FWHMs), and next to the shared median they are a poor start that led the fit
        # into local minima.
        self.v0 = np.tile(self.mu0, (len(problems), 1))
        self.single_chi2 = np.array(
            [r.stats["chi2"] / p.scale**2 for r, p in zip(singles, problems, strict=True)]
        )

    def fit(self, tau, mu0=None, v0=None) -> pooled_engine.Fit:
        mu0 = self.mu0 if mu0 is None else mu0
        v0 = self.v0 if v0 is None else v0
        return pooled_engine.fit(self.groups, self.model, self.w, mu0, v0, tau, self.n_lin)

    def covariance(self, fit, tau) -> pooled_engine.Covariance:
        return pooled_engine.covariance(self.groups, self.model, self.w, fit, tau, self.n_lin)

    def partial(self, tau):
        """Partial pooling, its spread given or estimated (`nmcraman._engine.tau.fit_partial`)."""
        return tau_engine.fit_partial(
            self.groups, self.model, self.w, self.mu0, self.v0, self.n_lin, tau
        )

    def result(
        self, names, share, fit: pooled_engine.Fit, cov: pooled_engine.Covariance, tau
    ) -> JointResult:
        lay = self.problems[0].layout
        model = self.model
        n_spec = len(self.problems)
        weighted = float(self.w @ fit.costs) + fit.penalty
        n_points = sum(p.x.size for p in self.problems)
        # Pooled deviations are random effects held by their penalty, not free
        # parameters: the count (for AIC, BIC and the degrees of freedom) leaves them out.
        n_shared = int(np.sum(model.kind != pooled_engine.FREE))
        n_free = int(np.sum(model.kind == pooled_engine.FREE))
        k = n_shared + n_spec * (n_free + self.n_lin)
        redchi = weighted / max(n_points - k, 1)
        results = tuple(self._spectrum_result(s, fit, cov, redchi) for s in range(n_spec))
        extra = {}
        if share == "partial":
            extra.update(tau_position=float(tau[0]), tau_fwhm=float(tau[1]))
        else:
            shared = int(np.sum(model.kind == pooled_engine.SHARED))
            excess = float(self.w @ (fit.costs - self.single_chi2))
            df = (n_spec - 1) * shared
            p = _chi2_sf(excess, df)
            extra.update(lr_statistic=excess, lr_df=df, lr_pvalue=p,
                         sharing_consistent=bool(p >= ALPHA))  # fmt: skip
        stats = _stats(share, n_spec, weighted, n_points, k, fit.n_iter, fit.converged, **extra)
        # Per kernel slot: the shared value and its error, or for values each spectrum
        # fits on its own, their mean and its standard error; a fixed slot has none.
        col = np.where(model.fold.any(axis=1), np.argmax(model.fold, axis=1), -1)
        own = fit.thetas[:, : model.q_full]
        mu_err = np.sqrt(np.abs(np.diagonal(cov.mu)) * redchi)
        each = (col >= 0) & (model.kind[col] == pooled_engine.FREE)
        centre = np.where(each, own.mean(axis=0), np.where(col >= 0, fit.mu[col], own[0]))
        spread = own.std(axis=0, ddof=1) / np.sqrt(n_spec)
        err = np.where(each, spread, np.where(col >= 0, mu_err[col], 0.0))
        summary = _summary(results[0], centre[lay.position], err[lay.position],
                           centre[lay.fwhm], err[lay.fwhm], results)  # fmt: skip
        return JointResult(tuple(names), results, summary, stats)

    def _spectrum_result(
        self, s: int, fit: pooled_engine.Fit, cov: pooled_engine.Covariance, redchi
    ) -> Result:
        """Spectrum ``s``'s Result, its covariance carrying the shared shapes' errors."""
        problem = self.problems[s]
        theta, coef = fit.thetas[s], fit.coefs[s]
        full = pooled_engine.full_covariance(
            problem.x, problem.basis, theta[None], coef[None], self.model, cov.theta[s : s + 1],
            self.w[s : s + 1], redchi,
        )[0]  # fmt: skip
        return Result.from_fit(
            problem, theta=theta, coef=coef, n_iter=fit.n_iter, n_eval=fit.n_iter,
            converged=fit.converged, message="joint fit", covariance=full, start=0,
            engine="joint",
        )  # fmt: skip


def _chi2_sf(x: float, df: int) -> float:
    """Return the probability that a chi-square with ``df`` degrees of freedom exceeds ``x``.

    As ``scipy.stats.chi2.sf``, from scipy.special: importing scipy.stats would double
    the time `import nmcraman` takes. 1 when ``df`` is 0 (nothing was shared).
    """
    from scipy.special import gammaincc

    return float(gammaincc(df / 2.0, max(x, 0.0) / 2.0)) if df > 0 else 1.0


def _theta_of(res: Result, lay) -> np.ndarray:
    """Return a single fit's nonlinear parameters in the kernels' slot order."""
    out = np.concatenate([res.table["position"].to_numpy(), res.table["fwhm"].to_numpy()])
    return np.append(out, res.stats["eta"]) if lay.fit_eta else out


def _groups(problems) -> list[pooled_engine.Group]:
    """Spectra on the same fit-window axis, stacked for the kernels."""
    by_axis: dict[bytes, list[int]] = {}
    for i, p in enumerate(problems):
        by_axis.setdefault(p.x.tobytes(), []).append(i)
    out = []
    for idx in by_axis.values():
        p = problems[idx[0]]
        ys = np.ascontiguousarray([problems[i].y for i in idx])
        out.append(pooled_engine.Group(p.x, ys, np.ascontiguousarray(p.basis), np.array(idx)))
    return out
