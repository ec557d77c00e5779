"""Pooled maps: area % far closer to the truth, the fallback rule, labels, phases in tables."""

import numpy as np
import pytest
from conftest import area_pct_error
from reference import chi2_sf
from scipy.stats import chi2

from nmcraman import InputError, deconvolve_map
from nmcraman.maps.phase_fit import FALLBACK_ALPHA, _chi2_isf
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
    got = _chi2_isf(alpha, df)
    assert got == pytest.approx(chi2.isf(alpha, df), rel=1e-10)
    if df == 1 or df % 2 == 0:
        assert chi2_sf(got, df) == pytest.approx(alpha, rel=1e-9)
    np.testing.assert_allclose(
        _chi2_isf(alpha, np.array([df, 2 * df])), chi2.isf(alpha, [df, 2 * df]), rtol=1e-10
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
