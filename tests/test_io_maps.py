"""Tests of nmcraman.io_maps: LabSpec text maps, .wdf maps (fake reader), batches of files."""

from __future__ import annotations

import enum
import re
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from nmcraman import deconvolve_map
from nmcraman.errors import InputError, ReadError
from nmcraman.io import read_spectrum
from nmcraman.io_maps import read_many, read_map
from nmcraman.synthetic import core_shell_map

DATA = Path(__file__).parent / "data"
CUBE, X, _ = core_shell_map(4, 5, rng=0)
STAGE_X = 10.0 + 2.0 * np.arange(5)  # columns
STAGE_Y = -3.0 + 1.5 * np.arange(4)  # rows


def _num(value: float, dec: str = ".") -> str:
    return repr(float(value)).replace(".", dec)


def _labspec_lines(cube=CUBE, x=X, sep="\t", dec=".", corner=True, order=None, header=()):
    """A LabSpec map export of ``cube``: axis row, then X, Y and the spectrum per pixel."""
    rows, cols = cube.shape[:2]
    cells = [(r, c) for r in range(rows) for c in range(cols)] if order is None else order
    lead = sep * 2 if corner else ""
    lines = [*header, lead + sep.join(_num(v, dec) for v in x)]
    for r, c in cells:
        values = [STAGE_X[c], STAGE_Y[r], *cube[r, c]]
        lines.append(sep.join(_num(v, dec) for v in values))
    return lines


def _write(folder: Path, name: str, lines) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


def _expected_coords():
    return np.array([(STAGE_X[c], STAGE_Y[r]) for r in range(4) for c in range(5)])


# --- LabSpec text maps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "dec", "corner"),
    [("\t", ".", True), ("\t", ",", True), (";", ",", True), (",", ".", True),
     ("\t", ".", False), (" ", ".", False)],
    ids=["tab", "tab-decimal-comma", "semicolon-decimal-comma", "comma", "tab-no-corner",
         "spaces-no-corner"],
)  # fmt: skip
def test_labspec_map_round_trips_the_cube(tmp_path, sep, dec, corner):
    path = _write(tmp_path, "map.txt", _labspec_lines(sep=sep, dec=dec, corner=corner))
    m = read_map(path)
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.x, X)
    np.testing.assert_array_equal(m.spectra, CUBE)
    np.testing.assert_array_equal(m.coords, _expected_coords())
    assert m.meta["format"] == "labspec-map"
    assert m.meta["source"] == str(path)


def test_header_lines_are_kept_and_give_the_laser(tmp_path):
    header = ["#Acq. time (s)=\t2", "#Laser (nm)=\t785", "#Instrument=\tLabRAM HR"]
    m = read_map(_write(tmp_path, "map.txt", _labspec_lines(header=header)))
    assert m.meta["header"] == {
        "Acq. time (s)": "2",
        "Laser (nm)": "785",
        "Instrument": "LabRAM HR",
    }
    assert m.meta["laser_nm"] == 785.0
    assert m.meta["instrument"] == "LabRAM HR"
    assert read_map(tmp_path / "map.txt", laser_nm=633).meta["laser_nm"] == 633.0


@pytest.mark.parametrize("scan", ["serpentine", "shuffled", "y-descending"])
def test_pixels_are_row_major_by_ascending_y_then_x(tmp_path, scan):
    cells = [(r, c) for r in range(4) for c in range(5)]
    if scan == "serpentine":
        cells = [(r, c) for r in range(4) for c in (range(5) if r % 2 == 0 else range(4, -1, -1))]
    elif scan == "shuffled":
        cells = [cells[i] for i in np.random.default_rng(5).permutation(len(cells))]
    else:
        cells = [(r, c) for r in range(3, -1, -1) for c in range(5)]
    m = read_map(_write(tmp_path, "map.txt", _labspec_lines(order=cells)))
    np.testing.assert_array_equal(m.spectra, CUBE)
    np.testing.assert_array_equal(m.coords, _expected_coords())


def test_stage_jitter_does_not_split_grid_lines(tmp_path):
    lines = _labspec_lines()
    jitter = np.random.default_rng(1).uniform(-5e-4, 5e-4, (20, 2))
    for i, (dx, dy) in enumerate(jitter):
        fields = lines[i + 1].split("\t")
        fields[0], fields[1] = _num(float(fields[0]) + dx), _num(float(fields[1]) + dy)
        lines[i + 1] = "\t".join(fields)
    m = read_map(_write(tmp_path, "map.txt", lines))
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.spectra, CUBE)


def test_an_incomplete_grid_falls_back_to_a_list_with_coords(tmp_path):
    lines = _labspec_lines()[:-3]  # an aborted map: the last 3 pixels are missing
    with pytest.warns(UserWarning, match="17 stage positions do not fill a grid"):
        m = read_map(_write(tmp_path, "aborted.txt", lines))
    assert m.shape == (17,)
    np.testing.assert_array_equal(m.spectra, CUBE.reshape(20, -1)[:17])
    np.testing.assert_array_equal(m.coords, _expected_coords()[:17])
    assert m.meta["grid"] is False


def test_repeated_positions_are_not_a_grid(tmp_path):
    cells = [(r, c) for r in range(4) for c in range(5)]
    cells[7] = cells[6]  # 20 pixels on a 4 x 5 grid, but one position twice
    with pytest.warns(UserWarning, match="do not fill a grid"):
        assert read_map(_write(tmp_path, "m.txt", _labspec_lines(order=cells))).shape == (20,)


def test_one_coordinate_column_is_a_line_or_series(tmp_path):
    lines = ["\t" + "\t".join(_num(v) for v in X)]
    lines += [f"{5.0 * i}\t" + "\t".join(_num(v) for v in CUBE[0, i]) for i in range(5)]
    m = read_map(_write(tmp_path, "line.txt", lines))
    assert m.shape == (5,)
    assert m.coords is None
    np.testing.assert_array_equal(m.meta["position"], 5.0 * np.arange(5))
    np.testing.assert_array_equal(m.spectra, CUBE[0])


def test_fixture_map_serpentine_latin1_crlf():
    m = read_map(DATA / "labspec_map_synthetic.txt")
    assert m.shape == (2, 3)
    assert m.meta["laser_nm"] == 532.17
    assert m.meta["header"]["Range (cm-¹)"] == "300...890"
    np.testing.assert_array_equal(m.coords[:, 0], [0, 5, 10, 0, 5, 10])
    np.testing.assert_array_equal(m.coords[:, 1], [-2.5] * 3 + [2.5] * 3)
    peak = m.spectra[:, :, np.flatnonzero(m.x == 600.0)[0]]
    np.testing.assert_allclose(peak, 1050.0 + 100.0 * np.arange(6).reshape(2, 3), atol=0.06)


def test_fixture_series_with_decimal_commas():
    m = read_map(DATA / "labspec_series_decimal_comma.txt")
    assert m.shape == (4,)
    np.testing.assert_array_equal(m.meta["position"], [0.0, 10.0, 20.0, 30.0])
    assert m.x[0] == 400.0
    assert m.x[-1] == 790.0
    np.testing.assert_allclose(m.spectra.max(axis=1), 200.0 + 100.0 * np.arange(4), atol=0.5)


def test_single_spectrum_files_are_maps_of_one_pixel(tmp_path):
    s = read_spectrum(DATA / "polystyrene_horiba633.txt")
    m = read_map(DATA / "polystyrene_horiba633.txt")
    assert m.shape == (1,)
    assert m.coords is None
    np.testing.assert_array_equal(m.spectra[0], s.y)
    one = read_map(_write(tmp_path, "one.txt", _labspec_lines(order=[(2, 3)])))
    assert one.shape == (1,)
    np.testing.assert_array_equal(one.coords, [[STAGE_X[3], STAGE_Y[2]]])
    np.testing.assert_array_equal(one.spectra[0], CUBE[2, 3])


def test_axis_in_nm_is_converted_with_the_laser(tmp_path):
    nm = np.linspace(540.0, 560.0, 201)  # a CCD wavelength axis: step 0.1
    cube = np.ones((2, 2, nm.size)) + np.arange(nm.size)
    path = _write(tmp_path, "nm.txt", _labspec_lines(cube, nm))
    with pytest.raises(ReadError, match="pass laser_nm="):
        read_map(path)
    with pytest.warns(UserWarning, match="converted to Raman shift"):
        m = read_map(path, laser_nm=532.0)
    np.testing.assert_allclose(m.x, np.sort(1e7 / 532.0 - 1e7 / nm))


def _ragged(p):
    lines = _labspec_lines()
    lines[5] = lines[5].rsplit("\t", 3)[0]
    return _write(p, "ragged.txt", lines)


def _replace_value(p, name, text):
    lines = _labspec_lines()
    fields = lines[3].split("\t")
    fields[10] = text
    lines[3] = "\t".join(fields)
    return _write(p, name, lines)


AXIS3 = "\t" * 3  # three empty corner cells
BODY = _labspec_lines()[1:]

ERRORS = {
    "missing": (lambda p: p / "nope.txt", ReadError, "no such file"),
    "directory": (lambda p: p, ReadError, "is a folder; use read_many"),
    "empty": (lambda p: _write(p, "e.txt", []), ReadError, "file is empty"),
    "header-only": (lambda p: _write(p, "h.txt", ["#Laser=532"]), ReadError, "no numeric data"),
    "ragged": (_ragged, ReadError, r"line 6 has 750 values where line 2 has 753; .*ragged"),
    "text-line": (
        lambda p: _write(p, "t.txt", [*_labspec_lines()[:4], "pixel lost", *_labspec_lines()[4:]]),
        ReadError,
        "line 5 is text where numbers were expected",
    ),
    "bad-number": (
        lambda p: _replace_value(p, "n.txt", "1.2.3"), ReadError, "line 4 .*not a number"
    ),
    "axis-mismatch": (
        lambda p: _write(p, "a.txt", [AXIS3 + "\t".join(map(str, X)), *_labspec_lines()[1:]]),
        ReadError,
        "axis row .* expected 1 or 2 coordinate columns",
    ),
    "axis-hole": (
        lambda p: _write(p, "x.txt", [_labspec_lines()[0].replace("\t151.0\t", "\t\t"), *BODY]),
        ReadError,
        "axis row .* empty or non-finite",
    ),
    "no-coordinate": (
        lambda p: _write(p, "c.txt", [*_labspec_lines()[:3], _labspec_lines()[3][4:]]),
        ReadError,
        "line 4 has no valid stage coordinate",
    ),
    "repeated-shift": (
        lambda p: _write(p, "r.txt", _labspec_lines(x=np.r_[X[:-1], X[0]])),
        InputError,
        "r.txt: the map's axis has repeated values",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("make", "error", "match"), ERRORS.values(), ids=ERRORS.keys())
def test_errors_are_one_line_library_errors(tmp_path, make, error, match):
    with pytest.raises(error) as info:
        read_map(make(tmp_path))
    assert type(info.value) is error
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(".")
    assert re.search(match, message), message


# --- Renishaw .wdf maps via a fake reader ---------------------------------------------


class _Unit(enum.Enum):
    RamanShift = 1
    Micron = 5
    Millimetres = 8
    Seconds = 12


class _FakeWDF:
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
    fake = type("Fake", (_FakeWDF,), attrs)
    monkeypatch.setitem(sys.modules, "renishawWiRE", types.SimpleNamespace(WDFReader=fake))
    return fake


def _acquired(order):
    """WiRE's raster order: spectra and positions as the file would store them."""
    flat = CUBE.reshape(20, -1)
    coords = _expected_coords()
    return flat[order], coords[order, 0], coords[order, 1]


@pytest.mark.parametrize("descending_y", [False, True])
def test_wdf_map_uses_the_stored_shape(monkeypatch, descending_y):
    order = np.arange(20).reshape(4, 5)[::-1].ravel() if descending_y else np.arange(20)
    flat, xpos, ypos = _acquired(order)
    fake = _fake(
        monkeypatch, count=20, map_shape=(5, 4), xdata=X[::-1], xpos=xpos, ypos=ypos,
        spectra=flat[:, ::-1].reshape(4, 5, -1),
    )  # fmt: skip
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    assert fake.closed is True
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.x, X)
    np.testing.assert_array_equal(m.spectra, CUBE)
    np.testing.assert_array_equal(m.coords, _expected_coords())
    assert m.meta["format"] == "wdf-map"
    assert m.meta["laser_nm"] == 532.0


def test_wdf_interrupted_map_is_padded_with_nan(monkeypatch):
    flat, xpos, ypos = _acquired(np.arange(13))
    _fake(monkeypatch, count=13, map_shape=(5, 4), xdata=X, spectra=flat, xpos=xpos, ypos=ypos)
    with pytest.warns(UserWarning, match="interrupted after 13 of 20 spectra"):
        m = read_map(DATA / "renishaw_graphene_sp.wdf")
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.spectra.reshape(20, -1)[:13], flat)
    assert np.isnan(m.spectra.reshape(20, -1)[13:]).all()
    assert m.meta["measured"] == 13


def test_wdf_series_and_stage_units(monkeypatch):
    flat, xpos, ypos = _acquired(np.arange(6))
    _fake(
        monkeypatch, measurement_type=types.SimpleNamespace(name="Series"), count=6, xdata=X,
        spectra=flat, xpos=xpos / 1000, ypos=ypos / 1000, xpos_unit=_Unit.Millimetres,
    )  # fmt: skip
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    assert m.shape == (6,)
    np.testing.assert_allclose(m.coords, _expected_coords()[:6])
    assert m.meta["stage_unit"] == "µm"


def test_wdf_damaged_reader_is_a_read_error(monkeypatch):
    fake = _fake(monkeypatch, count=20, xdata=X, spectra=np.ones(7))  # 7 values for 20 spectra
    with pytest.raises(ReadError, match="incomplete or damaged"):
        read_map(DATA / "renishaw_graphene_sp.wdf")
    assert fake.closed is True


def test_wdf_single_spectrum_through_the_real_reader():
    m = read_map(DATA / "renishaw_graphene_sp.wdf")
    s = read_spectrum(DATA / "renishaw_graphene_sp.wdf")
    assert m.shape == (1,)
    np.testing.assert_array_equal(m.spectra[0], s.y)


def test_wdf_without_renishawwire(monkeypatch):
    monkeypatch.setitem(sys.modules, "renishawWiRE", None)  # makes the import fail
    with pytest.raises(ReadError, match=r"pip install nmcraman\[io\]"):
        read_map(DATA / "renishaw_graphene_sp.wdf")


# --- read_many: folders and globs ----------------------------------------------------------


def _spectrum_file(folder: Path, name: str, x, y, header=()) -> Path:
    return _write(
        folder, name, [*header, *(f"{float(a)!r}\t{float(b)!r}" for a, b in zip(x, y, strict=True))]
    )


@pytest.fixture
def batch(tmp_path):
    flat = CUBE.reshape(20, -1)
    for i in range(3):
        _spectrum_file(tmp_path, f"s{i}.txt", X, flat[i], header=[f"#X={i}", "#Y=7"])
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / ".hidden.txt").write_text("junk\n")
    (tmp_path / "sub").mkdir()
    return tmp_path


def test_folder_reads_sorted_files_skipping_notes(batch):
    m = read_many(batch)
    assert m.shape == (3,)
    assert m.meta["names"] == ["s0.txt", "s1.txt", "s2.txt"]
    assert m.meta["failed"] == []
    assert m.meta["resampled"] is False
    np.testing.assert_array_equal(m.spectra, CUBE.reshape(20, -1)[:3])
    np.testing.assert_array_equal(m.coords, [[0, 7], [1, 7], [2, 7]])


def test_glob_reads_matching_files(batch):
    m = read_many(str(batch / "s[12].txt"))
    assert m.meta["names"] == ["s1.txt", "s2.txt"]
    with pytest.raises(ReadError, match="no file matches"):
        read_many(str(batch / "*.xyz"))


def test_unreadable_files_are_listed_and_skipped(batch):
    (batch / "bad.txt").write_text("not a spectrum\n")
    with pytest.warns(UserWarning, match="1 of 4 files could not be read"):
        m = read_many(batch)
    assert m.meta["names"] == ["s0.txt", "s1.txt", "s2.txt"]
    assert [name for name, _ in m.meta["failed"]] == ["bad.txt"]
    assert "no numeric data" in m.meta["failed"][0][1]


def test_nothing_readable_is_a_read_error(tmp_path):
    (tmp_path / "a.txt").write_text("nothing\n")
    (tmp_path / "b.txt").write_text("")
    with pytest.raises(ReadError, match=r"none of the 2 files could be read \(a.txt: "):
        read_many(tmp_path)


def test_different_axes_are_resampled_on_the_overlap(tmp_path):
    x2 = np.arange(100.0, 800.0, 0.7)
    _spectrum_file(tmp_path, "a.txt", X, 2.0 * X)
    _spectrum_file(tmp_path, "b.txt", x2, 3.0 * x2 + 1.0)
    m = read_many(tmp_path)
    assert m.meta["resampled"] is True
    np.testing.assert_array_equal(m.x, X[X <= x2[-1]])
    np.testing.assert_allclose(m.spectra, [2.0 * m.x, 3.0 * m.x + 1.0], rtol=1e-12)


def test_disjoint_axes_are_an_input_error(tmp_path):
    _spectrum_file(tmp_path, "a.txt", X, X)
    _spectrum_file(tmp_path, "b.txt", X + 2000.0, X)
    with pytest.raises(InputError, match="ranges do not overlap"):
        read_many(tmp_path)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "nothing_here", "no such file or folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no spectrum files"),
    ],
)
def test_bad_batch_sources(tmp_path, make, match):
    with pytest.raises(ReadError, match=match):
        read_many(make(tmp_path))


# --- into deconvolve_map ------------------------------------------------------------------


def test_deconvolve_map_reads_map_files_and_folders(tmp_path_factory, batch):
    path = _write(tmp_path_factory.mktemp("map"), "map.txt", _labspec_lines())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = deconvolve_map(path, bands="nmc", progress=False)
    ref = deconvolve_map(CUBE, X, bands="nmc", progress=False)
    assert res.shape == (4, 5)
    table = res.table
    np.testing.assert_array_equal(table[["x", "y"]].drop_duplicates(), _expected_coords())
    # Same minimum to the convergence tolerance (ftol 1e-8).
    np.testing.assert_allclose(table["area_pct"], ref.table["area_pct"], atol=0.01)
    names = deconvolve_map(batch, bands="nmc", progress=False).table["name"]
    assert list(dict.fromkeys(names)) == ["s0.txt", "s1.txt", "s2.txt"]
