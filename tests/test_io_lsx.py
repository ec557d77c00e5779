"""Tests of nmcraman.io._lsx: Horiba LabSpec XML exports, single spectra and maps."""

from __future__ import annotations

import re

import numpy as np
import pytest
from io_samples import DATA, write

from nmcraman.errors import ReadError
from nmcraman.io import read_map, read_spectrum

SPECTRUM = DATA / "labspec_xml_spectrum_nm.xml"
MAP = DATA / "labspec_xml_map.xml"


@pytest.fixture(autouse=True)
def _data_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))


def test_real_labram_export():
    """A LabRAM XML export (IKZ-Berlin/IKZ_raman test data): compared with a regex parse."""
    path = DATA / "labspec_xml_3611subs.xml"
    text = path.read_text(encoding="utf-8")
    axis = re.search(r'ID="0x7D6CD4DB" Size="1013">([^<]*)<', text).group(1)
    row = re.search(r"<LSX_Row[^>]*>([^<]*)<", text).group(1)
    x, y = np.array(axis.split(), dtype=float), np.array(row.split(), dtype=float)
    s = read_spectrum(path)
    order = np.argsort(x)
    np.testing.assert_array_equal(s.x, x[order])
    np.testing.assert_array_equal(s.y, y[order])
    assert (len(s), s.meta["x_unit_original"]) == (1013, "cm-1")  # axis unit "1/cm"
    assert s.meta["laser_nm"] == 514.532
    assert (s.meta["stage_x_um"], s.meta["stage_y_um"], s.meta["stage_z_um"]) == (
        -3103.5, -1967.3, 370.8,
    )  # fmt: skip
    assert s.meta["header"]["Acq. time (s)"] == "20"
    assert read_map(path).shape == (1,)


def test_spectrum_in_nm_is_converted_with_the_laser_of_the_metadata():
    from make_vendor_files import LASER_NM, lsx_nm_axis, lsx_spectrum

    nm = lsx_nm_axis()
    s = read_spectrum(SPECTRUM)
    assert s.meta["format"] == "labspec-xml"
    assert s.meta["laser_nm"] == LASER_NM  # the numeric value, not the shown "633 "
    assert s.meta["x_unit_original"] == "nm"
    np.testing.assert_allclose(s.x, 1e7 / LASER_NM - 1e7 / nm)
    np.testing.assert_allclose(s.y, lsx_spectrum(nm), rtol=5e-6)  # 6 digits, as LabSpec
    assert (s.meta["stage_x_um"], s.meta["stage_y_um"]) == (-12.5, 3.25)
    assert s.meta["instrument"] == "LabRAM HR Evol"
    assert s.meta["title"] == "synthetic nm spectrum"
    assert s.x[np.argmax(s.y)] == pytest.approx(520.7, abs=0.5)


def test_laser_nm_argument_overrides_the_file():
    s = read_spectrum(SPECTRUM, laser_nm=632.0)
    assert s.meta["laser_nm"] == 632.0


def test_map_pixels_in_row_major_order_with_stage_coordinates():
    from make_vendor_files import MAP_X, MAP_Y, lsx_map_axis, lsx_map_pixel

    m = read_map(MAP)
    assert m.shape == (2, 3)
    assert m.meta["format"] == "labspec-xml-map"
    np.testing.assert_array_equal(m.x, lsx_map_axis()[::-1])  # stored descending
    for r, py in enumerate(MAP_Y):
        for c, px in enumerate(MAP_X):
            np.testing.assert_allclose(m.spectra[r, c], lsx_map_pixel(m.x, px, py), rtol=5e-6)
            assert m.coords[r * 3 + c].tolist() == [px, py]
    with pytest.raises(ReadError, match="use read_map"):
        read_spectrum(MAP)


@pytest.mark.parametrize(("unit", "per_um"), [("µm", 1.0), ("mm", 1e-3), ("nm", 1e3)])
def test_stage_axes_in_other_units_come_out_in_um(tmp_path, unit, per_um):
    from make_vendor_files import MAP_X, MAP_Y, lsx_map, lsx_map_axis, lsx_map_pixel

    rows = [lsx_map_pixel(lsx_map_axis(), px, py) for py in MAP_Y for px in MAP_X]
    text = lsx_map([("X", unit, MAP_X * per_um), ("Y", unit, MAP_Y * per_um)], rows)
    m = read_map(write(tmp_path, f"stage_{per_um:g}.xml", text))
    assert m.shape == (2, 3)
    expected = [[px, py] for py in MAP_Y for px in MAP_X]
    np.testing.assert_allclose(m.coords, expected, rtol=1e-12)


def test_y_as_the_fast_axis_keeps_rows_y_and_columns_x(tmp_path):
    from make_vendor_files import MAP_X, MAP_Y, lsx_map, lsx_map_axis, lsx_map_pixel

    # LabSpec lists the fast stage axis first: Y (ID 0x2) varies along the rows of the file
    rows = [lsx_map_pixel(lsx_map_axis(), px, py) for px in MAP_X for py in MAP_Y]
    text = lsx_map([("Y", "µm", MAP_Y), ("X", "µm", MAP_X)], rows)
    m = read_map(write(tmp_path, "y_fast.xml", text))
    assert m.shape == (MAP_Y.size, MAP_X.size)
    for r, py in enumerate(MAP_Y):
        for c, px in enumerate(MAP_X):  # every pixel's spectrum differs: a swap shows
            np.testing.assert_allclose(m.spectra[r, c], lsx_map_pixel(m.x, px, py), rtol=5e-6)
            assert m.coords[r * MAP_X.size + c].tolist() == [px, py]


def _edit(text: str, pattern: str, repl: str) -> str:
    edited = re.sub(pattern, repl, text, count=1, flags=re.S)
    assert edited != text
    return edited


def test_descending_stage_axes_and_a_line_scan(tmp_path):
    from make_vendor_files import MAP_X, MAP_Y, lsx_map_pixel

    text = MAP.read_text(encoding="utf-8")
    flipped = _edit(text, r'(ID="0x3" Size="3"><LSX Format="6" ID="0x7D6CD4DB" Size="2">)'
                    r"10 12.5", r"\g<1>12.5 10")  # fmt: skip
    m = read_map(write(tmp_path, "flip.xml", flipped))
    # row 0 of the file is now at Y 12.5: rows still ascend in Y
    expected = lsx_map_pixel(m.x, MAP_X[0], MAP_Y[0] + 2.5)
    np.testing.assert_allclose(m.spectra[0, 0], expected, rtol=5e-6)
    assert m.coords[:, 1].tolist() == [10.0] * 3 + [12.5] * 3
    line = _edit(text, r'<LSX Format="9" ID="0x3".*?</LSX></LSX>', "")
    line = _edit(line, r"<LSX_Row[^>]*>[^<]*</LSX_Row>\s*" * 3, "")
    m = read_map(write(tmp_path, "line.xml", line))
    assert m.shape == (3,)
    np.testing.assert_array_equal(m.meta["position"], MAP_X)


def test_absolute_wavenumber_axis(tmp_path):
    text = SPECTRUM.read_text(encoding="utf-8")
    nm = np.array(re.search(r'ID="0x7D6CD4DB" Size="1500">([^<]*)<', text).group(1).split(), float)
    absolute = " ".join(f"{v:.6f}" for v in 1e7 / nm)
    text = re.sub(r'(ID="0x7D6CD4DB" Size="1500">)[^<]*<', rf"\g<1>{absolute}<", text, count=1)
    text = text.replace(">nm</LSX>", ">1/cm abs</LSX>")
    s = read_spectrum(write(tmp_path, "abs.xml", text))
    np.testing.assert_allclose(s.x, 1e7 / 632.817 - 1e7 / nm, atol=1e-5)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t[: len(t) // 2], "not well-formed XML"),
        (lambda t: _edit(t, r"(<LSX_Row[^>]*>)\s*\S+ ", r"\g<1>"), "240 values for 241"),
        (lambda t: _edit(t, r"(<LSX_Row[^>]*>)\s*\S+", r"\g<1>x1"), "text where numbers"),
        (lambda t: _edit(t, r"<LSX_Row[^>]*>[^<]*</LSX_Row>", ""), "3 x 2 positions"),
        (lambda t: _edit(t, r'ID="0x1" ', 'ID="0x9" '), "without a spectral axis"),
        (lambda t: t.replace(">1/cm<", ">eV<"), "unit 'eV' is not supported"),
    ],
    ids=["cut", "short-row", "text", "missing-row", "no-axis", "energy-axis"],
)
def test_damaged_exports_are_one_line_read_errors(tmp_path, edit, message):
    path = write(tmp_path, "bad.xml", edit(MAP.read_text(encoding="utf-8")))
    with pytest.raises(ReadError, match=re.escape(message)) as info:
        read_map(path)
    assert "\n" not in str(info.value)
