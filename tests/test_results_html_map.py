"""HTML page of a map fit: images, a click on a pixel, in headless Chromium, offline."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from nmcraman import InputError, deconvolve_map
from nmcraman.lineshapes import LINESHAPES
from nmcraman.results.html.map import first_image, image_axes, map_page, step_labels
from nmcraman.results.map import BAND_PARAMS
from nmcraman.results.mapspectra import MapSpectra, Quantised
from nmcraman.results.palette import NOT_POOLED_COLOUR, PHASE_COLOURS
from nmcraman.synthetic import REFERENCE, core_shell_map, simulate

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


def _click(page, row, col, shape=(ROWS, COLS)):
    canvas = page.locator("canvas.map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(
        box["x"] + (col + 0.5) * box["width"] / shape[1],
        box["y"] + (row + 0.5) * box["height"] / shape[0],
    )


def _shown_rows(page):
    """The band rows of the pixel panel: band id, flag and every number's data-value."""
    return page.locator(".pixel tr[data-band]").evaluate_all(
        """rs => rs.map(r => ({band: r.dataset.band,
            flag: r.querySelector('td.flag').textContent,
            values: Object.fromEntries([...r.querySelectorAll('span[data-col]')].map(
                s => [s.dataset.col, s.dataset.value === 'null' ? NaN : +s.dataset.value]))}))"""
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
    shown = _shown_rows(opened.page)
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
        assert set(s["values"]) == set(BAND_PARAMS)
        for col_name, value in s["values"].items():
            # Kept to 6 significant digits of the parameter's largest value.
            top = np.nanmax(np.abs(fitted_map.params[col_name]))
            assert value == pytest.approx(w[col_name], abs=1e-5 * top, nan_ok=True)
        assert s["flag"] == w["flag"]


def test_choosing_another_band_or_quantity_changes_the_image(fitted_map, opened):
    page = opened.page
    canvas = page.locator("canvas.map")
    before = _image(page)
    assert canvas.get_attribute("data-band") == "Mn_A1g"
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
    # As a pooled map, with a phase per pixel.
    pooled = fitted_map.replace(stats={**fitted_map.stats, "phase": np.arange(ROWS * COLS) % 3})
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
    cols, rows = np.meshgrid(10.0 + 2.0 * np.arange(COLS), -5.0 + 1.5 * np.arange(ROWS))
    with_stage = fitted_map.replace(coords=np.column_stack([cols.ravel(), rows.ravel()]))
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


# --------------------------------------------------------------- a pixel's fit


@pytest.fixture(scope="module")
def maps(fitted_map):
    """Maps of each kind the page draws: polynomial or pybaselines baselines, each line
    shape, ``bands="auto"`` pooled by phase."""
    cube, x, _ = core_shell_map(ROWS, COLS, corrupt=0.1, rng=5)
    small = cube[:3, :4]
    return {
        "poly3": fitted_map,
        "auto": deconvolve_map(cube, x, bands="auto", jobs=1),
        "pooled": deconvolve_map(cube, x, bands="auto", pooling="phases", jobs=1),
        "pv-asls": deconvolve_map(
            small, x, bands="nmc+lo", shape="pseudo_voigt", baseline="asls", jobs=1
        ),
        "gauss-snip": deconvolve_map(small, x, bands="nmc", shape="gaussian", baseline="snip"),
    }


def _plotted(page, pixel):
    """The curves the plot of the pixel panel draws, once it shows ``pixel``."""
    page.wait_for_selector(f".pixelfit[data-pixel='{pixel}']")
    return page.locator(".pixelfit").evaluate("f => f.plot.s")


@pytest.mark.parametrize("kind", ["poly3", "auto", "pooled", "pv-asls", "gauss-snip"])
def test_a_click_draws_that_pixels_fit(maps, kind, tmp_path, visit):
    m = maps[kind]
    rows, cols = m.shape
    path = tmp_path / f"{kind}.html"
    m.to_html(path)
    opened = visit(path)
    page = opened.page
    if kind == "auto":  # both band sets, pixel by pixel
        assert set(m.stats["model"]) >= {"nmc", "nmc+lo"}
    if kind == "pooled":
        assert (m.stats["phase"] >= 0).sum() > rows * cols // 2
    for p in range(0, rows * cols, 3):
        _click(page, p // cols, p % cols, (rows, cols))
        got = _plotted(page, p)
        want = m.curves(p)
        np.testing.assert_allclose(got["x"], want.index, rtol=0, atol=0)
        data = np.array(got["y"], dtype=float)
        # The data are decoded from the same codes: equal to float rounding.
        np.testing.assert_allclose(data, want["data"], rtol=1e-12, equal_nan=True)
        # Baseline and bands are computed from numbers kept to 6 significant digits.
        tol = 1e-4 * np.nanmax(np.abs(want["data"]))
        for name, key in (("baseline", "baseline"), ("fit", "fit"), ("residual", "residual")):
            np.testing.assert_allclose(
                np.array(got[key], dtype=float), want[name], rtol=0, atol=tol, equal_nan=True
            )
        assert [b["id"] for b in got["bands"]] == list(want.columns[2:-2])
        for b in got["bands"]:
            np.testing.assert_allclose(b["y"], want[b["id"]], rtol=0, atol=tol)
        legend = page.locator(".pixelfit ul.legend li").all_inner_texts()
        labels = [m.labels[m.bands.index(b["id"])] for b in got["bands"]]
        assert legend == ["data", "baseline", *labels, "fit", "residual"]
    assert opened.problems == []


@pytest.mark.parametrize("shape", list(LINESHAPES))
@pytest.mark.parametrize("eta", [0.0, 0.37, 1.0])
def test_the_browsers_band_profiles_are_nmcramans(maps, shape, eta, tmp_path, visit):
    """The page's profiles (``NmcramanMap.profile``) against `nmcraman.lineshapes`."""
    path = tmp_path / "map.html"
    maps["pv-asls"].to_html(path)
    page = visit(path).page
    x = np.linspace(150.0, 900.0, 377)
    for area, centre, fwhm in [(1.0, 500.0, 30.0), (5.4e4, 580.3, 52.7), (12.5, 151.0, 3.2)]:
        got = page.evaluate(
            "a => NmcramanMap.profile(...a)", [shape, x.tolist(), area, centre, fwhm, eta]
        )
        kw = {"eta": eta} if shape == "pseudo_voigt" else {}
        want = LINESHAPES[shape](x, area, centre, fwhm, **kw)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)


def test_the_pixel_keeps_the_curves_hidden_and_the_zoom(fitted_map, opened):
    page = opened.page
    _click(page, 1, 1)
    _plotted(page, COLS + 1)
    page.locator(".pixelfit ul.legend li[data-key='baseline']").click()
    page.locator(".pixelfit svg.plot").dblclick()
    area = page.locator(".pixelfit svg.plot .area").bounding_box()

    def span():
        plot = page.locator(".pixelfit svg.plot")
        return [float(plot.get_attribute(k)) for k in ("data-xmin", "data-xmax")]

    full = span()
    page.mouse.move(area["x"] + area["width"] * 0.5, area["y"] + 20)
    page.mouse.wheel(0, -100)
    zoomed = span()
    assert zoomed[1] - zoomed[0] < 0.99 * (full[1] - full[0])
    _click(page, 3, 6)
    _plotted(page, 3 * COLS + 6)
    assert span() == zoomed
    assert page.locator(".pixelfit path[data-key='baseline']").count() == 0
    assert "off" in page.locator(".pixelfit li[data-key='baseline']").get_attribute("class")
    assert opened.problems == []


def test_a_map_without_spectra_shows_the_bands_only(fitted_map, tmp_path, visit):
    bare = fitted_map.replace(spectra=None)
    path = tmp_path / "bare.html"
    bare.to_html(path)
    opened = visit(path)
    _click(opened.page, 2, 2)
    assert opened.page.locator(".pixel tr[data-band]").count() > 0
    assert "keep_spectra=False" in opened.page.locator(".pixel").inner_text()
    assert opened.page.locator(".pixelfit").is_hidden()
    assert opened.problems == []


# ---------------------------------------------------------------- image axes


def _with_stage(m):
    cols, rows = np.meshgrid(10.0 + 2.0 * np.arange(COLS), -5.0 + 1.5 * np.arange(ROWS))
    return m.replace(coords=np.column_stack([cols.ravel(), rows.ravel()]))


def test_image_axes_are_micrometres_where_the_stage_moves_evenly(fitted_map):
    staged = _with_stage(fitted_map)
    assert image_axes(staged.coords, ROWS, COLS) == {
        "x": {"label": "x (µm)", "first": 10.0, "last": 24.0, "index": False},
        "y": {"label": "y (µm)", "first": -5.0, "last": 2.5, "index": False},
    }
    index = {
        "x": {"label": "column", "first": 0, "last": COLS - 1, "index": True},
        "y": {"label": "row", "first": 0, "last": ROWS - 1, "index": True},
    }
    assert image_axes(None, ROWS, COLS) == index
    uneven = staged.coords.copy()
    uneven[3, 0] += 0.5  # one column off its place: the columns are not evenly spaced
    assert image_axes(uneven, ROWS, COLS)["x"] == index["x"]
    assert image_axes(uneven, ROWS, COLS)["y"] == image_axes(staged.coords, ROWS, COLS)["y"]
    swapped = staged.coords[:, ::-1]  # the stage's y moves along the columns
    assert image_axes(swapped, ROWS, COLS)["x"]["label"] == "y (µm)"


@pytest.mark.parametrize("stage", [True, False])
def test_the_image_ticks_sit_at_their_pixels(fitted_map, stage, tmp_path, visit):
    m = _with_stage(fitted_map) if stage else fitted_map
    path = tmp_path / "axes.html"
    m.to_html(path)
    opened = visit(path)
    page = opened.page
    box = page.locator("canvas.map").bounding_box()
    axes = image_axes(m.coords, ROWS, COLS)
    for name, n, lo, size, key in (
        ("x", COLS, box["x"], box["width"], "x"),
        ("y", ROWS, box["y"], box["height"], "y"),
    ):
        a = axes[name]
        axis = page.locator(f".{name}axis")
        assert axis.locator(".label").inner_text() == a["label"]
        ticks = axis.locator(".tick")
        assert ticks.count() >= 3
        for i in range(ticks.count()):
            tick = ticks.nth(i)
            value = float(tick.get_attribute("data-value"))
            at = (value - a["first"]) / (a["last"] - a["first"]) * (n - 1)  # pixel index
            assert -0.5 <= at <= n - 0.5
            t = tick.bounding_box()
            centre = t[key] + t["width" if key == "x" else "height"] / 2
            assert centre == pytest.approx(lo + (at + 0.5) * size / n, abs=1.0)
            if a["index"]:
                assert value == int(value)
    assert opened.problems == []


# ----------------------------------------------------------------- page size


def test_a_100_x_100_x_751_map_page_is_30_mb_or_less(fitted_map, tmp_path, visit):
    """The worst case for the data: codes that no compression can shrink (noise on
    every bit); a smooth starting baseline per pixel (as pybaselines gives) too."""
    rng = np.random.default_rng(18)
    n = 100 * 100
    pick = rng.integers(0, ROWS * COLS, n)
    cols, rows = np.meshgrid(0.5 * np.arange(100), 0.5 * np.arange(100))
    big = {
        "shape": (100, 100),
        "params": {k: v[pick] * (1 + 1e-3 * rng.standard_normal(v[pick].shape))
                   for k, v in fitted_map.params.items()},
        "stats": {k: v[pick] for k, v in fitted_map.stats.items()},
        "band_flags": fitted_map.band_flags[pick],
        "coords": np.column_stack([cols.ravel(), rows.ravel()]),
    }  # fmt: skip
    x = np.arange(150.0, 901.0)
    t = np.linspace(0.0, 1.0, x.size)
    start = rng.uniform(100, 1000, (n, 1)) * np.exp(-t / rng.uniform(0.2, 2.0, (n, 1)))
    big = fitted_map.replace(
        **big,
        spectra=MapSpectra(
            x,
            Quantised(
                rng.integers(0, 65535, (n, x.size), dtype=np.uint16),
                rng.uniform(0, 1e3, n),
                rng.uniform(0.01, 1.0, n),
            ),
            rng.normal(0.0, 100.0, (n, 2)),
            Quantised.of(start + rng.uniform(0, 500, (n, 1)) * t),
        ),
    )
    path = tmp_path / "big.html"
    big.to_html(path)
    assert path.stat().st_size <= 30e6
    # And it works: the last pixel's data come back.
    opened = visit(path)
    page = opened.page
    page.evaluate("() => NmcramanMap.ready")
    got = page.evaluate("() => NmcramanMap.curves(9999)")
    np.testing.assert_allclose(got["y"], big.spectra.data.values(9999), rtol=1e-12)
    assert opened.problems == []


# ------------------------------------------------- orientation, phases, provenance


def _canvas_rgb(page):
    """The canvas's pixels as drawn, one per map pixel: (rows, cols, 3) ints."""
    got = page.locator("canvas.map").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
    )
    rows, cols = (int(page.locator("canvas.map").get_attribute(k)) for k in ("height", "width"))
    return np.array(got).reshape(rows, cols, 4)[..., :3]


def _rgb(colour):
    from matplotlib.colors import to_rgb

    return np.round(255 * np.array(to_rgb(colour))).astype(int)


def test_row_0_is_at_the_top_of_the_page_as_in_the_png(fitted_map, tmp_path, visit):
    import matplotlib.image

    k = fitted_map.bands.index("Mn_A1g")
    area = fitted_map.params["area_pct"].copy()
    area[:, k] = np.where(np.arange(ROWS * COLS) < COLS, 90.0, 10.0)  # row 0 stands out
    m = fitted_map.replace(params={**fitted_map.params, "area_pct": area})
    path = tmp_path / "rows.html"
    m.to_html(path)
    opened = visit(path)
    page = opened.page
    page.select_option("select[name=Show]", "area_pct")
    page.select_option("select[name=Band]", str(k))
    # What the screen shows: the top strip has the top colour of the bar.
    shot = matplotlib.image.imread(io.BytesIO(page.locator("canvas.map").screenshot()))
    rgb = np.round(255 * shot[..., :3]).astype(int)
    h, w = rgb.shape[:2]
    top, bottom = rgb[int(h / ROWS / 2), w // 2], rgb[int(h - h / ROWS / 2), w // 2]
    np.testing.assert_allclose(top, [253, 231, 37], atol=2)  # viridis at the maximum
    np.testing.assert_allclose(bottom, [68, 1, 84], atol=2)  # and at the minimum
    # A click at the top left is row 0's first pixel.
    _click(page, 0, 0)
    assert page.locator(".pixel h3").inner_text().startswith("Pixel row 0, column 0")
    # The PNG (MapResult.plot, the CLI's --images) puts row 0 at the top too.
    ax = m.plot("area_pct", "Mn_A1g").axes[0]
    assert ax.transData.transform((0, 0))[1] > ax.transData.transform((0, ROWS - 1))[1]
    assert opened.problems == []


@pytest.mark.parametrize("kind", ["poly3", "auto", "pooled"])
def test_the_page_opens_on_an_image_every_fitted_pixel_has(maps, kind, tmp_path, visit):
    """Not the LO band's area %, grey over the core where the LO band is absent."""
    m = maps[kind]
    path = tmp_path / f"{kind}.html"
    m.to_html(path)
    page = visit(path).page
    canvas = page.locator("canvas.map")
    assert canvas.get_attribute("data-quantity") == "area_pct"
    assert canvas.get_attribute("data-band") == "Mn_A1g"
    grey = (_canvas_rgb(page) == 190).all(axis=-1)
    np.testing.assert_array_equal(grey, np.isnan(m.image("redchi")))


def test_first_image_is_a_band_every_fitted_pixel_has(fitted_map):
    assert first_image(fitted_map) == {"quantity": "area_pct", "band": "Mn_A1g"}
    area = fitted_map.params["area_pct"].copy()
    fitted = np.flatnonzero(np.isfinite(fitted_map.stats["redchi"]))
    area[fitted[0], fitted_map.bands.index("Mn_A1g")] = np.nan  # Mn_A1g missing at one pixel
    area[fitted[1], fitted_map.bands.index("LO_RS")] = np.nan
    m = fitted_map.replace(params={**fitted_map.params, "area_pct": area})
    assert first_image(m) == {"quantity": "area_pct", "band": "Mn_Eg"}


def test_the_clicked_pixel_shows_its_phase(maps, fitted_map, tmp_path, visit):
    phase = maps["pooled"].stats["phase"].copy()
    phase[1] = -1  # at least one pixel not pooled
    m = maps["pooled"].replace(stats={**maps["pooled"].stats, "phase": phase})
    rows, cols = m.shape
    path = tmp_path / "pooled.html"
    m.to_html(path)
    opened = visit(path)
    page = opened.page
    for p in (0, 1, cols + 2, rows * cols - 1):
        _click(page, p // cols, p % cols, (rows, cols))
        line = page.locator(".pixel .phaseline")
        assert int(line.get_attribute("data-phase")) == phase[p]
        want = "not pooled" if phase[p] < 0 else str(phase[p])
        assert line.inner_text() == f"Phase: {want}"
    assert opened.problems == []
    path = tmp_path / "unpooled.html"
    fitted_map.to_html(path)
    page = visit(path).page
    _click(page, 1, 1)
    assert page.locator(".pixel .qcline").count() == 1
    assert page.locator(".pixel .phaseline").count() == 0


def test_the_phase_image_has_one_colour_per_phase(fitted_map, tmp_path, visit):
    """The colours of MapResult.plot("phase"), and a key of swatches, not a gradient."""
    phase = np.arange(ROWS * COLS) % 4 - 1  # -1 (not pooled), 0, 1, 2
    pooled = fitted_map.replace(stats={**fitted_map.stats, "phase": phase})
    path = tmp_path / "phases.html"
    pooled.to_html(path)
    opened = visit(path)
    page = opened.page
    page.select_option("select[name=Show]", "stat:phase")
    swatches = page.locator(".colorbar .key li")
    labels = [-1, 0, 1, 2]
    assert [int(v) for v in swatches.evaluate_all("s => s.map(e => e.dataset.value)")] == labels
    assert swatches.all_inner_texts() == ["not pooled", "0", "1", "2"]
    assert page.locator(".colorbar .gradient").count() == 0
    colours = {k: _rgb(NOT_POOLED_COLOUR if k < 0 else PHASE_COLOURS[k]) for k in labels}
    shown = swatches.evaluate_all(
        "s => s.map(e => getComputedStyle(e.querySelector('.chip')).backgroundColor)"
    )
    for k, css in zip(labels, shown, strict=True):
        assert css == "rgb({}, {}, {})".format(*colours[k])
    rgb = _canvas_rgb(page).reshape(-1, 3)
    for p in range(ROWS * COLS):
        np.testing.assert_array_equal(rgb[p], colours[phase[p]])
    # Another image brings the gradient back.
    page.select_option("select[name=Show]", "stat:redchi")
    assert page.locator(".colorbar .gradient").count() == 1
    assert page.locator(".colorbar .key").count() == 0
    assert opened.problems == []


@pytest.mark.parametrize("kind", ["poly3", "pv-asls", "gauss-snip"])
def test_the_provenance_names_the_baseline(maps, kind):
    m = maps[kind]
    text = map_page(m)
    name = m.meta["baseline"]
    assert f'<tr data-key="baseline"><td>baseline</td><td>{name}</td></tr>' in text
    assert "order" in name


# ------------------------------------------------------------- a series of maps

#: Steps of the series, its times (hours) and the step whose Mn A1g is shifted.
STEPS, SHIFTED = 3, 2
TIMES = [0.0, 0.5, 2.5]


@pytest.fixture(scope="module")
def series():
    """A (time, y, x) series of 3 x 4 pixel maps, Mn A1g 20 cm-1 higher at step 2."""
    x = np.arange(150.0, 901.0)
    cube = np.empty((STEPS, 3, 4, x.size))
    for k in range(STEPS):
        truth = pd.DataFrame(REFERENCE["Core_75"], columns=["band", "position", "fwhm", "area_pct"])
        truth.loc[truth["band"] == "Mn_A1g", "position"] += 20.0 * (k == SHIFTED)
        for i, j in np.ndindex(3, 4):
            cube[k, i, j] = simulate(truth, x=x, snr=200, rng=100 * k + 4 * i + j).y
    m = deconvolve_map(
        cube, x, bands="nmc", window="bands", baseline="poly3", dims=("time", "y", "x"), jobs=1
    )
    return m.replace(dim_coords={"time": (("time",), np.array(TIMES))})


@pytest.fixture(scope="module")
def series_page(series, tmp_path_factory):
    path = tmp_path_factory.mktemp("series") / "series.html"
    series.to_html(path)
    return path


def _to_step(page, k):
    page.locator("input[name=step]").fill(str(k))


def _show(page, quantity, band=None):
    page.select_option("select[name=Show]", quantity)
    if band is not None:
        page.select_option("select[name=Band]", str(band))


def test_a_series_page_has_a_slider_labelled_with_the_time(series_page, visit):
    opened = visit(series_page)
    page = opened.page
    slider = page.locator("input[type=range][name=step]")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", str(STEPS - 1))
    assert slider.input_value() == "0"
    label = page.locator(".stepper label").first
    for k, t in enumerate(TIMES):
        _to_step(page, k)
        assert label.inner_text().split() == ["time", f"{t:g}"]
        assert page.locator("canvas.map").get_attribute("data-step") == str(k)
    assert "3 steps along time of 3 x 4 pixels each" in page.locator(".sub").inner_text()
    assert opened.problems == []


def test_the_slider_switches_the_image_to_that_step(series, series_page, visit):
    opened = visit(series_page)
    page = opened.page
    band = series.bands.index("Mn_A1g")
    _show(page, "position", band)
    canvas = page.locator("canvas.map")
    whole = series.image("position", band="Mn_A1g")
    images = []
    for k in range(STEPS):
        _to_step(page, k)
        images.append(_image(page))
        # One colour scale for every step by default, so the shift shows...
        lo, hi = (float(canvas.get_attribute(a)) for a in ("data-min", "data-max"))
        assert (lo, hi) == pytest.approx((np.nanmin(whole), np.nanmax(whole)), abs=1e-3)
    assert images[SHIFTED] != images[0]
    # ...and the step's own when asked.
    page.locator("input[name=every_step]").uncheck()
    for k in range(STEPS):
        _to_step(page, k)
        want = series.image("position", band="Mn_A1g", time=k)
        lo, hi = (float(canvas.get_attribute(a)) for a in ("data-min", "data-max"))
        assert (lo, hi) == pytest.approx((np.nanmin(want), np.nanmax(want)), abs=1e-3)
    assert opened.problems == []


def test_the_slider_moves_the_clicked_pixel_to_that_step(series, series_page, visit):
    opened = visit(series_page)
    page = opened.page
    row, col, n = 1, 2, 3 * 4
    _click(page, row, col, (3, 4))
    positions = {}
    for k in [0, SHIFTED, 1]:
        _to_step(page, k)
        pixel = k * n + row * 4 + col
        panel = page.locator(".pixel")
        assert (panel.get_attribute("data-pixel"), panel.get_attribute("data-step")) == (
            str(pixel),
            str(k),
        )
        assert f"time {TIMES[k]:g}" in panel.locator("h3").inner_text()
        shown = {r["band"]: r["values"] for r in _shown_rows(page)}
        want = series.image("position", band="Mn_A1g", time=k)[row, col]
        assert shown["Mn_A1g"]["position"] == pytest.approx(want, abs=1e-3)
        positions[k] = shown["Mn_A1g"]["position"]
        got = _plotted(page, pixel)
        np.testing.assert_allclose(got["y"], series.curves(pixel)["data"], rtol=1e-12)
    assert positions[SHIFTED] > max(positions[0], positions[1]) + 10  # the shift shows
    assert opened.problems == []


def _trend(page):
    """The trend plot's x, mean, standard error and the step marked, as drawn."""
    return page.locator(".trend").evaluate(
        "t => ({x: t.plot.s.x, xlabel: t.plot.s.xlabel, ylabel: t.plot.s.ylabel,"
        " mean: t.plot.s.trend.mean, err: t.plot.s.trend.err, n: t.plot.s.trend.n,"
        " here: t.plot.s.series[2].y})"
    )


def _python_trend(images):
    """Mean, standard error (sd with n - 1 over the finite pixels) and count per step."""
    flat = [np.asarray(img, dtype=float).ravel() for img in images]
    kept = [v[np.isfinite(v)] for v in flat]
    mean = [v.mean() for v in kept]
    err = [v.std(ddof=1) / np.sqrt(v.size) for v in kept]
    return np.array(mean), np.array(err), [v.size for v in kept]


def test_the_trend_plot_has_each_steps_mean_over_pixels(series, series_page, visit):
    opened = visit(series_page)
    page = opened.page
    got = _trend(page)
    assert got["x"] == TIMES
    assert got["xlabel"] == "time"
    area = [series.image("area_pct", band="Mn_A1g", time=k) for k in range(STEPS)]
    mean, err, n = _python_trend(area)
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(got["err"], err, rtol=1e-3)
    assert got["n"] == n == [12] * STEPS
    assert got["ylabel"].startswith("Area (%)")
    # Another quantity and band: the trend follows; the step shown is marked.
    band = series.bands.index("Mn_A1g")
    _show(page, "position", band)
    _to_step(page, 1)
    got = _trend(page)
    mean, err, _ = _python_trend(
        [series.image("position", band="Mn_A1g", time=k) for k in range(STEPS)]
    )
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(got["err"], err, rtol=1e-3)
    assert mean[SHIFTED] > max(mean[0], mean[1]) + 10
    assert got["here"] == [None, pytest.approx(mean[1], rel=1e-6), None]
    # A ratio of two bands' areas and a pixel statistic.
    _show(page, "ratio", band)
    page.select_option("select[name=B]", str(series.bands.index("Mn_Eg")))
    mean, _, _ = _python_trend([series.ratio("Mn_A1g", "Mn_Eg", time=k) for k in range(STEPS)])
    np.testing.assert_allclose(_trend(page)["mean"], mean, rtol=1e-5)
    _show(page, "stat:redchi")
    mean, _, _ = _python_trend([series.image("redchi", time=k) for k in range(STEPS)])
    np.testing.assert_allclose(_trend(page)["mean"], mean, rtol=1e-5)
    # The band and the points: one per step.
    assert page.locator(".trend path[data-key='err']").count() == 1
    assert page.locator(".trend path[data-key='mean']").get_attribute("d").count("L") == STEPS - 1
    assert opened.problems == []


def test_the_trend_leaves_out_pixels_without_a_value(series, tmp_path, visit):
    position = series.params["position"].copy()
    band = series.bands.index("Mn_A1g")
    position[[0, 1, 12], band] = np.nan  # two pixels of step 0, one of step 1
    m = series.replace(params={**series.params, "position": position})
    path = tmp_path / "gaps.html"
    m.to_html(path)
    page = visit(path).page
    _show(page, "position", band)
    got = _trend(page)
    mean, err, n = _python_trend([m.image("position", band="Mn_A1g", time=k) for k in range(STEPS)])
    assert got["n"] == n == [10, 11, 12]
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(got["err"], err, rtol=1e-3)


@pytest.mark.parametrize(
    ("coords", "labels", "x", "xlabel"),
    [
        ({}, ["time 0", "time 1", "time 2"], [0, 1, 2], "time (step)"),
        ({"time": [0.0, 0.25, 2.5]}, ["time 0", "time 0.25", "time 2.5"], [0, 0.25, 2.5], "time"),
        (  # a voltage that rises and falls: labels only, the steps on the trend's x
            {"voltage": [3.6, 4.3, 3.9]},
            ["time 0 (voltage 3.6)", "time 1 (voltage 4.3)", "time 2 (voltage 3.9)"],
            [0, 1, 2],
            "time (step)",
        ),
        (
            {"voltage": [3.6, 3.9, 4.3], "time": [1.0, 2.0, 3.0]},
            ["time 1 (voltage 3.6)", "time 2 (voltage 3.9)", "time 3 (voltage 4.3)"],
            [1, 2, 3],
            "time",
        ),
    ],
)
def test_the_steps_are_labelled_with_their_coordinates(series, coords, labels, x, xlabel):
    m = series.replace(dim_coords={k: (("time",), np.array(v)) for k, v in coords.items()})
    assert step_labels(m) == labels
    data = json.loads(re.search(r'id="nmcraman-data">(.*?)</script>', map_page(m)).group(1))
    assert data["series"] == {
        "dim": "time", "steps": STEPS, "labels": labels, "x": x, "xlabel": xlabel
    }  # fmt: skip


def test_hours_read_from_the_files_metadata_are_labelled_in_hours(series):
    m = series.replace(meta={**series.meta, "time_source": "metadata"})
    assert step_labels(m) == ["time 0 h", "time 0.5 h", "time 2.5 h"]
    assert '"xlabel":"time (h)"' in map_page(m)


def test_a_series_of_one_step_has_a_trend_of_one_point(series, tmp_path, visit):
    one = series._take(np.arange(12), (1, 3, 4), dim_coords={})
    path = tmp_path / "one.html"
    one.to_html(path)
    opened = visit(path)
    page = opened.page
    assert page.locator("input[name=step]").get_attribute("max") == "0"
    got = _trend(page)
    mean, _, _ = _python_trend([one.image("area_pct", band="Mn_A1g")])
    assert got["x"] == [0.0]
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-5)
    _click(page, 2, 3, (3, 4))
    _plotted(page, 11)
    assert opened.problems == []


def test_a_page_of_four_dimensions_is_refused_in_one_line(series):
    four = series.replace(shape=(1, *series.shape), dims=("cell", *series.dims), dim_coords={})
    with pytest.raises(InputError, match=r"m\.select\(cell=0\)\.to_html\(path\)") as err:
        map_page(four)
    assert "\n" not in str(err.value)
