"""Tests of nmcraman.io._labspec: LabSpec text exports of spectra, maps, lines and series."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import (
    CUBE,
    DATA,
    LABSPEC_HEADER,
    MAP_X,
    X,
    Y,
    expected_coords,
    labspec_lines,
    labspec_table,
    num,
    text_rows,
    write_lines,
)

from nmcraman.io import read_map, read_spectrum

# --- spectra ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_labspec_two_column_export(tmp_path, encoding):
    path = tmp_path / "labspec.txt"
    path.write_bytes(
        (LABSPEC_HEADER + "\n".join(text_rows("\t", x=X[::-1], y=Y[::-1]))).encode(encoding)
    )
    s = read_spectrum(path)
    np.testing.assert_allclose(s.x, X)
    np.testing.assert_allclose(s.y, Y)
    meta = s.meta
    assert (meta["format"], meta["instrument"]) == ("labspec", "LabRAM HR Evol")
    assert meta["laser_nm"] == pytest.approx(632.817)
    assert meta["x_unit_original"] == "cm-1"
    assert (meta["stage_x_um"], meta["stage_y_um"], meta["stage_z_um"]) == (-0.4, -0.6, -326.7)
    assert meta["header"]["Accumulations"] == "2"
    assert meta["header"]["Title"] == "NMC spot"


@pytest.mark.parametrize(
    ("line", "laser"),
    [("#Laser=633", 633.0), ("#Laser (nm)=785.0", 785.0), ("#Laser=532,1", 532.1)],
)
def test_labspec_laser_keys(tmp_path, line, laser):
    path = tmp_path / "labspec.txt"
    path.write_text(line + "\n#Acq. time (s)=10\n" + "\n".join(text_rows("\t")))
    s = read_spectrum(path)
    assert s.meta["laser_nm"] == pytest.approx(laser)
    assert s.meta["format"] == "labspec"


def test_laser_argument_overrides_header(tmp_path):
    path = tmp_path / "labspec.txt"
    path.write_text("#Laser=633\n" + "\n".join(text_rows("\t")))
    assert read_spectrum(path, laser_nm=632.8).meta["laser_nm"] == 632.8


@pytest.mark.parametrize("coords", [[[1.0]], [[12.5, -3.0]]], ids=["index", "xy"])
def test_labspec_single_spectrum_table(tmp_path, coords):
    path = tmp_path / "table.txt"
    path.write_text(labspec_table(coords), encoding="utf-8")
    s = read_spectrum(path)
    np.testing.assert_allclose(s.x, X)
    np.testing.assert_allclose(s.y, Y)
    assert s.meta["format"] == "labspec"
    if len(coords[0]) == 2:
        assert (s.meta["stage_x_um"], s.meta["stage_y_um"]) == (12.5, -3.0)


# --- maps, lines and series -------------------------------------------------------


@pytest.mark.parametrize(
    ("sep", "dec", "corner"),
    [("\t", ".", True), ("\t", ",", True), (";", ",", True), (",", ".", True),
     ("\t", ".", False), (" ", ".", False)],
    ids=["tab", "tab-decimal-comma", "semicolon-decimal-comma", "comma", "tab-no-corner",
         "spaces-no-corner"],
)  # fmt: skip
def test_labspec_map_round_trips_the_cube(tmp_path, sep, dec, corner):
    path = write_lines(tmp_path, "map.txt", labspec_lines(sep=sep, dec=dec, corner=corner))
    m = read_map(path)
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.x, MAP_X)
    np.testing.assert_array_equal(m.spectra, CUBE)
    np.testing.assert_array_equal(m.coords, expected_coords())
    assert m.meta["format"] == "labspec-map"
    assert m.meta["source"] == str(path)


def test_header_lines_are_kept_and_give_the_laser(tmp_path):
    header = ["#Acq. time (s)=\t2", "#Laser (nm)=\t785", "#Instrument=\tLabRAM HR"]
    m = read_map(write_lines(tmp_path, "map.txt", labspec_lines(header=header)))
    assert m.meta["header"] == {
        "Acq. time (s)": "2",
        "Laser (nm)": "785",
        "Instrument": "LabRAM HR",
    }
    assert m.meta["laser_nm"] == 785.0
    assert m.meta["instrument"] == "LabRAM HR"
    assert read_map(tmp_path / "map.txt", laser_nm=633).meta["laser_nm"] == 633.0


def test_one_coordinate_column_is_a_line_or_series(tmp_path):
    lines = ["\t" + "\t".join(num(v) for v in MAP_X)]
    lines += [f"{5.0 * i}\t" + "\t".join(num(v) for v in CUBE[0, i]) for i in range(5)]
    m = read_map(write_lines(tmp_path, "line.txt", lines))
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
