"""MapResult: the per-pixel model choice scores each preset as deconvolve does."""

import numpy as np
import pytest

from nmcraman import FitOptions, InputError, deconvolve, deconvolve_map
from nmcraman.maps import deconvolve_batch
from nmcraman.synthetic import simulate

EVERY_START = FitOptions(all_starts=True)


@pytest.mark.parametrize(
    ("baseline", "shape"), [("poly1", "lorentzian"), ("poly3", "pseudo_voigt")]
)
def test_auto_bic_and_choice_match_deconvolve(baseline, shape):
    """A baseline other than the cubic, or a fitted eta, changes the parameter count:
    the map's BIC per pixel must count them as `Result.stats` does (a count written
    for a cubic baseline without eta was off by 2 ln n on a linear one)."""
    spectra = [simulate(sample, shape=shape, snr=120, rng=40 + i)
               for i, sample in enumerate(("Core_75", "CS_75", "CS_75"))]  # fmt: skip
    x = spectra[0].x
    kw = {"bands": "auto", "baseline": baseline, "shape": shape, "options": EVERY_START,
          "window": "bands"}  # fmt: skip
    m = deconvolve_batch(x, np.array([s.y for s in spectra]), warm_start=False, jobs=1, **kw)
    singles = [deconvolve(x, s.y, **kw) for s in spectra]
    assert list(m.stats["model"]) == [r.model_choice["chosen"] for r in singles]
    # The same minimum, reached by another path (deconvolve adds a Lorentzian start
    # for other shapes): equal to far below one parameter's ln n.
    bic = [r.stats["bic"] for r in singles]
    np.testing.assert_allclose(m.stats["bic"], bic, rtol=0, atol=1e-3)


# ----------------------------------------------------------- curves: a pixel's fit


def _chi2_check(m, pixel):
    """The residual of `MapResult.curves` against the fit's own: redchi times its dof.

    The fit's residual sum of squares is ``redchi * (n - parameters)``; the curves'
    differs by the data's quantisation only (within half a step a point), bounded here
    by Cauchy-Schwarz.
    """
    c = m.curves(pixel)
    n = int(c["residual"].notna().sum())  # the pixel's own window (chosen per pixel)
    nb = int(np.isfinite(m.params["area"][pixel]).sum())
    n_params = (
        3 * nb + m.spectra.baseline_coef.shape[1] + int(m.meta["shape_name"] == "pseudo_voigt")
    )
    rss = float((c["residual"] ** 2).sum())
    want = m.stats["redchi"][pixel] * (n - n_params)
    half = 0.5 * m.spectra.data.step[pixel]
    assert abs(rss - want) <= 2 * np.sqrt(rss * n) * half + n * half**2
    return c


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bands": "nmc+lo", "baseline": "poly3"},
        {"bands": "auto", "shape": "pseudo_voigt", "baseline": "asls"},
        {"bands": "nmc", "shape": "gaussian", "baseline": "snip", "refine": 2},
        {"bands": "nmc", "baseline": None},
    ],
    ids=["poly3", "auto-pv-asls", "gauss-snip", "no-baseline"],
)
def test_curves_are_the_fit_of_each_pixel(kwargs):
    from nmcraman.synthetic import core_shell_map

    cube, x, _ = core_shell_map(3, 4, corrupt=0.1, rng=5)
    m = deconvolve_map(cube, x, jobs=1, **kwargs)
    assert (m.spectra.initial is None) == (kwargs.get("baseline", "poly3") in ("poly3", None))
    fitted = np.isfinite(m.stats["redchi"])
    assert fitted.sum() >= 9
    for p in range(12):
        c = m.curves(p)
        assert list(c.columns[:2]) == ["data", "baseline"]
        assert list(c.columns[-2:]) == ["fit", "residual"]
        shown = list(c.columns[2:-2])
        assert shown == list(m.table.query(f"row == {p // 4} and col == {p % 4}")["band"]) or (
            not fitted[p] and shown == []
        )
        if fitted[p]:
            _chi2_check(m, p)
        else:
            assert c["fit"].isna().all()
            assert c["baseline"].isna().all()
    if kwargs.get("shape") == "pseudo_voigt":
        assert np.all((m.stats["eta"][fitted] >= 0) & (m.stats["eta"][fitted] <= 1))
    else:
        assert "eta" not in m.stats


def test_curves_equal_the_single_fit_of_that_spectrum():
    s = simulate("CS_75", snr=150, rng=3)
    other = simulate("Core_75", snr=150, rng=4)
    kw = {"bands": "nmc+lo", "baseline": "arpls", "shape": "pseudo_voigt", "window": "bands"}
    m = deconvolve_batch(s.x, np.array([s.y, other.y]), warm_start=False, jobs=1, **kw)
    res = deconvolve(s.x, s.y, **kw)
    c = m.curves(0)
    np.testing.assert_allclose(c.index, res.x)
    top = np.abs(res.y).max()
    assert np.abs(c["data"] - res.y).max() <= 0.5 * m.spectra.data.step[0] * (1 + 1e-9)
    # The fixed starting baseline is quantised as the data are, on its own range.
    start = 0.5 * m.spectra.initial.step[0]
    for name, want in [("baseline", res.baseline), ("fit", res.best_fit)]:
        np.testing.assert_allclose(c[name], want, rtol=0, atol=start + 1e-6 * top)
    for band in res.table["band"]:
        np.testing.assert_allclose(c[band], res.components[band], rtol=0, atol=1e-6 * top)
    assert m.stats["eta"][0] == pytest.approx(res.stats["eta"], abs=1e-7)


def test_pooled_map_curves(pooled_map):
    m = pooled_map["pooled"]
    pooled = np.flatnonzero(m.stats["phase"] >= 0)
    assert pooled.size > 100
    for p in pooled[:: pooled.size // 20]:
        _chi2_check(m, int(p))


def test_curves_refuses_a_map_without_spectra_or_a_bad_pixel():
    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(4)]
    ys = np.array([s.y for s in spectra])
    m = deconvolve_map(ys.reshape(2, 2, -1), spectra[0].x, bands="nmc", jobs=1)
    np.testing.assert_array_equal(m.curves((1, 0)), m.curves(2))
    for bad in (4, -1, (2, 0), 1.5, "a"):
        with pytest.raises(InputError, match="no pixel"):
            m.curves(bad)
    bare = deconvolve_batch(spectra[0].x, ys, bands="nmc", keep_spectra=False, jobs=1)
    assert bare.spectra is None
    with pytest.raises(InputError, match="keep_spectra=True"):
        bare.curves(0)


# ------------------------------------------------------------ pictures and provenance


@pytest.fixture(scope="module")
def small_map():
    """A 3 x 4 core-shell map, every pixel on its own."""
    from nmcraman.synthetic import core_shell_map

    cube, x, _ = core_shell_map(3, 4, rng=5)
    return deconvolve_map(cube, x, bands="nmc", jobs=1)


def _top_and_bottom_colours(fig):
    """RGB of the drawn image's first and last screen row of pixels, at mid-width."""
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    ax = fig.axes[0]
    (x0, y0), (x1, y1) = ax.get_window_extent().get_points()
    height = rgb.shape[0]  # the buffer's row 0 is the top of the figure
    mid = int((x0 + x1) / 2)
    return rgb[height - int(y1) + 2, mid], rgb[height - int(y0) - 3, mid]


@pytest.mark.parametrize(("param", "band"), [("area_pct", "Mn_A1g"), ("noise", None)])
def test_plot_puts_row_0_at_the_top(small_map, param, band):
    """As the HTML page does: the image reads like the map's rows, from the top."""
    from matplotlib.colors import to_rgb

    m = small_map
    store = m.params if band else m.stats
    values = store[param].copy()
    rows, cols = m.shape
    first = np.zeros(values.shape[0], dtype=bool)
    first[:cols] = True  # row 0
    if band:
        values[:, m.bands.index(band)] = np.where(first, 90.0, 10.0)
    else:
        values = np.where(first, 90.0, 10.0)
    if band:
        m = m.replace(params={**m.params, param: values})
    else:
        m = m.replace(stats={**m.stats, param: values})
    fig = m.plot(param, band)
    [im] = fig.axes[0].images
    assert im.origin == "upper"
    assert tuple(im.get_extent()) == (-0.5, cols - 0.5, rows - 0.5, -0.5)
    top, bottom = _top_and_bottom_colours(fig)
    high = np.round(255 * np.array(to_rgb(im.cmap(1.0))))
    low = np.round(255 * np.array(to_rgb(im.cmap(0.0))))
    np.testing.assert_allclose(top, high, atol=2)
    np.testing.assert_allclose(bottom, low, atol=2)


@pytest.mark.parametrize("labels", [[-1, 0, 1, 2], [0, 3], [4]])
def test_phase_plot_gives_each_phase_one_colour(small_map, labels):
    """Integer labels, so a qualitative colour map with a colour per label and integer
    ticks: no continuous bar with ticks at 0.25 steps."""
    from matplotlib.colors import to_rgba

    from nmcraman.results.palette import NOT_POOLED_COLOUR, PHASE_COLOURS

    n = int(np.prod(small_map.shape))
    phase = np.array(labels)[np.arange(n) % len(labels)]
    m = small_map.replace(stats={**small_map.stats, "phase": phase})
    fig = m.plot("phase")
    [im] = fig.axes[0].images
    for k in labels:
        want = NOT_POOLED_COLOUR if k < 0 else PHASE_COLOURS[k % len(PHASE_COLOURS)]
        assert im.cmap(im.norm(k)) == pytest.approx(to_rgba(want))
    colours = {im.cmap(im.norm(k)) for k in labels}
    assert len(colours) == len(labels)
    bar = im.colorbar
    assert list(bar.get_ticks()) == labels
    shown = [t.get_text() for t in bar.ax.get_yticklabels()]
    assert shown == [("not pooled" if k < 0 else str(k)) for k in labels]


@pytest.mark.parametrize(
    ("baseline", "order"),
    [("poly3", 3), ("poly1", 1), ("asls", 1), (None, -1)],
)
def test_meta_names_the_baseline_as_deconvolve_does(baseline, order):
    """A poly3 map and an asls map differ in their metadata (and on their HTML page)."""
    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(2)]
    x, ys = spectra[0].x, np.array([s.y for s in spectra])
    m = deconvolve_batch(x, ys, bands="nmc", baseline=baseline, jobs=1)
    single = deconvolve(x, ys[0], bands="nmc", baseline=baseline, window="bands")
    assert m.meta["baseline"] == single.meta["baseline"]
    assert m.meta["baseline_order"] == order
    assert m.spectra.baseline_coef.shape[1] == order + 1


def test_meta_names_the_baseline_chosen_for_the_map():
    """``baseline="auto"`` averages orders 2 to 5 on a pooled map as on an unpooled one
    (`nmcraman.pooled_choice`); a pooled map keeps the baselines of its reference
    candidate, an unpooled one re-expresses every pixel's on order 5. An explicit
    baseline is named as given."""
    spectra = [simulate("CS_75", snr=150, rng=i) for i in range(3)]
    ys = np.array([s.y for s in spectra])
    m = deconvolve_batch(
        spectra[0].x, ys, bands="nmc", baseline="auto", pooling=np.array([0, 0, -1]), jobs=1
    )
    assert m.meta["auto_choice"]["baseline"] == "auto"
    assert m.meta["baseline"] == "joint polynomials of order 2 to 5, averaged"
    assert m.meta["baseline_order"] == m.spectra.baseline_coef.shape[1] - 1
    each = deconvolve_batch(spectra[0].x, ys, bands="nmc", baseline="auto", jobs=1)
    assert each.meta["baseline"].startswith("polynomials of order 2 to 5 fitted jointly")
    assert each.meta["baseline_order"] == each.spectra.baseline_coef.shape[1] - 1 == 5
    pooled = deconvolve_batch(
        spectra[0].x, ys, bands="nmc", baseline="asls", pooling=np.array([0, 0, -1]), jobs=1
    )
    assert pooled.meta["baseline"] == "asls (pybaselines) + joint polynomial order 1"
    assert pooled.meta["baseline_order"] == 1


def test_choose_leaves_the_fits_it_merges_as_they_were():
    """``bands="auto"`` merges the presets' maps per pixel into a new map."""
    import copy

    from nmcraman.maps.build import choose

    ys = np.array([simulate(("Core_75", "CS_75")[i % 2], snr=150, rng=i).y for i in range(4)])
    x = simulate("Core_75", rng=0).x
    fits = [deconvolve_batch(x, ys, bands=b, progress=False) for b in ("nmc", "nmc+lo")]
    before = [copy.deepcopy((f.params, f.stats, f.band_flags, f.meta)) for f in fits]
    merged = choose(fits, ["nmc", "nmc+lo"])
    for f, (params, stats, flags, meta) in zip(fits, before, strict=True):
        for key in params:
            np.testing.assert_array_equal(f.params[key], params[key])
        for key in stats:
            np.testing.assert_array_equal(f.stats[key], stats[key])
        np.testing.assert_array_equal(f.band_flags, flags)
        assert f.meta == meta
    auto = deconvolve_batch(x, ys, bands="auto", progress=False)
    assert merged is not fits[1]
    assert list(merged.stats["model"]) == list(auto.stats["model"])
    np.testing.assert_array_equal(merged.params["area_pct"], auto.params["area_pct"])


def test_a_map_is_frozen_and_replace_makes_a_new_one(small_map):
    with pytest.raises(AttributeError, match="frozen"):
        small_map.names = ["a"] * int(np.prod(small_map.shape))
    with pytest.raises(AttributeError, match="frozen"):
        del small_map.meta
    names = [f"p{k}" for k in range(int(np.prod(small_map.shape)))]
    renamed = small_map.replace(names=names)
    assert renamed.names == names
    assert small_map.names != names
    assert renamed.params is small_map.params
    assert renamed.dims == small_map.dims
