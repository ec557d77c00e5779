"""Speed and accuracy of nmcraman against lmfit, scipy and fityk on the same spectra.

Every tool fits the same synthetic spectra (known truth) with the same model: one
Lorentzian per band (area, centre, FWHM), a cubic baseline fitted jointly, the same
fit window, the same starting centres and FWHMs (the literature priors of
`nmcraman.bands`) and the same bounds (centre windows, FWHM ranges, areas >= 0).

Usage::

    python benchmarks/run.py [--n 10] [--quick] [--out benchmarks/results]

See benchmarks/README.md for what each column means.
"""

# The thread limits below must be set before numpy is imported, hence imports below code.
# ruff: noqa: E402
from __future__ import annotations

import os

# Single-threaded on purpose: per-spectrum times are per core, and maps are fitted
# one spectrum per core. Must be set before numpy (BLAS) and numba are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from nmcraman import FitOptions, deconvolve
from nmcraman.bands import bands as band_priors
from nmcraman.baseline import legendre_basis
from nmcraman.choice import FIXED
from nmcraman.synthetic import perturb, simulate

#: Sample -> band preset it is fitted with (CS_75 has the rock-salt LO band).
SAMPLES = {"Core_75": "nmc", "CS_75": "nmc+lo"}
BACKGROUNDS = ("fluorescence", "cubic")
SNRS = (50, 100, 200)
SEED = 20240611
#: nmcraman's default fit window: the prior windows widened by this much (cm-1).
WINDOW_MARGIN = 150.0
BASELINE_ORDER = 3
TOOLS = ("nmcraman", "nmcraman-all", "nmcraman-1start", "nmcraman-lmfit", "scipy-trf", "fityk")
#: Every start runs, not only until a minimum is untrapped (the default).
ALL_STARTS = FitOptions(all_starts=True)
#: One start (FWHM x 0.7) instead of up to three, as scipy and fityk have.
ONE_START = FitOptions(width_scales=(0.7,))
LORENTZ_PEAK = 2.0 / np.pi


# ----------------------------------------------------------------------------- data


@dataclass
class Case:
    """One synthetic spectrum and its truth."""

    sample: str
    preset: str
    background: str
    snr: float
    index: int
    x: np.ndarray
    y: np.ndarray
    truth: pd.DataFrame


@dataclass
class Priors:
    """Starting values and bounds of one preset, as plain arrays (cm-1)."""

    ids: list[str]
    centre: np.ndarray
    c_lo: np.ndarray
    c_hi: np.ndarray
    fwhm: np.ndarray
    w_lo: np.ndarray
    w_hi: np.ndarray
    window: tuple[float, float]

    @classmethod
    def of(cls, preset: str) -> Priors:
        b = band_priors(preset)
        lo = min(p.window[0] for p in b) - WINDOW_MARGIN
        hi = max(p.window[1] for p in b) + WINDOW_MARGIN
        return cls(
            ids=[p.id for p in b],
            centre=np.array([p.centre for p in b]),
            c_lo=np.array([p.window[0] for p in b]),
            c_hi=np.array([p.window[1] for p in b]),
            fwhm=np.array([p.fwhm for p in b]),
            w_lo=np.array([p.fwhm_range[0] for p in b]),
            w_hi=np.array([p.fwhm_range[1] for p in b]),
            window=(lo, hi),
        )

    def clip(self, x: np.ndarray) -> tuple[float, float]:
        """The fit window clipped to the data, as nmcraman does."""
        return max(self.window[0], float(x[0])), min(self.window[1], float(x[-1]))


@dataclass
class Record:
    """One tool's fit of one case."""

    tool: str
    case: Case
    seconds: float
    converged: bool
    fit: pd.DataFrame  # band, position, fwhm, area_pct
    n_eval: int = -1
    note: str = ""


def make_cases(n: int, snrs=SNRS, backgrounds=BACKGROUNDS, seed: int = SEED) -> list[Case]:
    """The same spectra for every tool: a fixed seed, one generator, a fixed order."""
    rng = np.random.default_rng(seed)
    cases = []
    for sample, preset in SAMPLES.items():
        for background in backgrounds:
            for snr in snrs:
                for i in range(n):
                    truth = perturb(sample, rng)
                    s = simulate(truth, snr=snr, background=background, rng=rng)
                    cases.append(Case(sample, preset, background, snr, i, s.x, s.y, s.truth))
    return cases


def window_slice(case: Case, pri: Priors) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = pri.clip(case.x)
    sel = (case.x >= lo) & (case.x <= hi)
    return case.x[sel], case.y[sel]


def unit_lorentzians(x: np.ndarray, centre: np.ndarray, fwhm: np.ndarray):
    """Unit-area Lorentzians (nb, n) and the pieces their derivatives need."""
    u = (x[None, :] - centre[:, None]) / fwhm[:, None]
    d = 1.0 + 4.0 * u * u
    return LORENTZ_PEAK / (fwhm[:, None] * d), u, d


def linear_start(x, y, centre, fwhm) -> tuple[np.ndarray, np.ndarray]:
    """Areas and Legendre baseline coefficients by linear least squares at fixed shapes.

    The shared amplitude start: a poor amplitude start is not what this benchmark
    compares, so scipy and fityk get the same one nmcraman computes internally.
    """
    g, _, _ = unit_lorentzians(x, centre, fwhm)
    design = np.vstack([g, legendre_basis(x, BASELINE_ORDER)]).T
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef[: centre.size], coef[centre.size :]


def fit_frame(ids, centre, fwhm, area) -> pd.DataFrame:
    area = np.asarray(area, dtype=float)
    total = area.sum()
    pct = 100.0 * area / total if total > 0 else np.full(area.size, np.nan)
    return pd.DataFrame({"band": ids, "position": centre, "fwhm": fwhm, "area_pct": pct})


# ------------------------------------------------------------------------ nmcraman


def run_nmcraman(cases: list[Case], engine: str, tool=None, options=None) -> list[Record]:
    tool = tool or ("nmcraman" if engine == "numba" else f"nmcraman-{engine}")
    # Warm-up: numba compiles (or loads its cache) and lmfit imports on first use. The
    # numba engine's first pass over the spectra is also slower than later ones (0.67
    # against 0.56 ms median on an AVX2 EPYC), so it makes one untimed pass; one fit
    # per model is enough for lmfit, at 100 times the cost per spectrum.
    warm = (
        cases
        if engine == "numba"
        else [next(c for c in cases if c.preset == preset) for preset in SAMPLES.values()]
    )
    for c in warm:
        deconvolve(c.x, c.y, bands=c.preset, engine=engine, options=options, **FIXED)
    out = []
    for c in cases:
        t0 = time.perf_counter()
        res = deconvolve(c.x, c.y, bands=c.preset, engine=engine, options=options, **FIXED)
        t = res.table
        dt = time.perf_counter() - t0
        check_window(res.meta["window"], c)
        fit = fit_frame(t["band"], t["position"], t["fwhm"], t["area"])
        out.append(Record(tool, c, dt, res.stats["converged"], fit, res.stats["n_eval"]))
    return out


def check_window(window, case: Case) -> None:
    """The other tools use the window computed here; make sure nmcraman agrees."""
    lo, hi = Priors.of(case.preset).clip(case.x)
    if abs(window[0] - lo) > 1.0 or abs(window[1] - hi) > 1.0:
        raise RuntimeError(f"nmcraman fitted {window}, the benchmark assumes ({lo}, {hi})")


# --------------------------------------------------------------------------- scipy


def scipy_model(p, x, basis, nb):
    c, w, a, b = p[:nb], p[nb : 2 * nb], p[2 * nb : 3 * nb], p[3 * nb :]
    g, u, d = unit_lorentzians(x, c, w)
    return a @ g + b @ basis, (a, w, g, u, d)


def scipy_jacobian(p, x, y, basis, nb):
    _, (a, w, g, u, d) = scipy_model(p, x, basis, nb)
    ag = a[:, None] * g
    dc = ag * 8.0 * u / (w[:, None] * d)
    dw = ag / w[:, None] * (8.0 * u * u / d - 1.0)
    return np.vstack([dc, dw, g, basis]).T


def fit_scipy(case: Case, pri: Priors) -> Record:
    x, y = window_slice(case, pri)
    # Scaled like nmcraman does internally, so areas and baseline are O(1).
    scale = float(np.max(np.abs(y)))
    ys = y / scale
    basis = legendre_basis(x, BASELINE_ORDER)
    nb = len(pri.ids)
    area0, base0 = linear_start(x, ys, pri.centre, pri.fwhm)
    p0 = np.concatenate([pri.centre, pri.fwhm, np.maximum(area0, 1e-6), base0])
    inf = np.full(basis.shape[0], np.inf)
    lo = np.concatenate([pri.c_lo, pri.w_lo, np.zeros(nb), -inf])
    hi = np.concatenate([pri.c_hi, pri.w_hi, np.full(nb, np.inf), inf])
    res = least_squares(
        lambda p: scipy_model(p, x, basis, nb)[0] - ys,
        p0,
        jac=lambda p: scipy_jacobian(p, x, ys, basis, nb),
        bounds=(lo, hi),
        method="trf",
    )
    p = res.x
    fit = fit_frame(pri.ids, p[:nb], p[nb : 2 * nb], p[2 * nb : 3 * nb])
    return Record("scipy-trf", case, 0.0, bool(res.status > 0), fit, int(res.nfev))


def run_scipy(cases: list[Case]) -> list[Record]:
    priors = {p: Priors.of(p) for p in SAMPLES.values()}
    fit_scipy(cases[0], priors[cases[0].preset])  # warm-up: first-call imports
    out = []
    for c in cases:
        t0 = time.perf_counter()
        rec = fit_scipy(c, priors[c.preset])
        rec.seconds = time.perf_counter() - t0
        out.append(rec)
    return out


# --------------------------------------------------------------------------- fityk

#: mpfit statuses fityk prints that mean a converged (or no longer improvable) fit.
#: Not converged: "Maximum number of evaluations reached", which fityk 1.3.2 prints for
#: MPFIT's own iteration cap (cmpfit's default is 200); neither max_wssr_evaluations
#: nor `fit N` lifts it, so such fits are reported as they stopped.
FITYK_OK = ("Convergence", "too small; no further improvement")
FITYK_SETUP = [
    "set verbosity = -1",
    # Equal weights, as the other tools use: fityk's default sigma is sqrt(y).
    "set default_sigma = one",
    # mpfit (MINPACK Levenberg-Marquardt) honours the domains as bounds; fityk's own
    # levenberg_marquardt ignores them.
    "set fitting_method = mpfit",
    "set numeric_format = '%.12g'",
    # Keep going after a failed fit; the record is then marked not converged.
    "set on_error = nothing",
]


@dataclass
class FitykStart:
    """Starting values of one fityk fit in data units (cm-1, counts)."""

    area: np.ndarray
    centre: np.ndarray
    fwhm: np.ndarray
    poly: np.ndarray  # cubic baseline, monomial coefficients in x


def fityk_start(case: Case, pri: Priors, centre=None, fwhm=None) -> FitykStart:
    centre = pri.centre if centre is None else np.asarray(centre, dtype=float)
    fwhm = pri.fwhm if fwhm is None else np.asarray(fwhm, dtype=float)
    x, y = window_slice(case, pri)
    area, leg = linear_start(x, y, centre, fwhm)
    # fityk's Cubic is a0 + a1 x + a2 x^2 + a3 x^3 in raw x: convert the Legendre start.
    poly = np.polynomial.Legendre(leg, domain=[x[0], x[-1]])
    poly = poly.convert(kind=np.polynomial.Polynomial).coef
    floor = 1e-6 * float(np.max(np.abs(y)))
    return FitykStart(np.maximum(area, floor), centre, fwhm, poly)


def fityk_block(k: int, path: str, pri: Priors, window, start: FitykStart) -> list[str]:
    """fityk commands that load, fit and print one spectrum, then clear the model."""
    lo, hi = window
    lines = [
        f"lua print(string.format('T %d %.9f', {k}, os.clock()))",
        f"@0 < '{path}'",
        f"A = (x >= {lo:.10g} and x <= {hi:.10g})",
        "%bg = Cubic(" + ", ".join(f"~{v:.12g}" for v in start.poly) + ")",
        "F += %bg",
    ]
    # LorentzianA(area, center, hwhm): the same area parametrisation, with hwhm = FWHM/2.
    for j in range(len(pri.ids)):
        lines += [
            f"%p{j} = LorentzianA(area=~{start.area[j]:.12g} [0:],"
            f" center=~{start.centre[j]:.12g} [{pri.c_lo[j]:g}:{pri.c_hi[j]:g}],"
            f" hwhm=~{start.fwhm[j] / 2:.12g} [{pri.w_lo[j] / 2:g}:{pri.w_hi[j] / 2:g}])",
            f"F += %p{j}",
        ]
    values = ", ".join(f"%p{j}.area, %p{j}.center, %p{j}.hwhm" for j in range(len(pri.ids)))
    return [*lines, "with verbosity=0 fit", f"print 'R', {k}, {values}", "delete %*", "delete $*"]


def parse_fityk(text: str) -> dict[int, dict]:
    """Results by spectrum index: values, mpfit status, evaluations, CPU clock stamps."""
    out: dict[int, dict] = {}
    status, n_eval, clocks = "no fit", -1, {}
    for line in text.splitlines():
        if line.startswith("T "):
            _, k, t = line.split()
            clocks[int(k)] = float(t)
        elif line.startswith("mpfit status:"):
            status = line.split(":", 1)[1].strip()
        elif m := re.match(r"mpfit: (\d+) evaluations", line):
            n_eval = int(m.group(1))
        elif line.startswith("R "):
            tok = line.split()
            v = np.array([float(t) for t in tok[2:]]).reshape(-1, 3)
            out[int(tok[1])] = {"v": v, "status": status, "n_eval": n_eval}
            status, n_eval = "no fit", -1
    for k, rec in out.items():
        rec["cpu"] = clocks.get(k + 1, np.nan) - clocks.get(k, np.nan)
    return out


def fityk_startup(exe: str, repeats: int = 5) -> float:
    """Wall time of starting and quitting cfityk with a trivial command (median)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [exe, "-q", "-I", "-n", "-c", "set verbosity = -1"], check=True, capture_output=True
        )
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run_fityk_script(exe: str, jobs, tmp: Path, tag: str) -> tuple[dict, float]:
    """Run one cfityk process over jobs [(case, priors, start)]; return parsed, wall s."""
    lines = list(FITYK_SETUP)
    for k, (case, pri, start) in enumerate(jobs):
        path = tmp / f"{tag}_{k}.dat"
        np.savetxt(path, np.column_stack([case.x, case.y]), fmt="%.17g")
        lines += fityk_block(k, str(path), pri, pri.clip(case.x), start)
    lines.append(f"lua print(string.format('T %d %.9f', {len(jobs)}, os.clock()))")
    script = tmp / f"{tag}.fit"
    script.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "-q", "-I", "-n", str(script)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    return parse_fityk(proc.stdout), wall


def fityk_records(jobs, parsed: dict, wall_per_fit: float) -> list[Record]:
    out = []
    for k, (case, pri, _) in enumerate(jobs):
        r = parsed.get(k)
        if r is None:
            nan = np.full(len(pri.ids), np.nan)
            out.append(
                Record("fityk", case, wall_per_fit, False, fit_frame(pri.ids, nan, nan, nan))
            )
            continue
        v = r["v"]
        fit = fit_frame(pri.ids, v[:, 1], 2.0 * v[:, 2], v[:, 0])
        ok = any(s in r["status"] for s in FITYK_OK)
        seconds = r["cpu"] if np.isfinite(r["cpu"]) else wall_per_fit
        out.append(Record("fityk", case, seconds, ok, fit, r["n_eval"], r["status"]))
    return out


def verify_fityk(exe: str, tmp: Path) -> tuple[bool, str]:
    """Noise-free spectra started at the truth must come back as the truth.

    This checks the script, the parser and the area/hwhm conversion, not the optimiser:
    the cubic background is exactly representable, so the residual can reach zero.
    The same spectra started from the priors are reported too (that one does test the
    optimiser, so it does not gate).
    """
    jobs = []
    for sample, preset in SAMPLES.items():
        s = simulate(sample, snr=None, background="cubic", rng=0)
        case = Case(sample, preset, "cubic", np.inf, 0, s.x, s.y, s.truth)
        pri = Priors.of(preset)
        truth = s.truth.set_index("band").loc[pri.ids]
        jobs.append((case, pri, fityk_start(case, pri, truth["position"], truth["fwhm"])))
        jobs.append((case, pri, fityk_start(case, pri)))
    parsed, _ = run_fityk_script(exe, jobs, tmp, "verify")
    recs = fityk_records(jobs, parsed, np.nan)
    at_truth, at_prior = worst_error(recs[0::2]), worst_error(recs[1::2])
    return at_truth < 1e-3, (
        f"noise-free check: max |error| {at_truth:.1e} started at the truth,"
        f" {at_prior:.2g} started from the priors"
    )


def worst_error(recs: list[Record]) -> float:
    """Largest |fit - truth| over bands and quantities; inf if any fit failed."""
    if not all(r.converged for r in recs):
        return np.inf
    worst = max(float(np.max(np.abs(deviation(r).to_numpy()))) for r in recs)
    return worst if np.isfinite(worst) else np.inf


def run_fityk(cases: list[Case], exe: str) -> tuple[list[Record], dict]:
    info: dict = {"startup_s": fityk_startup(exe)}
    with tempfile.TemporaryDirectory(prefix="nmcraman-bench-") as tmpdir:
        tmp = Path(tmpdir)
        ok, info["check"] = verify_fityk(exe, tmp)
        print(f"fityk: {info['check']} -> {'ok' if ok else 'FAILED, fityk skipped'}")
        if not ok:
            return [], info
        out = []
        for sample, preset in SAMPLES.items():
            pri = Priors.of(preset)
            jobs = [(c, pri, fityk_start(c, pri)) for c in cases if c.sample == sample]
            if not jobs:
                continue
            parsed, wall = run_fityk_script(exe, jobs, tmp, sample)
            per_fit = (wall - info["startup_s"]) / len(jobs)
            info[f"wall_ms_{sample}"] = 1e3 * per_fit
            out += fityk_records(jobs, parsed, per_fit)
    return out, info


def fityk_version(exe: str) -> str:
    text = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+\.\d+(\.\d+)?)", text)
    return m.group(1) if m else "unknown"


# ------------------------------------------------------------- start-up and compile

PROBE = """
import json, time
t0 = time.perf_counter()
import nmcraman
t1 = time.perf_counter()
from nmcraman.synthetic import simulate
s = simulate("CS_75", snr=100, rng=0)
t2 = time.perf_counter()
nmcraman.deconvolve(s.x, s.y, bands="nmc+lo", window="bands", baseline="poly3")
t3 = time.perf_counter()
nmcraman.deconvolve(s.x, s.y, bands="nmc+lo", window="bands", baseline="poly3")
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_fit": t3 - t2, "second_fit": t4 - t3}))
"""


def probe(env: dict | None = None) -> dict:
    """Run PROBE in a fresh interpreter: import time, first and second fit time (s)."""
    env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def startup_timings() -> dict:
    """Import time (median of 3, default cache) and first fits with a cold and warm cache."""
    imports = [probe()["import"] for _ in range(3)]
    with tempfile.TemporaryDirectory(prefix="nmcraman-numba-cache-") as cache:
        cold = probe({"NUMBA_CACHE_DIR": cache})
        warm = probe({"NUMBA_CACHE_DIR": cache})
    return {"import": float(np.median(imports)), "cold": cold, "warm": warm}


# ------------------------------------------------------------------------ reporting


def rmse(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(np.sqrt(np.mean(a * a))) if a.size else np.nan


def truth_of(case: Case) -> pd.DataFrame:
    """Truth by band, area % recomputed from the true areas.

    Why: the unperturbed Table S3 truths carry the paper's rounded area % (CS_75 sums
    to 99.9), while every fit reports area % of its own summed band area (100).
    """
    t = case.truth.set_index("band")[["position", "fwhm", "area"]].copy()
    area = t.pop("area")
    t["area_pct"] = 100.0 * area / area.sum()
    return t


def deviation(rec: Record) -> pd.DataFrame:
    """Fit minus truth by band: position, fwhm, area_pct (NaN where a fit failed)."""
    fit = rec.fit.set_index("band")[["position", "fwhm", "area_pct"]]
    return fit - truth_of(rec.case).loc[fit.index]


def summary_row(tool: str, sample: str, recs: list[Record]) -> dict:
    ms = 1e3 * np.array([r.seconds for r in recs])
    dev = pd.concat([deviation(r) for r in recs])
    return {
        "tool": tool,
        "sample": sample,
        "n": len(recs),
        "ms_median": float(np.median(ms)),
        "ms_mean": float(np.mean(ms)),
        "rmse_position": rmse(dev["position"].to_numpy()),
        "rmse_fwhm": rmse(dev["fwhm"].to_numpy()),
        "rmse_area_pct": rmse(dev["area_pct"].to_numpy()),
        "converged": float(np.mean([r.converged for r in recs])),
    }


def summarise(records: list[Record]) -> pd.DataFrame:
    rows = []
    for tool in TOOLS:
        for sample in [*SAMPLES, "all"]:
            recs = [r for r in records if r.tool == tool and sample in ("all", r.case.sample)]
            if recs:
                rows.append(summary_row(tool, sample, recs))
    table = pd.DataFrame(rows)
    ref = table[table["tool"] == "nmcraman"].set_index("sample")["ms_median"]
    table.insert(5, "ratio", table["ms_median"] / table["sample"].map(ref))
    return table


def per_spectrum(records: list[Record]) -> pd.DataFrame:
    rows = []
    for r in records:
        d = deviation(r).abs().max()
        rows.append(
            {
                "tool": r.tool,
                "sample": r.case.sample,
                "background": r.case.background,
                "snr": r.case.snr,
                "index": r.case.index,
                "ms": 1e3 * r.seconds,
                "converged": r.converged,
                "n_eval": r.n_eval,
                "note": r.note,
                "max_abs_err_position": d["position"],
                "max_abs_err_fwhm": d["fwhm"],
                "max_abs_err_area_pct": d["area_pct"],
            }
        )
    return pd.DataFrame(rows)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else "unknown"


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def header(n_cases: int, n_per: int, fityk_ver: str | None) -> list[str]:
    vers = {p: version(p) for p in ("nmcraman", "numpy", "numba", "lmfit", "scipy")}
    vers["fityk"] = fityk_ver or "not installed"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- machine: {cpu_model()}, {cores} cores available ({os.cpu_count()} logical);"
        f" {platform.system()} {platform.release()}; Python {platform.python_version()};"
        f" load average at the end {load_average()} (other work on the machine skews times)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- spectra: {n_cases} ({n_per} per sample x background x SNR; samples"
        f" {', '.join(SAMPLES)}; backgrounds {', '.join(BACKGROUNDS)}; SNR"
        f" {', '.join(map(str, SNRS))}; seed {SEED}); single-threaded (OMP/OPENBLAS/MKL/NUMBA"
        " threads = 1)",
    ]


def notes(start: dict | None, fityk: dict | None) -> list[str]:
    windows = sorted({Priors.of(p).window for p in SAMPLES.values()})
    out = [
        "- model: Lorentzian bands (area, centre, FWHM) + cubic baseline fitted jointly over"
        " the same window ("
        + ", ".join(f"{lo:g} to {hi:g}" for lo, hi in windows)
        + " cm-1); same priors, bounds and starting centres/FWHMs."
        f" nmcraman and nmcraman-lmfit start from FWHM scalings {FitOptions().width_scales}"
        " in turn until the best minimum has no band on a bound or absent"
        " (`FitOptions.all_starts`); nmcraman-all runs all three"
        " (`FitOptions(all_starts=True)`); nmcraman-1start starts once, from"
        f" {ONE_START.width_scales[0]:g} (`FitOptions(width_scales=(0.7,))`); scipy-trf and"
        " fityk start once, from the prior FWHMs, areas and baseline from a linear solve",
        "- x nmcraman: ms median of the tool / ms median of nmcraman on the same spectra",
    ]
    if start:
        c, w = start["cold"], start["warm"]
        out += [
            f"- `import nmcraman` in a fresh process: {1e3 * start['import']:.0f} ms"
            " (median of 3, default numba cache)",
            f"- first fit (CS_75, nmc+lo), empty numba cache: {c['first_fit']:.2f} s"
            f" (import {1e3 * c['import']:.0f} ms; second fit {1e3 * c['second_fit']:.1f} ms)",
            f"- first fit, warm numba cache (same NUMBA_CACHE_DIR again):"
            f" {1e3 * w['first_fit']:.0f} ms (import {1e3 * w['import']:.0f} ms;"
            f" second fit {1e3 * w['second_fit']:.1f} ms)",
        ]
    if fityk is None:
        out.append("- fityk: cfityk not found on PATH, skipped")
        return out
    walls = [f"{k[8:]} {v:.2f} ms" for k, v in fityk.items() if k.startswith("wall_ms_")]
    out += [
        f"- fityk: {fityk['check']}" + ("" if walls else " -> FAILED, fityk results left out"),
        f"- fityk: process start-up {1e3 * fityk['startup_s']:.1f} ms, excluded; ms columns"
        " are in-process CPU time per spectrum (load + model + fit + print); wall time per"
        " spectrum of the whole script, start-up subtracted: " + (", ".join(walls) or "n/a"),
    ]
    return out


def to_markdown(table: pd.DataFrame) -> list[str]:
    cols = [
        "tool",
        "sample",
        "n",
        "ms median",
        "ms mean",
        "x nmcraman",
        "RMSE pos (cm-1)",
        "RMSE FWHM (cm-1)",
        "RMSE area %",
        "converged",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in table.itertuples():
        cells = [
            r.tool,
            r.sample,
            str(r.n),
            f"{r.ms_median:.2f}",
            f"{r.ms_mean:.2f}",
            f"{r.ratio:.2f}",
            f"{r.rmse_position:.2f}",
            f"{r.rmse_fwhm:.2f}",
            f"{r.rmse_area_pct:.2f}",
            f"{r.converged:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write(out: Path, table, spectra, head, extra) -> str:
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(["# nmcraman benchmark", "", *head, "", *to_markdown(table), "", *extra, ""])
    (out / "latest.md").write_text(text)
    table.to_csv(out / "latest.csv", index=False, float_format="%.6g")
    spectra.to_csv(out / "latest_spectra.csv", index=False, float_format="%.6g")
    return text


# ----------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10, help="spectra per sample x background x SNR")
    p.add_argument("--quick", action="store_true", help="one spectrum per combination")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--no-startup", action="store_true", help="skip import/compile timings")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    n = 1 if args.quick else args.n
    cases = make_cases(n)
    print(f"{len(cases)} spectra; fitting with each tool ...", flush=True)
    start = None if args.no_startup else startup_timings()
    records = []
    for name, run in (
        ("nmcraman", lambda: run_nmcraman(cases, "numba")),
        ("nmcraman-all", lambda: run_nmcraman(cases, "numba", "nmcraman-all", ALL_STARTS)),
        ("nmcraman-1start", lambda: run_nmcraman(cases, "numba", "nmcraman-1start", ONE_START)),
        ("nmcraman-lmfit", lambda: run_nmcraman(cases, "lmfit")),
        ("scipy-trf", lambda: run_scipy(cases)),
    ):
        t0 = time.perf_counter()
        records += run()
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    exe = shutil.which("cfityk")
    fityk_info, fityk_ver = None, None
    if exe is None:
        print("  fityk: cfityk not found on PATH, skipped")
    else:
        fityk_ver = fityk_version(exe)
        fityk_recs, fityk_info = run_fityk(cases, exe)
        records += fityk_recs
    table = summarise(records)
    text = write(
        args.out,
        table,
        per_spectrum(records),
        header(len(cases), n, fityk_ver),
        notes(start, fityk_info),
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
