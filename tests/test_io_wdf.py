"""Tests of nmcraman.io._wdf: Renishaw .wdf spectra (real files) and maps (a fake reader)."""

from __future__ import annotations

import enum
import sys
import types

import numpy as np
import pytest
from io_samples import CUBE, DATA, MAP_X, expected_coords, peak

from nmcraman.errors import ReadError
from nmcraman.io import read_map, read_spectrum

# --- spectra ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n", "first", "last", "laser", "bands"),
    [
        ("renishaw_graphene_sp.wdf", 1015, 1226.28, 2787.51, 532.25, (1337, 1587, 2672)),
        ("renishaw_polymer_532nm.wdf", 1900, 202.10, 3203.76, 532.30, ()),
    ],
)
def test_wdf_single_spectra(name, n, first, last, laser, bands):
    s = read_spectrum(DATA / name)
    assert s.meta["format"] == "wdf"
    assert s.meta["laser_nm"] == pytest.approx(laser, abs=0.01)
    assert s.meta["x_unit_original"] == "cm-1"
    assert len(s) == n
    # stored descending in the file, returned ascending
    assert np.all(np.diff(s.x) > 0)
    assert (s.x[0], s.x[-1]) == pytest.approx((first, last), abs=0.01)
    for band in bands:
        assert peak(s, band, 15) == pytest.approx(band, abs=2)


def test_wdf_polymer_axis_is_non_uniform():
    step = np.diff(read_spectrum(DATA / "renishaw_polymer_532nm.wdf").x)
    assert (step.min(), step.max()) == pytest.approx((1.30, 1.92), abs=0.01)


def test_wdf_without_renishawwire(monkeypatch):
    monkeypatch.setitem(sys.modules, "renishawWiRE", None)  # makes the import fail
    with pytest.raises(ReadError, match=r"reinstall nmcraman \(or pip install renishawWiRE"):
        read_spectrum(DATA / "renishaw_graphene_sp.wdf")


class _FakeBare:
    """Stands in for renishawWiRE.WDFReader; class attributes set per test."""

    closed = False

    def __init__(self, path):
        pass

    def close(self):
        type(self).closed = True


class _FakeMap(_FakeBare):
    measurement_type = types.SimpleNamespace(name="Mapping")
    count = 100
    spectra = np.ones((10, 10, 1015))


class _FakeNoAxis(_FakeBare):
    measurement_type = types.SimpleNamespace(name="Single")
    count = 1
    spectra = np.ones(1015)  # and no xdata, as when the XLST block is missing


@pytest.mark.parametrize(
    ("fake", "message"),
    [(_FakeMap, "a mapping of 100 spectra; use read_map"), (_FakeNoAxis, "file is incomplete")],
)
def test_wdf_reader_outcomes_via_fake(monkeypatch, fake, message):
    monkeypatch.setitem(sys.modules, "renishawWiRE", types.SimpleNamespace(WDFReader=fake))
    with pytest.raises(ReadError, match=message):
        read_spectrum(DATA / "renishaw_graphene_sp.wdf")
    assert fake.closed is True


# --- maps, through a fake reader --------------------------------------------------


class _Unit(enum.Enum):
    RamanShift = 1
    Wavenumber = 2
    Nanometre = 3
    ElectronVolt = 4
    Micron = 5
    Millimetres = 8
    Seconds = 12


class _FakeMapReader:
    """Stands in for renishawWiRE.WDFReader on a map; class attributes set per test."""

    measurement_type = types.SimpleNamespace(name="Mapping")
    xlist_unit = _Unit.RamanShift
    xpos_unit = _Unit.Micron
    laser_length = 532.0
    title = "fake map"
    closed = False

    def __init__(self, path):
        pass

    def close(self):
        type(self).closed = True


def _fake(monkeypatch, **attrs):
    fake = type("Fake", (_FakeMapReader,), attrs)
    monkeypatch.setitem(sys.modules, "renishawWiRE", types.SimpleNamespace(WDFReader=fake))
    return fake


def _acquired(order):
    """WiRE's raster order: spectra and positions as the file would store them."""
    flat = CUBE.reshape(20, -1)
    coords = expected_coords()
    return flat[order], coords[order, 0], coords[order, 1]


@pytest.mark.parametrize(
    "order",
    [
        np.arange(20),
        np.arange(20).reshape(4, 5)[::-1].ravel(),
        np.arange(20).reshape(4, 5).T.ravel(),
    ],
    ids=["x-fast", "y-descending", "y-fast"],
)
def test_wdf_map_uses_the_stored_shape(monkeypatch, order):
    flat, xpos, ypos = _acquired(order)
    fake = _fake(
        monkeypatch, count=20, map_shape=(5, 4), xdata=MAP_X[::-1], xpos=xpos, ypos=ypos,
        spectra=flat[:, ::-1].reshape(4, 5, -1),
    )  # fmt: skip
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    assert fake.closed is True
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.x, MAP_X)
    np.testing.assert_array_equal(m.spectra, CUBE)
    np.testing.assert_array_equal(m.coords, expected_coords())
    assert m.meta["format"] == "wdf-map"
    assert m.meta["laser_nm"] == 532.0


def test_wdf_interrupted_map_is_padded_with_nan(monkeypatch):
    flat, xpos, ypos = _acquired(np.arange(13))
    _fake(monkeypatch, count=13, map_shape=(5, 4), xdata=MAP_X, spectra=flat, xpos=xpos, ypos=ypos)
    with pytest.warns(UserWarning, match="interrupted after 13 of 20 spectra"):
        m = read_map(DATA / "renishaw_graphene_sp.wdf")
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.spectra.reshape(20, -1)[:13], flat)
    assert np.isnan(m.spectra.reshape(20, -1)[13:]).all()
    assert m.meta["measured"] == 13


def test_wdf_series_and_stage_units(monkeypatch):
    flat, xpos, ypos = _acquired(np.arange(6))
    _fake(
        monkeypatch, measurement_type=types.SimpleNamespace(name="Series"), count=6, xdata=MAP_X,
        spectra=flat, xpos=xpos / 1000, ypos=ypos / 1000, xpos_unit=_Unit.Millimetres,
    )  # fmt: skip
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    assert m.shape == (6,)
    np.testing.assert_allclose(m.coords, expected_coords()[:6])
    assert m.meta["stage_unit"] == "µm"


def test_wdf_absolute_wavenumber_axis_becomes_raman_shift(monkeypatch):
    flat, xpos, ypos = _acquired(np.arange(6))
    series = types.SimpleNamespace(name="Series")
    absolute = 1e7 / 532.0 - MAP_X  # the shifts MAP_X of a 532 nm laser, in absolute cm-1
    fake = _fake(
        monkeypatch, measurement_type=series, count=6, xdata=absolute, spectra=flat, xpos=xpos,
        ypos=ypos, xlist_unit=_Unit.Wavenumber,
    )  # fmt: skip
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    np.testing.assert_allclose(m.x, MAP_X, rtol=1e-12)
    np.testing.assert_array_equal(m.spectra, flat)
    assert m.meta["x_unit_original"] == "cm-1 (absolute)"
    fake.laser_length = 0.0  # no laser line stated
    with pytest.raises(ReadError, match="absolute wavenumber and the file gives no laser"):
        read_map(DATA / "renishaw_graphene_sp.wdf")


@pytest.mark.parametrize(
    ("unit", "stored"),
    [
        (_Unit.RamanShift, MAP_X),
        (_Unit.Wavenumber, 1e7 / 532.0 - MAP_X),
        (_Unit.Nanometre, 1e7 / (1e7 / 532.0 - MAP_X)),
    ],
    ids=["raman-shift", "absolute-wavenumber", "nanometre"],
)
@pytest.mark.parametrize("reader", [read_spectrum, read_map])
def test_wdf_axis_always_comes_back_as_raman_shift(monkeypatch, unit, stored, reader):
    flat, xpos, ypos = _acquired(np.arange(1))
    single = types.SimpleNamespace(name="Single")
    _fake(
        monkeypatch, measurement_type=single, count=1, xdata=stored, spectra=flat[0], xpos=xpos,
        ypos=ypos, xlist_unit=unit,
    )  # fmt: skip
    np.testing.assert_allclose(reader(DATA / "renishaw_graphene_sp.wdf").x, MAP_X, rtol=1e-10)


def test_wdf_energy_axis_is_refused(monkeypatch):
    _fake(monkeypatch, count=6, xdata=MAP_X, spectra=np.ones((6, MAP_X.size)),
          xlist_unit=_Unit.ElectronVolt)  # fmt: skip
    with pytest.raises(ReadError, match="'ElectronVolt' is not supported"):
        read_map(DATA / "renishaw_graphene_sp.wdf")


def test_wdf_damaged_reader_is_a_read_error(monkeypatch):
    fake = _fake(monkeypatch, count=20, xdata=MAP_X, spectra=np.ones(7))  # 7 values for 20 spectra
    with pytest.raises(ReadError, match="incomplete or damaged"):
        read_map(DATA / "renishaw_graphene_sp.wdf")
    assert fake.closed is True


def test_wdf_single_spectrum_through_the_real_reader():
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    s = read_spectrum(DATA / "renishaw_graphene_sp.wdf")
    assert m.shape == (1,)
    np.testing.assert_array_equal(m.spectra[0], s.y)


def test_wdf_map_without_renishawwire(monkeypatch):
    monkeypatch.setitem(sys.modules, "renishawWiRE", None)  # makes the import fail
    with pytest.raises(ReadError, match=r"reinstall nmcraman"):
        read_map(DATA / "renishaw_graphene_sp.wdf")
