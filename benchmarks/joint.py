"""Joint deconvolution against single-spectrum fits, two-stage pooling and lmfit's global fit.

Replicate sets: spots of one sample, each with its own truth (`nmcraman.synthetic.
replicate_set`: positions jittered by 1 cm-1, FWHMs by 3 %, areas by 20 %, brightness
0.5 to 2 with shot noise), on smooth fluorescence, exponential and cubic backgrounds,
at SNR 50, 100 and 200. For each cell a set of 20 spots is drawn and its first N
(1, 2, 5, 10, 20) spots are fitted, so the curves against N are nested.

Scored: per-spectrum area % RMSE against each spot's own truth, for

- ``single``: `nmcraman.deconvolve` on each spectrum alone (fityk and lmfit reach the
  same minima on these spectra: benchmarks/results/latest.md);
- ``two-stage``: the median of the single fits' positions and FWHMs, then each
  spectrum's areas and baseline solved with them fixed;
- ``shape``: `nmcraman.deconvolve_joint(share="shape")`;
- ``partial``: `nmcraman.deconvolve_joint(share="partial")`;
- ``lmfit-global`` (``--lmfit``; N = 10 only, one set per cell): lmfit minimising the
  same noise-weighted residual of all spectra with shared centres and FWHMs, per
  spectrum areas and cubic baselines, from the same start as ``shape``.

All with the fixed model (``window="bands", baseline="poly3"``), so that single and
joint fits differ only by the pooling.

Usage::

    python benchmarks/joint.py [--reps 2] [--lmfit] [--quick] [--out benchmarks/results]
"""

# ruff: noqa: E402
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

import nmcraman
from nmcraman import deconvolve, deconvolve_joint
from nmcraman import joint as joint_module
from nmcraman._engine import pooled as pooled_engine
from nmcraman._engine.problem import prepare
from nmcraman.bands import resolve_bands
from nmcraman.choice import FIXED
from nmcraman.synthetic import perturb, replicate_set

SAMPLES = {"Core_75": "nmc", "CS_75": "nmc+lo"}
BACKGROUNDS = ("fluorescence", "exponential", "cubic")
SNRS = (50, 100, 200)
NS = (1, 2, 5, 10, 20)
SEED = 20261205


def two_stage(spectra, preset) -> np.ndarray:
    """Area % of each spectrum with the median single-fit shapes held fixed."""
    band_list = resolve_bands(preset)
    singles = [deconvolve(s.x, s.y, bands=band_list, **FIXED) for s in spectra]
    problems = [prepare(nmcraman.Spectrum(s.x, s.y), band_list) for s in spectra]
    setup = joint_module._Setup(problems, singles, joint_module._KINDS["shape"])
    res = pooled_engine.fit(setup.groups, setup.model, setup.w, setup.mu0, setup.v0,
                 np.zeros(setup.model.q), setup.n_lin, max_iter=0)  # fmt: skip
    a = res.coefs[:, : setup.nb]
    return 100.0 * a / a.sum(axis=1, keepdims=True)


def lmfit_global(spectra, preset):
    """lmfit's global fit of the same model; returns (area % per spectrum, seconds)."""
    import lmfit

    band_list = resolve_bands(preset)
    singles = [deconvolve(s.x, s.y, bands=band_list, **FIXED) for s in spectra]
    problems = [prepare(nmcraman.Spectrum(s.x, s.y), band_list) for s in spectra]
    setup = joint_module._Setup(problems, singles, joint_module._KINDS["shape"])
    nb = setup.nb
    params = lmfit.Parameters()
    for k, b in enumerate(band_list):
        params.add(f"c{k}", setup.mu0[k], min=b.window[0], max=b.window[1])
        params.add(f"w{k}", setup.mu0[nb + k], min=b.fwhm_range[0], max=b.fwhm_range[1])
    for s, r in enumerate(singles):
        for k in range(nb):
            params.add(f"a{s}_{k}", max(r.table["area"].iloc[k] / problems[s].scale, 0.0), min=0)
        base = problems[s].basis
        coef = np.linalg.lstsq(base.T, problems[s].y - 0, rcond=None)[0]
        for j in range(base.shape[0]):
            params.add(f"b{s}_{j}", coef[j])
    sw = np.sqrt(setup.w)

    def residual(p):
        v = p.valuesdict()
        out = []
        for s, prob in enumerate(problems):
            x = prob.x
            model = np.zeros_like(x)
            for k in range(nb):
                c, w = v[f"c{k}"], v[f"w{k}"]
                model += v[f"a{s}_{k}"] * (2 / np.pi) * w / (4 * (x - c) ** 2 + w**2)
            for j in range(prob.basis.shape[0]):
                model += v[f"b{s}_{j}"] * prob.basis[j]
            out.append(sw[s] * (prob.y - model))
        return np.concatenate(out)

    t0 = time.process_time()
    res = lmfit.minimize(residual, params, method="leastsq")
    dt = time.process_time() - t0
    v = res.params.valuesdict()
    a = np.array([[v[f"a{s}_{k}"] for k in range(nb)] for s in range(len(spectra))])
    return 100.0 * a / a.sum(axis=1, keepdims=True), dt


def rmse(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((est - truth) ** 2)))


def warm_up() -> None:
    """Load or compile the kernels before anything is timed."""
    spots = replicate_set("CS_75", 2, rng=0)
    for share in ("shape", "partial"):
        deconvolve_joint([(s.x, s.y) for s in spots], bands="nmc+lo", share=share, **FIXED)


def run(reps: int, ns, snrs, backgrounds, use_lmfit: bool) -> pd.DataFrame:
    warm_up()
    rows = []
    rng = np.random.default_rng(SEED)
    for sample, preset in SAMPLES.items():
        for bg in backgrounds:
            for snr in snrs:
                for rep in range(reps):
                    spots = replicate_set(perturb(sample, rng), max(ns), snr=snr, background=bg,
                                          rng=rng)  # fmt: skip
                    rows += score_set(spots, sample, preset, bg, snr, rep, ns)
                    if use_lmfit and rep == 0:
                        sub = spots[:10]
                        truth = np.array([s.truth["area_pct"].to_numpy() for s in sub])
                        pct, dt = lmfit_global(sub, preset)
                        rows.append(row(sample, bg, snr, rep, 10, "lmfit-global", rmse(pct, truth),
                                        1000 * dt, np.nan))  # fmt: skip
                    print(f"{sample} {bg} SNR {snr} set {rep}", flush=True)
    return pd.DataFrame(rows)


def row(sample, bg, snr, rep, n, method, err, ms, coverage) -> dict:
    return {"sample": sample, "background": bg, "snr": snr, "set": rep, "n": n,
            "method": method, "rmse": err, "ms": ms, "coverage_1sigma": coverage}  # fmt: skip


def score_set(spots, sample, preset, bg, snr, rep, ns) -> list[dict]:
    out = []
    for n in ns:
        sub = spots[:n]
        truth = np.array([s.truth["area_pct"].to_numpy() for s in sub])
        t0 = time.process_time()
        singles = [deconvolve(s.x, s.y, bands=preset, **FIXED) for s in sub]
        ms = 1000 * (time.process_time() - t0)
        pct = np.array([r.table["area_pct"].to_numpy() for r in singles])
        err = np.array([r.table["area_pct_err"].to_numpy() for r in singles])
        cover = float(np.mean(np.abs(pct - truth) <= err))
        out.append(row(sample, bg, snr, rep, n, "single", rmse(pct, truth), ms, cover))
        if n < 2:
            continue
        out.append(row(sample, bg, snr, rep, n, "two-stage", rmse(two_stage(sub, preset), truth),
                       np.nan, np.nan))  # fmt: skip
        for share in ("shape", "partial"):
            t0 = time.process_time()
            jr = deconvolve_joint([(s.x, s.y) for s in sub], bands=preset, share=share, **FIXED)
            ms = 1000 * (time.process_time() - t0)
            pct = jr.table["area_pct"].to_numpy().reshape(n, -1)
            err = jr.table["area_pct_err"].to_numpy().reshape(n, -1)
            cover = float(np.mean(np.abs(pct - truth) <= err))
            out.append(row(sample, bg, snr, rep, n, share, rmse(pct, truth), ms, cover))
    return out


def markdown(frame: pd.DataFrame) -> str:
    """A pivot table as Markdown (without the optional tabulate package)."""
    frame = frame.round(2)
    names = [str(n) for n in frame.index.names]
    cols = [" ".join(str(c) for c in (col if isinstance(col, tuple) else (col,)))
            for col in frame.columns]  # fmt: skip
    out = ["| " + " | ".join(names + cols) + " |", "|" + "---|" * (len(names) + len(cols))]
    for idx, vals in zip(frame.index, frame.to_numpy(), strict=True):
        idx = idx if isinstance(idx, tuple) else (idx,)
        cells = [str(i) for i in idx] + ["" if v != v else f"{v:g}" for v in vals]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def report(df: pd.DataFrame, args) -> str:
    lines = [
        "# Joint deconvolution of replicate sets",
        "",
        f"Made by `python benchmarks/joint.py {' '.join(args)}` on"
        f" {datetime.date.today()}, nmcraman {nmcraman.__version__},"
        f" {platform.processor() or platform.machine()}, one core.",
        "",
        "Per-spectrum area % RMSE against each spot's own truth (mean over cells:"
        " two samples, three backgrounds; rows by SNR and number of spectra N).",
        "",
    ]
    piv = df.pivot_table(index=["snr", "n"], columns="method", values="rmse", aggfunc="mean")
    lines.append(markdown(piv))
    lines += ["", "By background (all SNR, N = 10):", ""]
    sub = df[df["n"] == 10]
    piv = sub.pivot_table(index=["sample", "background"], columns="method", values="rmse",
                          aggfunc="mean")  # fmt: skip
    lines.append(markdown(piv))
    lines += ["", "CPU time per set, ms (mean; one thread, so other jobs on a shared machine"
              " barely change it), and share of area % within the 1-sigma error:", ""]  # fmt: skip
    piv = df.pivot_table(index="n", columns="method", values=["ms", "coverage_1sigma"],
                         aggfunc="mean")  # fmt: skip
    lines.append(markdown(piv))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=2, help="sets per cell (default 2)")
    p.add_argument("--lmfit", action="store_true", help="add lmfit's global fit (N = 10)")
    p.add_argument("--quick", action="store_true", help="one set, SNR 100, fluorescence")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args(argv)
    if args.quick:
        df = run(1, (1, 5), (100,), ("fluorescence",), args.lmfit)
    else:
        df = run(args.reps, NS, SNRS, BACKGROUNDS, args.lmfit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "joint.csv", index=False)
    text = report(df, argv if argv is not None else os.sys.argv[1:])
    (out / "joint.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
