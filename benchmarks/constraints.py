"""What a constraint and the default cost: fixed positions, the default model, fityk.

On the spectra of benchmarks/run.py (both samples, four backgrounds, three SNR), one
thread, CPU time per spectrum (``time.process_time``: a shared machine disturbs it far
less than the wall clock), median over spectra of the best of ``--repeat`` runs:

- ``fixed``: the fixed model (``window="bands", baseline="poly3"``), the preset;
- ``fixed + position at prior``: the same with Mn_A1g's position fixed at its
  literature prior (595 cm-1), what a user fixing "from the literature" does;
- ``fixed + position at truth``: fixed at the spectrum's true position instead, so
  that the constraint does not push its neighbours onto their bounds;
- ``default``: `deconvolve`'s defaults (window and baseline orders from the data);
- ``default + position at prior``;
- ``fityk``: cfityk with the fixed model (benchmarks/run.py's harness), per fit.

Ratios are to ``fixed`` in the same run. Beside them, the Levenberg-Marquardt
iterations of the fit reported (for the default, of its heaviest order only).

Usage::

    python benchmarks/constraints.py [--n 4] [--repeat 3] [--out benchmarks/results]
"""

# ruff: noqa: E402
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import markdown

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench_run

from nmcraman import __version__, deconvolve
from nmcraman.bands import bands
from nmcraman.choice import FIXED

#: The band whose position is fixed.
HELD = "Mn_A1g"


def held_priors(preset: str, position: float) -> dict:
    """The preset with `HELD`'s position fixed at ``position`` (cm-1)."""
    return {"preset": preset, HELD: {"centre": float(position), "fix": ["position"]}}


def settings(case: bench_run.Case) -> dict[str, dict]:
    """Keyword arguments of `deconvolve` for each row of the table, for one case."""
    prior = next(b.centre for b in bands(case.preset) if b.id == HELD)
    truth = float(case.truth.set_index("band").loc[HELD, "position"])
    return {
        "fixed": {"bands": case.preset, **FIXED},
        "fixed + position at prior": {"bands": held_priors(case.preset, prior), **FIXED},
        "fixed + position at truth": {"bands": held_priors(case.preset, truth), **FIXED},
        "default": {"bands": case.preset},
        "default + position at prior": {"bands": held_priors(case.preset, prior)},
    }


def time_nmcraman(cases: list[bench_run.Case], repeat: int) -> dict[str, dict]:
    """Median CPU ms (best of ``repeat``) and mean LM iterations per spectrum, per row."""
    rows: dict[str, dict] = {}
    for c in cases:  # warm-up: numba's cache, the geometry caches
        for kw in settings(c).values():
            deconvolve(c.x, c.y, **kw)
    for name in settings(cases[0]):
        cpu, iters = [], []
        for c in cases:
            kw = settings(c)[name]
            best = np.inf
            for _ in range(repeat):
                t0 = time.process_time()
                res = deconvolve(c.x, c.y, **kw)
                best = min(best, time.process_time() - t0)
            cpu.append(best)
            iters.append(res.stats["n_iter"])
        rows[name] = {"ms": 1e3 * float(np.median(cpu)), "iterations": float(np.mean(iters))}
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4, help="spectra per sample x background x SNR")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    cases = bench_run.make_cases(args.n)
    rows = time_nmcraman(cases, args.repeat)
    exe = shutil.which("cfityk")
    recs = bench_run.run_fityk(cases, exe)[0] if exe else []
    fityk_ms = 1e3 * float(np.median([r.seconds for r in recs])) if recs else None
    base = rows["fixed"]["ms"]
    table = []
    for name, r in rows.items():
        vs_fityk = f"{r['ms'] / fityk_ms:.2f}" if fityk_ms else "-"
        table.append([name, f"{r['ms']:.2f}", f"{r['ms'] / base:.2f}", vs_fityk,
                      f"{r['iterations']:.0f}"])  # fmt: skip
    if fityk_ms:
        table.append(["fityk (fixed model; wall, per fit)", f"{fityk_ms:.2f}",
                      f"{fityk_ms / base:.2f}", "1.00", "-"])  # fmt: skip
    table = pd.DataFrame(
        table,
        columns=[
            "setting",
            "CPU ms per spectrum",
            "/ fixed",
            "/ fityk",
            "iterations of the fit reported",
        ],
    )
    stamp = datetime.date.today().isoformat()
    lines = [
        "# What a constraint and the default cost",
        "",
        f"Made by `python benchmarks/constraints.py --n {args.n} --repeat {args.repeat}` on"
        f" {stamp}, nmcraman {__version__}, {platform.machine()}, one thread;"
        f" {len(cases)} spectra (benchmarks/run.py's cases). CPU time, median over spectra"
        " of the best of the repeats.",
        "",
        *markdown(table),
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "constraints.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
