"""Each pixel's window and averaged orders (`nmcraman.maps.choice`): `deconvolve`'s default."""

import numpy as np
import pytest

from nmcraman import deconvolve
from nmcraman._kernels import batch as batch_kernel
from nmcraman._kernels.profiles import LORENTZIAN, PSEUDO_VOIGT
from nmcraman.baseline import legendre_basis
from nmcraman.lineshapes import LINESHAPES
from nmcraman.maps import deconvolve_batch
from nmcraman.maps.choice import _on_window
from nmcraman.synthetic import simulate


@pytest.fixture(scope="module")
def mixed():
    """Spectra on backgrounds that favour different windows, and their `deconvolve`."""
    x = np.arange(100.0, 1001.0)
    # An edge filter's rise below 180 cm-1 that no polynomial of the wide window follows.
    edge = 1000.0 * (0.4 + 30.0 * np.exp(-(x - 100.0) / 18.0))
    kinds = ["fluorescence", edge, "linear", "cubic", edge, "fluorescence"]
    truths = ["Core_75", "CS_75"] * 3
    spectra = [
        simulate(t, x=x, background=k, snr=120, rng=i)
        for i, (t, k) in enumerate(zip(truths, kinds, strict=True))
    ]
    ys = np.array([s.y for s in spectra])
    m = deconvolve_batch(x, ys, warm_start=False, jobs=1, progress=False)
    singles = [deconvolve(x, y) for y in ys]
    return x, ys, m, singles


def test_each_pixel_is_the_default_fit_of_its_spectrum(mixed):
    _, _, m, singles = mixed
    # Both windows were chosen somewhere: the per-pixel path was taken.
    assert set(m.stats["window"]) == {"bands", "wide"}
    for p, res in enumerate(singles):
        assert m.stats["window"][p] == res.meta["auto_choice"]["window"]
        assert m.stats["model"][p] == res.model_choice["chosen"]
        k = [m.bands.index(b) for b in res.table["band"]]
        # The same procedure from the same starts, compiled apart (see
        # conftest.SEPARATE_PROCESS_SIGMA): equal but for last digits.
        for col in ("position", "fwhm", "area_pct"):
            np.testing.assert_allclose(m.params[col][p, k], res.table[col], atol=1e-4)
            np.testing.assert_allclose(
                m.params[f"{col}_err"][p, k], res.table[f"{col}_err"], rtol=1e-3, atol=1e-6
            )
        # The statistics of the averaged fit: what bands="auto" compares.
        assert m.stats["bic"][p] == pytest.approx(res.stats["bic"], rel=1e-8)
        assert m.stats["redchi"][p] == pytest.approx(res.stats["redchi"], rel=1e-6)


def test_curves_draw_the_averaged_baseline_within_the_pixel_window(mixed):
    _, _, m, singles = mixed
    lo, hi = m.pixel_windows()
    for p, res in enumerate(singles):
        c = m.curves(p)
        inside = (c.index >= lo[p]) & (c.index <= hi[p])
        assert np.isnan(c["baseline"][~inside]).all()
        assert np.isnan(c["fit"][~inside]).all()
        assert np.isfinite(c["data"]).all()
        np.testing.assert_allclose(c.index[inside], res.x)
        # The mean of the orders' baselines, re-expressed on the widest window.
        top = np.abs(res.y).max()
        np.testing.assert_allclose(c["baseline"][inside], res.baseline, atol=1e-3 * top)


def test_on_window_keeps_the_polynomial():
    rng = np.random.default_rng(1)
    own, union = np.linspace(180.0, 775.0, 596), np.linspace(150.0, 900.0, 751)
    coef = rng.normal(size=(3, 6))
    moved = _on_window(coef, own, union)
    inside = (union >= own[0]) & (union <= own[-1])
    want = coef @ legendre_basis(own, 5)
    got = moved @ legendre_basis(union, 5)
    np.testing.assert_allclose(got[:, inside], want, atol=1e-9)


@pytest.mark.parametrize("shape", ["lorentzian", "pseudo_voigt"])
def test_averaged_rss_kernel_against_numpy(shape):
    """The kernel against a numpy twin built from `nmcraman.lineshapes`."""
    rng = np.random.default_rng(2)
    x = np.linspace(200.0, 800.0, 301)
    nb, order, n_fits, n_rows = 2, 3, 3, 4
    basis = legendre_basis(x, order)
    eta = 0.4
    thetas = np.empty((n_fits, n_rows, 2 * nb + 1))
    thetas[..., :nb] = rng.uniform(400.0, 600.0, (n_fits, n_rows, nb))
    thetas[..., nb : 2 * nb] = rng.uniform(20.0, 60.0, (n_fits, n_rows, nb))
    thetas[..., -1] = eta
    coefs = rng.uniform(0.1, 1.0, (n_fits, n_rows, nb + order + 1))
    coefs[0, :, -1] = 0.0  # a lower order: zero past it
    weights = rng.dirichlet(np.ones(n_fits), n_rows).T.copy()
    weights[1, 0] = 0.0
    ys = rng.normal(size=(n_rows, x.size))
    code = {"lorentzian": LORENTZIAN, "pseudo_voigt": PSEUDO_VOIGT}[shape]
    rss = np.empty(n_rows)
    batch_kernel.averaged_rss(x, ys, basis, thetas, coefs, weights, nb, code, rss)
    for i in range(n_rows):
        mean = np.zeros(x.size)
        for f in range(n_fits):
            th, cf = thetas[f, i], coefs[f, i]
            curve = cf[nb:] @ basis
            for k in range(nb):
                kw = {"eta": eta} if shape == "pseudo_voigt" else {}
                curve = curve + LINESHAPES[shape](x, cf[k], th[k], th[nb + k], **kw)
            mean += weights[f, i] * curve
        assert rss[i] == pytest.approx(((ys[i] - mean) ** 2).sum(), rel=1e-9)


@pytest.mark.parametrize("suffix", [".json", ".nc"])
def test_windows_per_pixel_survive_save_and_load(mixed, tmp_path, suffix):
    from nmcraman import load

    _, _, m, _ = mixed
    path = tmp_path / f"m{suffix}"
    m.save(path)
    back = load(path)
    assert list(back.stats["window"]) == list(m.stats["window"])
    assert back.meta["windows"] == m.meta["windows"]
    for p in range(len(m.stats["window"])):
        np.testing.assert_array_equal(back.curves(p).to_numpy(), m.curves(p).to_numpy())


@pytest.mark.parametrize(
    ("kwargs", "warm"),
    [
        ({}, False),  # each pixel chooses: no warm start, every pixel deconvolve's
        ({"window": "bands", "baseline": "poly3"}, True),  # one model: warm starts
        ({"pooled": True}, True),  # a pooled map's first pass fits one chosen setting
        ({"warm_start": True}, True),
        ({"window": "bands", "baseline": "poly3", "warm_start": False}, False),
    ],
)
def test_warm_starts_by_default_only_where_one_model_fits_every_pixel(kwargs, warm):
    from nmcraman.maps.pixels import batch_options

    assert batch_options(**kwargs).warm_start is warm


def test_warm_start_must_be_a_boolean():
    from nmcraman import InputError
    from nmcraman.maps.pixels import batch_options

    with pytest.raises(InputError, match="warm_start must be True, False or None"):
        batch_options(warm_start="yes")
