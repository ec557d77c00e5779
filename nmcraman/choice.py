"""Fit window and baseline order from the data: ``window="auto"``, ``baseline="auto"``.

A fixed fit window and baseline order suit some backgrounds and not others: a cubic
over the prior windows widened by 150 cm-1 (``"bands"``, 180 to 775 cm-1 for the NMC
presets) follows a steep exponential background better than over 150 to 900 cm-1
(``"wide"``), while on smooth backgrounds the wider window's band-free flanks pin the
baseline, and an edge filter's rise below 180 cm-1 spoils the wide window for every
polynomial. Both are the defaults of `nmcraman.deconvolve`:

1. **Window** (`choose_window`): every candidate setting (each window rule of
   `nmcraman.model.WINDOWS` that gives a different window on the data, times each
   order of `nmcraman.baseline.AUTO_ORDERS`) is fitted from one start, its neighbour
   candidate's solution (`screen`), and the window of the one with the lowest BIC per
   point wins (`score`).
2. **Order** (`fit_orders`): in that window every order is fitted in full, and the
   fits are averaged (`average`) with weights from their BIC per point
   (`order_weights`). Selecting one order instead, by BIC, AIC or other rules, was up
   to 1.2x less accurate than the best fixed order on exponential and edge
   backgrounds: the order that best follows the background in the residual is not
   the one that gives the best areas, and the average hedges between them
   (benchmarks/window.py; docs: "Baselines").

Why BIC *per point*: information criteria are sums over the data, so a fit of more
points has a larger one whatever its quality; they compare models of the *same*
data only. Divided by the number of points n, BIC is ``ln(RSS / n) + k ln(n) / n``:
the log of the mean squared residual (the noise variance the fit implies) plus the
complexity per point. Within one window it orders the baseline orders exactly as BIC
does. Between windows, when both models describe their data the mean squared
residuals agree within the noise, and the wider window wins by its smaller complexity
per point (more band-free points to pin the baseline); when the polynomial cannot
follow the background across the wider window, the misfit raises its mean squared
residual above the noise and the narrower window wins. It is a rule, not a likelihood
ratio: the benchmark, scored against a truth the fitter never sees, is what supports
it. Comparing on the common (narrower) window only would always favour the fit made
on it, which minimised exactly that residual; cross-validation costs many more fits.


Pooled maps and joint fits that share shapes: `nmcraman.pooled_choice`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ._engine.problem import Problem, prepare, window_bounds
from ._engine.single import run, solve
from ._kernels import stats as stat_kernels
from .bands import Band
from .baseline import AUTO_ORDERS
from .errors import InputError, NmcramanError
from .model import AUTO, FIXED, WINDOWS, check_window, is_auto
from .options import FitOptions
from .results.result import Result, band_frame
from .spectrum import Spectrum

__all__ = [
    "CRITERION",
    "EVIDENCE_POINTS",
    "FIXED",
    "Screened",
    "Setting",
    "average",
    "average_numbers",
    "chain",
    "choose_window",
    "fit_once",
    "fit_orders",
    "order_weights",
    "score",
    "screen",
    "settings",
]

#: Name of the rule recorded in ``meta["auto_choice"]`` (see `score`).
CRITERION = "bic_per_point"
#: Independent points of evidence that `order_weights` credits a spectrum with: the
#: weights of averaged orders are BIC weights tempered from n points to this many.
#: Area % accuracy is flat from 2 to 20 (benchmarks/window.py, docs: "Baselines").
EVIDENCE_POINTS = 6.0
#: Iterations a candidate gets when the candidates are compared (`screening_options`).
SCREEN_MAX_ITER = 50
#: ... and stops once its next step predicts a decrease below this many noise
#: variances (`nmcraman.FitOptions.gtol`), or a relative decrease below `SCREEN_FTOL`:
#: the score is then within a small fraction of one point's noise of its minimum,
#: far below the differences between candidates, and the chosen candidates go on to
#: full convergence from there (`fit_orders`).
SCREEN_GTOL = 1e-2
SCREEN_FTOL = 1e-6


@dataclass(frozen=True)
class Setting:
    """One candidate: a window rule and a baseline (``"polyN"`` or the user's).

    ``xmin`` (cm-1), when set, moves the rule's low end there: a pooled fit's window
    trimmed past structure its misfit check found at that end (`nmcraman.maps.pooled`).
    """

    window: str
    baseline: object
    xmin: float | None = None

    @property
    def name(self) -> str:
        """The baseline's name: ``"polyN"``, a method name, or ``"user"`` (array, callable)."""
        return self.baseline if isinstance(self.baseline, str) else "user"

    @property
    def order(self) -> int:
        """The polynomial order N of a ``"polyN"`` baseline; 3 for any other baseline."""
        name = self.name
        return int(name[4:]) if name.startswith("poly") and name[4:].isdigit() else 3

    @property
    def label(self) -> str:
        """``"<window> <baseline>"``, e.g. ``"wide poly4"``: the key of the scores.

        With ``xmin``: ``"bands from 210 poly4"``.
        """
        window = self.window if self.xmin is None else f"{self.window} from {self.xmin:g}"
        return f"{window} {self.name}"

    @property
    def overrides(self) -> dict:
        """The keyword arguments of `nmcraman._engine.problem.prepare` that this setting sets."""
        out = {"window": self.window, "baseline": self.baseline}
        return out if self.xmin is None else {**out, "xmin": self.xmin}


def is_choosing(kwargs: dict) -> bool:
    """Tell whether ``window`` or ``baseline`` in ``kwargs`` is ``"auto"`` (a choice to make)."""
    return is_auto(kwargs.get("window")) or is_auto(kwargs.get("baseline"))


def settings(x: np.ndarray, band_list: list[Band], kwargs: dict) -> list[Setting]:
    """Candidate settings that ``window`` and ``baseline`` in ``kwargs`` leave open.

    Window rules that give the same window on the ascending axis ``x`` (cm-1; after
    ``xmin``/``xmax`` and clipping to the data) count once, as the first rule.
    """
    window = check_window(kwargs.get("window", FIXED["window"]))
    windows = list(WINDOWS) if window == AUTO else [window]
    seen, kept = set(), []
    for rule in windows:
        lo, hi = window_bounds(band_list, rule, kwargs.get("xmin"), kwargs.get("xmax"))
        span = (max(lo, float(x[0])), min(hi, float(x[-1])))
        if span not in seen:
            seen.add(span)
            kept.append(rule)
    baseline = kwargs.get("baseline", FIXED["baseline"])
    orders = [f"poly{k}" for k in AUTO_ORDERS] if is_auto(baseline) else [baseline]
    return [Setting(w, b) for w in kept for b in orders]


def score(result) -> float:
    """BIC per point, ``ln(RSS / n) + k ln(n) / n``: lower is better (module docstring)."""
    return float(result.stats["bic"]) / result.stats["n_points"]


def screening_options(options: FitOptions | None) -> FitOptions:
    """Return the options candidates are compared with: one start, `SCREEN_MAX_ITER`.

    Why: a candidate whose baseline cannot follow the background distorts the bands,
    ends trapped on their bounds and then runs every start for hundreds of iterations,
    to be rejected anyway; good candidates converge from the first start in a few
    tens. The chosen candidate is then fitted in full with ``options``.
    """
    if options is not None and not isinstance(options, FitOptions):
        raise InputError(f"options must be a FitOptions, got {type(options).__name__}.")
    return _screening(options or FitOptions())


@lru_cache(maxsize=16)
def _screening(options: FitOptions) -> FitOptions:
    """`screening_options` of checked options; cached, as building FitOptions checks them."""
    return dataclasses.replace(
        options, max_iter=min(options.max_iter, SCREEN_MAX_ITER), all_starts=False,
        gtol=max(options.gtol, SCREEN_GTOL), ftol=max(options.ftol, SCREEN_FTOL),
    )  # fmt: skip


class Candidate(NamedTuple):
    """One candidate setting fitted by the numba engine (`screen`).

    ``cold`` tells whether it started from the priors alone (not from another
    candidate's solution): only then is its solution the start of its full fit.
    """

    setting: Setting
    problem: Problem
    out: dict
    score: float
    cold: bool


class Screened(NamedTuple):
    """What `screen` found: the best candidate, every score, every candidate's fit.

    ``windows`` tells whether more than one window was a candidate: only then are the
    scores a window choice worth recording.
    """

    best: Setting
    scores: dict
    fits: dict
    windows: bool


def screen(spectrum: Spectrum, band_list: list[Band], kwargs: dict) -> Screened:
    """Score every candidate setting of one spectrum (`settings`) with the numba engine.

    Each candidate runs at most `SCREEN_MAX_ITER` iterations (`screening_options`),
    from one start: the solution of the candidate before it (`chain`: the next order
    of the same window, or the same order of the window before); only the first
    candidate starts from the priors (their first start). Neighbouring candidates
    differ by one baseline column or a few tens of points at the window's edges, so
    their minima lie close together, and a warm start reaches them in a few
    iterations. Their scores only choose the window: the orders averaged are fitted
    again in full from the priors (`fit_orders`).

    Parameters
    ----------
    spectrum : Spectrum
    band_list : list of Band
    kwargs : dict
        Keyword arguments of `nmcraman._engine.problem.prepare`, with ``window`` and
        ``baseline`` possibly ``"auto"``.

    Returns
    -------
    Screened
        ``best``, the candidate with the lowest `score`; ``scores``, `Setting.label`
        -> BIC per point (empty when there was only one candidate); ``fits``,
        label -> `Candidate`. A candidate whose data the library refuses (a saturated
        range inside its window only, say) is left out; if every one is, that error is
        raised.
    """
    cands = settings(spectrum.x, band_list, kwargs)
    quick = screening_options(kwargs.get("options"))
    fits, failed = {}, {}
    for c, parent in chain(cands):
        try:
            problem = prepare(spectrum, band_list, **{**kwargs, **c.overrides})
        except NmcramanError as exc:  # e.g. a saturated range inside this window only
            failed[c.label] = exc
            continue
        warm = fits[parent].out["theta"] if parent in fits else None
        out, cost = solve(problem, warm, quick)
        fits[c.label] = Candidate(c, problem, out, _score(problem, cost), warm is None)
    if not fits:  # the first candidate's error: the first rule's lowest order
        raise failed[cands[0].label]
    best = min(fits.values(), key=lambda f: f.score).setting
    scores = {k: f.score for k, f in fits.items()} if len(cands) > 1 else {}
    return Screened(best, scores, fits, len({c.window for c in cands}) > 1)


def fit_once(problem: Problem, engine: str) -> Result:
    """Fit one prepared problem with ``engine`` ("numba" or "lmfit") into a `Result`."""
    return Result.from_fit(problem, **run(problem, engine))


def chain(cands: list[Setting]):
    """Yield each candidate with the label of the one whose solution starts it (or None).

    The first window's orders run outwards from the fixed model's order (3), each from
    its neighbour; a later window's each order from the same order of the window
    before.
    """
    done: dict[tuple, str] = {}
    windows = list(dict.fromkeys(c.window for c in cands))
    for w_index, window in enumerate(windows):
        mine = [c for c in cands if c.window == window]
        order = sorted(range(len(mine)), key=lambda k: abs(mine[k].order - 3))
        for k in order:
            c = mine[k]
            if w_index > 0:
                parent = done.get((windows[w_index - 1], c.name))
            else:
                near = [m for m in mine if m.label in done.values()]
                near = min(near, key=lambda m: abs(m.order - c.order), default=None)
                parent = near.label if near is not None else None
            done[(window, c.name)] = c.label
            yield c, parent


def _score(problem: Problem, cost: float) -> float:
    """`score` of a numba solution from its scaled residual sum of squares."""
    n = problem.x.size
    bic = stat_kernels.information_criteria(cost * problem.scale**2, n, problem.layout.n_fitted)[1]
    return float(bic) / n


def choose_window(spectrum: Spectrum, band_list: list[Band], kwargs: dict):
    """Settle ``window="auto"`` for one spectrum: the window of the best-scored candidate.

    The candidates are every window times every order the ``baseline`` leaves open
    (`screen`), so each window is judged by the order that suits it best.

    Returns
    -------
    setting : dict
        ``kwargs`` with ``window`` fixed (``baseline`` left as given).
    screened : Screened
        What `screen` found.
    """
    screened = screen(spectrum, band_list, kwargs)
    return {**kwargs, "window": screened.best.window}, screened


def fit_orders(spectrum: Spectrum, band_list: list[Band], setting: dict, engine: str,
               screened: Screened | None = None):  # fmt: skip
    """Fit one spectrum in the window of ``setting``: averaged over orders if ``"auto"``.

    With ``baseline="auto"`` every order of `nmcraman.baseline.AUTO_ORDERS` is fitted
    in full and the fits are averaged with `order_weights` (`average`); otherwise
    the one setting is fitted. An order the library refuses (too few points in the
    window for its parameters, say) is left out of the average; if every one is, the
    lowest order's error is raised. Full fits start from the priors: warm starts from
    other candidates end in other minima, with worse areas on steep backgrounds
    (docs: "Performance and accuracy"). Only the candidate ``screened`` started from the
    priors (`Candidate.cold`) goes on from its screening solution, with the first prior
    start beside it. The window ``scores`` of ``screened`` go into the record.

    Returns
    -------
    Result
        With ``meta["auto_choice"]``: ``criterion``, ``window`` (the rule),
        ``baseline`` (``"auto"`` when averaged), the window ``scores`` if windows were
        compared, and for an average each order's ``order_scores`` and ``weights``.
    """
    cands = settings(spectrum.x, band_list, setting)
    record = {"criterion": CRITERION, "window": setting["window"], "baseline": cands[0].name}
    if screened is not None and screened.windows:
        record["scores"] = screened.scores
    known = screened.fits if screened is not None else {}

    def full(c: Setting) -> Result:
        have = known.get(c.label)
        if have is not None and have.problem.ids == tuple(b.id for b in band_list):
            problem = have.problem
        else:
            problem, have = prepare(spectrum, band_list, **{**setting, **c.overrides}), None
        if engine != "numba":
            return fit_once(problem, engine)
        out, _ = solve(problem, have.out["theta"] if have is not None and have.cold else None)
        return Result.from_fit(problem, **out)

    if len(cands) == 1:
        return with_record(full(cands[0]), record)
    fits, names, failed = [], [], None
    for c in cands:
        try:
            fits.append(full(c))
        except NmcramanError as exc:  # e.g. too few points for the highest orders
            failed = failed or exc  # the lowest order's error, if every one fails
            continue
        names.append(c.name)
    if not fits:
        raise failed
    order_scores = np.array([score(r) for r in fits])
    weights = order_weights(order_scores)
    record.update(
        baseline=AUTO,
        order_scores=dict(zip(names, order_scores.tolist(), strict=True)),
        weights=dict(zip(names, weights.tolist(), strict=True)),
    )
    return with_record(average(fits, weights), record)


def order_weights(scores) -> np.ndarray:
    """Weights of fits from their BIC per point ``s``: ``exp(-EVIDENCE_POINTS (s - min s) / 2)``.

    ``scores`` holds the fits along its first axis (further axes: one pool or pixel
    each, weighted apart); a fit scored inf or NaN (not fitted) gets weight 0.

    BIC weights would be ``exp(-n (s - min s) / 2)`` for ``n`` independent residuals.
    A polynomial that does not quite follow the background leaves a smooth, strongly
    correlated residual, so the points carry about as much evidence between orders as
    a handful of independent ones: BIC's weights all but select one order, whose
    baseline error then goes straight into the areas. Tempered to `EVIDENCE_POINTS`,
    orders that fit about equally well share the weight and their baseline errors
    partly cancel, while an order that clearly cannot follow the background (its mean
    squared residual several times the best) gets almost none.
    """
    s = np.asarray(scores, dtype=np.float64)
    known = np.isfinite(s)
    best = np.where(known, s, np.inf).min(axis=0)
    with np.errstate(invalid="ignore"):
        w = np.where(known, np.exp(-0.5 * EVIDENCE_POINTS * (s - best)), 0.0)
    total = w.sum(axis=0)
    return w / np.where(total > 0, total, 1.0)


def average(fits: Sequence[Result], weights: np.ndarray) -> Result:
    """Model average of fits of one window that differ in baseline order.

    Every number of the table is the weighted mean over the fits. Its error combines
    each fit's own error with the spread between fits,
    ``err**2 = sum(w * (err_i**2 + (v_i - v)**2))`` (Buckland et al. 1997, Biometrics
    53, 603; the variance of Bayesian model averaging), so it also covers the doubt
    about the order. A fit whose error of a value is undefined (NaN: the position and
    FWHM of a band it found absent) is left out of that value's mean, the weights of
    the others renormalised. Curves (baseline, bands, best fit) are the weighted
    means, and the residual is the data less the mean best fit; ``stats`` describe
    that residual (``chi2``, ``redchi``, ``r2``, ``noise``, and ``aic``, ``bic``
    with the parameter count ``n_params``), otherwise they are those of the
    *reference* fit, the one with the largest weight, as are the flags and the
    covariance.
    """
    ref = fits[int(np.argmax(weights))]
    w = np.asarray(weights, dtype=np.float64)
    numbers = average_numbers(np.stack([r.numbers for r in fits]), w[:, None])
    table = band_frame(tuple(ref.table["band"]), tuple(ref.table["label"]),
                       np.ascontiguousarray(numbers), tuple(ref.table["flag"]))  # fmt: skip

    def mean(attr: str) -> np.ndarray:
        return np.einsum("f,f...->...", w, np.stack([getattr(r, attr) for r in fits]))

    best_fit = mean("best_fit")
    residual = ref.y - best_fit
    first, last = (r.meta["baseline"].rsplit(" ", 1)[-1] for r in (fits[0], fits[-1]))
    text = f"joint polynomials of order {first} to {last}, averaged" if len(fits) > 1 else None
    meta = {**ref.meta, "baseline": text or ref.meta["baseline"]}
    return dataclasses.replace(
        ref, table=table, baseline=mean("baseline"), best_fit=best_fit,
        residual=residual, _components=mean("_components"), meta=meta,
        stats=_residual_stats(ref, residual),
    ).with_numbers(numbers)  # fmt: skip


def average_numbers(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Model average of band tables: weighted means, errors with the spread (`average`).

    Parameters
    ----------
    values : numpy.ndarray, shape (fits, len(TABLE_ROWS), ...)
        One band table per fit (rows `nmcraman._kernels.stats.TABLE_ROWS`, then bands, or
        pixels and bands for a map).
    weights : numpy.ndarray, shape (fits, ...)
        Each fit's weight, broadcastable to ``values[:, 0]``; summing to 1 over fits.
        A fit of weight 0 (one that failed on a map's pixel) is left out, NaN or not.

    Returns
    -------
    numpy.ndarray, shape ``values.shape[1:]``
        Every value the weighted mean over the fits with a known value of it (each
        mean clipped to the fits' range: rounding must not push it past a bound); every
        error ``sqrt(sum(w * (err_i**2 + (v_i - v)**2)))`` over the same fits.
    """
    cols = list(stat_kernels.TABLE_ROWS)
    w = np.broadcast_to(weights, values[:, 0].shape)
    numbers = np.full(values.shape[1:], np.nan)
    for i, col in enumerate(cols):
        if col.endswith("_err"):
            continue
        j = i
        e = cols.index(f"{col}_err") if f"{col}_err" in cols else None
        # A value counts where its fit has weight and, if it has an error, a known error:
        # the position and FWHM of a band a fit found absent have none. Where no fit
        # knows the error, every fit's value counts and the error stays unknown.
        known = (w > 0) & np.isfinite(values[:, j])
        if e is not None:
            with_err = known & np.isfinite(values[:, e])
            known = np.where(with_err.any(axis=0), with_err, known)
        wk = np.where(known, w, 0.0)
        total = wk.sum(axis=0)
        some = total > 0
        wk = wk / np.where(some, total, 1.0)
        v = np.where(known, values[:, j], 0.0)
        with np.errstate(invalid="ignore"):
            lo = np.where(known, values[:, j], np.inf).min(axis=0)
            hi = np.where(known, values[:, j], -np.inf).max(axis=0)
            mean = np.where(some, np.clip((wk * v).sum(axis=0), lo, hi), np.nan)
        numbers[j] = mean
        if e is not None:
            spread = np.where(known, values[:, j] - mean, 0.0) ** 2
            own = np.where(known, values[:, e], 0.0) ** 2
            err = np.sqrt((wk * (own + spread)).sum(axis=0))
            numbers[e] = np.where(with_err.any(axis=0), err, np.nan)
    return numbers


def _residual_stats(ref: Result, residual: np.ndarray) -> dict:
    """``ref.stats`` with the statistics of ``residual`` in place of its own."""
    st = ref.stats
    n, k = st["n_points"], st["n_params"]
    rss = float(residual @ residual)
    dev = ref.y - ref.y.mean()
    tss = float(dev @ dev)
    aic, bic = stat_kernels.information_criteria(rss, n, k)
    redchi = rss / max(n - k, 1)
    return {**st, "chi2": rss, "redchi": redchi, "r2": 1.0 - rss / tss if tss > 0 else np.nan,
            "aic": float(aic), "bic": float(bic), "noise": float(np.sqrt(redchi))}  # fmt: skip


def with_record(result, record: dict | None):
    """Return ``result`` with the choice in ``meta["auto_choice"]`` (unchanged if None)."""
    if record is None:
        return result
    return dataclasses.replace(result, meta={**result.meta, "auto_choice": record})
