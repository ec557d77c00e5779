"""Pooled maps against pixel-by-pixel fits: accuracy, rim-core contrast and time.

Usage::

    python benchmarks/pooled_map.py [--size 100] [--jobs 2] [--repeat 1] [--out benchmarks/results]

On a synthetic core-shell map (`nmcraman.synthetic.core_shell_map`, SNR 100, 2 %
corrupted pixels, one core pixel in 200 with its bands shifted by 15 cm-1), measures
for ``deconvolve_map(cube, x, window="bands", baseline="poly3")`` (bands="auto", the
fixed model: the default's cost is ``map_default.py``'s) without and with
``pooling="phases"`` (each ``share`` asked for):

- per-pixel area % RMSE against the truth on clean pure-phase pixels (core or rim) and
  on every clean pixel (bands outside a pixel's model count as 0 %);
- the rim-core contrast of Mn A1g area % (mean over pure rim pixels minus pure core
  pixels), truth against both;
- seconds, wall clock and CPU (median of ``--repeat`` runs), and the ratios pooled /
  unpooled;
- the phases found, pixels rejected by the fallback rule, and whether they are the
  shifted pixels.

Writes ``pooled_map.md`` into the output folder, headed by the command that made it.
Timings are ratios on one (possibly shared) machine; nothing here is a test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nmcraman import deconvolve_map
from nmcraman.results.map import QC_FLAGS
from nmcraman.synthetic import core_shell_map, simulate

SEED = 2026
#: Model keywords of each ``--model``: the fixed model, or the default's (none given).
MODELS = {"fixed": {"window": "bands", "baseline": "poly3"}, "default": {}}


def make_map(n: int):
    """The core-shell map, with every 200th clean core pixel's bands shifted by 15 cm-1."""
    cube, x, truth = core_shell_map(n, n, snr=100, corrupt=0.02, rng=SEED)
    ids = list(truth["bands"])
    core = np.argwhere((truth["fraction"] == 0) & (truth["corrupted"] == ""))
    shifted = []
    for k, (i, j) in enumerate(core[::200]):
        frame = pd.DataFrame(
            {"band": ids, "position": truth["position"][i, j] + 15.0,
             "fwhm": truth["fwhm"][i, j], "area_pct": truth["area_pct"][i, j]}
        )  # fmt: skip
        cube[i, j] = simulate(frame, x=x, snr=100, rng=SEED + k).y
        shifted.append(int(i * n + j))
    return cube, x, truth, np.array(shifted, dtype=int)


def timed_interleaved(runs: dict, repeat: int):
    """Run every configuration in turn, ``repeat`` rounds; last result and median seconds.

    Interleaved, so that a change of load on a shared machine hits every configuration
    alike, and their ratio stays meaningful. Returns the results, the median wall-clock
    seconds and the median CPU seconds of this process (all its threads), which other
    jobs on the machine disturb far less than the wall clock.
    """
    times = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    out = {}
    for _ in range(repeat):
        for name, fn in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    med = {name: float(np.median(t)) for name, t in times.items()}
    return out, med, {name: float(np.median(t)) for name, t in cpu.items()}


def scores(m, truth, shifted) -> dict:
    """RMSE on pure and on all clean pixels, and the Mn A1g rim-core contrast."""
    ids = list(truth["bands"])
    frac = truth["fraction"].ravel()
    clean = truth["corrupted"].ravel() == ""
    clean[shifted] = False
    pure = clean & ((frac == 0) | (frac == 1))
    got = np.nan_to_num(m.params["area_pct"], nan=0.0)
    want = truth["area_pct"].reshape(-1, len(ids))[:, [ids.index(b) for b in m.bands]]
    err = got - want
    mn = got[:, m.bands.index("Mn_A1g")]
    rim, core = pure & (frac == 1), pure & (frac == 0)
    return {
        "rmse_pure": float(np.sqrt(np.mean(err[pure] ** 2))),
        "rmse_clean": float(np.sqrt(np.mean(err[clean] ** 2))),
        "contrast": float(mn[rim].mean() - mn[core].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per row (median)")
    parser.add_argument("--shares", nargs="+", default=["partial", "shape"])
    parser.add_argument("--model", choices=list(MODELS), default="fixed")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    n = args.size
    cube, x, truth, shifted = make_map(n)
    deconvolve_map(cube[:4, :4], x, pooling="phases", progress=False)  # compile or load cache
    kmn = list(truth["bands"]).index("Mn_A1g")
    frac = truth["fraction"]
    want = truth["area_pct"][..., kmn]
    contrast = float(want[frac == 1].mean() - want[frac == 0].mean())
    kw = {"jobs": args.jobs, "progress": False, **MODELS[args.model]}
    runs = {"own": lambda: deconvolve_map(cube, x, **kw)}
    for share in args.shares:
        runs[share] = lambda share=share: deconvolve_map(
            cube, x, pooling="phases", share=share, **kw
        )
    results, seconds, cpu = timed_interleaved(runs, args.repeat)
    t_own, c_own = seconds["own"], cpu["own"]
    s = scores(results["own"], truth, shifted)
    lines = [
        f"# Pooled map benchmark ({datetime.date.today()})",
        "",
        f"Command: `python {' '.join(sys.argv)}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        f" (shared with other jobs while this ran), jobs={args.jobs}; seconds (wall clock, and"
        f" CPU seconds of all threads) are the median of {args.repeat} run(s), the"
        f" configurations run in turn. Map {n} x {n} x {x.size}"
        f" channels, SNR 100, 2 % corrupted pixels, {shifted.size} core pixels with bands"
        f" shifted by 15 cm-1, bands='auto', {args.model} model {dict(MODELS[args.model])}."
        " Truth rim-core contrast of Mn A1g area %:"
        f" {contrast:.2f} points.",
        "",
        "| fit | seconds | x unpooled | CPU seconds | x unpooled (CPU) | RMSE pure pixels"
        " | RMSE clean pixels | Mn A1g contrast | phases | rejected (shifted) |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| pixel by pixel | {t_own:.2f} | 1.00 | {c_own:.2f} | 1.00 | {s['rmse_pure']:.2f} |"
        f" {s['rmse_clean']:.2f} | {s['contrast']:.2f} | | |",
    ]
    rejected_bit = 1 << QC_FLAGS.index("pooling_rejected")
    details = []
    for share in args.shares:
        res, dt, dc = results[share], seconds[share], cpu[share]
        s = scores(res, truth, shifted)
        rejected = np.flatnonzero(res.stats["flags"] & rejected_bit)
        phases = res.meta["pooling"]["phases"]
        lines.append(
            f"| pooled, share={share} | {dt:.2f} | {dt / t_own:.2f} | {dc:.2f} |"
            f" {dc / c_own:.2f} | {s['rmse_pure']:.2f} |"
            f" {s['rmse_clean']:.2f} | {s['contrast']:.2f} | {len(phases)} |"
            f" {rejected.size} ({np.isin(rejected, shifted).sum()} of {shifted.size}) |"
        )
        print(lines[-1], flush=True)
        for p in phases:
            tau = "" if p["tau"] is None else f"{p['tau'][0]:.2f} cm-1, {100 * p['tau'][1]:.1f} %"
            fr = frac.ravel()[res.stats["phase"] == p["phase"]]
            details.append(
                f"| {share} | {p['phase']} | {p['pixels']} | {p['bands']} |"
                f" {np.median(fr):.2f} ({fr.min():.2f} to {fr.max():.2f}) | {tau} |"
                f" {p['rejected']} | {p['misfit_pvalue']:.2g}"
                f"{' model_misfit' if p['model_misfit'] else ''} |"
            )
    lines += [
        "",
        "Phases found (fraction: 0 core, 1 rim, of the truth; tau: the spread between"
        " pixels estimated by partial pooling; misfit p: the p-value of the phase's misfit"
        " check, nmcraman.misfit, and whether it fell back to its pixels' own fits):",
        "",
        "| share | phase | pixels | bands | fraction median (range) | tau | rejected | misfit p |",
        "|---|---|---|---|---|---|---|---|",
        *details,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "pooled_map.md" if args.model == "fixed" else f"pooled_map_{args.model}.md"
    (args.out / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
