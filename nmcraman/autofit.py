"""Fit window and baseline order from the data: ``window="auto"``, ``baseline="auto"``.

A fixed fit window and baseline order suit some backgrounds and not others: a cubic
over the prior windows widened by 150 cm-1 (``"bands"``, 180 to 775 cm-1 for the NMC
presets) follows a steep exponential background better than over 150 to 900 cm-1
(``"wide"``), while on smooth backgrounds the wider window's band-free flanks pin the
baseline, and an edge filter's rise below 180 cm-1 spoils the wide window for every
polynomial. Both are the defaults of `nmcraman.deconvolve`:

1. **Window** (`choose_window`): every candidate setting (each window rule of
   `nmcraman._problem.WINDOWS` that gives a different window on the data, times each
   order of `nmcraman.baseline.AUTO_ORDERS`) is fitted from one start (`screen`), and
   the window of the one with the lowest BIC per point wins (`score`).
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

Maps and sets of spectra share one window and one order (`choose_shared`), not an
average: each of up to `SHARED_SAMPLE` spectra chooses for itself (`screen`), and the
most common choice is fitted to all. Not the mean spectrum: averaging raises the
signal-to-noise ratio, and BIC's choice depends on it (more structure is worth its
parameters at higher SNR); the pixels are fitted at their own.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from . import _stats as K
from ._problem import WINDOWS, prepare, window_bounds
from .bands import Band
from .baseline import AUTO_ORDERS
from .errors import InputError, NmcramanError
from .options import FitOptions
from .result import Result, band_frame
from .spectrum import Spectrum

__all__ = [
    "CRITERION",
    "EVIDENCE_POINTS",
    "FIXED",
    "SHARED_SAMPLE",
    "Screened",
    "Setting",
    "average",
    "choose_shared",
    "choose_window",
    "fit_orders",
    "order_weights",
    "score",
    "screen",
    "settings",
]

#: The fixed model: the prior windows widened by 150 cm-1 and a joint cubic. The
#: default of maps and joint fits (one model for many spectra), and one fit where
#: `nmcraman.deconvolve`'s default makes several.
FIXED = MappingProxyType({"window": "bands", "baseline": "poly3"})
#: Name of the rule recorded in ``meta["auto_choice"]`` (see `score`).
CRITERION = "bic_per_point"
#: Spectra of a map or set whose own choices decide the shared one.
SHARED_SAMPLE = 16
#: Independent points of evidence that `order_weights` credits a spectrum with: the
#: weights of averaged orders are BIC weights tempered from n points to this many.
#: Area % accuracy is flat from 2 to 20 (benchmarks/window.py, docs: "Baselines").
EVIDENCE_POINTS = 6.0
#: Iterations a candidate gets when the candidates are compared (`screening_options`).
SCREEN_MAX_ITER = 50
AUTO = "auto"


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


def is_auto(value) -> bool:
    """Tell whether ``value`` (a ``window`` or ``baseline`` argument) is ``"auto"``."""
    return isinstance(value, str) and value.lower() == AUTO


def is_choosing(kwargs: dict) -> bool:
    """Tell whether ``window`` or ``baseline`` in ``kwargs`` is ``"auto"`` (a choice to make)."""
    return is_auto(kwargs.get("window")) or is_auto(kwargs.get("baseline"))


def check_window(window) -> str:
    """Return ``window`` if it is ``"auto"`` or a `WINDOWS` rule; raise `InputError` if not."""
    if is_auto(window):
        return AUTO
    if not isinstance(window, str) or window not in WINDOWS:
        raise InputError(f"unknown window {window!r}; use 'auto' or one of {', '.join(WINDOWS)}.")
    return window


def settings(x: np.ndarray, band_list: list[Band], kwargs: dict) -> list[Setting]:
    """Candidate settings that ``window`` and ``baseline`` in ``kwargs`` leave open.

    Window rules that give the same window on the ascending axis ``x`` (cm-1; after
    ``xmin``/``xmax`` and clipping to the data) count once, as the first rule.
    """
    window = check_window(kwargs.get("window", "bands"))
    windows = list(WINDOWS) if window == AUTO else [window]
    seen, kept = set(), []
    for rule in windows:
        lo, hi = window_bounds(band_list, rule, kwargs.get("xmin"), kwargs.get("xmax"))
        span = (max(lo, float(x[0])), min(hi, float(x[-1])))
        if span not in seen:
            seen.add(span)
            kept.append(rule)
    baseline = kwargs.get("baseline", "poly3")
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
    options = options or FitOptions()
    return dataclasses.replace(
        options, width_scales=options.width_scales[:1], centre_shifts=(0.0,),
        max_iter=min(options.max_iter, SCREEN_MAX_ITER), all_starts=False,
    )  # fmt: skip


def screen(spectrum: Spectrum, band_list: list[Band], kwargs: dict, fit: Callable):
    """Score every candidate setting of one spectrum (`settings`) from one start each.

    Parameters
    ----------
    spectrum : Spectrum
    band_list : list of Band
    kwargs : dict
        Keyword arguments of `nmcraman._problem.prepare`, with ``window`` and
        ``baseline`` possibly ``"auto"``.
    fit : callable
        ``fit(problem) -> Result``, the engine that compares the candidates.

    Returns
    -------
    Screened
        ``best``, the candidate with the lowest `score` (the only one if there is
        one); ``scores``, `Setting.label` -> BIC per point, empty when there was
        nothing to compare; ``finals``, the screening fits that already are their
        candidate's full fit with the numba engine (`_is_final`). A candidate whose
        data the library refuses (a saturated range inside its window only, say) is
        left out; if every one is, that error is raised.
    """
    cands = settings(spectrum.x, band_list, kwargs)
    if len(cands) == 1:
        return Screened(cands[0], {}, {})
    options = kwargs.get("options") or FitOptions()
    screen_kw = {**kwargs, "options": screening_options(options)}
    scores, finals, failed = {}, {}, None
    for c in cands:
        try:
            problem = prepare(spectrum, band_list, **{**screen_kw, **c.overrides})
            res = fit(problem)
        except NmcramanError as exc:  # e.g. a saturated range inside this window only
            failed = failed or exc  # the first rule's error, if every one fails
            continue
        scores[c.label] = score(res)
        if _is_final(problem, res, options):
            finals[c.label] = res
    if not scores:
        raise failed
    best = min((c for c in cands if c.label in scores), key=lambda c: scores[c.label])
    return Screened(best, scores, finals)


class Screened(NamedTuple):
    """What `screen` found: the best candidate, every score, the reusable fits."""

    best: Setting
    scores: dict
    finals: dict


def _is_final(problem, res: Result, options: FitOptions) -> bool:
    """Whether a screening fit is already its candidate's full fit (numba engine).

    The full fit's first start is the screening start, and with Lorentzian bands (no
    continuation start) and not ``all_starts`` it tries its other
    starts only after a trapped minimum: a band absent or on a bound
    (`nmcraman._levmar.trapped`), which the flags show. So a screening fit that
    converged before `SCREEN_MAX_ITER` with no such band is the full fit, to the bit.
    """
    flags = res.table["flag"]
    return (
        problem.shape == "lorentzian" and not options.all_starts
        and res.stats["converged"] and res.stats["n_iter"] < SCREEN_MAX_ITER
        and not any(f == "absent" or "at_bound" in f for f in flags)
    )  # fmt: skip


def choose_window(spectrum: Spectrum, band_list: list[Band], kwargs: dict, fit: Callable):
    """Settle ``window="auto"`` for one spectrum: the window of the best-scored candidate.

    The candidates are every window times every order the ``baseline`` leaves open
    (`screen`), so each window is judged by the order that suits it best. With one
    window on the data nothing is fitted.

    Returns
    -------
    setting : dict
        ``kwargs`` with ``window`` fixed (``baseline`` left as given).
    screened : Screened
        What `screen` found; no scores when there was no window to choose.
    """
    cands = settings(spectrum.x, band_list, kwargs)
    if len({c.window for c in cands}) == 1:
        return {**kwargs, "window": cands[0].window}, Screened(cands[0], {}, {})
    screened = screen(spectrum, band_list, kwargs, fit)
    return {**kwargs, "window": screened.best.window}, screened


def fit_orders(spectrum: Spectrum, band_list: list[Band], setting: dict, fit: Callable,
               scores: dict, finals: dict | None = None):  # fmt: skip
    """Fit one spectrum in the window of ``setting``: averaged over orders if ``"auto"``.

    With ``baseline="auto"`` every order of `nmcraman.baseline.AUTO_ORDERS` is fitted
    in full and the fits are averaged with `order_weights` (`average`); otherwise
    the one setting is fitted. An order the library refuses (too few points in the
    window for its parameters, say) is left out of the average; if every one is, the
    lowest order's error is raised. ``scores`` (from `choose_window`) go into the record;
    ``finals`` (label -> Result, `Screened.finals`) are full fits already made, used
    instead of fitting again (only if ``fit`` is the numba engine).

    Returns
    -------
    Result
        With ``meta["auto_choice"]``: ``criterion``, ``window`` (the rule),
        ``baseline`` (``"auto"`` when averaged), the window ``scores`` if windows were
        compared, and for an average each order's ``order_scores`` and ``weights``.
    """
    cands = settings(spectrum.x, band_list, setting)
    record = {"criterion": CRITERION, "window": setting["window"], "baseline": cands[0].name}
    if scores:
        record["scores"] = scores
    finals = finals or {}

    def full(c: Setting) -> Result:
        if c.label in finals:
            return finals[c.label]
        return fit(prepare(spectrum, band_list, **{**setting, **c.overrides}))

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
    w = np.exp(-0.5 * EVIDENCE_POINTS * (s - s.min()))
    return w / w.sum()


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
    cols = list(K.TABLE_ROWS)
    # Between ``label`` and ``flag``: `K.TABLE_ROWS` (`nmcraman.result.TABLE_COLUMNS`).
    values = np.stack([r.table.iloc[:, 2:-1].to_numpy(dtype=np.float64).T for r in fits])
    numbers = np.clip(np.einsum("f,frb->rb", w, values), values.min(axis=0), values.max(axis=0))
    for i, col in enumerate(cols):
        if col.endswith("_err"):
            j = cols.index(col[: -len("_err")])
            known = np.isfinite(values[:, i])
            wk = w[:, None] * known
            wk = np.where(known.any(axis=0), wk / np.maximum(wk.sum(axis=0), 1e-300), w[:, None])
            # Clipped to the fits' range: rounding must not push a mean past a bound.
            avg = np.einsum("fb,fb->b", wk, values[:, j])
            numbers[j] = np.clip(avg, values[:, j].min(axis=0), values[:, j].max(axis=0))
            spread = (values[:, j] - numbers[j]) ** 2
            own = np.where(known, values[:, i], 0.0) ** 2
            err = np.sqrt(np.einsum("fb,fb->b", wk, own + spread))
            numbers[i] = np.where(known.any(axis=0), err, np.nan)
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
    )  # fmt: skip


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
    x: np.ndarray, spectra: Sequence[Spectrum], band_list: list[Band], kwargs: dict, fit: Callable
) -> tuple[dict, dict | None]:
    """One window and order for many spectra: the most common of their own choices.

    Up to `SHARED_SAMPLE` spectra, evenly spaced in ``spectra``, choose for themselves
    (`screen`: one window and one order each, no average); ties go to the lower summed
    score. Spectra that cannot be fitted are skipped; if none can (or none is given),
    the first candidate is kept. The candidates are those of the ascending axis ``x``
    (cm-1).

    Returns
    -------
    setting : dict
        ``kwargs`` with the chosen ``window`` and ``baseline``.
    record : dict or None
        ``criterion``, ``window``, ``baseline``, ``votes`` (label -> count) and
        ``n_spectra`` (how many voted); None when nothing was left to choose.
    """
    cands = settings(x, band_list, kwargs)
    first = {**kwargs, **cands[0].overrides}
    if len(cands) == 1:
        return first, None
    picks = np.unique(np.linspace(0, len(spectra) - 1, min(SHARED_SAMPLE, len(spectra))).round())
    votes, totals, chosen = Counter(), Counter(), {}
    for i in picks.astype(int):
        try:
            best, scores, _ = screen(spectra[i], band_list, kwargs, fit)
        except NmcramanError:
            continue
        votes[best.label] += 1
        chosen[best.label] = {**kwargs, **best.overrides}
        for key, value in scores.items():
            totals[key] += value
    if not votes:
        return first, {"criterion": CRITERION, "window": first["window"],
                       "baseline": cands[0].name, "votes": {}, "n_spectra": 0}  # fmt: skip
    best = max(votes, key=lambda k: (votes[k], -totals[k]))
    window, baseline = best.split()
    record = {"criterion": CRITERION, "window": window, "baseline": baseline,
              "votes": dict(votes), "n_spectra": int(sum(votes.values()))}  # fmt: skip
    return chosen[best], record


def with_record(result, record: dict | None):
    """Return ``result`` with the choice in ``meta["auto_choice"]`` (unchanged if None)."""
    if record is None:
        return result
    return dataclasses.replace(result, meta={**result.meta, "auto_choice": record})
