"""Tests of nmcraman.results.trend: a band followed through the steps of a series."""

from __future__ import annotations

import copy

import matplotlib as mpl
import numpy as np
import pytest

from nmcraman import SpectralMap, deconvolve_map
from nmcraman.errors import InputError
from nmcraman.results.map import QC_FLAGS
from nmcraman.results.trend import TREND_EXCLUDED
from nmcraman.synthetic import perturb, simulate

mpl.use("Agg")

STEPS, ROWS, COLS = 5, 3, 4
#: Mn_A1g moves down by this much per step, cm-1, as it does on charge.
SHIFT = -2.0
HOURS = 0.25 * np.arange(STEPS)
VOLTS = np.linspace(3.6, 4.3, STEPS)
X = np.arange(150.0, 901.0)
FIXED = {"bands": "nmc", "window": "bands", "baseline": "poly3"}


def _truth(step: int, pixel: int):
    truth = perturb("Core_75", 1000 * step + pixel, position=0.5, fwhm=0.02, area=0.05)
    truth.loc[truth["band"] == "Mn_A1g", "position"] = 580.3 + SHIFT * step
    return truth


@pytest.fixture(scope="module")
def series():
    """A (time, y, x) series of 3 x 4 maps, Mn_A1g moving linearly, with time and voltage."""
    cube = np.array(
        [
            [
                [simulate(_truth(t, COLS * r + c), snr=150, rng=100 * t + COLS * r + c).y
                 for c in range(COLS)]
                for r in range(ROWS)
            ]
            for t in range(STEPS)
        ]
    )  # fmt: skip
    meta = {"dims": ("time", "y", "x"), "dim_coords": {"time": HOURS, "voltage": ("time", VOLTS)}}
    return deconvolve_map(SpectralMap(X, cube, meta=meta), **FIXED)


def _flagged(m, name: str, pixels):
    """A copy of ``m`` with the flag ``name`` set on ``pixels`` (flat indices)."""
    out = copy.deepcopy(m)
    out.stats["flags"][pixels] |= 1 << QC_FLAGS.index(name)
    return out


def test_trend_recovers_a_known_shift_within_its_errors(series):
    t = series.trend("position", band="Mn_A1g")
    assert len(t) == STEPS
    assert (t["n"] == ROWS * COLS).all()
    moved = t["mean"] - t["mean"][0]
    err = np.hypot(t["err"], t["err"][0])
    want = SHIFT * np.arange(STEPS)
    assert (np.abs(moved - want)[1:] < 4 * err[1:]).all(), (moved, err)
    slope = np.polyfit(t["time_coord"], t["mean"], 1, w=1 / t["err"])[0]
    assert slope == pytest.approx(SHIFT / 0.25, rel=0.1)


def test_err_is_the_standard_error_over_pixels(series):
    t = series.trend("fwhm", band="Mn_A1g")
    values = series.image("fwhm", band="Mn_A1g").reshape(STEPS, -1)
    np.testing.assert_allclose(t["mean"], values.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(t["sd"], values.std(axis=1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(t["err"], t["sd"] / np.sqrt(t["n"]), rtol=1e-12)
    assert (t["err"] > 0).all()


def test_the_coordinates_of_the_steps_are_carried(series):
    t = series.trend("area_pct", band="Mn_A1g")
    assert list(t.columns) == ["time", "time_coord", "voltage", "mean", "err", "sd", "n"]
    np.testing.assert_array_equal(t["time"], np.arange(STEPS))
    np.testing.assert_array_equal(t["time_coord"], HOURS)
    np.testing.assert_array_equal(t["voltage"], VOLTS)


def test_any_dimension_can_be_followed_and_pixel_statistics_too(series):
    t = series.trend("redchi", along="x")
    assert list(t.columns) == ["x", "mean", "err", "sd", "n"]
    assert (t["n"] == STEPS * ROWS).all()
    np.testing.assert_allclose(t["mean"], series.image("redchi").mean(axis=(0, 1)), rtol=1e-12)


def test_nan_pixels_are_left_out(series):
    m = copy.deepcopy(series)
    k = m.bands.index("Mn_A1g")
    m.params["position"][[13, 14, 15], k] = np.nan  # step 1: 12 pixels per step
    t = m.trend("position", band="Mn_A1g")
    assert t["n"].tolist() == [12, 9, 12, 12, 12]
    values = m.image("position", band="Mn_A1g")[1]
    assert t["mean"][1] == pytest.approx(np.nanmean(values), rel=1e-12)


@pytest.mark.parametrize("flag", TREND_EXCLUDED)
def test_hard_flags_leave_a_pixel_out(series, flag):
    m = _flagged(series, flag, [24, 25])  # step 2
    t = m.trend("position", band="Mn_A1g")
    assert t["n"].tolist() == [12, 12, 10, 12, 12]
    kept = m.image("position", band="Mn_A1g")[2].ravel()[2:]
    assert t["mean"][2] == pytest.approx(kept.mean(), rel=1e-12)


def test_other_flags_keep_a_pixel_unless_excluded(series):
    m = _flagged(series, "poor_fit", [24, 25])
    assert m.trend("position", band="Mn_A1g")["n"][2] == 12
    t = m.trend("position", band="Mn_A1g", exclude=("poor_fit",))
    assert t["n"].tolist() == [12, 12, 10, 12, 12]


def test_a_step_without_pixels_is_nan_and_one_pixel_has_no_error(series):
    m = copy.deepcopy(series)
    k = m.bands.index("Mn_A1g")
    m.params["position"][:12, k] = np.nan
    m.params["position"][12:23, k] = np.nan  # step 1 keeps one pixel
    t = m.trend("position", band="Mn_A1g")
    assert t["n"][:2].tolist() == [0, 1]
    assert np.isnan(t["mean"][0])
    assert np.isfinite(t["mean"][1])
    assert np.isnan(t[["sd", "err"]].to_numpy()[:2]).all()


def _pooled(m):
    """``m`` with phase labels as a pooled map has them: 0 and 1, and -1 on a pixel."""
    out = copy.deepcopy(m)
    phase = np.tile(np.repeat([0, 1], [5, 7]), STEPS)
    phase[3] = -1
    out.stats["phase"] = phase
    out.meta["pooling"] = {"share": "partial", "phases": []}
    return out


def test_by_phase_gives_a_row_per_step_and_phase(series):
    m = _pooled(series)
    t = m.trend("position", band="Mn_A1g", by_phase=True)
    assert list(t.columns) == ["time", "time_coord", "voltage", "phase", "mean", "err", "sd", "n"]
    assert len(t) == 3 * STEPS
    assert t["phase"].tolist() == [-1, 0, 1] * STEPS
    assert t["n"].tolist()[:3] == [1, 4, 7]
    assert t["n"].tolist()[3:6] == [0, 5, 7]
    values = m.image("position", band="Mn_A1g")[2].ravel()
    row = t[(t["time"] == 2) & (t["phase"] == 1)].iloc[0]
    assert row["mean"] == pytest.approx(values[5:].mean(), rel=1e-12)
    assert row["err"] == pytest.approx(values[5:].std(ddof=1) / np.sqrt(7), rel=1e-12)
    np.testing.assert_array_equal(t["voltage"], np.repeat(VOLTS, 3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantity": "position", "band": "Mn_A1g", "along": "voltage"}, "no dimension 'voltage'"),
        ({"quantity": "position", "band": "Mn_A1g", "along": "row"}, "no dimension 'row'"),
        ({"quantity": "position"}, "give band="),
        ({"quantity": "position", "band": "Xx_A1g"}, "unknown band 'Xx_A1g'"),
        ({"quantity": "colour", "band": "Mn_A1g"}, "cannot follow 'colour'"),
        ({"quantity": "flags"}, "cannot follow 'flags'"),
        ({"quantity": "redchi", "band": "Mn_A1g"}, "drop band="),
        ({"quantity": "position", "band": "Mn_A1g", "exclude": ("nope",)}, "unknown flag"),
        ({"quantity": "position", "band": "Mn_A1g", "by_phase": True}, "pooled map"),
    ],
)
def test_bad_requests_are_input_errors(series, kwargs, match):
    with pytest.raises(InputError, match=match):
        series.trend(**kwargs)


def test_a_map_without_the_dimension_is_refused(series):
    with pytest.raises(InputError, match=r"no dimension 'time'.*\('y', 'x'\)"):
        series.select(time=0).trend("position", band="Mn_A1g")


@pytest.mark.parametrize(("x", "want"), [(None, np.arange(STEPS)), ("voltage", VOLTS),
                                         ("time_coord", HOURS)])  # fmt: skip
def test_plot_trend_draws_one_point_per_step_with_an_error_band(series, x, want):
    import matplotlib.pyplot as plt

    ax = series.plot_trend("position", band="Mn_A1g", x=x)
    t = series.trend("position", band="Mn_A1g")
    [line] = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), want)
    np.testing.assert_allclose(line.get_ydata(), t["mean"])
    [band] = ax.collections
    top = band.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx((t["mean"] + t["err"]).max())
    assert ax.get_ylabel() == "position (cm-1), Mn_A1g"
    assert ax.get_xlabel() == ("time (step)" if x is None else x)
    plt.close(ax.figure)


def test_plot_trend_by_phase_draws_a_line_per_phase_on_given_axes(series):
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert _pooled(series).plot_trend("area_pct", band="Mn_A1g", by_phase=True, ax=ax) is ax
    assert [line.get_label() for line in ax.get_lines()] == ["not pooled", "phase 0", "phase 1"]
    assert all(line.get_xdata().size == STEPS for line in ax.get_lines())
    assert ax.get_ylabel() == "area_pct (%), Mn_A1g"


def test_plot_trend_takes_datetimes(series):
    from matplotlib.figure import Figure

    stamps = np.datetime64("2026-03-05T14:20") + np.arange(STEPS) * np.timedelta64(15, "m")
    m = series.replace(dim_coords={"time": (("time",), stamps)})
    ax = m.plot_trend("position", band="Mn_A1g", x="time_coord", ax=Figure().subplots())
    [line] = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), stamps)


def test_plot_trend_refuses_an_x_that_is_not_along_the_steps(series):
    with pytest.raises(InputError, match="x='y' is not along 'time'"):
        series.plot_trend("position", band="Mn_A1g", x="y")
