"""Shared fixtures: a seeded random generator, synthetic spectra with known truth, files."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from io_samples import CUBE, MAP_X, spectrum_file

from nmcraman.synthetic import simulate

matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def core_spectrum():
    """Core_75-like spectrum, SNR 150, fluorescence background."""
    return simulate("Core_75", snr=150, rng=11)


@pytest.fixture(scope="session")
def cs_spectrum():
    """CS_75-like spectrum (seven bands), SNR 150, fluorescence background."""
    return simulate("CS_75", snr=150, rng=12)


def compare_to_truth(table, truth):
    """Absolute differences of position, FWHM and area % against the truth, per band."""
    t = truth.set_index("band").loc[table["band"]]
    return {
        "position": np.abs(table["position"].to_numpy() - t["position"].to_numpy()),
        "fwhm": np.abs(table["fwhm"].to_numpy() - t["fwhm"].to_numpy()),
        "area_pct": np.abs(table["area_pct"].to_numpy() - t["area_pct"].to_numpy()),
    }


@pytest.fixture
def batch(tmp_path):
    """A folder of three spectrum files (stage X 0-2, Y 7), a README, a hidden file, a folder."""
    flat = CUBE.reshape(20, -1)
    for i in range(3):
        spectrum_file(tmp_path, f"s{i}.txt", MAP_X, flat[i], header=[f"#X={i}", "#Y=7"])
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / ".hidden.txt").write_text("junk\n")
    (tmp_path / "sub").mkdir()
    return tmp_path


def z_scores(table, truth):
    """(fit - truth) / reported 1-sigma error of position, FWHM and area %, per band."""
    t = truth.set_index("band").loc[table["band"]]
    return pd.DataFrame(
        {
            q: (table[q].to_numpy() - t[q].to_numpy()) / table[f"{q}_err"].to_numpy()
            for q in ("position", "fwhm", "area_pct")
        }
    )


#: Tolerances for a table computed in another process (or another map run, whose
#: worker processes may load the kernels from the cache), in units of each value's own
#: 1-sigma error (and relative, for the errors and values without one). numba's
#: kernels loaded from its cache and the same kernels compiled afresh differ in their
#: last digits; where that moves a fit's stopping test by an iteration, the fit stops
#: at another point within ``sqrt(gtol)`` = 0.01 sigma of the minimum (measured: an
#: area error 1.1e-4 of itself on a 4 x 5 map). Both stay far inside the error bars.
SEPARATE_PROCESS_SIGMA = 0.02
SEPARATE_PROCESS_RTOL = 1e-3
#: ... except for the errors of a band the data do not determine (flagged): it lies in
#: a flat valley, where the covariance changes fast along the valley, and two stops
#: 0.01 sigma apart gave errors 10 % apart (a Gaussian pixel of test_maps' 6 x 6 map,
#: kernels compiled afresh against cached ones).
SEPARATE_PROCESS_RTOL_UNRESOLVED = 0.25


def assert_same_fit(
    got: pd.DataFrame, want: pd.DataFrame, err_rtol: float = SEPARATE_PROCESS_RTOL
) -> None:
    """Tables equal up to `SEPARATE_PROCESS_SIGMA` errors (see there); text exactly.

    ``err_rtol`` is the relative tolerance of the errors of bands flagged ok.
    """
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        g, w = got[name], want[name]
        if not pd.api.types.is_float_dtype(w):
            assert g.astype(str).tolist() == w.astype(str).tolist(), name
            continue
        g, w = g.to_numpy(dtype=float), w.to_numpy(dtype=float)
        if f"{name}_err" in want.columns:
            tol = SEPARATE_PROCESS_SIGMA * want[f"{name}_err"].to_numpy(dtype=float)
        elif name == "height":  # moves with the area (NaN for a band without area)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = want["area_err"].to_numpy(dtype=float) / want["area"].to_numpy(dtype=float)
                tol = SEPARATE_PROCESS_SIGMA * rel * np.abs(w)
        elif name.endswith("_err") and "flag" in want.columns:
            ok_band = (want["flag"] == "ok").to_numpy()
            rtol = np.where(ok_band, err_rtol, SEPARATE_PROCESS_RTOL_UNRESOLVED)
            tol = rtol * np.abs(w)
        else:
            tol = SEPARATE_PROCESS_RTOL * np.abs(w)
        # A value whose error is undetermined (NaN: a band without area) has no sigma
        # to scale with: it gets the relative tolerance instead.
        tol = np.where(np.isfinite(tol), tol, SEPARATE_PROCESS_RTOL * np.abs(w))
        ok = (np.isnan(g) & np.isnan(w)) | (np.abs(g - w) <= np.nan_to_num(tol) + 1e-9)
        assert ok.all(), f"{name}: rows {np.flatnonzero(~ok).tolist()} differ: {g[~ok]} vs {w[~ok]}"


@pytest.fixture(scope="session")
def pooled_map():
    """A 24 x 24 core-shell map (2 % corrupted pixels, one core pixel whose bands are
    shifted by 15 cm-1), fitted pixel by pixel and pooled by phase.

    Returns a dict: ``cube``, ``x``, ``truth``, ``shifted`` (flat index), ``unpooled``
    and ``pooled`` MapResults.
    """
    from nmcraman import deconvolve_map
    from nmcraman.model import FIXED
    from nmcraman.synthetic import core_shell_map

    n = 24
    cube, x, truth = core_shell_map(n, n, corrupt=0.02, rng=7)
    ids = list(truth["bands"])
    core = np.argwhere((truth["fraction"] == 0) & (truth["corrupted"] == ""))
    i, j = core[len(core) // 2]
    shifted = pd.DataFrame(
        {"band": ids, "position": truth["position"][i, j] + 15.0, "fwhm": truth["fwhm"][i, j],
         "area_pct": truth["area_pct"][i, j]}
    )  # fmt: skip
    cube[i, j] = simulate(shifted, x=x, snr=100, rng=99).y
    return {
        "cube": cube,
        "x": x,
        "truth": truth,
        "shifted": int(i * n + j),
        # The fixed model on both: these tests are about pooling, not the model's choice.
        "unpooled": deconvolve_map(cube, x, progress=False, **FIXED),
        "pooled": deconvolve_map(cube, x, progress=False, pooling="phases", **FIXED),
    }


def area_pct_error(m, truth, pixels):
    """Area % minus the truth on ``pixels`` (flat mask), bands outside a model as 0 %."""
    ids = list(truth["bands"])
    got = np.nan_to_num(m.params["area_pct"], nan=0.0)
    want = truth["area_pct"].reshape(-1, len(ids))[:, [ids.index(b) for b in m.bands]]
    return (got - want)[pixels]


@pytest.fixture(scope="session")
def shifting_series():
    """A (6 steps, 1, 3 pixels) CS_75 series at SNR 100 whose Mn A1g moves from 600 to
    585 cm-1, and the true position of every spectrum, shape (6, 3)."""
    from nmcraman.lineshapes import lorentzian

    x = np.arange(150.0, 901.0)
    steps, pixels = 6, 3
    moves = np.linspace(600.0, 585.0, steps)
    rng = np.random.default_rng(7)
    cube = np.empty((steps, 1, pixels, x.size))
    for p in range(pixels):
        s = simulate("CS_75", x=x, snr=None, rng=p)
        t = s.truth.set_index("band").loc["Mn_A1g"]
        others = s.y - lorentzian(x, t["area"], t["position"], t["fwhm"])
        for k, centre in enumerate(moves):
            y = others + lorentzian(x, t["area"], centre, t["fwhm"])
            cube[k, 0, p] = y + rng.normal(scale=y.max() / 100.0, size=x.size)
    return cube, np.tile(moves[:, None], (1, pixels))
