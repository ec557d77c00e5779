"""Result: table layout, error propagation, stats, report, plot, CSV."""

import numpy as np
import pandas as pd
import pytest

from nmcraman import deconvolve
from nmcraman.choice import FIXED
from nmcraman.results.result import TABLE_COLUMNS


@pytest.fixture(scope="module")
def result():
    from nmcraman.synthetic import simulate

    s = simulate("CS_75", snr=120, rng=21)
    return deconvolve(s.x, s.y, bands="nmc+lo", **FIXED)


def test_table_layout(result):
    t = result.table
    assert tuple(t.columns) == TABLE_COLUMNS
    assert list(t["band"]) == ["Ni_Eg", "Co_Eg", "Co_A1g", "Ni_A1g", "Mn_Eg", "Mn_A1g", "LO_RS"]
    assert t["label"].iloc[-1] == "LO (R-S)"
    assert t["area_pct"].sum() == pytest.approx(100)
    assert (t[[c for c in t.columns if c.endswith("_err")]] > 0).all().all()
    assert set(t["flag"]) <= {"ok", "unresolved", "absent", "position_at_bound", "fwhm_at_bound"}


def test_area_pct_error_is_the_delta_method_of_the_covariance(result):
    t = result.table
    cov = result.covariance.loc[[f"{b}_area" for b in t["band"]], [f"{b}_area" for b in t["band"]]]
    areas = t["area"].to_numpy()
    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal(areas, cov.to_numpy(), size=200_000)
    pct = 100 * draws / draws.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(t["area_pct_err"], pct.std(axis=0), rtol=0.03)
    np.testing.assert_allclose(t["area_err"], np.sqrt(np.diag(cov)), rtol=1e-12)


def test_curves_add_up(result):
    np.testing.assert_allclose(
        result.best_fit, result.baseline + result.components.to_numpy().sum(axis=1)
    )
    np.testing.assert_allclose(result.residual, result.y - result.best_fit)
    st = result.stats
    assert st["chi2"] == pytest.approx(float(result.residual @ result.residual))
    assert st["redchi"] == pytest.approx(st["chi2"] / (st["n_points"] - st["n_params"]))
    assert st["bic"] > st["aic"]
    assert 0.99 < st["r2"] <= 1
    assert st["noise"] == pytest.approx(1000 / 120, rel=0.15)
    comp = result.components["Mn_A1g"].to_numpy()
    area = np.trapezoid(comp, result.x)
    assert area == pytest.approx(result.table.set_index("band").loc["Mn_A1g", "area"], rel=0.1)


def test_report_lists_every_band(result):
    text = result.report()
    for label in result.table["label"]:
        assert label in text
    assert "±" in text
    assert "joint polynomial, order 3" in text
    assert "Mn (A1g)" in repr(text)


def test_plot(result):
    fig = result.plot()
    assert len(fig.axes) == 2
    assert len(fig.axes[0].collections) == len(result.table)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_to_csv_round_trip(result, tmp_path):
    path = tmp_path / "table.csv"
    result.to_csv(path)
    back = pd.read_csv(path)
    pd.testing.assert_frame_equal(back, result.table, check_dtype=False)
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(ValueError, match="exists"):
        result.to_csv(path, force=False)
    with pytest.raises(ValueError, match="does not exist"):
        result.to_csv(tmp_path / "nope" / "t.csv")


@pytest.mark.parametrize("from_blocks", [True, False])
def test_band_frame_matches_the_public_constructor(monkeypatch, from_blocks):
    """Both ways of building a table (pandas 3 blocks, or the fallback) give what
    ``pd.DataFrame`` gives, and no two tables share their text columns or names."""
    from nmcraman._kernels import stats as stat_kernels
    from nmcraman.results import result as result_module

    if not from_blocks:
        monkeypatch.setattr(result_module, "_from_blocks", None)
    ids, labels, flags = ("a", "b", "c"), ("A", "B", "C"), ("ok", "ok", "absent")
    numbers = np.arange(27.0).reshape(9, 3)
    want = pd.DataFrame(
        {"band": ids, "label": labels}
        | dict(zip(stat_kernels.TABLE_ROWS, numbers, strict=True))
        | {"flag": flags}
    )
    got = result_module.band_frame(ids, labels, numbers, flags)
    pd.testing.assert_frame_equal(got, want)
    got.loc[0, "flag"] = "changed"
    got.columns.name = "renamed"
    again = result_module.band_frame(ids, labels, numbers, flags)
    assert again.loc[0, "flag"] == "ok"
    got.index.name = "renamed"
    assert again.columns.name is None
    assert result_module.band_frame(ids, labels, numbers, flags).index.name is None


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0, "ok"),
        (1, "position_at_bound"),
        (2, "fwhm_at_bound"),
        (4, "unresolved"),
        (7, "position_at_bound;fwhm_at_bound;unresolved"),
        (8, "absent"),
    ],
)
def test_flag_text_of_each_code(code, text):
    from nmcraman.results import result as result_module

    assert result_module.BAND_FLAG_TEXT[code] == text


def test_result_is_frozen_and_auto_choice_is_set_at_construction(core_spectrum):
    import dataclasses

    res = deconvolve(core_spectrum.x, core_spectrum.y, bands="auto")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.model_choice = None
    alternative = res.model_choice["alternative"]
    assert alternative.model_choice is None
    assert len(alternative.table) != len(res.table)
    assert res.model_choice["scores"][res.model_choice["chosen"]] == res.stats["bic"]
