"""Fit window and baseline order chosen from the data (`nmcraman.choice`)."""

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_fit

from nmcraman import (
    InputError,
    choice,
    deconvolve,
    deconvolve_joint,
    deconvolve_map,
    load,
    pooled_choice,
)
from nmcraman._kernels import stats as stat_kernels
from nmcraman.baseline import AUTO_ORDERS, baseline_stage
from nmcraman.synthetic import perturb, simulate

X = np.arange(150.0, 901.0)
#: Both chosen from the data: the defaults of deconvolve, spelled out.
AUTO = {"window": "auto", "baseline": "auto"}


def edge_spectrum(rng, snr=100):
    """Core_75 on a fluorescence hump plus an edge-filter rise below 180 cm-1.

    The rise (2 x the band peak at 150 cm-1, decaying over 8 cm-1) is what no low-order
    polynomial follows over the wide window; the ``"bands"`` window starts above it.
    """
    hump = simulate("Core_75", snr=None, rng=rng).background
    truth = perturb("Core_75", rng)
    return simulate(truth, snr=snr, background=hump + 2000.0 * np.exp(-(X - 150) / 8), rng=rng)


def area_rmse(fits, spectra) -> float:
    """Area % RMSE against the truths the fitter never saw."""
    err = []
    for res, s in zip(fits, spectra, strict=True):
        t = s.truth.set_index("band")
        pct = 100 * t["area"] / t["area"].sum()
        err.append(res.table["area_pct"].to_numpy() - pct.loc[res.table["band"]].to_numpy())
    return float(np.sqrt(np.mean(np.concatenate(err) ** 2)))


def spectra_on(background, n=8, snr=200, seed=0):
    rng = np.random.default_rng([seed, len(background)])
    if background == "edge":
        return [edge_spectrum(rng, snr) for _ in range(n)]
    return [simulate(perturb("Core_75", rng), snr=snr, background=background, rng=rng)
            for _ in range(n)]  # fmt: skip


def fits(spectra, **kw):
    return [deconvolve(s.x, s.y, bands="nmc", **{**AUTO, **kw}) for s in spectra]


@pytest.mark.parametrize(
    ("baseline", "order"), [("poly2", 2), ("poly5", 5), ("asls", 3), (np.zeros(X.size), 3)]
)
def test_setting_order_is_the_polynomial_order_else_the_fixed_models(baseline, order):
    """The order candidates are chained by (`choice.chain`), in the driver and on maps."""
    assert choice.Setting("bands", baseline).order == order


def test_edge_rise_picks_the_bands_window_and_beats_the_wide_one():
    """Below 180 cm-1 an edge-filter rise: the wide window's polynomial cannot follow it."""
    spectra = spectra_on("edge")
    auto = fits(spectra)
    assert all(r.meta["auto_choice"]["window"] == "bands" for r in auto)
    assert all(r.meta["window"] == (180.0, 775.0) for r in auto)
    wide_cubic = fits(spectra, window="wide", baseline="poly3")
    assert area_rmse(auto, spectra) < 0.6 * area_rmse(wide_cubic, spectra)


def test_exponential_background_gives_little_weight_to_the_quadratic():
    """A steep decay from the low-shift end: a quadratic cannot follow it, higher orders can."""
    spectra = spectra_on("exponential")
    auto = fits(spectra)
    weights = np.array([list(r.meta["auto_choice"]["weights"].values()) for r in auto])
    assert weights[:, 0].max() < 0.05  # poly2
    assert np.all(weights[:, 1:].sum(axis=1) > 0.95)
    wide_cubic = fits(spectra, window="wide", baseline="poly3")
    assert area_rmse(auto, spectra) < 0.6 * area_rmse(wide_cubic, spectra)


@pytest.mark.parametrize("background", ["cubic", "fluorescence"])
def test_smooth_background_costs_nothing_against_the_fixed_model(background):
    """Smooth backgrounds: every order follows them, and the average is no worse."""
    spectra = spectra_on(background)
    auto = fits(spectra)
    assert sum(r.meta["auto_choice"]["window"] == "wide" for r in auto) >= 6
    narrow = fits(spectra, window="bands", baseline="poly3")
    assert area_rmse(auto, spectra) < 1.1 * area_rmse(narrow, spectra)


def explicit_orders(s, res, **kw):
    """The explicit fit of every averaged order in the window ``res`` chose."""
    window = res.meta["auto_choice"]["window"]
    return [deconvolve(s.x, s.y, window=window, baseline=f"poly{k}", **kw) for k in AUTO_ORDERS]


def test_auto_is_the_weighted_average_of_the_explicit_fits(core_spectrum):
    """The average of deconvolve is that of the explicit fit of each order: its orders
    start from their screening fits, so they stop within the stopping tolerance (0.01
    sigma) of the explicit fits' minima, not to the bit."""
    s = core_spectrum
    res = deconvolve(s.x, s.y, bands="nmc")
    record = res.meta["auto_choice"]
    assert record["criterion"] == choice.CRITERION
    assert record["baseline"] == "auto"
    assert set(record["scores"]) == {f"{w} poly{k}" for w in ("bands", "wide") for k in AUTO_ORDERS}
    best = min(record["scores"], key=record["scores"].get)
    assert record["window"] == best.split()[0]
    singles = explicit_orders(s, res, bands="nmc")
    scores = np.array([r.stats["bic"] / r.stats["n_points"] for r in singles])
    np.testing.assert_allclose(list(record["order_scores"].values()), scores, rtol=1e-6)
    w = choice.order_weights(scores)
    np.testing.assert_allclose(list(record["weights"].values()), w, rtol=1e-4)
    assert_same_fit(res.table, choice.average(singles, w).table, err_rtol=5e-3)
    assert res.meta["baseline"] == "joint polynomials of order 2 to 5, averaged"


def test_average_is_the_weighted_mean_with_buckland_errors(core_spectrum):
    """`average` itself, exactly: every number the weighted mean, its error the fits' own
    plus their spread; curves the weighted means; flags those of the heaviest fit."""
    s = core_spectrum
    singles = [deconvolve(s.x, s.y, bands="nmc", window="bands", baseline=f"poly{k}")
               for k in AUTO_ORDERS]  # fmt: skip
    w = np.array([0.1, 0.4, 0.3, 0.2])
    res = choice.average(singles, w)
    for col in ("position", "fwhm", "area_pct"):
        v = np.array([r.table[col] for r in singles])
        e = np.array([r.table[f"{col}_err"] for r in singles])
        mean = w @ v
        np.testing.assert_allclose(res.table[col], mean, rtol=1e-12)
        np.testing.assert_allclose(res.table[f"{col}_err"], np.sqrt(w @ (e**2 + (v - mean) ** 2)))
    np.testing.assert_allclose(res.table["area_pct"].sum(), 100.0)
    assert list(res.table["flag"]) == list(singles[1].table["flag"])
    assert res.meta["baseline"] == "joint polynomials of order 2 to 5, averaged"
    np.testing.assert_allclose(res.best_fit, w @ np.array([r.best_fit for r in singles]))
    np.testing.assert_array_equal(
        res.numbers, res.table[list(stat_kernels.TABLE_ROWS)].to_numpy().T
    )


@pytest.mark.parametrize("background", ["fluorescence", "exponential", "edge"])
def test_warm_started_candidates_reach_the_minima_of_cold_fits(background):
    """Each screening fit starts from its neighbour candidate's solution: it must end
    where the explicit fit of its setting from the priors ends (within 0.02 sigma),
    and in fewer iterations."""
    from nmcraman import Spectrum
    from nmcraman.bands import bands

    warm_iter = cold_iter = 0
    ratios = []
    for s in spectra_on(background, n=4, snr=100):
        found = choice.screen(Spectrum(s.x, s.y), bands("nmc"), AUTO)
        for label, cand in found.fits.items():
            window, baseline = label.split()
            want = deconvolve(s.x, s.y, bands="nmc", window=window, baseline=baseline)
            res = choice.fit_orders(
                Spectrum(s.x, s.y), bands("nmc"), {**AUTO, "window": window,
                "baseline": baseline}, "numba", found,
            )  # fmt: skip
            ratios.append(res.stats["chi2"] / want.stats["chi2"])
            if abs(ratios[-1] - 1) < 1e-6:
                assert_same_fit(res.table, want.table, err_rtol=0.02)
            warm_iter += cand.out["n_iter"]
            cold_iter += want.stats["n_iter"]
    ratios = np.array(ratios)
    # Most end in the same minimum; where a warm start ends in another one, it is no
    # worse than a fraction of a percent of chi-square.
    assert np.mean(np.abs(ratios - 1) < 1e-6) >= 0.85
    assert ratios.max() < 1.01
    assert warm_iter < 0.7 * cold_iter


def test_averaged_curves_and_stats_add_up(cs_spectrum):
    res = deconvolve(cs_spectrum.x, cs_spectrum.y, bands="nmc+lo")
    np.testing.assert_allclose(res.best_fit, res.baseline + res.components.sum(axis=1).to_numpy())
    np.testing.assert_allclose(res.residual, res.y - res.best_fit)
    st = res.stats
    assert st["chi2"] == pytest.approx(float(res.residual @ res.residual), rel=1e-12)
    n, k = st["n_points"], st["n_params"]
    assert st["bic"] == pytest.approx(n * np.log(st["chi2"] / n) + k * np.log(n), rel=1e-12)
    assert st["redchi"] == pytest.approx(st["chi2"] / (n - k), rel=1e-12)


def test_an_order_without_an_error_is_left_out_of_that_value():
    """Gaussian Co_A1g, found absent by the quadratic: its position has no error there."""
    s = simulate("Core_75", shape="gaussian", background="cubic", snr=500, rng=[2, 0])
    res = deconvolve(s.x, s.y, bands="nmc", shape="gaussian")
    singles = explicit_orders(s, res, bands="nmc", shape="gaussian")
    w = np.array(list(res.meta["auto_choice"]["weights"].values()))
    row = [r.table.set_index("band").loc["Co_A1g"] for r in singles]
    known = np.array([np.isfinite(r["position_err"]) for r in row])
    assert not known.all()
    assert known.any()
    wk = w * known / (w * known).sum()
    got = choice.average(singles, w).table.set_index("band").loc["Co_A1g"]
    assert got["position"] == pytest.approx(wk @ [r["position"] for r in row], rel=1e-12)
    assert np.isfinite(got["position_err"])
    assert got["area"] == pytest.approx(w @ [r["area"] for r in row], rel=1e-12)
    # The raw weights would give another mean: the renormalised ones are the rule.
    raw = w * known
    assert abs(raw @ [r["position"] for r in row] - got["position"]) > 1.0
    # deconvolve's own average: the same, within the fits' stopping tolerance.
    mine = res.table.set_index("band").loc["Co_A1g"]
    assert mine["position"] == pytest.approx(got["position"], abs=0.05 * got["position_err"])


def test_order_weights_temper_bic():
    s = np.array([1.0, 1.0, 1.5])
    w = choice.order_weights(s)
    assert w.sum() == pytest.approx(1.0)
    assert w[0] == w[1]
    assert w[2] / w[0] == pytest.approx(np.exp(-choice.EVIDENCE_POINTS * 0.25))


def test_averaged_errors_cover_the_truth():
    """The error bars include the spread between orders: 1-sigma coverage of area %.

    benchmarks/window.py measures it on 480 spectra (results/window.md); 60 spectra
    here, both samples and four backgrounds at SNR 100: within 0.62 to 0.92 (the
    measured share +- about 3 binomial standard deviations). Without the spread
    between orders (each order's own error, averaged: the explicit fits of the same
    spectra) the same bars cover clearly less: the spread is what brings them there.
    """
    rng = np.random.default_rng(11)
    hits, hits_own = [], []
    for i in range(60):
        sample = ("Core_75", "CS_75")[i % 2]
        bg = ("fluorescence", "exponential", "cubic", "linear")[i % 4]
        s = simulate(perturb(sample, rng), snr=100, background=bg, rng=rng)
        bset = ("nmc", "nmc+lo")[i % 2]
        res = deconvolve(s.x, s.y, bands=bset)
        t = res.table.set_index("band")
        truth = s.truth.set_index("band")
        pct = 100 * truth["area"] / truth["area"].sum()
        miss = (t["area_pct"] - pct.loc[t.index]).abs().to_numpy()
        hits += list(miss < t["area_pct_err"].to_numpy())
        w = np.array(list(res.meta["auto_choice"]["weights"].values()))
        own = np.array([r.table["area_pct_err"] for r in explicit_orders(s, res, bands=bset)])
        hits_own += list(miss < np.sqrt(w @ own**2))
    assert 0.62 <= np.mean(hits) <= 0.92
    assert np.mean(hits) >= np.mean(hits_own) + 0.05


def test_auto_bands_share_one_window(cs_spectrum):
    s = cs_spectrum
    res = deconvolve(s.x, s.y, **AUTO)
    other = res.model_choice["alternative"]
    assert res.meta["auto_choice"]["window"] == other.meta["auto_choice"]["window"]
    assert res.meta["auto_choice"]["scores"] == other.meta["auto_choice"]["scores"]
    assert res.meta["window"] == other.meta["window"]
    assert res.meta["baseline"] == other.meta["baseline"]


@pytest.mark.parametrize(
    ("spec", "window"),
    [
        ({"xmin": 210.0, "window": "bands"}, (210.0, 775.0)),
        ({"xmax": 650.0, "window": "wide"}, (150.0, 650.0)),
        ({"window": (210.0, None)}, None),
    ],
)
def test_one_side_given_the_rule_places_the_other(core_spectrum, spec, window):
    """A `ModelSpec` side with a rule for the other; ``window=(xmin, None)`` (the public
    spelling) leaves the other side to "auto", one of the two rules' sides."""
    from nmcraman.fit import fit_spectrum
    from nmcraman.model import ModelSpec
    from nmcraman.spectrum import Spectrum

    s = Spectrum(core_spectrum.x, core_spectrum.y)
    res = fit_spectrum(s, ModelSpec(bands="nmc", **spec))
    if window is None:
        assert res.meta["window"] in {(210.0, 775.0), (210.0, 900.0)}
    else:
        assert res.meta["window"] == window


@pytest.mark.parametrize(
    ("kwargs", "window"),
    [
        ({"window": (200.0, 700.0)}, (200.0, 700.0)),
        ({"window": "bands", "baseline": "poly3"}, (180.0, 775.0)),
        ({"window": "wide", "baseline": "poly2"}, (150.0, 900.0)),
    ],
)
def test_explicit_window_is_kept_exactly(core_spectrum, kwargs, window):
    s = core_spectrum
    res = deconvolve(s.x, s.y, bands="nmc", **{**AUTO, **kwargs})
    assert res.meta["window"] == window
    if "baseline" in kwargs:
        assert "auto_choice" not in res.meta
        assert res.meta["baseline"] == f"joint polynomial, order {kwargs['baseline'][-1]}"
    else:
        # One window (both rules give it, or one is named): nothing screened, orders averaged.
        record = res.meta["auto_choice"]
        assert "scores" not in record
        rule = kwargs["window"] if isinstance(kwargs.get("window"), str) else "bands"
        assert record["window"] == rule  # two given sides: both rules give them, the first
        assert list(record["weights"]) == [f"poly{k}" for k in AUTO_ORDERS]


def test_auto_window_with_a_fixed_order_fits_that_order(core_spectrum):
    s = core_spectrum
    res = deconvolve(s.x, s.y, bands="nmc", window="auto", baseline="poly4")
    record = res.meta["auto_choice"]
    assert set(record["scores"]) == {"bands poly4", "wide poly4"}
    assert "weights" not in record
    same = deconvolve(s.x, s.y, bands="nmc", window=record["window"], baseline="poly4")
    assert_same_fit(res.table, same.table, err_rtol=5e-3)


def test_data_narrower_than_the_wide_window_leaves_one_window():
    s = simulate("Core_75", x=np.arange(180.0, 776.0), snr=150, rng=3)
    res = deconvolve(s.x, s.y, bands="nmc", **AUTO)
    assert "scores" not in res.meta["auto_choice"]
    assert len(res.meta["auto_choice"]["weights"]) == len(AUTO_ORDERS)


@pytest.mark.parametrize(("n", "orders"), [(44, 1), (46, 2), (48, 3), (50, 4)])
def test_orders_with_too_few_points_are_left_out(n, orders):
    """Each order needs two more points than the one below: the highest go first."""
    s = simulate("Core_75", x=np.linspace(180.0, 775.0, n), snr=100, rng=1)
    res = deconvolve(s.x, s.y, bands="nmc")
    assert list(res.meta["auto_choice"]["weights"]) == [f"poly{k}" for k in AUTO_ORDERS[:orders]]
    if orders == 1:  # one order left: its own fit, as if asked for
        assert res.meta["baseline"] == "joint polynomial, order 2"
    else:
        assert res.meta["baseline"] == f"joint polynomials of order 2 to {orders + 1}, averaged"


def test_too_few_points_for_every_order_is_the_lowest_order_s_error():
    s = simulate("Core_75", x=np.linspace(180.0, 775.0, 40), snr=100, rng=1)
    with pytest.raises(InputError, match=r"only 40 points .* 44 or more are needed"):
        deconvolve(s.x, s.y, bands="nmc")


def test_a_window_the_library_refuses_is_left_out():
    """A saturated range inside the wide window only: the bands window is fitted."""
    s = simulate("Core_75", snr=150, rng=4)
    y = s.y.copy()
    y[(X >= 853) & (X <= 867)] = y.max() * 1.5
    res = deconvolve(X, y, bands="nmc")
    assert res.meta["auto_choice"]["window"] == "bands"
    assert set(res.meta["auto_choice"]["scores"]) == {f"bands poly{k}" for k in AUTO_ORDERS}
    assert "saturated" in res.qc
    with pytest.raises(InputError, match="saturated"):
        deconvolve(X, y, bands="nmc", window="wide")


def test_choice_survives_save_and_load(core_spectrum, tmp_path):
    res = deconvolve(core_spectrum.x, core_spectrum.y, **AUTO)
    res.save(tmp_path / "fit.json")
    back = load(tmp_path / "fit.json")
    assert back.meta["auto_choice"] == res.meta["auto_choice"]
    assert back.meta["window"] == res.meta["window"]


def test_a_pooled_map_chooses_once_by_the_summed_score():
    """Unpooled, each pixel chooses its window (`nmcraman.maps.choice`); pooled, the
    reference setting is the lowest BIC per point summed over pixels, and the phase
    keeps its best window and averages that window's orders."""
    rng = np.random.default_rng(5)
    cube = np.array([[edge_spectrum(rng).y for _ in range(3)] for _ in range(2)])
    each = deconvolve_map(cube, X, bands="nmc", jobs=1, **AUTO)
    assert each.meta["auto_choice"]["window"] == "per pixel"
    assert list(each.stats["window"]) == ["bands"] * 6
    m = deconvolve_map(cube, X, bands="nmc", jobs=1, pooling=np.zeros((2, 3), int), **AUTO)
    record = m.meta["auto_choice"]
    assert record["window"] == "auto"  # averaged over both windows
    assert record["n_spectra"] == 6
    assert sum(record["votes"].values()) == 6
    assert len(record["scores"]) == 8
    assert record["baseline"] == "auto"
    assert record["candidates"][0] == min(record["scores"], key=record["scores"].get)
    assert record["candidates"][0].startswith("bands ")
    assert m.meta["baseline"] == "joint polynomials of order 2 to 5, averaged"
    # No order of the wide window follows the edge rise: the phase gives them no weight.
    phase = m.meta["pooling"]["phases"][0]
    assert phase["window"] == "bands"
    assert all(w < 1e-3 for c, w in phase["weights"].items() if c.startswith("wide "))
    # Nor does the "bands" window's from 180 cm-1 on six pixels' mean residual: the
    # window is tried again past the rise (`nmcraman.maps.pooled.trimmed`), and kept.
    lo, hi = m.meta["window"]
    assert hi == 775.0
    assert 180.0 < lo <= 300.0
    assert sum(w for c, w in phase["weights"].items() if c.startswith(f"bands from {lo:g} ")) > 0.99


def test_joint_fit_shares_the_set_choice():
    rng = np.random.default_rng(6)
    spectra = [edge_spectrum(rng) for _ in range(3)]
    jr = deconvolve_joint([(s.x, s.y) for s in spectra], bands="nmc", share="shape", **AUTO)
    choices = {str(r.meta["auto_choice"]) for r in jr.results}
    assert len(choices) == 1
    assert all(r.meta["window"] == (180.0, 775.0) for r in jr.results)


def test_shared_choice_without_fittable_spectra_keeps_the_first_candidate():
    from nmcraman.bands import bands

    kwargs = {"window": "auto", "baseline": "auto"}
    fixed, record = pooled_choice.choose_shared(X, [], bands("nmc"), kwargs)
    assert (fixed["window"], fixed["baseline"]) == ("bands", f"poly{AUTO_ORDERS[0]}")
    assert record["n_spectra"] == 0


@pytest.mark.parametrize("window", ["narrow", 3, None, "Auto "])
def test_bad_window_is_refused(core_spectrum, window):
    with pytest.raises(InputError, match="window"):
        deconvolve(core_spectrum.x, core_spectrum.y, bands="nmc", window=window)
    with pytest.raises(InputError, match="window"):
        deconvolve_map(core_spectrum.y[None], core_spectrum.x, bands="nmc", window=window)


def test_auto_baseline_is_not_a_stage():
    with pytest.raises(InputError, match="auto"):
        baseline_stage(X, np.ones_like(X), "auto")


def test_every_door_defaults_to_the_choice_per_spectrum(core_spectrum):
    """Window and baseline "auto" by default: on deconvolve, maps and joint fits alike."""
    s = core_spectrum
    res = deconvolve(s.x, s.y, bands="nmc")
    same = deconvolve(s.x, s.y, bands="nmc", **AUTO)
    pd.testing.assert_frame_equal(res.table, same.table)
    assert res.meta["auto_choice"] == same.meta["auto_choice"]
    m = deconvolve_map(s.y[None], s.x, bands="nmc", jobs=1)
    assert m.meta["auto_choice"]["baseline"] == "auto"
    assert m.stats["window"][0] == res.meta["auto_choice"]["window"]
    jr = deconvolve_joint([(s.x, s.y), (s.x, 1.1 * s.y)], bands="nmc", share="none")
    assert jr.results[0].meta["auto_choice"] == res.meta["auto_choice"]
    pd.testing.assert_frame_equal(jr.results[0].table, res.table, rtol=1e-9)


def test_dask_map_chooses_as_the_in_memory_map():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(7)
    cube = np.array([[edge_spectrum(rng).y for _ in range(3)] for _ in range(2)])
    want = deconvolve_map(cube, X, bands="nmc", jobs=1, **AUTO)
    got = deconvolve_map(da.from_array(cube, chunks=(1, 3, X.size)), X, bands="nmc", **AUTO)
    assert got.meta["auto_choice"] == want.meta["auto_choice"]
    pd.testing.assert_frame_equal(got.table, want.table)


def test_one_fit_averaged_is_that_fit():
    """With one candidate the average is that fit: no spread to add to its errors."""
    from nmcraman._kernels.stats import TABLE_ROWS

    values = np.random.default_rng(3).uniform(1, 2, (1, len(TABLE_ROWS), 6))
    np.testing.assert_array_equal(choice.average_numbers(values, np.ones((1, 1))), values[0])
