"""deconvolve(): recovery of known truths, honest errors, lmfit agreement, inputs."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import compare_to_truth

from nmcraman import BandError, InputError, Spectrum, deconvolve
from nmcraman.bands import bands
from nmcraman.fit import FitOptions, geometry
from nmcraman.synthetic import perturb, simulate

PRESET = {"Core_75": "nmc", "CS_75": "nmc+lo"}


@pytest.mark.parametrize("shape", ["lorentzian", "gaussian", "pseudo_voigt"])
@pytest.mark.parametrize("sample", ["Core_75", "CS_75"])
@pytest.mark.parametrize("background", ["none", "linear", "cubic"])
def test_noise_free_reference_spectra_are_recovered(shape, sample, background):
    s = simulate(sample, shape=shape, background=background, snr=None, rng=0)
    res = deconvolve(s.x, s.y, bands=PRESET[sample], shape=shape)
    d = compare_to_truth(res.table, s.truth)
    assert d["position"].max() < 0.5
    assert d["fwhm"].max() < 1.0
    assert d["area_pct"].max() < 0.5
    if shape == "pseudo_voigt":
        assert res.stats["eta"] == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("sample", ["Core_75", "CS_75"])
@pytest.mark.parametrize("seed", range(8))
def test_noise_free_random_truths_are_recovered(sample, seed):
    rng = np.random.default_rng(100 + seed)
    s = simulate(perturb(sample, rng), background="cubic", snr=None, rng=rng)
    res = deconvolve(s.x, s.y, bands=PRESET[sample])
    d = compare_to_truth(res.table, s.truth)
    assert d["position"].max() < 0.5
    assert d["fwhm"].max() < 1.0
    assert d["area_pct"].max() < 0.5
    assert res.stats["converged"]


def test_errors_are_honest_over_100_noisy_spectra():
    """The truth lies within the reported 1-sigma error in 55 to 80 % of cases."""
    z = []
    for i in range(100):
        rng = np.random.default_rng(5000 + i)
        sample = ("Core_75", "CS_75")[i % 2]
        snr = rng.uniform(50, 200)
        s = simulate(perturb(sample, rng), snr=snr, rng=rng)
        t = deconvolve(s.x, s.y, bands=PRESET[sample]).table
        truth = s.truth.set_index("band").loc[t["band"]]
        z.append(
            pd.DataFrame(
                {
                    c: (t[c].to_numpy() - truth[c].to_numpy()) / t[f"{c}_err"].to_numpy()
                    for c in ("position", "fwhm", "area_pct")
                }
            )
        )
    coverage = (pd.concat(z).abs() < 1).mean()
    for col, frac in coverage.items():
        assert 0.55 <= frac <= 0.80, f"{col}: {frac:.2f} within 1 sigma"


@pytest.mark.parametrize(("sample", "seed"), [("Core_75", 1), ("Core_75", 2), ("CS_75", 3)])
def test_numba_and_lmfit_agree(sample, seed):
    rng = np.random.default_rng(seed)
    s = simulate(perturb(sample, rng), snr=150, rng=rng)
    a = deconvolve(s.x, s.y, bands=PRESET[sample])
    b = deconvolve(s.x, s.y, bands=PRESET[sample], engine="lmfit")
    assert b.stats["engine"] == "lmfit"
    # The numba fit stops once the next step would gain less than gtol mean squared
    # residuals; lmfit runs on to its own tolerance.
    slack = 10 * FitOptions().gtol * a.stats["chi2"] / a.stats["n_points"]
    assert a.stats["chi2"] <= b.stats["chi2"] + slack
    for col, tol in (("position", 0.2), ("fwhm", 0.5), ("area_pct", 0.3)):
        np.testing.assert_allclose(a.table[col], b.table[col], atol=tol)
    for col in ("position_err", "fwhm_err", "area_pct_err"):
        np.testing.assert_allclose(a.table[col], b.table[col], rtol=0.15)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("sample", "expected"), [("Core_75", "nmc"), ("CS_75", "nmc+lo")])
def test_auto_picks_the_lo_band_only_when_present(sample, expected, seed):
    s = simulate(perturb(sample, seed, position=2.0, fwhm=0.08, area=0.1), snr=150, rng=seed)
    res = deconvolve(s.x, s.y, bands="auto")
    assert res.model_choice["chosen"] == expected
    assert len(res.table) == len(PRESET.get(sample, "")) or len(res.table) in (6, 7)
    assert len(res.table) == {"nmc": 6, "nmc+lo": 7}[expected]
    assert res.model_choice["margin"] > 0
    assert "chosen by BIC" in res.report()


def test_auto_aic(core_spectrum):
    res = deconvolve(core_spectrum.x, core_spectrum.y, criterion="aic")
    assert res.model_choice["criterion"] == "aic"
    assert set(res.model_choice["scores"]) == {"nmc", "nmc+lo"}


def test_descending_and_nonuniform_axes_give_the_same_table(core_spectrum, rng):
    s = core_spectrum
    ref = deconvolve(s.x, s.y, bands="nmc").table
    rev = deconvolve(s.x[::-1], s.y[::-1], bands="nmc").table
    pd.testing.assert_frame_equal(ref, rev)
    keep = np.sort(rng.choice(s.x.size, size=int(0.7 * s.x.size), replace=False))
    sub = deconvolve(s.x[keep], s.y[keep], bands="nmc").table
    assert np.all(np.abs(sub["position"] - ref["position"]) < 3 * ref["position_err"])


def test_input_forms_agree(core_spectrum, tmp_path):
    s = core_spectrum
    ref = deconvolve(s.x, s.y, bands="nmc").table
    path = tmp_path / "spec.txt"
    np.savetxt(path, np.c_[s.x, s.y])
    for data in (Spectrum(s.x, s.y), np.c_[s.x, s.y], np.vstack([s.x, s.y]), str(path), path):
        pd.testing.assert_frame_equal(deconvolve(data, bands="nmc").table, ref, atol=1e-6)


def test_inputs_are_not_modified(core_spectrum):
    x, y = core_spectrum.x.copy(), core_spectrum.y.copy()
    x.flags.writeable = False
    y.flags.writeable = False
    deconvolve(x, y, bands="nmc")
    np.testing.assert_array_equal(y, core_spectrum.y)


def test_geometry_is_cached_per_axis_and_options(core_spectrum):
    s = core_spectrum
    nmc = bands("nmc")
    assert geometry(s.x, nmc) is geometry(s.x.copy(), list(nmc))
    assert geometry(s.x, nmc, xmin=250.0).x[0] >= 250.0 > geometry(s.x, nmc).x[0]
    shifted, base = geometry(s.x + 0.5, nmc), geometry(s.x, nmc)
    assert shifted is not base
    assert np.all(np.isin(shifted.x, s.x + 0.5))
    narrow = geometry(s.x, nmc, options=FitOptions(width_scales=(0.5,)))
    assert narrow.starts.shape[0] == 1 != geometry(s.x, nmc).starts.shape[0]


def test_writing_into_a_result_does_not_leak_into_the_next_fit(core_spectrum):
    s = core_spectrum
    first = deconvolve(s.x, s.y, bands="nmc")
    window = first.x.copy()
    first.x[:] = 0.0
    np.testing.assert_array_equal(deconvolve(s.x, s.y, bands="nmc").x, window)


def test_user_baselines(core_spectrum):
    s = core_spectrum
    truth = s.truth
    arr = deconvolve(s.x, s.y, bands="nmc", baseline=s.background, refine=-1)
    d = compare_to_truth(arr.table, truth)
    assert d["position"].max() < 3 * arr.table["position_err"].max()
    rev = deconvolve(s.x[::-1], s.y[::-1], bands="nmc", baseline=s.background[::-1], refine=-1)
    pd.testing.assert_frame_equal(arr.table, rev.table)
    call = deconvolve(s.x, s.y, bands="nmc", baseline=lambda x, y: np.interp(x, s.x, s.background))
    assert call.meta["baseline"].startswith("<lambda> + joint polynomial")
    snip = deconvolve(
        s.x, s.y, bands="nmc", baseline="snip", baseline_kwargs={"max_half_window": 150}
    )
    assert "snip" in snip.meta["baseline"]


def test_joint_baseline_beats_subtract_then_fit():
    """The measured reason for the default: asls subtraction eats band area."""
    err = {"poly3": [], "asls": []}
    for seed in range(4):
        s = simulate("Core_75", snr=300, rng=seed)
        for name in err:
            t = deconvolve(s.x, s.y, bands="nmc", baseline=name, refine=-1).table
            err[name].append(compare_to_truth(t, s.truth)["fwhm"].mean())
    assert np.mean(err["poly3"]) < 0.5 * np.mean(err["asls"])


def test_fixed_eta_and_window(core_spectrum):
    s = core_spectrum
    res = deconvolve(s.x, s.y, bands="nmc", shape="pseudo_voigt", eta=0.8, xmin=250, xmax=700)
    assert res.stats["eta"] == 0.8
    assert res.stats["eta_err"] is None
    assert res.x[0] >= 250
    assert res.x[-1] <= 700


def test_options_control_the_starts(core_spectrum):
    s = core_spectrum
    one = deconvolve(s.x, s.y, bands="nmc", options=FitOptions(width_scales=(1.0,)))
    assert one.stats["start"] == 0


@pytest.mark.parametrize("engine", ["numba", "lmfit"])
def test_later_starts_run_only_after_a_trapped_minimum(core_spectrum, engine):
    """An interior first minimum is kept; one with a band on a bound calls the others."""
    s = core_spectrum
    every = FitOptions(all_starts=True)
    quick = deconvolve(s.x, s.y, bands="nmc", engine=engine)
    full = deconvolve(s.x, s.y, bands="nmc", engine=engine, options=every)
    assert not quick.table["flag"].str.contains("bound|absent").any()
    assert quick.stats["start"] == full.stats["start"] == 0
    assert quick.stats["n_iter"] < full.stats["n_iter"]
    assert quick.stats["chi2"] == full.stats["chi2"]
    # An upper FWHM bound below Mn_A1g's width (about 50 cm-1) traps every start.
    tight = [
        replace(b, fwhm=25.0, fwhm_range=(10.0, 30.0)) if b.id == "Mn_A1g" else b
        for b in bands("nmc")
    ]
    quick = deconvolve(s.x, s.y, bands=tight, engine=engine)
    full = deconvolve(s.x, s.y, bands=tight, engine=engine, options=every)
    assert "fwhm_at_bound" in quick.table.set_index("band").loc["Mn_A1g", "flag"]
    assert quick.stats["n_iter"] == full.stats["n_iter"]
    assert quick.stats["chi2"] == full.stats["chi2"]


X = np.arange(150.0, 901.0)
Y = simulate("Core_75", snr=100, rng=0).y


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data": [], "y": []}, InputError, "empty"),
        ({"data": X, "y": Y[:-1]}, InputError, "differ in length"),
        ({"data": X, "y": np.where(X == 500, np.nan, Y)}, InputError, "NaN"),
        ({"data": X, "y": np.where(X == 500, np.inf, Y)}, InputError, "infinite"),
        ({"data": np.r_[X[:-1], X[-2]], "y": Y}, InputError, "repeated"),
        ({"data": X, "y": np.ones_like(X)}, InputError, "constant"),
        ({"data": X, "y": np.array(["a"] * X.size)}, InputError, "must be numbers"),
        ({"data": np.c_[X, Y, Y]}, InputError, "two-column"),
        ({"data": X[:5], "y": Y[:5]}, InputError, "only 5 points"),
        ({"data": X, "y": Y, "shape": "voigt"}, InputError, "unknown shape"),
        ({"data": X, "y": Y, "baseline": "spline9"}, InputError, "unknown baseline"),
        ({"data": X, "y": Y, "baseline": np.ones(10)}, InputError, "has 10 values"),
        ({"data": X, "y": Y, "engine": "fityk"}, InputError, "unknown engine"),
        ({"data": X, "y": Y, "criterion": "r2"}, InputError, "criterion"),
        ({"data": X, "y": Y, "eta": 1.5, "shape": "pseudo_voigt"}, InputError, "eta"),
        ({"data": X, "y": Y, "xmin": 600, "xmax": 400}, InputError, "below xmax"),
        ({"data": X + 2000, "y": Y}, InputError, "outside the data"),
        ({"data": X, "y": Y, "xmin": 450}, BandError, "not inside the fitted range"),
        ({"data": X, "y": Y, "bands": "nmc+xx"}, BandError, "unknown bands"),
        ({"data": X, "y": Y, "bands": {"Zz": {"centre": 1}}}, BandError, "unknown band id"),
        ({"data": X, "y": Y, "bands": [1, 2]}, BandError, "Band objects"),
        ({"data": X, "y": Y, "bands": "missing.toml"}, BandError, "does not exist"),
        (
            {"data": X, "y": Y, "bands": {"preset": "nmc", "Ni_Eg": {"fwhm_range": (90, 20)}}},
            BandError,
            "0 < low < high",
        ),
        (
            {"data": X[(X > 300) & (X < 420)], "y": Y[(X > 300) & (X < 420)], "bands": "nmc"},
            BandError,
            "not inside",
        ),
    ],
)
def test_bad_input_raises_library_errors(kwargs, error, match):
    kwargs = dict(kwargs)
    data = kwargs.pop("data")
    with pytest.raises(error, match=match) as info:
        deconvolve(data, **kwargs)
    assert "\n" not in str(info.value)
