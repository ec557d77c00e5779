"""Fit window and baseline order chosen from the data: ``window="auto"``, ``baseline="auto"``.

A fixed fit window and baseline order suit some backgrounds and not others: a cubic
over the prior windows widened by 150 cm-1 (``"bands"``, 180 to 775 cm-1 for the NMC
presets) follows a steep exponential background better than over 150 to 900 cm-1
(``"wide"``), while on smooth backgrounds the wider window's band-free flanks pin the
baseline. So, when asked, every candidate setting (each window rule of
`nmcraman._problem.WINDOWS` that gives a different window on the data, times each
order of `nmcraman.baseline.AUTO_ORDERS`) is fitted, and the one with the lowest BIC
per point wins (`score`). Measured against the truth on synthetic spectra
(benchmarks/window.py; docs: "Baselines", "Performance and accuracy"), the choice is
no more accurate than the fixed default (``"bands"`` window, cubic) on the
backgrounds tried and costs several fits per spectrum: it is opt-in, and the default
stays fixed.

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

Maps and sets of spectra share one window and order (`choose_shared`): each of up to
`SHARED_SAMPLE` spectra chooses for itself, and the most common choice is fitted to
all. Not the mean spectrum: averaging raises the signal-to-noise ratio, and BIC's
choice depends on it (more structure is worth its parameters at higher SNR); the
pixels are fitted at their own.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._problem import WINDOWS, prepare, window_bounds
from .bands import Band
from .baseline import AUTO_ORDERS
from .errors import InputError, NmcramanError
from .options import FitOptions
from .spectrum import Spectrum

__all__ = ["CRITERION", "SHARED_SAMPLE", "Setting", "choose", "choose_shared", "score", "settings"]

#: Name of the rule recorded in ``meta["auto_choice"]`` (see `score`).
CRITERION = "bic_per_point"
#: Spectra of a map or set whose own choices decide the shared one.
SHARED_SAMPLE = 16
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


def choose(spectrum: Spectrum, band_list: list[Band], kwargs: dict, fit: Callable):
    """Compare every candidate setting of one spectrum (`settings`); fit the best in full.

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
    result : Result
        The best candidate fitted with ``kwargs["options"]``: the same fit as asking
        for its window and baseline explicitly.
    setting : dict
        ``kwargs`` with the chosen ``window`` and ``baseline``.
    record : dict or None
        What `with_record` stores (``criterion``, ``window``, ``baseline`` and the
        ``scores`` of every candidate), or None when nothing was left to choose.
    """
    cands = settings(spectrum.x, band_list, kwargs)
    record = None
    if len(cands) > 1:
        screen = {**kwargs, "options": screening_options(kwargs.get("options"))}
        scores = {
            c.label: score(fit(prepare(spectrum, band_list, **{**screen, **c.overrides})))
            for c in cands
        }
        best = min(cands, key=lambda c: scores[c.label])
        record = {"criterion": CRITERION, "window": best.window, "baseline": best.name,
                  "scores": scores}  # fmt: skip
    else:
        best = cands[0]
    fixed = {**kwargs, **best.overrides}
    return fit(prepare(spectrum, band_list, **fixed)), fixed, record


def choose_shared(
    x: np.ndarray, spectra: Sequence[Spectrum], band_list: list[Band], kwargs: dict, fit: Callable
) -> tuple[dict, dict | None]:
    """One window and order for many spectra: the most common of their own choices.

    Up to `SHARED_SAMPLE` spectra, evenly spaced in ``spectra``, choose for themselves
    (`choose`); ties go to the lower summed score. Spectra that cannot be fitted are
    skipped; if none can (or none is given), the first candidate is kept. The
    candidates are those of the ascending axis ``x`` (cm-1).

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
            _, fixed, record = choose(spectra[i], band_list, kwargs, fit)
        except NmcramanError:
            continue
        label = f"{record['window']} {record['baseline']}"
        votes[label] += 1
        chosen[label] = fixed
        for key, value in record["scores"].items():
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
