"""deconvolve(): recovery of known truths, honest errors, lmfit agreement, inputs."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import compare_to_truth, z_scores

from nmcraman import BandError, InputError, Spectrum, deconvolve
from nmcraman.bands import BANDS, bands
from nmcraman.choice import FIXED
from nmcraman.fit import FitOptions, geometry
from nmcraman.synthetic import REFERENCE, perturb, simulate

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
    # perturb keeps every truth at least 2 cm-1 inside its prior window and range.
    assert not res.table["flag"].str.contains("at_bound").any()


def noisy_z_scores(first: int, n: int, shape: str) -> pd.DataFrame:
    """|z| over the ``n`` spectra from seed ``first``: a block of error_coverage.py."""
    z = []
    for i in range(n):
        rng = np.random.default_rng(first + i)
        sample = ("Core_75", "CS_75")[i % 2]
        snr = rng.uniform(50, 200)
        eta = rng.uniform(0.1, 0.9) if shape == "pseudo_voigt" else 0.5
        s = simulate(perturb(sample, rng), shape=shape, eta=eta, snr=snr, rng=rng)
        fit = deconvolve(s.x, s.y, bands=PRESET[sample], shape=shape, **FIXED)
        z.append(z_scores(fit.table, s.truth))
    return pd.concat(z).abs()


#: Pass windows of the share of |z| < 1 and of |z| < 2 over 100 spectra, for each of
#: position, FWHM and area %: the mean +- 3 standard deviations of the coverage that
#: benchmarks/error_coverage.py measured over 8 seed blocks of 100 spectra (block 5000,
#: the one tested, among them) and the three quantities (benchmarks/results/coverage.csv),
#: rounded outward to whole per cent. Nominal Gaussian values are 0.683 and 0.954; the
#: 2-sigma coverage is lower (heavy tails), most of all for Gaussian bands.
COVERAGE = {
    "lorentzian": ((0.59, 0.73), (0.81, 0.96)),
    "gaussian": ((0.51, 0.74), (0.66, 0.89)),
    "pseudo_voigt": ((0.56, 0.71), (0.75, 0.90)),
}


@pytest.mark.parametrize("shape", list(COVERAGE))
def test_error_bars_cover_the_truth_as_measured(shape):
    """The truth lies within 1 and 2 reported sigma as often as the benchmark measured."""
    one, two = COVERAGE[shape]
    z = noisy_z_scores(5000, 100, shape)
    for col in z:
        within1, within2 = (z[col] < 1).mean(), (z[col] < 2).mean()
        assert one[0] <= within1 <= one[1], f"{col}: {within1:.3f} within 1 sigma"
        assert two[0] <= within2 <= two[1], f"{col}: {within2:.3f} within 2 sigma"


@pytest.mark.parametrize(("sample", "seed"), [("Core_75", 1), ("Core_75", 2), ("CS_75", 3)])
def test_numba_and_lmfit_agree(sample, seed):
    rng = np.random.default_rng(seed)
    s = simulate(perturb(sample, rng), snr=150, rng=rng)
    a = deconvolve(s.x, s.y, bands=PRESET[sample], **FIXED)
    b = deconvolve(s.x, s.y, bands=PRESET[sample], engine="lmfit", **FIXED)
    assert b.stats["engine"] == "lmfit"
    # The numba fit stops once the next step would gain less than gtol mean squared
    # residuals; lmfit runs on to its own tolerance.
    slack = 10 * FitOptions().gtol * a.stats["chi2"] / a.stats["n_points"]
    assert a.stats["chi2"] <= b.stats["chi2"] + slack
    for col, tol in (("position", 0.2), ("fwhm", 0.5), ("area_pct", 0.3)):
        np.testing.assert_allclose(a.table[col], b.table[col], atol=tol)
    for col in ("position_err", "fwhm_err", "area_pct_err"):
        np.testing.assert_allclose(a.table[col], b.table[col], rtol=0.15)


@pytest.mark.parametrize(
    ("shape", "eta", "sample", "seed"),
    [
        ("gaussian", 0.5, "Core_75", 3),
        ("gaussian", 0.5, "CS_75", 3),
        ("pseudo_voigt", 0.2, "CS_75", 1),
        ("pseudo_voigt", 0.8, "Core_75", 0),
    ],
)
def test_numba_and_lmfit_agree_on_other_shapes(shape, eta, sample, seed):
    """The same minimum of the same model, eta included, from the same single start.

    One start keeps lmfit's nine Gaussian and pseudo-Voigt starts from dominating the
    suite's time. From one start the engines often stop in different minima of these
    overlapping bands (10 of 20 spectra with seeds 0 to 4 at eta 0.5 and 0.2, lmfit's
    the higher each time); the spectra here are ones where both reach the same one.
    """
    s = simulate(sample, shape=shape, eta=eta, snr=150, rng=seed)
    one = FitOptions(width_scales=(1.0,), centre_shifts=(0.0,))
    kw = {"bands": PRESET[sample], "shape": shape, "options": one, **FIXED}
    a = deconvolve(s.x, s.y, **kw)
    b = deconvolve(s.x, s.y, engine="lmfit", **kw)
    slack = 10 * FitOptions().gtol * a.stats["chi2"] / a.stats["n_points"]
    assert a.stats["chi2"] <= b.stats["chi2"] + slack
    # The covariance means nothing for a parameter held at a bound.
    free = ~a.table["flag"].str.contains("at_bound").to_numpy()
    for col in ("position", "fwhm", "area_pct"):
        err = a.table[f"{col}_err"].to_numpy()
        # The minimum is flat along overlapping bands: agree to a tenth of the error.
        assert np.all(np.abs(a.table[col] - b.table[col]).to_numpy() <= 0.1 * err)
        np.testing.assert_allclose(err[free], b.table[f"{col}_err"].to_numpy()[free], rtol=0.15)
    if shape == "pseudo_voigt":
        assert a.stats["eta"] == pytest.approx(b.stats["eta"], abs=0.01)
        assert a.stats["eta_err"] == pytest.approx(b.stats["eta_err"], rel=0.15)


#: True profile of the spectrum for each Lorentzian fraction eta: 0 and 1 are made
#: with the Gaussian and Lorentzian profiles themselves.
TRUE_SHAPE = {0.0: "gaussian", 1.0: "lorentzian"}


@pytest.mark.parametrize("eta", [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
@pytest.mark.parametrize("sample", ["Core_75", "CS_75"])
def test_noisy_pseudo_voigt_fits_recover_eta(sample, eta):
    """A fitted eta (started at 0.5) finds the truth from 0 to 1, within its error."""
    shape = TRUE_SHAPE.get(eta, "pseudo_voigt")
    s = simulate(sample, shape=shape, eta=eta, background="cubic", snr=500, rng=[0, int(10 * eta)])
    res = deconvolve(s.x, s.y, bands=PRESET[sample], shape="pseudo_voigt")
    miss = abs(res.stats["eta"] - eta)
    assert miss <= 3 * res.stats["eta_err"]
    assert miss < 0.1
    assert res.stats["eta_err"] < 0.06
    # Band errors the size of their error bars: the median |z| is 0.67 for honest
    # Gaussian errors; 2 allows the spread of 20 values and fails on error bars 3 times
    # too small or a fit away from the truth.
    assert np.median(z_scores(res.table, s.truth).abs()) < 2.0


@pytest.mark.parametrize("sample", ["Core_75", "CS_75"])
@pytest.mark.parametrize("seed", range(3))
def test_noisy_gaussian_bands_are_recovered(sample, seed):
    s = simulate(sample, shape="gaussian", background="cubic", snr=500, rng=[seed, 0])
    res = deconvolve(s.x, s.y, bands=PRESET[sample], shape="gaussian")
    assert res.stats["converged"]
    assert res.stats["redchi"] == pytest.approx(s.noise_sigma**2, rel=0.2)
    assert np.median(z_scores(res.table, s.truth).abs()) < 2.0


def _edge(band: str, col: str, side: int) -> float:
    b = BANDS[band]
    return (b.window if col == "position" else b.fwhm_range)[side]


#: (band, quantity, prior limit: 0 low or 1 high, truth offset from it: cm-1 for the
#: position, a factor for the FWHM). `perturb` never draws such truths: it keeps them
#: 2 cm-1 inside the windows.
OUTSIDE = [
    ("Ni_Eg", "position", 0, -3.0),
    ("Ni_Eg", "position", 0, -10.0),
    ("Mn_A1g", "position", 1, 3.0),
    ("Mn_A1g", "fwhm", 1, 1.2),
    ("Co_Eg", "fwhm", 1, 1.2),
    ("Ni_Eg", "fwhm", 0, 0.7),
    ("Mn_Eg", "fwhm", 0, 0.7),
]
INSIDE = [
    ("Ni_Eg", "position", 0, 3.0),
    ("Mn_A1g", "position", 1, -3.0),
    ("Mn_A1g", "fwhm", 1, 0.8),
    ("Ni_Eg", "fwhm", 0, 1.5),
    ("Mn_Eg", "fwhm", 0, 1.5),
]


def _truth_at(band: str, col: str, side: int, offset: float) -> pd.DataFrame:
    truth = pd.DataFrame(REFERENCE["Core_75"], columns=["band", "position", "fwhm", "area_pct"])
    edge = _edge(band, col, side)
    truth.loc[truth["band"] == band, col] = edge + offset if col == "position" else edge * offset
    return truth


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("band", "col", "side", "offset"), OUTSIDE)
def test_a_truth_outside_its_prior_window_is_flagged_at_the_bound(band, col, side, offset, seed):
    s = simulate(_truth_at(band, col, side, offset), background="cubic", snr=300, rng=seed)
    row = deconvolve(s.x, s.y, bands="nmc", **FIXED).table.set_index("band").loc[band]
    assert f"{col}_at_bound" in row["flag"].split(";")
    assert row[col] == pytest.approx(_edge(band, col, side), abs=1e-3)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(("band", "col", "side", "offset"), INSIDE)
def test_a_truth_just_inside_its_prior_window_is_not_flagged(band, col, side, offset, seed):
    truth = _truth_at(band, col, side, offset)
    s = simulate(truth, background="cubic", snr=300, rng=seed)
    row = deconvolve(s.x, s.y, bands="nmc", **FIXED).table.set_index("band").loc[band]
    assert "at_bound" not in row["flag"]
    true_value = truth.set_index("band").loc[band, col]
    assert row[col] == pytest.approx(true_value, abs=3 * row[f"{col}_err"])


def information_criterion(res, penalty) -> float:
    """n ln(RSS / n) + penalty(n) k from the fit's residual, window and band count."""
    n = res.x.size
    k = 3 * len(res.table) + 4  # centre, FWHM, area per band; cubic baseline
    return n * np.log(np.sum(res.residual**2) / n) + penalty(n) * k


CRITERIA = {"bic": np.log, "aic": lambda n: 2.0}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("sample", ["Core_75", "CS_75"])
def test_auto_picks_the_lo_band_only_when_present(sample, seed):
    s = simulate(perturb(sample, seed, position=2.0, fwhm=0.08, area=0.1), snr=150, rng=seed)
    res = deconvolve(s.x, s.y, bands="auto", **FIXED)
    mc = res.model_choice
    assert mc["chosen"] == PRESET[sample]
    assert list(res.table["band"]) == list(s.truth["band"])
    alternative = mc["alternative"]
    assert len(alternative.table) == len(res.table) + (1 if sample == "Core_75" else -1)
    margin = information_criterion(alternative, np.log) - information_criterion(res, np.log)
    assert mc["margin"] == pytest.approx(margin, rel=1e-9)
    assert (
        res.report()
        .splitlines()[-1]
        .endswith(f"{PRESET[sample]} chosen by BIC (better by {margin:.1f})")
    )


@pytest.mark.parametrize("criterion", list(CRITERIA))
def test_auto_scores_are_the_criterion_of_each_fit(cs_spectrum, criterion):
    s = cs_spectrum
    res = deconvolve(s.x, s.y, criterion=criterion, **FIXED)
    mc = res.model_choice
    assert mc["criterion"] == criterion
    other = next(k for k in mc["scores"] if k != mc["chosen"])
    fits = {mc["chosen"]: res, other: mc["alternative"]}
    assert sorted(fits) == ["nmc", "nmc+lo"]
    for name, fit in fits.items():
        assert len(fit.table) == len(bands(name))
        expected = information_criterion(fit, CRITERIA[criterion])
        assert mc["scores"][name] == pytest.approx(expected, rel=1e-9)
    assert mc["chosen"] == min(mc["scores"], key=mc["scores"].get)


#: Share of spectra for which ``bands="auto"`` chose the preset of the truth, at
#: perturb's default spread, as measured by benchmarks/model_choice.py on 1000 spectra
#: per cell (benchmarks/results/model_choice.md, quoted in docs/model_choice.rst).
CHOICE_RATE = {
    ("Core_75", 50): {"bic": 0.999, "aic": 0.871},
    ("Core_75", 100): {"bic": 0.999, "aic": 0.851},
    ("Core_75", 200): {"bic": 1.000, "aic": 0.871},
    ("CS_75", 50): {"bic": 0.378, "aic": 0.748},
    ("CS_75", 100): {"bic": 0.709, "aic": 0.916},
    ("CS_75", 200): {"bic": 0.922, "aic": 0.977},
}


@pytest.mark.parametrize(("sample", "snr"), list(CHOICE_RATE))
def test_auto_choice_rates_match_the_documented_study(sample, snr):
    """The rate of right choices over 150 other spectra, within a binomial tolerance."""
    n, n_doc = 150, 1000
    hits = {"bic": 0, "aic": 0}
    for i in range(n):
        # The benchmark's recipe with seed 2 (the documented run used seed 1).
        rng = np.random.default_rng([2, ("Core_75", "CS_75").index(sample), snr, i])
        s = simulate(perturb(sample, rng), snr=snr, rng=rng)
        res = deconvolve(s.x, s.y, bands="auto", **FIXED)
        hits["bic"] += res.model_choice["chosen"] == PRESET[sample]
        aic = min((res, res.model_choice["alternative"]), key=lambda f: f.stats["aic"])
        hits["aic"] += len(aic.table) == len(bands(PRESET[sample]))
    for criterion, k in hits.items():
        p = float(np.clip(CHOICE_RATE[sample, snr][criterion], 0.5 / n_doc, 1 - 0.5 / n_doc))
        # 3.3 standard deviations of the difference of two binomial shares (the test's
        # and the documented run's), plus one spectrum: about a two-sided 0.1 % test.
        tol = 3.3 * np.sqrt(p * (1 - p) * (1 / n + 1 / n_doc)) + 1 / n
        assert abs(k / n - p) <= tol, f"{criterion}: {k} of {n} right, documented {p:.3f}"


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
    res = deconvolve(s.x, s.y, bands="nmc", shape="pseudo_voigt", eta=0.8, window=(250, 700))
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
    quick = deconvolve(s.x, s.y, bands="nmc", engine=engine, **FIXED)
    full = deconvolve(s.x, s.y, bands="nmc", engine=engine, options=every, **FIXED)
    assert not quick.table["flag"].str.contains("bound|absent").any()
    assert quick.stats["start"] == full.stats["start"] == 0
    assert quick.stats["n_iter"] < full.stats["n_iter"]
    assert quick.stats["chi2"] == full.stats["chi2"]
    # An upper FWHM bound below Mn_A1g's width (about 50 cm-1) traps every start.
    tight = [
        replace(b, fwhm=25.0, fwhm_range=(10.0, 30.0)) if b.id == "Mn_A1g" else b
        for b in bands("nmc")
    ]
    quick = deconvolve(s.x, s.y, bands=tight, engine=engine, **FIXED)
    full = deconvolve(s.x, s.y, bands=tight, engine=engine, options=every, **FIXED)
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
        ({"data": X, "y": Y, "window": (600, 400)}, InputError, "below xmax"),
        ({"data": X + 2000, "y": Y}, InputError, "outside the data"),
        ({"data": X, "y": Y, "window": (450, None)}, BandError, "not inside the fitted range"),
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


# --- fixed and tied parameters ---------------------------------------------------------

CONSTRAINED = {
    "fix": {"preset": "nmc+lo", "Mn_A1g": {"fix": ["position"]}, "Co_Eg": {"fix": ["fwhm"]}},
    "tie": {"preset": "nmc+lo", "Ni_A1g": {"tie": {"fwhm": "Mn_Eg"}}},
}


@pytest.mark.parametrize("case", ["fix", "tie"])
@pytest.mark.parametrize("seed", [4, 5])
def test_fixed_and_tied_parameters_match_lmfit_with_vary_and_expr(case, seed):
    """The same constraints through lmfit (``vary=False``, ``expr``) reach the same
    minimum: chi-square, values and errors. (On other spectra lmfit is sometimes
    trapped higher, never lower: seed 3 gives 14608 against 14523 for "fix".)"""
    s = simulate("CS_75", snr=200, rng=seed)
    spec = CONSTRAINED[case]
    a = deconvolve(s.x, s.y, bands=spec)
    b = deconvolve(s.x, s.y, bands=spec, engine="lmfit")
    assert a.stats["chi2"] == pytest.approx(b.stats["chi2"], rel=1e-4)
    for col, tol in (("position", 0.05), ("fwhm", 0.1), ("area_pct", 0.05)):
        np.testing.assert_allclose(a.table[col], b.table[col], atol=tol)
    np.testing.assert_allclose(a.table["area_pct_err"], b.table["area_pct_err"], rtol=0.05)


def test_fixed_parameters_stay_at_the_prior_with_no_error():
    s = simulate("CS_75", snr=200, rng=5)
    res = deconvolve(s.x, s.y, bands=CONSTRAINED["fix"])
    t = res.table.set_index("band")
    assert t.loc["Mn_A1g", "position"] == 595.0
    assert t.loc["Mn_A1g", "position_err"] == 0.0
    assert t.loc["Co_Eg", "fwhm"] == 80.0
    assert t.loc["Co_Eg", "fwhm_err"] == 0.0
    free = deconvolve(s.x, s.y, bands="nmc+lo")
    assert res.stats["n_params"] == free.stats["n_params"] - 2
    assert res.stats["chi2"] >= free.stats["chi2"] * (1 - 1e-9)


def test_tied_fwhms_are_one_value_with_one_error():
    s = simulate("CS_75", snr=200, rng=6)
    t = deconvolve(s.x, s.y, bands=CONSTRAINED["tie"]).table.set_index("band")
    assert t.loc["Ni_A1g", "fwhm"] == t.loc["Mn_Eg", "fwhm"]
    assert t.loc["Ni_A1g", "fwhm_err"] == t.loc["Mn_Eg", "fwhm_err"] > 0


def test_a_band_fixed_at_its_truth_is_recovered_better():
    """Fixing positions at known values (a reference measurement) must help the areas:
    the point of fix. The truth is put into the priors here on purpose, as a user with
    a calibrated reference would."""
    rng = np.random.default_rng(11)
    worse = 0
    for _ in range(6):
        s = simulate(perturb("Core_75", rng), snr=100, rng=rng)
        truth = s.truth.set_index("band")
        spec = {"preset": "nmc"}
        for b in bands("nmc"):
            spec[b.id] = {"centre": float(truth.loc[b.id, "position"]), "fix": ["position"]}
        free = deconvolve(s.x, s.y, bands="nmc")
        held = deconvolve(s.x, s.y, bands=spec)
        err_free = compare_to_truth(free.table, s.truth)["area_pct"]
        err_held = compare_to_truth(held.table, s.truth)["area_pct"]
        worse += np.sqrt(np.mean(err_held**2)) > np.sqrt(np.mean(err_free**2))
    assert worse <= 1
