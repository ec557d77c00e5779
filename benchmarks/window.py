"""Fit window and baseline order: fixed choices, the automatic choice, fityk and lmfit.

Every spectrum (`nmcraman.synthetic`, 150 to 900 cm-1 at 1 cm-1, random truths from
`perturb`) is fitted by

- ``bands polyN`` / ``wide polyN`` (N = 2 to 5): nmcraman with that fixed window
  (``"bands"``: prior windows widened by 150 cm-1, 180 to 775; ``"wide"``: 150 to 900)
  and joint polynomial order;
- ``auto``: nmcraman's default (``window="auto"``, ``baseline="auto"``): the window by
  BIC per point, then orders 2 to 5 fitted in that window and averaged;
- ``fityk wide poly3``: cfityk 1.3 (mpfit) with a cubic over 150 to 900 cm-1, the
  peers' usual setting (benchmarks/run.py's fityk harness: same priors and bounds);
- ``lmfit wide poly3``: ``deconvolve(engine="lmfit")``, the same model in lmfit.

Backgrounds: ``fluorescence`` (a broad hump plus slope), ``exponential`` (a decay
from the low-shift end), ``cubic`` (smooth) and ``edge``: the fluorescence hump
plus an edge-filter rise below 180 cm-1 (2 x the band peak at 150 cm-1, decaying
over 8 cm-1), where the wide window's flank cannot be followed by a polynomial.

Scored: area % RMSE against the truth, per background and SNR, over both samples
(Core_75 fitted with ``bands="nmc"``, CS_75 with ``"nmc+lo"``). Ratios of ``auto``
to fixed settings come with 95 % paired bootstrap intervals (spectra resampled): to
the best fixed setting of the cell, found after the fact on the same spectra (with
and without picking it again in each resample); to the setting that was best for
the cell on independent spectra (seed + 1000), the choice one would make for that
background beforehand; to the fixed default (``bands poly3``) and to the
peers' setting (``wide poly3``). Also: the share of area % values whose 1-sigma error
bar covers the truth, for ``auto`` and ``bands poly3``; the window ``auto`` chose and
its mean weight per order; CPU time per spectrum (``time.process_time``, one thread)
for ``auto`` and ``bands poly3``.

Usage::

    python benchmarks/window.py [--n 20] [--seed 1] [--no-lmfit] [--quick]
"""

# ruff: noqa: E402
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import dataclasses
import datetime
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import markdown

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench_run  # benchmarks/run.py: cases, truth, fityk harness

import nmcraman
from nmcraman import deconvolve
from nmcraman.synthetic import perturb, simulate

BACKGROUNDS = ("fluorescence", "exponential", "cubic", "edge")
SNRS = (50, 100, 200)
FIXED = [(w, k) for w in ("bands", "wide") for k in (2, 3, 4, 5)]
WIDE = (150.0, 900.0)


def edge_background(x, rng, peak=1000.0) -> np.ndarray:
    """A fluorescence hump plus an edge-filter rise below 180 cm-1."""
    hump = simulate("Core_75", x=x, snr=None, background="fluorescence", rng=rng).background
    return hump + 2.0 * peak * np.exp(-(x - x[0]) / 8.0)


def make_cases(n: int, seed: int) -> list[bench_run.Case]:
    rng = np.random.default_rng(seed)
    x = np.arange(150.0, 901.0)
    cases = []
    for sample, preset in bench_run.SAMPLES.items():
        for bg in BACKGROUNDS:
            for snr in SNRS:
                for i in range(n):
                    truth = perturb(sample, rng)
                    kind = edge_background(x, rng) if bg == "edge" else bg
                    s = simulate(truth, x=x, snr=snr, background=kind, rng=rng)
                    cases.append(bench_run.Case(sample, preset, bg, snr, i, s.x, s.y, s.truth))
    return cases


def area_errors(case: bench_run.Case, table: pd.DataFrame) -> np.ndarray:
    fit = table.set_index("band")["area_pct"]
    return (fit - bench_run.truth_of(case).loc[fit.index, "area_pct"]).to_numpy()


def covered(case: bench_run.Case, table: pd.DataFrame) -> np.ndarray:
    """Whether each band's 1-sigma area % error bar covers the truth."""
    return np.abs(area_errors(case, table)) < table["area_pct_err"].to_numpy()


def run_nmcraman(cases, engine="numba", every=1, settings_only=False) -> tuple[list[dict], dict]:
    """Errors of every fixed setting and of auto (not with ``settings_only``); CPU seconds
    of auto and bands poly3. With the lmfit engine: ``lmfit wide poly3``, every
    ``every``-th spectrum."""
    rows, cpu = [], {"auto": 0.0, "bands poly3": 0.0}
    for c in cases[:4]:  # warm-up: numba's cache, lmfit's import
        deconvolve(c.x, c.y, bands=c.preset, engine=engine)
    for k, c in enumerate(cases):
        if engine == "numba":
            settings = {f"{w} poly{o}": {"window": w, "baseline": f"poly{o}"} for w, o in FIXED}
            if not settings_only:
                settings["auto"] = {"window": "auto", "baseline": "auto"}
        elif k % every:
            continue
        else:
            settings = {"lmfit wide poly3": {"window": "wide", "baseline": "poly3"}}
        for name, kw in settings.items():
            t0 = time.process_time()
            res = deconvolve(c.x, c.y, bands=c.preset, engine=engine, **kw)
            if name in cpu:
                cpu[name] += time.process_time() - t0
            pick = res.meta.get("auto_choice", {})
            rows.append({"tool": name, "case": k, "err": area_errors(c, res.table),
                         "covered": covered(c, res.table), "chosen": pick.get("window", ""),
                         **{f"w {o}": v for o, v in pick.get("weights", {}).items()}})  # fmt: skip
    return rows, cpu


def run_fityk(cases, exe) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nmcraman-window-") as tmp:
        for preset in bench_run.SAMPLES.values():
            pri = dataclasses.replace(bench_run.Priors.of(preset), window=WIDE)
            idx = [k for k, c in enumerate(cases) if c.preset == preset]
            jobs = [(cases[k], pri, bench_run.fityk_start(cases[k], pri)) for k in idx]
            parsed, _ = bench_run.run_fityk_script(exe, jobs, Path(tmp), preset.replace("+", "_"))
            for rec, k in zip(bench_run.fityk_records(jobs, parsed, np.nan), idx, strict=True):
                rows.append({"tool": "fityk wide poly3", "case": k, "chosen": "",
                             "err": area_errors(cases[k], rec.fit)})  # fmt: skip
    return rows


def rmse(errs) -> float:
    e = np.concatenate(list(errs))
    e = e[np.isfinite(e)]
    return float(np.sqrt(np.mean(e * e)))


def _ratio(sse, nb, den: list[str], rng, n_boot=2000) -> str:
    """auto / the best of ``den`` (picked again in every resample): value [95 % interval]."""
    value = np.sqrt(sse["auto"].sum() / min(sse[t].sum() for t in den))
    ratios = []
    for _ in range(n_boot):
        pick = rng.integers(0, nb.size, nb.size)
        ratios.append(np.sqrt(sse["auto"][pick].sum() / min(sse[t][pick].sum() for t in den)))
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def cell_tables(rows, cases, group, calibration=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RMSE per tool and cell, and the ratios of auto to fixed settings and peers.

    ``calibration`` maps a cell to the fixed setting that was best on other spectra:
    the setting one would choose for that background beforehand.
    """
    df = pd.DataFrame(rows)
    df["cell"] = [group(cases[k]) for k in df["case"]]
    fixed = [f"{w} poly{o}" for w, o in FIXED]
    rmses, ratios = [], []
    rng = np.random.default_rng(0)
    for cell, d in df.groupby("cell", sort=False):
        by_tool = {t: g.set_index("case")["err"] for t, g in d.groupby("tool")}
        ids = by_tool["auto"].index.to_numpy()
        rmses.append({"cell": cell, "n": int(ids.size), **{t: rmse(e) for t, e in by_tool.items()}})
        sse = {t: np.array([np.nansum(by_tool[t][i] ** 2) for i in ids]) for t in [*fixed, "auto"]}
        nb = np.array([by_tool["auto"][i].size for i in ids])
        best = min(fixed, key=lambda t: sse[t].sum())
        row = {"cell": cell, "best fixed here": best, "auto / it": _ratio(sse, nb, [best], rng),
               "auto / best, re-picked": _ratio(sse, nb, fixed, rng)}  # fmt: skip
        if calibration is not None:
            row["best fixed on other spectra"] = calibration[cell]
            row["auto / that"] = _ratio(sse, nb, [calibration[cell]], rng)
        row["auto / bands poly3"] = _ratio(sse, nb, ["bands poly3"], rng)
        row["auto / wide poly3"] = _ratio(sse, nb, ["wide poly3"], rng)
        for peer in ("fityk wide poly3", "lmfit wide poly3"):
            if peer in by_tool:  # on the spectra the peer fitted (lmfit: every k-th)
                both = by_tool[peer].index.to_numpy()
                pair = {t: np.array([np.nansum(by_tool[t][i] ** 2) for i in both])
                        for t in ("auto", peer)}  # fmt: skip
                row[f"auto / {peer.split()[0]}"] = _ratio(pair, both, [peer], rng)
        ratios.append(row)
    return pd.DataFrame(rmses), pd.DataFrame(ratios)


def best_fixed(rows, cases, group) -> dict:
    """The fixed setting with the lowest area % RMSE in each cell."""
    df = pd.DataFrame(rows)
    df["cell"] = [group(cases[k]) for k in df["case"]]
    scores = df.groupby(["cell", "tool"])["err"].agg(rmse).unstack("tool")
    return scores.idxmin(axis=1).to_dict()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20, help="spectra per sample x background x SNR")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-lmfit", action="store_true", help="skip lmfit (the slow peer)")
    p.add_argument("--lmfit-every", type=int, default=1, help="lmfit on every k-th spectrum")
    p.add_argument("--quick", action="store_true", help="2 spectra per cell, a smoke test")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    n = 2 if args.quick else args.n
    cases = make_cases(n, args.seed)
    t0 = time.perf_counter()
    rows, cpu = run_nmcraman(cases)
    print(f"nmcraman: {time.perf_counter() - t0:.0f} s", flush=True)
    exe = shutil.which("cfityk")
    if exe:
        rows += run_fityk(cases, exe)
    if not args.no_lmfit:
        rows += run_nmcraman(cases, "lmfit", args.lmfit_every)[0]
    cells = {"cell": lambda c: f"{c.background} {c.snr:g}", "bg": lambda c: c.background}
    calib_cases = make_cases(n, args.seed + 1000)
    calib_rows, _ = run_nmcraman(calib_cases, settings_only=True)
    tables = {}
    for key, group in cells.items():
        calibration = best_fixed(calib_rows, calib_cases, group)
        tables[key] = cell_tables(rows, cases, group, calibration)
    auto = pd.DataFrame([r for r in rows if r["tool"] == "auto"])
    auto["background"] = [cases[k].background for k in auto["case"]]
    chosen = auto.groupby("background")["chosen"].value_counts().unstack(fill_value=0)
    weights = auto.groupby("background")[[c for c in auto if c.startswith("w ")]].mean()
    chosen = chosen.join(weights.rename(columns=lambda c: f"mean weight {c[2:]}").round(3))
    df = pd.DataFrame([r for r in rows if r["tool"] in ("auto", "bands poly3")])
    df["background"] = [cases[k].background for k in df["case"]]
    coverage = (
        df.groupby(["background", "tool"])["covered"]
        .agg(lambda v: float(np.mean(np.concatenate(list(v)))))
        .unstack("tool")
        .round(3)
    )
    command = "python benchmarks/window.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = [
        "# Fit window and baseline order: fixed choices, the automatic choice and peers",
        "",
        f"Made by `{command.strip()}` on {datetime.date.today()}, nmcraman"
        f" {nmcraman.__version__}, {platform.machine()}, one thread, on a shared machine;"
        f" {len(cases)} spectra ({n} per sample x background x SNR, seed {args.seed}).",
        "",
        "Area % RMSE against the truth (percentage points), both samples together (lmfit:"
        f" on every {args.lmfit_every}-th spectrum only; its ratio below is on those):",
        "",
        *markdown(tables["cell"][0]),
        "",
        "All SNR together:",
        "",
        *markdown(tables["bg"][0]),
        "",
        "Ratios of `auto`'s RMSE to fixed settings and peers, with 95 % paired bootstrap"
        " intervals (spectra resampled): to the best fixed setting of the cell (`auto / it`;"
        " `re-picked`: the best picked again in every resample, so the luck of picking a"
        " winner after the fact is in the interval); to the fixed setting that was best for"
        f" the cell on {len(calib_cases)} other spectra (seed {args.seed + 1000}), the one"
        " a user would choose for that background beforehand; to the fixed default"
        " (`bands poly3`) and to the peers' usual setting (`wide poly3`):",
        "",
        *markdown(tables["cell"][1]),
        "",
        "All SNR together:",
        "",
        *markdown(tables["bg"][1]),
        "",
        "Window `auto` chose (spectra per background) and the mean weight of each averaged order:",
        "",
        *markdown(chosen.reset_index()),
        "",
        "Share of area % values whose 1-sigma error bar covers the truth (nominal 0.683):",
        "",
        *markdown(coverage.reset_index()),
        "",
        "CPU time per spectrum (fixed preset, one thread): auto"
        f" {1e3 * cpu['auto'] / len(cases):.2f} ms, bands poly3"
        f" {1e3 * cpu['bands poly3'] / len(cases):.2f} ms.",
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "window.md").write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
