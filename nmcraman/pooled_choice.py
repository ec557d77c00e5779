"""The window and baseline order of pooled fits: a reference setting, then an average.

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
(`nmcraman.maps.choice`, `nmcraman.deconvolve_joint` with ``share="none"``).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .bands import Band
from .choice import (
    CRITERION,
    Setting,
    average_numbers,
    order_weights,
    screen,
    settings,
)
from .errors import NmcramanError
from .misfit import BLOCK
from .model import AUTO, FIXED, is_auto
from .results.result import Result, band_frame
from .spectrum import Spectrum

__all__ = [
    "POOLED_EVIDENCE",
    "POOLED_WINDOWS",
    "SHARED_SAMPLE",
    "average_tables",
    "averaged_baseline",
    "by_label",
    "choose_shared",
    "pooled_record",
    "pooled_score",
    "pooled_settings",
    "pooled_weights",
    "trimmed_settings",
    "without_misfits",
]

#: Spectra of a map or set whose own choices decide the shared one.
SHARED_SAMPLE = 16
#: How pooled fits treat the window candidates (`pooled_settings`, `pooled_weights`):
#: ``"average"``, every window and order averaged alike; ``"choose"``, each pool keeps
#: the window of its best `pooled_score` and averages its orders (as `choose_window`
#: and `fit_orders` do for one spectrum); ``"chosen"``, only the orders of the window
#: `choose_shared` chose are fitted (half the cost). ``"choose"`` was less accurate
#: than ``"average"`` on benchmarks/pooled_coverage.py's maps (docs: "Baselines").
POOLED_WINDOWS = "average"
#: How much evidence `pooled_weights` credits a pool with, by its kind: ``"point"``, its
#: BIC per point, as much as one spectrum's; ``"spectra"``, as much as all its
#: spectra's, each as one spectrum's (as `choose_shared` sums them). A map's phase
#: (``"map"``) gets ``"point"``: its pixels are neighbours whose backgrounds vary
#: together, so a baseline misfit is one systematic error that more pixels do not average
#: away, and crediting hundreds of pixels would make the weights select one candidate,
#: the confident and wrong answer the average exists to avoid. A joint set (``"set"``)
#: gets ``"spectra"``: a few separate spots, each on its own background, each a
#: separate piece of evidence between the candidates (`nmcraman.deconvolve_joint`
#: credits at most `SHARED_SAMPLE` of them). On benchmarks/pooled_coverage.py's
#: sets, ``"point"`` left the error bars over-wide on exponential backgrounds, with
#: larger errors (docs: "Many spectra of one sample").
POOLED_EVIDENCE = {"map": "point", "set": "spectra"}


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


def pooled_weights(scores, n_spectra, windows: Sequence[str], pool: str) -> np.ndarray:
    """Weights of a pool's candidates from their `pooled_score`: `order_weights`'s rule.

    ``scores`` (candidates, ...) and ``n_spectra`` (the pools' spectra, broadcast over
    the trailing axes): with the `POOLED_EVIDENCE` of ``pool`` (``"map"`` or ``"set"``)
    ``"point"`` the scores as they are, with ``"spectra"`` each pool's scores times its
    number of spectra (the sum of its spectra's BIC per point, as `choose_shared` sums
    them). ``windows`` names each candidate's window; with `POOLED_WINDOWS`
    ``"choose"`` a pool weights only the candidates of the window of its best score, as
    one spectrum does.
    """
    s = np.asarray(scores, dtype=np.float64)
    if POOLED_EVIDENCE[pool] == "spectra":
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


def trimmed_settings(kept: Sequence[Setting], pools: Sequence[Sequence[dict]],
                     given: float | None) -> list[Setting]:  # fmt: skip
    """Return the first candidate's window, every order, with its low end past edge structure.

    ``pools`` holds, for each pool (a map's phase, a joint set), the misfit records of
    the candidates that pooled it (`nmcraman.misfit.MisfitTest.record`). For the pools
    that every candidate failed, at least half of them with structure at the window's
    low end (``misfit_low_edge``: the rise of an edge filter, which no polynomial
    follows), the low end moves to one `nmcraman.misfit.BLOCK` beyond the median of
    those edges. Empty when no pool failed so, when ``kept`` was trimmed already (the
    window is trimmed once), or when the user gave the window's low end (``given``,
    cm-1, the model's ``xmin``; ``window=(a, None)`` gives it too): a side the user
    gave is kept.
    """
    edges = []
    for found in pools:
        at = [p["misfit_low_edge"] for p in found if p.get("misfit_low_edge") is not None]
        if found and all(p.get("model_misfit") for p in found) and 2 * len(at) >= len(found):
            edges += at
    if given is not None or not edges or any(c.xmin is not None for c in kept):
        return []
    xmin = float(np.median(edges)) + BLOCK
    return [dataclasses.replace(c, xmin=xmin) for c in kept if c.window == kept[0].window]


def without_misfits(scores, flagged, tested) -> tuple[np.ndarray, np.ndarray]:
    """Set to inf the scores of candidates whose pool failed its misfit check.

    A candidate whose mean residual keeps structure (`nmcraman.misfit`) is a model the
    data reject when another candidate passes the same check: it then gets no weight
    (`pooled_weights` gives inf none), and its pool's fallback to the spectra's own
    fits does not enter the average. A candidate whose pool could not be tested (too
    few spectra left after the fallback rule) has not passed. When no candidate of a
    pool passes, the scores stay, and the pool fails if any candidate was tested.

    Parameters
    ----------
    scores : array-like, shape (candidates,) or (candidates, pools)
        `pooled_score` of each candidate (and pool).
    flagged, tested : array-like of bool, same shape
        Whether that candidate's pool failed its misfit check; whether it was tested.

    Returns
    -------
    scores : numpy.ndarray
        The scores, inf where a flagged candidate is outweighed by a passing one.
    failed : numpy.ndarray of bool, shape (pools,) or ()
        Whether the pool fails: tested, and no candidate passed.
    """
    scores = np.array(scores, dtype=float)
    flagged = np.asarray(flagged, dtype=bool)
    tested = np.asarray(tested, dtype=bool)
    passed = (tested & ~flagged).any(axis=0)
    return np.where(flagged & passed, np.inf, scores), tested.any(axis=0) & ~passed
