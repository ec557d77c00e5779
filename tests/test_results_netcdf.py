"""Maps saved as netCDF: exact round trips, lazy spectra, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nmcraman
from nmcraman import InputError, ReadError, deconvolve, deconvolve_map, load
from nmcraman.results.mapspectra import CODE_MISSING
from nmcraman.results.netcdf import LazyCodes, undo_zigzag_delta, zigzag_delta
from nmcraman.synthetic import simulate

pytest.importorskip("h5netcdf")
xr = pytest.importorskip("xarray")

X = np.arange(150.0, 901.0)


def _series(nav=(2, 2, 3), **kwargs):
    cube = np.empty((*nav, X.size))
    for k, idx in enumerate(np.ndindex(*nav)):
        cube[idx] = simulate("CS_75" if k % 4 == 1 else "Core_75", snr=120, rng=k).y
    arr = xr.DataArray(
        cube, dims=("time", "y", "x", "shift"),
        coords={"shift": X, "time": 0.25 * np.arange(nav[0]),
                "voltage": ("time", 3.0 + 0.1 * np.arange(nav[0]))},
    )  # fmt: skip
    return deconvolve_map(arr, progress=False, **kwargs)


def _same(a, b):
    """Equal in value, dtype and type, NaN equal to NaN."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _same(u, v)
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b)
        else:
            assert (a == b).all()
    else:
        assert a == b or (a != a and b != b)


@pytest.fixture(scope="module")
def series():
    return _series(bands="auto")


@pytest.mark.parametrize(
    "kwargs", [{}, {"bands": "nmc", "baseline": "asls", "shape": "pseudo_voigt"},
               {"bands": "nmc", "keep_spectra": False}],
)  # fmt: skip
def test_a_series_round_trip_is_exact(series, kwargs, tmp_path):
    m = _series(**kwargs) if kwargs else series
    path = tmp_path / "series.nc"
    m.save(path)
    back = load(path)
    assert isinstance(back, nmcraman.MapResult)
    assert (back.shape, back.dims, back.bands, back.labels) == (m.shape, m.dims, m.bands, m.labels)
    for name in ("params", "stats", "meta", "band_flags", "dim_coords"):
        _same(getattr(m, name), getattr(back, name))
    pd.testing.assert_frame_equal(back.table, m.table, check_exact=True)
    xr.testing.assert_identical(back.to_xarray(), m.to_xarray())
    if m.spectra is None:
        assert back.spectra is None
        return
    for kept in ("data", "initial"):
        a, b = getattr(m.spectra, kept), getattr(back.spectra, kept)
        assert (a is None) == (b is None)
        if a is not None:
            _same(a.codes, np.asarray(b.codes))
            _same(a.offset, b.offset)
            _same(a.step, b.step)
    _same(m.spectra.x, back.spectra.x)
    _same(m.spectra.baseline_coef, back.spectra.baseline_coef)
    pd.testing.assert_frame_equal(back.curves((1, 0, 2)), m.curves((1, 0, 2)), check_exact=True)


def test_a_batch_with_stage_and_names_round_trips(tmp_path):
    from nmcraman.maps import deconvolve_batch

    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(4)]
    m = deconvolve_batch(
        X, np.array([s.y for s in spectra]), bands="nmc",
        coords=np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5], [1.5, 1.5]]),
        names=["a", "b", "c", "d"],
    )  # fmt: skip
    # A 2 x 2 map, with metadata of the kinds a reader leaves.
    m = m.replace(shape=(2, 2), dims=None, meta={**m.meta, "source": "map.txt", "odd": (1, np.nan)})
    m.save(tmp_path / "m.nc")
    back = load(tmp_path / "m.nc")
    for name in ("coords", "names", "meta", "stats"):
        _same(getattr(m, name), getattr(back, name))
    pd.testing.assert_frame_equal(back.table, m.table, check_exact=True)


def test_the_spectra_stay_in_the_file_until_used(series, tmp_path):
    series.save(tmp_path / "s.nc")
    back = load(tmp_path / "s.nc")
    codes = back.spectra.data.codes
    assert isinstance(codes, LazyCodes)
    assert not codes.variable._in_memory  # the file's array, not read
    back.table  # noqa: B018  (tables, images and exports do not read the spectra)
    back.image("position", band="Mn_A1g", time=1)
    assert not codes.variable._in_memory
    pixel = back._pixel_index((1, 1, 2))
    np.testing.assert_array_equal(codes[pixel], series.spectra.data.codes[pixel])
    rows = np.array([7, 2, 7, 11])
    np.testing.assert_array_equal(codes[rows], series.spectra.data.codes[rows])
    mask = np.arange(codes.shape[0]) % 3 == 0
    np.testing.assert_array_equal(codes[mask, 5:9], series.spectra.data.codes[mask, 5:9])
    assert not codes.variable._in_memory  # rows read, the whole array never loaded


def test_a_loaded_map_saves_again_and_selects(series, tmp_path):
    series.save(tmp_path / "a.nc")
    back = load(tmp_path / "a.nc")
    back.save(tmp_path / "b.json")
    again = load(tmp_path / "b.json")
    _same(again.spectra.data.codes, series.spectra.data.codes)
    assert again.dims == series.dims
    _same(again.dim_coords, series.dim_coords)  # JSON keeps them too
    step = back.select(time=1)
    pd.testing.assert_frame_equal(step.curves((0, 1)), series.curves((1, 0, 1)), check_exact=True)
    step.to_html(tmp_path / "loaded.html")  # the page reads every pixel's codes
    series.select(time=1).to_html(tmp_path / "fitted.html")
    assert (tmp_path / "loaded.html").read_text() == (tmp_path / "fitted.html").read_text()


def test_save_refuses_to_overwrite_and_other_fits(series, tmp_path):
    path = tmp_path / "s.nc"
    path.write_text("the user's file", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.nc exists; pass force=True"):
        series.save(path)
    assert path.read_text(encoding="utf-8") == "the user's file"
    series.save(path, force=True)
    assert load(path).shape == series.shape
    s = simulate("Core_75", snr=150, rng=1)
    with pytest.raises(InputError, match=r"\.nc files hold maps .*save a Result as \.json"):
        deconvolve(s.x, s.y, bands="nmc").save(tmp_path / "one.nc")
    with pytest.raises(InputError, match=r"\.zarr"):
        series.save(tmp_path / "s.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nc"]


def test_other_netcdf_files_are_refused(tmp_path):
    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("t", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ReadError, match="not an nmcraman map file"):
        load(path)
    newer = tmp_path / "newer.nc"
    xr.Dataset(attrs={"format": "nmcraman", "kind": "MapResult", "format_version": 99}).to_netcdf(
        newer, engine="h5netcdf"
    )
    with pytest.raises(ReadError, match="upgrade"):
        load(newer)


def test_zigzag_delta_round_trips_every_jump(rng):
    codes = rng.integers(0, CODE_MISSING + 1, (5, 40)).astype(np.uint16)
    codes[0] = np.arange(40)
    codes[1, ::2] = CODE_MISSING
    codes[1, 1::2] = 0
    stored = zigzag_delta(codes)
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(undo_zigzag_delta(stored), codes)
    assert (stored[0, 1:] == 2).all()  # a step of +1 is code 2: small steps, small numbers


def test_a_spectrum_with_its_fit_takes_under_1_2_kb(tmp_path):
    """The data the file holds per spectrum (its fixed part aside): 751 points at SNR 50."""
    h5py = pytest.importorskip("h5py")
    from nmcraman.synthetic import core_shell_map

    cube, x, _ = core_shell_map(6, 6, snr=50, rng=3)
    m = deconvolve_map(cube, x, window="wide", progress=False)
    assert m.spectra.x.size == 751
    m.save(tmp_path / "m.nc")
    with h5py.File(tmp_path / "m.nc", "r") as f:
        stored = sum(f[name].id.get_storage_size() for name in f)
        codes = f["spectra_codes"].id.get_storage_size()
    assert stored / 36 < 1200
    assert codes / 36 < 751  # under a byte a point, from two
