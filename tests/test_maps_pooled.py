"""Pooled maps: area % far closer to the truth, the fallback rule, labels, phases in tables."""

import numpy as np
import pytest
from conftest import area_pct_error
from reference import chi2_sf
from scipy.stats import chi2

from nmcraman import InputError, deconvolve_map
from nmcraman.maps.phase_fit import FALLBACK_ALPHA, chi2_isf
from nmcraman.model import FIXED
from nmcraman.results.map import QC_FLAGS
from nmcraman.synthetic import core_shell_map

REJECTED = 1 << QC_FLAGS.index("pooling_rejected")


def _pure(pooled_map):
    """Clean pure-phase pixels (core or rim), the shifted pixel left out."""
    truth = pooled_map["truth"]
    frac = truth["fraction"].ravel()
    pure = ((frac == 0) | (frac == 1)) & (truth["corrupted"].ravel() == "")
    pure[pooled_map["shifted"]] = False
    return pure


def _rmse(err):
    return float(np.sqrt(np.mean(err**2)))


def test_pooling_brings_pure_phase_area_pct_close_to_the_truth(pooled_map):
    """The issue's target: at most 4 points per pixel, where single fits give 6 to 13."""
    pure = _pure(pooled_map)
    own = _rmse(area_pct_error(pooled_map["unpooled"], pooled_map["truth"], pure))
    pooled = _rmse(area_pct_error(pooled_map["pooled"], pooled_map["truth"], pure))
    assert own > 4.0
    assert pooled <= 4.0
    assert pooled < 0.5 * own


def test_rim_core_contrast_of_mn_a1g_within_two_points(pooled_map):
    m, truth = pooled_map["pooled"], pooled_map["truth"]
    frac, pure = truth["fraction"].ravel(), _pure(pooled_map)
    mn = m.params["area_pct"][:, m.bands.index("Mn_A1g")]
    want = truth["area_pct"][..., list(truth["bands"]).index("Mn_A1g")].ravel()
    rim, core = pure & (frac == 1), pure & (frac == 0)
    got = np.nanmean(mn[rim]) - np.nanmean(mn[core])
    assert abs(got - (want[rim].mean() - want[core].mean())) <= 2.0


def test_fallback_flags_the_shifted_pixel_and_no_ordinary_one(pooled_map):
    m, own, k = pooled_map["pooled"], pooled_map["unpooled"], pooled_map["shifted"]
    rejected = np.flatnonzero(m.stats["flags"] & REJECTED)
    assert list(rejected) == [k]
    assert "pooling_rejected" in m.flag_names()[k]
    # It keeps its own fit: the same numbers as the map fitted pixel by pixel.
    np.testing.assert_array_equal(m.params["area_pct"][k], own.params["area_pct"][k])
    assert m.stats["phase"][k] >= 0


def test_an_odd_pixel_does_not_widen_its_phase_s_spread(pooled_map):
    """The truth's pure phases share their shapes; its gradient moves bands by well under
    a wavenumber between neighbouring pixels. A pixel shifted by 15 cm-1 must not make
    its phase's spread several wavenumbers wide (and so let itself through)."""
    m = pooled_map["pooled"]
    taus = {p["phase"]: p["tau"] for p in m.meta["pooling"]["phases"]}
    odd = m.stats["phase"][pooled_map["shifted"]]
    assert taus[odd][0] < 1.0
    assert taus[odd][1] < 0.05
    # Nor drag the phase's shared shapes: its other pixels stay far better than alone.
    others = (m.stats["phase"] == odd) & (pooled_map["truth"]["corrupted"].ravel() == "")
    others[pooled_map["shifted"]] = False
    pooled = _rmse(area_pct_error(m, pooled_map["truth"], others))
    own = _rmse(area_pct_error(pooled_map["unpooled"], pooled_map["truth"], others))
    assert pooled < 0.5 * own


def test_corrupted_pixels_are_left_out_and_flagged_as_before(pooled_map):
    m, own = pooled_map["pooled"], pooled_map["unpooled"]
    corrupted = pooled_map["truth"]["corrupted"].ravel() != ""
    assert (m.stats["phase"][corrupted] == -1).all()
    np.testing.assert_array_equal(m.stats["flags"][corrupted], own.stats["flags"][corrupted])
    np.testing.assert_array_equal(
        m.params["area_pct"][corrupted], own.params["area_pct"][corrupted]
    )


def test_pooled_errors_come_from_the_joint_covariance(pooled_map):
    """Finite, smaller than a single fit's, and about the size of the actual errors."""
    pure = _pure(pooled_map)
    m, own = pooled_map["pooled"], pooled_map["unpooled"]
    err = m.params["area_pct_err"][pure]
    assert np.isfinite(err[m.params["area_pct"][pure] > 1]).all()
    assert np.nanmedian(err) < 0.5 * np.nanmedian(own.params["area_pct_err"][pure])
    z = area_pct_error(m, pooled_map["truth"], pure) / err
    inside = np.mean(np.abs(z[np.isfinite(z)]) <= 1.0)
    assert 0.4 <= inside <= 0.95


def test_phase_image_and_tables(pooled_map):
    m = pooled_map["pooled"]
    img = m.image("phase")
    assert img.shape == (24, 24)
    assert img.dtype.kind == "i"
    assert np.array_equal(m.pixels["phase"].to_numpy(), img.ravel())
    table = m.table
    assert (table["phase"].to_numpy() == img.ravel()[table["row"] * 24 + table["col"]]).all()
    assert "phase" in m.to_xarray()


def test_an_unpooled_map_has_no_phase(pooled_map):
    m = pooled_map["unpooled"]
    with pytest.raises(InputError, match="not pooled"):
        m.image("phase")
    assert "phase" not in m.table.columns


def test_labels_array_instead_of_phases(pooled_map):
    """Core and rim given by hand; pixels in between (negative) keep their own fits."""
    truth = pooled_map["truth"]
    frac = truth["fraction"]
    labels = np.where(frac == 0, 0, np.where(frac == 1, 1, -7))
    m = deconvolve_map(
        pooled_map["cube"],
        pooled_map["x"],
        progress=False,
        pooling=labels,
        share="shape",
        **FIXED,
    )
    usable = m.stats["phase"] >= 0
    np.testing.assert_array_equal(m.stats["phase"][usable], labels.ravel()[usable])
    assert set(np.unique(m.stats["phase"])) == {-1, 0, 1}
    between = labels.ravel() < 0
    np.testing.assert_array_equal(
        m.params["area_pct"][between], pooled_map["unpooled"].params["area_pct"][between]
    )
    pure = _pure(pooled_map)
    assert _rmse(area_pct_error(m, truth, pure)) <= 4.0
    assert m.meta["pooling"]["share"] == "shape"
    assert {p["bands"] for p in m.meta["pooling"]["phases"]} == {"nmc", "nmc+lo"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pooling": "clusters"}, "unknown pooling"),
        ({"pooling": np.zeros((2, 3))}, "integers"),
        ({"pooling": np.zeros((3, 2), dtype=int)}, "shape"),
        ({"pooling": "phases", "share": "none"}, "unknown share"),
        ({"pooling": "phases", "max_phases": 0}, "max_phases"),
    ],
)
def test_bad_pooling_arguments(kwargs, match, pooled_map):
    cube = pooled_map["cube"][:2, :3]
    with pytest.raises(InputError, match=match):
        deconvolve_map(cube, pooled_map["x"], bands="nmc", **kwargs)


def test_fallback_level_is_strict():
    """Over 10^4 pixels alike their phase, about 0.01 are rejected by chance."""
    assert 1e4 * FALLBACK_ALPHA <= 0.01


@pytest.mark.parametrize("df", [1, 2, 7, 12, 14, 15])
@pytest.mark.parametrize("alpha", [FALLBACK_ALPHA, 0.05, 0.5])
def test_fallback_limit_is_the_chi_square_quantile(df, alpha):
    """The limit a pixel's chi-square excess is held to: ``scipy.stats.chi2.isf``, and the
    point where the closed-form tail (1 or an even number of degrees of freedom) is
    ``alpha``. A 7-band pixel pools 14 values: its limit at `FALLBACK_ALPHA` is 54.6
    (78.8 with ``df`` in place of ``df / 2``)."""
    got = chi2_isf(alpha, df)
    assert got == pytest.approx(chi2.isf(alpha, df), rel=1e-10)
    if df == 1 or df % 2 == 0:
        assert chi2_sf(got, df) == pytest.approx(alpha, rel=1e-9)
    np.testing.assert_allclose(
        chi2_isf(alpha, np.array([df, 2 * df])), chi2.isf(alpha, [df, 2 * df]), rtol=1e-10
    )


def test_a_series_is_pooled_over_all_its_steps():
    """Phases of a (time, y, x) series span its steps: each pixel keeps its own label."""
    from nmcraman.synthetic import simulate

    x = np.arange(150.0, 901.0)
    cube = np.array([simulate("Core_75", snr=150, rng=k).y for k in range(12)]).reshape(2, 2, 3, -1)
    labels = np.zeros((2, 2, 3), dtype=int)
    labels[1] = 1  # a phase per time step
    labels[0, 0, 0] = 1
    m = deconvolve_map(cube, x, bands="nmc", pooling=labels, dims=("time", "y", "x"))
    np.testing.assert_array_equal(m.image("phase"), labels)
    assert [p["pixels"] for p in m.meta["pooling"]["phases"]] == [5, 7]
    rows = m.table[m.table["band"] == "Mn_A1g"]
    np.testing.assert_array_equal(rows["phase"], labels[rows["time"], rows["y"], rows["x"]])


# --- the misfit check of each phase (nmcraman.misfit) ---------------------------------

MISFIT = 1 << QC_FLAGS.index("model_misfit")


@pytest.fixture(scope="module")
def misfit_maps():
    """A 16 x 16 core-shell map fitted with a model that holds its truth (``nmc+lo``, the
    fixed model), and the same map with what the model lacks: a spinel-like band at
    625 cm-1 (FWHM 40, 5 noise sigmas high) in the rim, or a hump at 400 cm-1 (FWHM
    140 cm-1, half the bands' height) under every pixel, which a cubic cannot follow."""
    cube, x, truth = core_shell_map(16, 16, rng=3)
    rim = truth["fraction"].ravel() >= 0.999
    band, hump = cube.copy(), cube.copy()
    band.reshape(-1, x.size)[rim] += 50.0 / (1.0 + ((x - 625.0) / 20.0) ** 2)
    hump += 500.0 * np.exp(-0.5 * ((x - 400.0) / 60.0) ** 2)
    kw = {"bands": "nmc+lo", "progress": False, **FIXED}
    return {
        "rim": rim,
        "truth": truth,
        "clean": deconvolve_map(cube, x, pooling="phases", **kw),
        "band": deconvolve_map(band, x, pooling="phases", **kw),
        "band_unpooled": deconvolve_map(band, x, **kw),
        "hump": deconvolve_map(hump, x, pooling="phases", **kw),
    }


def _misfit_phases(m):
    return [p["phase"] for p in m.meta["pooling"]["phases"] if p["model_misfit"]]


def test_a_well_specified_map_stays_silent(misfit_maps):
    m = misfit_maps["clean"]
    assert _misfit_phases(m) == []
    assert all(p["misfit_pvalue"] > 0.01 for p in m.meta["pooling"]["phases"])
    assert not (m.stats["flags"] & MISFIT).any()
    assert not m.table["flag"].str.contains("model_misfit").any()


def test_a_band_the_model_lacks_flags_its_phase_and_its_pixels(misfit_maps):
    m, rim = misfit_maps["band"], misfit_maps["rim"]
    flagged = (m.stats["flags"] & MISFIT) != 0
    assert flagged[rim].mean() >= 0.9
    # Only phases holding the band are flagged: pure core pixels never are.
    core = misfit_maps["truth"]["fraction"].ravel() == 0
    assert not flagged[core].any()
    for k in _misfit_phases(m):
        assert (flagged == (m.stats["phase"] == k))[m.stats["phase"] == k].all()
        assert rim[m.stats["phase"] == k].mean() > 0.5


def test_a_flagged_phase_keeps_its_pixels_own_fits(misfit_maps):
    """The fallback: every pixel of a flagged phase has the numbers of the unpooled map."""
    m, own = misfit_maps["band"], misfit_maps["band_unpooled"]
    flagged = (m.stats["flags"] & MISFIT) != 0
    assert flagged.any()
    for key in ("area_pct", "area_pct_err", "position", "fwhm"):
        np.testing.assert_array_equal(m.params[key][flagged], own.params[key][flagged])
    # Its pixels keep their phase, and are not counted as rejected by the pixel rule.
    assert (m.stats["phase"][flagged] >= 0).all()
    assert not (m.stats["flags"][flagged] & REJECTED).any()


def test_misfit_flag_shows_in_table_record_report_and_page(misfit_maps, tmp_path):
    m = misfit_maps["band"]
    [k] = _misfit_phases(m)
    rows = m.table[m.table["phase"] == k]
    assert rows["flag"].str.contains("model_misfit").all()
    assert not m.table[m.table["phase"] != k]["flag"].str.contains("model_misfit").any()
    record = next(p for p in m.meta["pooling"]["phases"] if p["phase"] == k)
    assert record["misfit_pvalue"] < 1e-3
    assert record["misfit_statistic"] > 1.5
    assert len(record["misfit_df"]) == 2
    text = m.report()
    assert f"model_misfit {int(np.sum((m.stats['flags'] & MISFIT) != 0))}" in text
    assert "model_misfit: the mean residual of the phase" in text
    assert "model_misfit" in repr(m)
    m.to_html(tmp_path / "m.html")
    page = (tmp_path / "m.html").read_text()
    assert f"phase {k}: {record['pixels']} pixels (nmc+lo), 0 rejected, model_misfit" in page
    assert '"model_misfit"' in page  # the pixel flags' names, read by the page's script


def test_a_hump_the_cubic_cannot_follow_is_flagged(misfit_maps):
    m = misfit_maps["hump"]
    assert len(_misfit_phases(m)) == len(m.meta["pooling"]["phases"]) > 0
    assert ((m.stats["flags"] & MISFIT) != 0).sum() == (m.stats["phase"] >= 0).sum()


@pytest.mark.parametrize("name", ["m.json", "m.nc"])
def test_misfit_flags_and_record_survive_save_and_load(misfit_maps, tmp_path, name):
    from nmcraman import load

    m = misfit_maps["band"]
    m.save(tmp_path / name)
    back = load(tmp_path / name)
    np.testing.assert_array_equal(back.stats["flags"], m.stats["flags"])
    assert [p["model_misfit"] for p in back.meta["pooling"]["phases"]] == [
        p["model_misfit"] for p in m.meta["pooling"]["phases"]
    ]
    assert back.report() == m.report()


# --- averaging over window and baseline-order candidates (issue 26, section 1) -------

ORDERS = ("poly2", "poly3", "poly4", "poly5")


@pytest.fixture(scope="module")
def averaged_map():
    """A 4 x 5 core-shell map in two given phases, pooled with the baseline orders left
    open (``window="bands"``: four candidates) and with each order given."""
    from nmcraman.synthetic import core_shell_map

    cube, x, _ = core_shell_map(4, 5, snr=80, rng=11)
    labels = np.repeat([[0, 0, 1, 1, 1]], 4, axis=0)
    kw = {"bands": "nmc", "pooling": labels, "window": "bands", "progress": False, "jobs": 1}
    return {
        "cube": cube,
        "x": x,
        "labels": labels,
        "auto": deconvolve_map(cube, x, baseline="auto", **kw),
        "each": {b: deconvolve_map(cube, x, baseline=b, **kw) for b in ORDERS},
        "poly3": deconvolve_map(cube, x, baseline="poly3", **kw),
    }


def test_each_phase_records_its_candidates_scores_and_weights(averaged_map):
    from nmcraman.choice import EVIDENCE_POINTS

    m = averaged_map["auto"]
    choice = m.meta["auto_choice"]
    assert choice["baseline"] == "auto"
    assert sorted(choice["candidates"]) == sorted(f"bands {b}" for b in ORDERS)
    # The reference (phases, band sets) is the setting choose_shared chose: first.
    assert choice["candidates"][0] == min(choice["scores"], key=choice["scores"].get)
    assert m.meta["baseline"] == "joint polynomials of order 2 to 5, averaged"
    phases = m.meta["pooling"]["phases"]
    assert [p["phase"] for p in phases] == [0, 1]
    for p in phases:
        s = np.array([p["scores"][c] for c in choice["candidates"]])
        w = np.array([p["weights"][c] for c in choice["candidates"]])
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        want = np.exp(-0.5 * EVIDENCE_POINTS * (s - s.min()))
        np.testing.assert_allclose(w, want / want.sum(), rtol=1e-12)


def test_phase_score_is_the_phase_s_bic_per_point(averaged_map):
    """From the explicit fits' per-pixel BIC: sum n ln(RSS/n), each pixel's areas and
    baseline plus the phase's pooled positions and FWHMs counted once."""
    m = averaged_map["auto"]
    labels = averaged_map["labels"].ravel()
    n = m.meta["n_points"]
    nb = 6
    df = 2 * nb  # positions and FWHMs, partially pooled
    for b, each in averaged_map["each"].items():
        alone = (each.stats["flags"] & REJECTED) != 0  # own fits: every parameter their own
        k_own = 3 * nb + int(b[4:]) + 1
        for p in m.meta["pooling"]["phases"]:
            rows = labels == p["phase"]
            log_rss = each.stats["bic"][rows] - k_own * np.log(n)
            k = rows.sum() * k_own - (~alone[rows]).sum() * df + df
            total = rows.sum() * n
            want = (log_rss.sum() + k * np.log(total)) / total
            assert p["scores"][f"bands {b}"] == pytest.approx(want, rel=1e-9)


def test_averaged_table_is_the_weighted_mean_with_buckland_errors(averaged_map):
    """Values: the weighted means of the explicit fits; errors: each fit's own error and
    the spread between fits, so never below the within-fit error."""
    m = averaged_map["auto"]
    labels = averaged_map["labels"].ravel()
    cands = m.meta["auto_choice"]["candidates"]
    each = [averaged_map["each"][c.split()[1]] for c in cands]
    w = np.zeros((len(cands), labels.size))
    for p in m.meta["pooling"]["phases"]:
        w[:, labels == p["phase"]] = np.array([p["weights"][c] for c in cands])[:, None]
    for q in ("position", "fwhm", "area_pct"):
        vals = np.stack([e.params[q] for e in each])
        errs = np.stack([e.params[f"{q}_err"] for e in each])
        mean = np.einsum("fp,fpb->pb", w, vals)
        np.testing.assert_allclose(m.params[q], mean, rtol=1e-9)
        within = np.sqrt(np.einsum("fp,fpb->pb", w, errs**2))
        buckland = np.sqrt(within**2 + np.einsum("fp,fpb->pb", w, (vals - mean) ** 2))
        np.testing.assert_allclose(m.params[f"{q}_err"], buckland, rtol=1e-9)
        assert (m.params[f"{q}_err"] >= within * (1 - 1e-12)).all()
        assert (m.params[f"{q}_err"] > within * 1.01).any()


def test_an_explicit_baseline_keeps_one_setting(averaged_map):
    """baseline="poly3" is fitted as given: no candidates, no averaging."""
    m = averaged_map["poly3"]
    assert "auto_choice" not in m.meta
    assert m.meta["baseline"] == "joint polynomial, order 3"
    assert all("weights" not in p for p in m.meta["pooling"]["phases"])
    np.testing.assert_array_equal(
        m.params["area_pct"], averaged_map["each"]["poly3"].params["area_pct"]
    )


def test_an_explicit_baseline_with_the_window_open_chooses_one_window(averaged_map):
    cube, x, labels = (averaged_map[k] for k in ("cube", "x", "labels"))
    kw = {"bands": "nmc", "pooling": labels, "progress": False, "jobs": 1, "baseline": "poly3"}
    m = deconvolve_map(cube, x, window="auto", **kw)
    choice = m.meta["auto_choice"]
    assert "candidates" not in choice
    assert choice["baseline"] == "poly3"
    one = deconvolve_map(cube, x, window=choice["window"], **kw)
    np.testing.assert_array_equal(m.params["area_pct"], one.params["area_pct"])


# --- a window trimmed past an edge filter's rise (issue 26, section 4) ---------------


@pytest.fixture(scope="module")
def edge_map():
    """An 8 x 8 core-shell map on an edge filter's rise (twice the band height at 150
    cm-1, decaying over 8 cm-1, into the "bands" window), pooled with the orders left
    open: as it comes (window "bands"), and with the window's low end set by the user."""
    cube, x, truth = core_shell_map(8, 8, snr=80, rng=5)
    cube = cube + 2.0 * np.median(np.ptp(cube, axis=-1)) * np.exp(-(x - x[0]) / 8.0)
    kw = {"bands": "nmc+lo", "pooling": "phases", "baseline": "auto", "progress": False}
    return {
        "truth": truth,
        "auto": deconvolve_map(cube, x, window="bands", **kw),
        "given": deconvolve_map(cube, x, window=(180.0, None), **kw),
    }


def _pure_rmse(m, truth) -> float:
    pure = np.isin(truth["fraction"].ravel(), (0.0, 1.0))
    want = truth["area_pct"].reshape(pure.size, -1)[pure]
    return float(np.sqrt(np.mean((m.params["area_pct"][pure] - want) ** 2)))


def test_an_edge_rise_moves_the_window_s_low_end_past_it(edge_map):
    m = edge_map["auto"]
    phases = m.meta["pooling"]["phases"]
    assert any(p["model_misfit"] is False for p in phases)
    for p in phases:
        if p["model_misfit"]:
            continue
        # The untrimmed candidates failed the check where trimmed ones passed: no weight.
        trimmed = {k: w for k, w in p["weights"].items() if " from " in k}
        assert len(trimmed) == 4
        assert sum(trimmed.values()) == pytest.approx(1.0)
        assert set(p["misfit_candidates"]) >= {f"bands {b}" for b in ORDERS}
    low = float(next(iter(trimmed)).split(" from ")[1].split()[0])
    assert 195.0 <= low <= 300.0


def test_trimming_recovers_the_areas_and_a_window_side_given_is_kept(edge_map):
    given = edge_map["given"]
    labels = [k for p in given.meta["pooling"]["phases"] for k in p.get("weights", {})]
    assert labels
    assert not any(" from " in k for k in labels)
    assert all(p["model_misfit"] for p in given.meta["pooling"]["phases"])
    got, before = (_pure_rmse(edge_map[k], edge_map["truth"]) for k in ("auto", "given"))
    assert got < 0.5 * before
