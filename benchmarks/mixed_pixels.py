"""Do a phase's mixed pixels bias its pure ones? Pooled core-shell maps, with and without them.

Usage::

    python benchmarks/mixed_pixels.py [--size 30] [--seeds 1 2 3] [--model fixed]
                                      [--out benchmarks/results]

On synthetic core-shell maps (`nmcraman.synthetic.core_shell_map`, SNR 100,
``bands="nmc+lo"``, which holds every pixel's truth; ``--model fixed``, the fixed model
``window="bands", baseline="poly3"``, or ``default``, every window and order averaged
per phase), three pooled fits are scored on the pure pixels (core: fraction 0; rim:
fraction 1):

- ``phases``: ``pooling="phases"``, as a user runs it; the phases hold the mixed
  pixels of the gradient that resemble them;
- ``phases, mixed left out``: the same phases, but every pixel with a fraction strictly
  between 0 and 1 given the label -1 (fitted on its own): what the pure pixels get
  when no mixed pixel pulls their phase's shared shapes;
- ``pure labels``: the truth's pure core and pure rim as the two phases.

Scores: area % RMSE against the truth and the share of (pixel, band) pairs whose 1-sigma
error bar covers the truth, on pure core and pure rim pixels, and the rim - core
contrast of Mn A1g area % against the truth's. Writes ``mixed_pixels.md`` (fixed) or
``mixed_pixels_default.md``. A few minutes on two cores (fixed), a quarter of an hour
(default).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np
from _tables import write_report

from nmcraman import deconvolve_map
from nmcraman.synthetic import core_shell_map

KW = {"bands": "nmc+lo", "progress": False}
#: Model keywords of each ``--model``: the fixed model, or the default's (none given).
MODELS = {"fixed": {"window": "bands", "baseline": "poly3"}, "default": {}}


def scores(m, truth) -> dict:
    ids = list(truth["bands"])
    frac = truth["fraction"].ravel()
    got = np.nan_to_num(m.params["area_pct"], nan=0.0)
    err = np.nan_to_num(m.params["area_pct_err"], nan=np.inf)
    want = truth["area_pct"].reshape(-1, len(ids))[:, [ids.index(b) for b in m.bands]]
    out = {}
    for name, sel in (("core", frac == 0), ("rim", frac == 1)):
        d = (got - want)[sel]
        out[f"rmse_{name}"] = float(np.sqrt(np.mean(d**2)))
        out[f"cover_{name}"] = float(np.mean(np.abs(d) <= err[sel]))
    k = m.bands.index("Mn_A1g")
    rim, core = frac == 1, frac == 0
    out["contrast"] = float(got[rim, k].mean() - got[core, k].mean())
    out["truth"] = float(want[rim, k].mean() - want[core, k].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--model", choices=list(MODELS), default="fixed")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    kw = {**KW, **MODELS[args.model]}
    rows = []
    for seed in args.seeds:
        cube, x, truth = core_shell_map(args.size, args.size, rng=seed)
        frac = truth["fraction"]
        found = deconvolve_map(cube, x, pooling="phases", **kw)
        labels = found.image("phase")
        pure_only = np.where((frac > 0) & (frac < 1), -1, labels)
        oracle = np.where(frac == 0, 0, np.where(frac == 1, 1, -1))
        fits = {
            "phases": found,
            "phases, mixed left out": deconvolve_map(cube, x, pooling=pure_only, **kw),
            "pure labels": deconvolve_map(cube, x, pooling=oracle, **kw),
        }
        for name, m in fits.items():
            rows.append({"seed": seed, "fit": name, **scores(m, truth)})
    lines = [
        f"# Mixed pixels and pure ones ({datetime.date.today()})",
        "",
        f"Command: `python {' '.join(sys.argv)}`",
        "",
        f"Maps {args.size} x {args.size}, SNR 100, fluorescence backgrounds, bands='nmc+lo',"
        f" {args.model} model {MODELS[args.model]}. Coverage: share of (pixel, band) pairs"
        " whose 1-sigma area % error covers the truth (68 % is calibrated).",
        "",
        "| seed | fit | RMSE core | RMSE rim | coverage core | coverage rim"
        " | Mn A1g rim - core (truth) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['fit']} | {r['rmse_core']:.2f} | {r['rmse_rim']:.2f}"
            f" | {r['cover_core']:.2f} | {r['cover_rim']:.2f}"
            f" | {r['contrast']:.2f} ({r['truth']:.2f}) |"
        )
    name = "mixed_pixels.md" if args.model == "fixed" else f"mixed_pixels_{args.model}.md"
    write_report(args.out, name, lines)


if __name__ == "__main__":
    main()
