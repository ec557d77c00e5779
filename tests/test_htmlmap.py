"""HTML page of a map fit: images, a click on a pixel, in headless Chromium, offline."""

import copy

import numpy as np
import pytest

from nmcraman import InputError, deconvolve_map
from nmcraman.htmlmap import map_page
from nmcraman.synthetic import core_shell_map

#: The ``browser`` and ``visit`` fixtures (headless Chromium).
pytest_plugins = ["browser"]

ROWS, COLS = 6, 8


@pytest.fixture(scope="module")
def fitted_map():
    cube, x, _ = core_shell_map(ROWS, COLS, corrupt=0.1, rng=5)
    return deconvolve_map(cube, x, bands="nmc+lo", jobs=1)


@pytest.fixture
def opened(fitted_map, tmp_path, visit):
    path = tmp_path / "map.html"
    fitted_map.to_html(path)
    return visit(path)


def _image(page):
    return page.locator("canvas.map").evaluate("c => c.toDataURL()")


def _click(page, row, col):
    box = page.locator("canvas.map").bounding_box()
    page.mouse.click(
        box["x"] + (col + 0.5) * box["width"] / COLS, box["y"] + (row + 0.5) * box["height"] / ROWS
    )


def test_map_page_loads_offline_with_no_error(opened, tmp_path):
    assert opened.problems == []
    assert opened.requests == [(tmp_path / "map.html").resolve().as_uri()]


@pytest.mark.parametrize(("row", "col"), [(0, 0), (2, 5), (ROWS - 1, COLS - 1)])
def test_a_click_shows_that_pixels_bands(fitted_map, opened, row, col):
    _click(opened.page, row, col)
    pixel = row * COLS + col
    panel = opened.page.locator(".pixel")
    assert int(panel.get_attribute("data-pixel")) == pixel
    shown = panel.locator("tr[data-band]").evaluate_all(
        """rs => rs.map(r => ({band: r.dataset.band,
            flag: r.querySelector('td.flag').textContent,
            values: Object.fromEntries([...r.querySelectorAll('td[data-col]')].map(
                td => [td.dataset.col, +td.dataset.value]))}))"""
    )
    table = fitted_map.table
    want = table[(table["row"] == row) & (table["col"] == col)]
    qc = fitted_map.flag_names()[pixel]
    expected_qc = "none" if qc == "ok" else qc.replace(";", ", ")
    assert panel.locator(".qcline").inner_text() == f"QC flags: {expected_qc}"
    if np.isnan(want["position"]).all():  # a skipped pixel: no band to show
        assert shown == []
        return
    assert [s["band"] for s in shown] == list(want["band"])
    for s, (_, w) in zip(shown, want.iterrows(), strict=True):
        for col_name, value in s["values"].items():
            top = np.nanmax(np.abs(fitted_map.params[col_name]))
            assert value == pytest.approx(w[col_name], abs=1e-5 * top)
        # The band's own flags; the table's flag adds the pixel's QC flags.
        assert set(s["flag"].split(";")) - {"ok"} <= set(w["flag"].split(";"))


def test_choosing_another_band_or_quantity_changes_the_image(fitted_map, opened):
    page = opened.page
    canvas = page.locator("canvas.map")
    before = _image(page)
    assert canvas.get_attribute("data-band") == fitted_map.bands[-1]
    page.select_option("select[name=Band]", "0")
    assert canvas.get_attribute("data-band") == fitted_map.bands[0]
    assert _image(page) != before
    lo, hi = (float(canvas.get_attribute(k)) for k in ("data-min", "data-max"))
    area = fitted_map.image("area_pct", fitted_map.bands[0])
    assert (lo, hi) == pytest.approx((np.nanmin(area), np.nanmax(area)), abs=1e-4)
    assert page.locator("select[name=B]").is_hidden()
    page.select_option("select[name=Show]", "ratio")
    assert page.locator("select[name=B]").is_visible()
    page.select_option("select[name=Show]", "stat:flags")
    assert canvas.get_attribute("data-quantity") == "stat:flags"
    assert page.locator("select[name=Band]").is_hidden()
    assert opened.problems == []


def test_the_clicked_pixel_is_marked(opened):
    _click(opened.page, 2, 5)
    box = opened.page.locator("canvas.map").bounding_box()
    mark = opened.page.locator(".marker").bounding_box()
    assert mark["x"] == pytest.approx(box["x"] + 5 * box["width"] / COLS, abs=1.5)
    assert mark["y"] == pytest.approx(box["y"] + 2 * box["height"] / ROWS, abs=1.5)
    assert mark["width"] == pytest.approx(box["width"] / COLS, abs=1.5)


def test_every_numeric_pixel_statistic_is_an_image(fitted_map, tmp_path, visit):
    pooled = copy.copy(fitted_map)  # as a pooled map, with a phase per pixel
    pooled.stats = {**fitted_map.stats, "phase": np.arange(ROWS * COLS) % 3}
    path = tmp_path / "pooled.html"
    pooled.to_html(path)
    page = visit(path).page
    options = page.locator("select[name=Show] option").evaluate_all("os => os.map(o => o.value)")
    stats = [o.removeprefix("stat:") for o in options if o.startswith("stat:")]
    assert stats[:3] == ["redchi", "snr", "noise"]
    assert set(stats) == {"redchi", "snr", "noise", "bic", "converged", "phase", "flags"}
    page.select_option("select[name=Show]", "stat:phase")
    canvas = page.locator("canvas.map")
    assert (canvas.get_attribute("data-min"), canvas.get_attribute("data-max")) == ("0", "2")


def test_the_stage_extent_is_given_in_micrometres(fitted_map):
    with_stage = copy.copy(fitted_map)
    cols, rows = np.meshgrid(10.0 + 2.0 * np.arange(COLS), -5.0 + 1.5 * np.arange(ROWS))
    with_stage.coords = np.column_stack([cols.ravel(), rows.ravel()])
    text = map_page(with_stage)
    assert "left to right x 10 → 24 µm" in text
    assert "top to bottom y -5 → 2.5 µm" in text
    assert "→" not in map_page(fitted_map)  # no stage coordinates, no extent


def test_map_to_html_refuses_to_overwrite_without_force(fitted_map, tmp_path):
    out = tmp_path / "m.html"
    out.write_text("old")
    with pytest.raises(InputError, match="exists"):
        fitted_map.to_html(out, force=False)
    assert out.read_text() == "old"
    assert "<title>shell</title>" in map_page(fitted_map, title="shell")
