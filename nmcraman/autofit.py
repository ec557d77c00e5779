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

Pooled maps and joint fits that share shapes fit their spectra on one window and one
basis at a time, so they do not average per spectrum. `choose_shared` first picks a
reference setting: every candidate is scored on each of up to `SHARED_SAMPLE` spectra
(`screen`), and the one with the lowest score summed over them wins (the set's own BIC
per point, each spectrum with its own noise). Not the most common of the spectra's own
choices: a setting that wins narrowly on many spectra and loses badly on the others
then wins (on the synthetic core-shell map of docs "Maps", votes chose a wide
quadratic that doubled the pooled area error). Not the mean spectrum: averaging raises
the signal-to-noise ratio, and BIC's choice depends on it (more structure is worth its
parameters at higher SNR); the pixels are fitted at their own. With ``baseline="auto"``
the pool is then fitted with every candidate window and order (`pooled_settings`,
`POOLED_WINDOWS`), each scored by the pool's BIC per point (`pooled_score`) and
weighted by the rule of one spectrum's orders (`pooled_weights`, `order_weights`);
the tables are averaged with the spread between candidates in their errors
(`average_numbers`, `average_tables`), so that the pool carries the doubt about the
baseline that one spectrum's average carries: one chosen setting, by votes or by the
summed score, left the pool's error bars confident and wrong wherever that setting
could not follow the background (issue 26; ``benchmarks/pooled_coverage.py``). An
explicit baseline keeps its one setting. Unpooled maps and sets choose per spectrum
(`nmcraman.mapchoice`, `nmcraman.deconvolve_joint` with ``share="none"``).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from . import _stats as K
from ._problem import Problem, prepare, window_bounds
from ._single import fit_once, solve
from .bands import Band
from .baseline import AUTO_ORDERS
from .errors import InputError, NmcramanError
from .model import AUTO, FIXED, WINDOWS, check_window, is_auto
from .options import FitOptions
from .result import Result, band_frame
from .spectrum import Spectrum

__all__ = [
    "CRITERION",
    "EVIDENCE_POINTS",
    "FIXED",
    "POOLED_EVIDENCE",
    "POOLED_WINDOWS",
    "SHARED_SAMPLE",
    "Screened",
    "Setting",
    "average",
    "average_numbers",
    "average_tables",
    "averaged_baseline",
    "by_label",
    "chain",
    "choose_shared",
    "choose_window",
    "fit_orders",
    "order_weights",
    "pooled_record",
    "pooled_score",
    "pooled_settings",
    "pooled_weights",
    "score",
    "screen",
    "settings",
]

#: Name of the rule recorded in ``meta["auto_choice"]`` (see `score`).
CRITERION = "bic_per_point"
#: Spectra of a map or set whose own choices decide the shared one.
SHARED_SAMPLE = 16
#: Independent points of evidence that `order_weights` credits a spectrum with: the
#: weights of averaged orders are BIC weights tempered from n points to this many.
#: Area % accuracy is flat from 2 to 20 (benchmarks/window.py, docs: "Baselines").
EVIDENCE_POINTS = 6.0
#: How pooled fits treat the window candidates (`pooled_settings`, `pooled_weights`):
#: ``"average"``, every window and order averaged alike; ``"choose"``, each pool keeps
#: the window of its best `pooled_score` and averages its orders (as `choose_window`
#: and `fit_orders` do for one spectrum); ``"chosen"``, only the orders of the window
#: `choose_shared` chose are fitted (half the cost). ``"choose"`` was up to 1.45 times
#: less accurate than ``"average"`` on benchmarks/pooled_coverage.py, and never more
#: accurate by more than 0.02 points (docs: "Baselines").
POOLED_WINDOWS = "average"
#: How much evidence `pooled_weights` credits a pool with: ``"point"``, its BIC per
#: point, as much as one spectrum's (the pool carries the doubt of one spectrum about
#: the baseline: its misfit is systematic, not noise that more spectra average away);
#: ``"spectra"``, as much as all its spectra's, each as one spectrum's (for pools whose
#: spectra's backgrounds differ independently). benchmarks/pooled_coverage.py compares them.
POOLED_EVIDENCE = "point"
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
    """One candidate: a window rule and a baseline (``"polyN"`` or the user's)."""

    window: str
    baseline: object

    @property
    def name(self) -> str:
        """The baseline's name: ``"polyN"``, a method name, or ``"user"`` (array, callable)."""
        return self.baseline if isinstance(self.baseline, str) else "user"

    @property
    def label(self) -> str:
        """``"<window> <baseline>"``, e.g. ``"wide poly4"``: the key of the scores."""
        return f"{self.window} {self.name}"

    @property
    def overrides(self) -> dict:
        """The keyword arguments of `nmcraman._problem.prepare` that this setting sets."""
        return {"window": self.window, "baseline": self.baseline}


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
        Keyword arguments of `nmcraman._problem.prepare`, with ``window`` and
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
        order = sorted(range(len(mine)), key=lambda k: abs(_order(mine[k]) - 3))
        for k in order:
            c = mine[k]
            if w_index > 0:
                parent = done.get((windows[w_index - 1], c.name))
            else:
                near = [m for m in mine if m.label in done.values()]
                near = min(near, key=lambda m: abs(_order(m) - _order(c)), default=None)
                parent = near.label if near is not None else None
            done[(window, c.name)] = c.label
            yield c, parent


def _order(c: Setting) -> int:
    """Polynomial order of a candidate's baseline (3 for anything but ``"polyN"``)."""
    name = c.name
    return int(name[4:]) if name.startswith("poly") and name[4:].isdigit() else 3


def _score(problem: Problem, cost: float) -> float:
    """`score` of a numba solution from its scaled residual sum of squares."""
    n = problem.x.size
    bic = K.information_criteria(cost * problem.scale**2, n, problem.layout.n_fitted)[1]
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
        One band table per fit (rows `nmcraman._stats.TABLE_ROWS`, then bands, or
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
    cols = list(K.TABLE_ROWS)
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
    aic, bic = K.information_criteria(rss, n, k)
    redchi = rss / max(n - k, 1)
    return {**st, "chi2": rss, "redchi": redchi, "r2": 1.0 - rss / tss if tss > 0 else np.nan,
            "aic": float(aic), "bic": float(bic), "noise": float(np.sqrt(redchi))}  # fmt: skip


def choose_shared(
    x: np.ndarray, spectra: Sequence[Spectrum], band_list: list[Band], kwargs: dict
) -> tuple[dict, dict | None]:
    """One window and order for many spectra: the lowest score summed over a sample.

    Every candidate is scored (`screen`) on up to `SHARED_SAMPLE` spectra, evenly
    spaced in ``spectra``; the candidate with the lowest sum, among those every scored
    spectrum could fit, is chosen (module docstring). Spectra that cannot be fitted
    are skipped; if none can (or none is given), the first candidate is kept. The
    candidates are those of the ascending axis ``x`` (cm-1).

    Returns
    -------
    setting : dict
        ``kwargs`` with the chosen ``window`` and ``baseline``.
    record : dict or None
        ``criterion``, ``window``, ``baseline``, ``scores`` (label -> summed BIC per
        point), ``votes`` (label -> how many spectra would choose it alone) and
        ``n_spectra`` (how many were scored); None when nothing was left to choose.
    """
    cands = settings(x, band_list, kwargs)
    first = {**kwargs, **cands[0].overrides}
    if len(cands) == 1:
        return first, None
    picks = np.unique(np.linspace(0, len(spectra) - 1, min(SHARED_SAMPLE, len(spectra))).round())
    votes, totals, counts = Counter(), Counter(), Counter()
    for i in picks.astype(int):
        try:
            best, scores, *_ = screen(spectra[i], band_list, kwargs)
        except NmcramanError:
            continue
        votes[best.label] += 1
        for key, value in scores.items():
            totals[key] += value
            counts[key] += 1
    if not votes:
        return first, {"criterion": CRITERION, "window": first["window"],
                       "baseline": cands[0].name, "scores": {}, "votes": {},
                       "n_spectra": 0}  # fmt: skip
    n = int(sum(votes.values()))
    best = min((k for k in totals if counts[k] == n), key=totals.get)
    setting = next(c for c in cands if c.label == best)
    record = {"criterion": CRITERION, "window": setting.window, "baseline": setting.name,
              "scores": {k: float(totals[k]) for k in totals if counts[k] == n},
              "votes": dict(votes), "n_spectra": n}  # fmt: skip
    return {**kwargs, **setting.overrides}, record


def pooled_settings(x: np.ndarray, band_list: list[Band], kwargs: dict,
                    record: dict | None) -> list[Setting]:  # fmt: skip
    """Return the candidates a pooled fit averages over, the one `choose_shared` chose first.

    Every candidate ``record`` scored on all its spectra (with `POOLED_WINDOWS`
    ``"chosen"``, those of the chosen window only), when ``kwargs`` leaves the baseline order open
    (``baseline="auto"``); an empty list when there is nothing to average: an explicit
    baseline keeps its one setting, as `choose_shared` settles it.
    """
    if record is None or not is_auto(kwargs.get("baseline", FIXED["baseline"])):
        return []
    chosen = f"{record['window']} {record['baseline']}"
    cands = [c for c in settings(x, band_list, kwargs) if c.label in record["scores"]]
    if POOLED_WINDOWS == "chosen":
        cands = [c for c in cands if c.window == record["window"]]
    first = [c for c in cands if c.label == chosen]
    if len(cands) < 2 or not first:
        return []
    return first + [c for c in cands if c.label != chosen]


def pooled_score(rss, n_points, n_params: float) -> float:
    """BIC per point of a pooled fit: ``(sum n_i ln(RSS_i / n_i) + k ln N) / N``.

    The spectra ``i`` of a pool (a map's phase, a joint set) each have their own noise
    variance, profiled out as `score` does for one spectrum, so each contributes
    ``n_i ln(RSS_i / n_i)`` (``rss``, ``n_points``); ``k`` (``n_params``) counts every
    fitted parameter of the pool once (shared values once, each spectrum's own ones per
    spectrum; pooled deviations are random effects and do not count) over the pool's
    ``N = sum n_i`` points. Per point, it is on the scale of one spectrum's `score`,
    and `order_weights` weights pools' candidates by the same rule as one spectrum's:
    the pool's mean residual, freed of the noise of any one spectrum, decides how far a
    baseline order is from following the background (module docstring).
    """
    rss = np.asarray(rss, dtype=np.float64)
    n = np.asarray(n_points, dtype=np.float64)
    total = float(n.sum())
    return float((np.sum(n * np.log(rss / n)) + n_params * np.log(total)) / total)


def pooled_weights(scores, n_spectra, windows: Sequence[str]) -> np.ndarray:
    """Weights of a pool's candidates from their `pooled_score`: `order_weights`'s rule.

    ``scores`` (candidates, ...) and ``n_spectra`` (the pools' spectra, broadcast over
    the trailing axes): with `POOLED_EVIDENCE` ``"point"`` the scores as they are, with
    ``"spectra"`` each pool's scores times its number of spectra (the sum of its
    spectra's BIC per point, as `choose_shared` sums them). ``windows`` names each
    candidate's window; with `POOLED_WINDOWS` ``"choose"`` a pool weights only the
    candidates of the window of its best score, as one spectrum does.
    """
    s = np.asarray(scores, dtype=np.float64)
    if POOLED_EVIDENCE == "spectra":
        s = s * np.asarray(n_spectra, dtype=np.float64)
    if POOLED_WINDOWS == "choose" and len(set(windows)) > 1:
        rule = np.array(windows)
        best = rule[np.argmin(np.where(np.isfinite(s), s, np.inf), axis=0)]
        s = np.where(rule.reshape((-1,) + (1,) * (s.ndim - 1)) == best, s, np.inf)
    return order_weights(s)


def average_tables(fits: Sequence[Result], weights: np.ndarray, record: dict) -> Result:
    """Model average of fits that may differ in window: `average` of the table only.

    The table is `average_numbers`'s (weighted means, errors with the spread between
    the fits); the curves, statistics and flags are the reference fit's (the largest
    weight): fits of different windows have no common residual to average. ``record``
    goes into ``meta["auto_choice"]``.
    """
    ref = fits[int(np.argmax(weights))]
    w = np.asarray(weights, dtype=np.float64)
    numbers = np.ascontiguousarray(average_numbers(np.stack([r.numbers for r in fits]), w[:, None]))
    table = band_frame(tuple(ref.table["band"]), tuple(ref.table["label"]), numbers,
                       tuple(ref.table["flag"]))  # fmt: skip
    meta = {
        **ref.meta,
        "baseline": averaged_baseline([r.meta["baseline"] for r in fits]),
        "auto_choice": record,
    }
    return dataclasses.replace(ref, table=table, meta=meta).with_numbers(numbers)


def averaged_baseline(baselines: Sequence[str]) -> str:
    """Return the ``meta["baseline"]`` text of an average: the range of the orders averaged.

    ``baselines`` are the fits' baseline texts (``"joint polynomial, order 3"``) or
    names (``"poly3"``).
    """
    found = (re.findall(r"(?:order |poly)(\d+)", b) for b in baselines)
    orders = sorted({int(k) for ks in found for k in ks})
    if not orders:
        return "averaged baselines"
    return f"joint polynomials of order {orders[0]} to {orders[-1]}, averaged"


def pooled_record(record: dict, cands: list[Setting], scores, weights) -> dict:
    """``record`` of `choose_shared` for a pooled average over ``cands``.

    ``window`` is the one window of ``cands``, else that of the largest of ``weights``
    (one pool: the window it kept), else ``"auto"`` (each pool its own);
    ``baseline`` is ``"auto"``; ``candidates`` lists the labels averaged (the chosen one,
    the reference of the phases and band sets, first); ``pooled_scores`` and
    ``weights``, when given (one pool), map each label to its `pooled_score` and weight.
    """
    windows = {c.window for c in cands}
    out = {**record, "window": record["window"] if len(windows) == 1 else AUTO,
           "baseline": AUTO, "candidates": [c.label for c in cands]}  # fmt: skip
    if scores is not None:
        out["window"] = cands[int(np.argmax(weights))].window
        out["pooled_scores"] = by_label(cands, scores)
        out["weights"] = by_label(cands, weights)
    return out


def by_label(cands: list[Setting], values) -> dict:
    """Return label -> value; None for a candidate not fitted (inf): records save as JSON."""
    pairs = zip(cands, values, strict=True)
    return {c.label: float(v) if np.isfinite(v) else None for c, v in pairs}


def with_record(result, record: dict | None):
    """Return ``result`` with the choice in ``meta["auto_choice"]`` (unchanged if None)."""
    if record is None:
        return result
    return dataclasses.replace(result, meta={**result.meta, "auto_choice": record})
