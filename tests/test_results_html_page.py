"""HTML pages of fits: opened in headless Chromium, offline, and compared with the tables."""

import math
from pathlib import Path

import numpy as np
import pytest

from nmcraman import InputError, deconvolve, deconvolve_joint
from nmcraman.choice import FIXED
from nmcraman.results.html.page import (
    BAND_COLUMNS,
    MISSING,
    SIGNIFICANT,
    band_table,
    joint_page,
    result_page,
    rounded,
    spectrum_data,
)
from nmcraman.synthetic import simulate

#: The ``browser`` and ``visit`` fixtures (headless Chromium).
pytest_plugins = ["browser"]


@pytest.fixture(scope="module")
def fit(cs_spectrum):
    return deconvolve(cs_spectrum.x, cs_spectrum.y, bands="nmc+lo", **FIXED)


@pytest.fixture(scope="module")
def joint():
    spots = [simulate("CS_75", snr=150, rng=30 + i) for i in range(3)]
    return deconvolve_joint([(s.x, s.y) for s in spots], bands="nmc+lo", share="shape")


class WithQC:
    """A fit with QC flags, as `Result` may carry them (``qc``)."""

    qc = ("low_snr", "baseline_curved")

    def __init__(self, result):
        self._result = result

    def __getattr__(self, name):
        return getattr(self._result, name)


# ----------------------------------------------------------------- without a browser


@pytest.mark.parametrize(
    ("values", "decimals", "expected"),
    [
        ([1.23456, -2.5e-4], 3, [1.235, -0.0]),
        ([1234.6, 98765.4], 0, [1235, 98765]),
        ([1234.6, 98765.4], -2, [1200, 98800]),
        ([1.0, np.nan, np.inf], 1, [1.0, None, None]),
    ],
)
def test_rounded(values, decimals, expected):
    out = rounded(values, decimals)
    assert out == expected
    assert all(type(v) is int for v in out) == (decimals <= 0)


def _tol(fit):
    """Half the last digit kept: `SIGNIFICANT` digits of the largest curve value."""
    top = max(np.abs(fit.y).max(), np.abs(fit.best_fit).max())
    return 0.5 * 10.0 ** (math.floor(math.log10(top)) - SIGNIFICANT + 1) * (1 + 1e-9)


def test_spectrum_data_keeps_the_curves_to_the_stated_precision(fit):
    data = spectrum_data(fit, "s")
    tol = _tol(fit)
    np.testing.assert_allclose(data["x"], fit.x, atol=5e-4)
    for key, curve in [("y", fit.y), ("fit", fit.best_fit), ("residual", fit.residual)]:
        assert np.abs(np.array(data[key]) - curve).max() <= tol
    for band, comp in zip(data["bands"], fit.components.T.to_numpy(), strict=True):
        assert np.abs(np.array(band["y"]) - comp).max() <= tol
    assert [b["label"] for b in data["bands"]] == list(fit.table["label"])


def test_descending_x_is_drawn_ascending(fit):
    import dataclasses

    flipped = dataclasses.replace(
        fit,
        x=fit.x[::-1],
        y=fit.y[::-1],
        baseline=fit.baseline[::-1],
        best_fit=fit.best_fit[::-1],
        residual=fit.residual[::-1],
        _components=fit._components[:, ::-1],
    )
    a, b = spectrum_data(fit, "s"), spectrum_data(flipped, "s")
    assert a == b


def test_page_is_one_file_that_names_no_other(fit):
    text = result_page(fit)
    for needle in ("src=", 'href="http', "@import", "url(http", "<link"):
        assert needle not in text
    assert "default-src 'none'" in text


def test_missing_errors_show_as_a_dash_and_keep_nan(fit):
    table = fit.table.copy()
    table.loc[1, "area_err"] = np.nan
    text = band_table(table, BAND_COLUMNS)
    assert f'<span data-col="area_err" data-value="nan">{MISSING}</span>' in text
    assert text.count('data-col="area_err"') == len(table)


def test_to_html_refuses_to_overwrite_without_force(fit, tmp_path):
    out = tmp_path / "fit.html"
    fit.to_html(out)
    before = out.read_text()
    with pytest.raises(InputError, match="exists"):
        fit.to_html(out, title="other", force=False)
    assert out.read_text() == before
    with pytest.raises(InputError, match="does not exist"):
        fit.to_html(tmp_path / "missing" / "fit.html")


# ----------------------------------------------------------------- in Chromium


def _shown_tables(page):
    """Every band table on the page: rows of {column: (data-value, shown text)}."""
    return page.evaluate(
        """() => [...document.querySelectorAll('table.bands')].map(t =>
            [...t.querySelectorAll('tbody tr')].map(tr => {
                const row = {band: tr.dataset.band,
                             label: tr.cells[0].textContent,
                             flag: tr.querySelector('td.flag').textContent};
                tr.querySelectorAll('span[data-col]').forEach(s => {
                    row[s.dataset.col] = [s.dataset.value, s.textContent];
                });
                return row;
            }))"""
    )


def _assert_same_table(shown, table):
    assert [r["band"] for r in shown] == list(table["band"])
    for row, (_, want) in zip(shown, table.iterrows(), strict=True):
        assert row["label"] == want["label"]
        assert row["flag"] == want["flag"]
        numbers = [k for k in row if k not in ("band", "label", "flag")]
        assert numbers, "no numbers in the row"
        for col in numbers:
            exact, text = row[col]
            value = float(want[col])
            if math.isnan(value):
                assert exact == "nan"
                assert text == MISSING
                continue
            assert float(exact) == value
            decimals = len(text.split(".")[1]) if "." in text else 0
            assert abs(float(text) - value) <= 0.5 * 10.0**-decimals * (1 + 1e-9)


def _range(page, i=0):
    svg = page.locator("svg.plot").nth(i)
    return float(svg.get_attribute("data-xmin")), float(svg.get_attribute("data-xmax"))


def _area(page, i=0):
    return page.locator("svg.plot .area").nth(i).bounding_box()


def test_fit_page_loads_offline_with_no_error(fit, tmp_path, visit):
    path = tmp_path / "fit.html"
    path.write_text(result_page(WithQC(fit), title="<b>CS & co</b>"), encoding="utf-8")
    v = visit(path)
    assert v.problems == []
    assert v.requests == [path.resolve().as_uri()]
    assert v.page.locator("h1").inner_text() == "<b>CS & co</b>"
    assert v.page.locator("ul.qc li").all_inner_texts() == list(WithQC.qc)
    keys = v.page.locator("table.keys tr").evaluate_all("rs => rs.map(r => r.dataset.key)")
    assert {"nmcraman", "bands", "shape", "baseline", "window (cm-1)"} <= set(keys)
    assert {"r2", "redchi", "chi2", "converged"} <= set(keys)


def test_the_check_for_requests_can_fail(tmp_path, visit):
    path = tmp_path / "leaky.html"
    path.write_text('<html><body><img src="https://example.org/a.png"></body></html>')
    v = visit(path)
    assert "https://example.org/a.png" in v.requests


def test_fit_page_shows_every_band_and_the_table(fit, tmp_path, visit):
    path = tmp_path / "fit.html"
    fit.to_html(path)
    v = visit(path)
    legend = v.page.locator("ul.legend li").all_inner_texts()
    labels = list(fit.table["label"])
    assert [t.strip() for t in legend] == ["data", "baseline", *labels, "fit", "residual"]
    drawn = v.page.locator("svg.plot path.band").count()
    assert drawn == len(labels)
    (shown,) = _shown_tables(v.page)
    _assert_same_table(shown, fit.table)


def test_hover_shows_the_nearest_point(fit, tmp_path, visit):
    path = tmp_path / "fit.html"
    fit.to_html(path)
    v = visit(path)
    box = _area(v.page)
    lo, hi = _range(v.page)
    for i in (5, fit.x.size // 2, fit.x.size - 3):
        px = box["x"] + (fit.x[i] - lo) / (hi - lo) * box["width"]
        v.page.mouse.move(px, box["y"] + 40)
        tip = v.page.locator(".figure .tip")
        assert tip.is_visible()
        assert int(tip.get_attribute("data-index")) == i
        values = tip.locator("div").evaluate_all(
            "ds => Object.fromEntries(ds.map(d => [d.dataset.name, +d.lastChild.dataset.value]))"
        )
        assert values["Raman shift"] == pytest.approx(fit.x[i], abs=1e-3)
        assert values["data"] == pytest.approx(fit.y[i], abs=_tol(fit))
        assert values["fit"] == pytest.approx(fit.best_fit[i], abs=_tol(fit))
        comp = fit.components.iloc[i]
        for band, label in zip(fit.table["band"], fit.table["label"], strict=True):
            assert values[label] == pytest.approx(comp[band], abs=_tol(fit))


def test_wheel_drag_and_double_click_zoom(fit, tmp_path, visit):
    path = tmp_path / "fit.html"
    fit.to_html(path)
    v = visit(path)
    full = _range(v.page)
    assert full == pytest.approx((fit.x.min(), fit.x.max()), abs=1e-3)
    box = _area(v.page)
    v.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 50)
    v.page.mouse.wheel(0, -100)
    v.page.wait_for_function(f"() => +document.querySelector('svg.plot').dataset.xmax < {full[1]}")
    lo, hi = _range(v.page)
    assert hi - lo == pytest.approx((full[1] - full[0]) / 1.2, rel=1e-6)
    v.page.mouse.dblclick(box["x"] + 10, box["y"] + 50)
    assert _range(v.page) == pytest.approx(full)
    # Drag from a quarter to a half of the width: that becomes the x range.
    y = box["y"] + 60
    v.page.mouse.move(box["x"] + box["width"] * 0.25, y)
    v.page.mouse.down()
    v.page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=3)
    v.page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=3)
    v.page.mouse.up()
    span = full[1] - full[0]
    want = (full[0] + 0.25 * span, full[0] + 0.5 * span)
    assert _range(v.page) == pytest.approx(want, abs=0.01 * span)
    # The drawn data stay inside the new range: fewer dots than before.
    dots = v.page.locator("svg.plot path.dots").get_attribute("d").count("M")
    assert dots < 0.35 * fit.x.size
    assert v.problems == []


def test_legend_click_hides_and_shows_a_band(fit, tmp_path, visit):
    path = tmp_path / "fit.html"
    fit.to_html(path)
    v = visit(path)
    first = fit.table["band"].iloc[0]
    entry = v.page.locator(f'ul.legend li[data-key="band:{first}"]')
    entry.click()
    assert v.page.locator(f'path[data-key="band:{first}"]').count() == 0
    entry.click()
    assert v.page.locator(f'path[data-key="band:{first}"]').count() == 1


def test_pointing_at_a_table_row_brings_its_band_forward(fit, tmp_path, visit):
    path = tmp_path / "fit.html"
    fit.to_html(path)
    v = visit(path)
    band = fit.table["band"].iloc[2]
    v.page.locator(f'table.bands tr[data-band="{band}"]').hover()
    classes = v.page.locator("svg.plot path.band").evaluate_all(
        "ps => Object.fromEntries(ps.map(p => [p.dataset.key, p.getAttribute('class')]))"
    )
    assert classes.pop(f"band:{band}") == "band highlight"
    assert set(classes.values()) == {"band dim"}
    v.page.locator("h1").hover()
    assert v.page.locator("svg.plot path.band.dim, svg.plot path.band.highlight").count() == 0


def test_joint_page_shows_each_spectrum_and_the_summary(joint, tmp_path, visit):
    path = tmp_path / "set.html"
    joint.to_html(path)
    v = visit(path)
    assert v.problems == []
    assert v.requests == [path.resolve().as_uri()]
    assert v.page.locator("svg.plot").count() == len(joint)
    tables = _shown_tables(v.page)
    assert len(tables) == 1 + len(joint)
    _assert_same_table(tables[0], joint.summary)
    for shown, res in zip(tables[1:], joint.results, strict=True):
        _assert_same_table(shown, res.table)
    headings = v.page.locator("section.spectrum h2").all_inner_texts()
    assert headings == list(joint.names)
    # Each plot zooms on its own.
    v.page.locator("svg.plot .area").nth(1).scroll_into_view_if_needed()
    box = _area(v.page, 1)
    v.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 50)
    v.page.mouse.wheel(0, -100)
    v.page.wait_for_timeout(50)
    assert _range(v.page, 1)[1] - _range(v.page, 1)[0] < _range(v.page, 0)[1] - _range(v.page, 0)[0]


@pytest.mark.parametrize("from_files", [True, False])
def test_joint_page_lists_the_input_files(joint, from_files):
    spectra = Path(__file__).resolve().parents[1] / "spectra"
    files = [str(spectra / "core_75.txt"), str(spectra / "cs_75.txt")]
    fitted = deconvolve_joint(files, bands="nmc", share="shape") if from_files else joint
    text = joint_page(fitted)
    row = '<tr data-key="input files"><td>input files</td><td>'
    if from_files:
        assert f"{row}{', '.join(files)}</td></tr>" in text
    else:  # arrays: no file to name
        assert row not in text
