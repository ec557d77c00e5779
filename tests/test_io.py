"""Tests of nmcraman.io.read_spectrum on real instrument files and text variants."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from nmcraman.errors import InputError, ReadError
from nmcraman.io import read_spectrum

DATA = Path(__file__).parent / "data"

# A reference spectrum for the text variants: shifts 150-897.5 cm-1 (a Raman axis,
# too coarse to look like nm), intensities with three decimals so that decimal
# marks matter.
X = 150.0 + 2.5 * np.arange(300)
Y = np.round(1000.0 + 300.0 * np.sin(X / 40.0) + X / 7.0, 3)


def _witec_columns() -> tuple[np.ndarray, np.ndarray]:
    """Wavelength (nm) and counts of the WITec Si file, parsed with numpy, not the reader."""
    return np.loadtxt(DATA / "witec_ascii_Si-wafer.txt", delimiter=",", skiprows=17, unpack=True)


# The Si wafer file: its laser line, saturated over 8 detector pixels (532.12 to 532.70
# nm), is centred at the middle of that run, 532.41 nm, to half a pixel (0.04 nm).
# Its pixels are 0.083 nm wide, 2.7 cm-1 at the Si line near 547 nm.
_NM, _COUNTS = _witec_columns()
WITEC_LASER_NM = float(_NM[_COUNTS == 65535].mean())
WITEC_PIXEL_CM1 = 1e7 / 547.4 - 1e7 / (547.4 + np.median(np.diff(_NM)))
SI_CM1 = 520.7  # the Si phonon at room temperature


def _vertex(spectrum, centre: float, half_width: float) -> float:
    """Peak position between grid points: vertex of the parabola through the top three."""
    top = np.flatnonzero(spectrum.x == _peak(spectrum, centre, half_width))[0]
    a, b, _ = np.polyfit(spectrum.x[top - 1 : top + 2], spectrum.y[top - 1 : top + 2], 2)
    return -b / (2 * a)


def _peak(spectrum, centre: float, half_width: float) -> float:
    """Shift of the highest point within centre +- half_width (not at the window edge)."""
    inside = np.flatnonzero(np.abs(spectrum.x - centre) < half_width)
    top = inside[np.argmax(spectrum.y[inside])]
    assert inside[0] < top < inside[-1], f"maximum at the window edge near {centre}"
    return float(spectrum.x[top])


# --- real files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "n", "first", "last"),
    [
        ("polystyrene_horiba633.txt", "text", 6034, 101.384, 4499.54),
        ("carbon_DW38C_pos1.txt", "text", 1600, -94.682, 3651.33),
        ("polystyrene_bwtek532.txt", "bwtek", 2048 - 247, 145.99, 4010.28),
        ("thermo_dxr_sucrose780.csv", "thermo-csv", 1753, 102.0205, 3480.694),
    ],
)
def test_real_text_files_points_and_range(name, fmt, n, first, last):
    s = read_spectrum(DATA / name)
    assert s.meta["format"] == fmt
    assert s.meta["source"] == str(DATA / name)
    assert len(s) == n
    assert s.x[0] == pytest.approx(first, abs=0.01)
    assert s.x[-1] == pytest.approx(last, abs=0.01)
    assert np.all(np.diff(s.x) > 0)


@pytest.mark.parametrize(
    "band", [619, 793, 999, 1028, 1155, 1198, 1582, 1601, 2911, 3054], ids=lambda b: f"{b}cm-1"
)
def test_horiba_polystyrene_bands_as_found_in_file(band):
    s = read_spectrum(DATA / "polystyrene_horiba633.txt")
    assert _peak(s, band, 8) == pytest.approx(band, abs=1.5)


def test_horiba_polystyrene_axis_is_non_uniform():
    step = np.diff(read_spectrum(DATA / "polystyrene_horiba633.txt").x)
    # glue junctions make some steps tiny; the rest run from ~0.5 to ~1.1
    assert step.min() < 0.1
    assert 1.05 < step.max() < 1.15


def test_carbon_steps_and_bands():
    s = read_spectrum(DATA / "carbon_DW38C_pos1.txt")
    step = np.diff(s.x)
    assert step.min() == pytest.approx(1.84, abs=0.02)
    assert step.max() == pytest.approx(2.96, abs=0.02)
    assert np.median(step) == pytest.approx(2.31, abs=0.01)
    assert 1330 < _peak(s, 1345, 30) < 1355
    assert 1575 < _peak(s, 1592, 30) < 1605


def test_thermo_csv_uniform_step():
    step = np.diff(read_spectrum(DATA / "thermo_dxr_sucrose780.csv").x)
    assert step == pytest.approx(np.full(step.size, 1.9285), abs=0.001)


def test_bwtek_metadata_and_default_column():
    s = read_spectrum(DATA / "polystyrene_bwtek532.txt")
    assert s.meta["laser_nm"] == pytest.approx(532.02)
    assert s.meta["instrument"] == "B&W Tek BTC162E-532S-SYS"
    assert s.meta["y_column"] == "Dark Subtracted #1"
    assert s.meta["dropped_rows"] == 247
    assert s.meta["header"]["coefs_a1"] == "0,0869535306648179"
    # first row with a Raman shift is pixel 109: 145.99 cm-1, dark-subtracted 5655.2857
    assert s.y[0] == pytest.approx(5655.2857)
    assert _peak(s, 1000, 10) == pytest.approx(1000.36, abs=0.01)


@pytest.mark.parametrize("column", ["Raw data #1", "raw data #1", 6])
def test_bwtek_column_override(column):
    s = read_spectrum(DATA / "polystyrene_bwtek532.txt", column=column)
    assert s.meta["y_column"] == "Raw data #1"
    assert s.y[0] == pytest.approx(6716.0)


def test_witec_nm_axis_converted_with_laser():
    s = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532)
    assert (s.meta["format"], s.meta["instrument"]) == ("witec", "WITec")
    assert s.meta["x_unit_original"] == "nm"
    assert s.meta["laser_nm"] == 532.0
    assert len(s) == 1600
    assert s.x[0] == pytest.approx(1e7 / 532 - 1e7 / 530.7816803)
    assert s.x[-1] == pytest.approx(1e7 / 532 - 1e7 / 661.8723782)
    # every point: shift = 1e7 / laser - 1e7 / wavelength (docs/io.rst), counts as stored
    np.testing.assert_allclose(s.x, 1e7 / 532 - 1e7 / _NM, rtol=1e-12)
    np.testing.assert_array_equal(s.y, _COUNTS)
    # saturated laser line kept in y and counted; it must land near 0 cm-1
    assert s.meta["saturated"] == 8
    assert np.count_nonzero(s.y == 65535) == 8
    assert np.all(np.abs(s.x[s.y == 65535]) < 30)
    # Si line: with the nominal 532 nm every shift is 1e7 / 532 - 1e7 / 532.41 = 14.4
    # cm-1 higher than from the file's own laser line, so the Si line is expected at
    # 520.7 + 14.4 = 535.1; it sits at 530.8, 4.3 cm-1 short of that (see the next test).
    laser_offset = 1e7 / 532 - 1e7 / WITEC_LASER_NM
    assert _vertex(s, 530, 40) == pytest.approx(SI_CM1 + laser_offset, abs=2 * WITEC_PIXEL_CM1)
    assert s.meta["stage_x_um"] == pytest.approx(2.3283064365387e-8)
    assert s.meta["header"]["SizeGraph"] == "1600"


def test_witec_shift_from_the_file_s_own_laser_line_puts_si_at_520_7():
    """With the laser wavelength read off the file's own (saturated) laser line, the
    laser lands at 0 cm-1 and the Si phonon at 520.7 cm-1 within 2 detector pixels.

    Two pixels (5.5 cm-1) is the order of the wavelength error of a spectrograph axis not
    calibrated on a lamp, and the file has no calibration record. This axis is 0.8 %
    short in dispersion: the Si line sits 15.06 nm above the laser line where 520.7 cm-1
    needs 15.18 nm, so it comes out at 516.4 cm-1, 1.6 pixels low. A reader that got the
    conversion wrong (units, sign, the laser ignored) misses by far more.
    """
    s = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=WITEC_LASER_NM)
    assert np.abs(s.x[s.y == 65535]).max() < 4.5 * WITEC_PIXEL_CM1  # 8 pixels around 0
    assert _vertex(s, 520, 40) == pytest.approx(SI_CM1, abs=2 * WITEC_PIXEL_CM1)


def test_witec_laser_from_header(tmp_path):
    text = (DATA / "witec_ascii_Si-wafer.txt").read_text(encoding="utf-8")
    path = tmp_path / "witec.txt"
    path.write_text(text.replace("XAxisUnit = nm", "XAxisUnit = nm\nExcitationWavelength = 532"))
    s = read_spectrum(path)
    np.testing.assert_allclose(
        s.x, read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532).x
    )
    assert s.meta["laser_nm"] == 532.0


# --- Renishaw .wdf (renishawWiRE: the io extra, and the test extra so these run) ---


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
        assert _peak(s, band, 15) == pytest.approx(band, abs=2)


def test_wdf_polymer_axis_is_non_uniform():
    step = np.diff(read_spectrum(DATA / "renishaw_polymer_532nm.wdf").x)
    assert (step.min(), step.max()) == pytest.approx((1.30, 1.92), abs=0.01)


# --- text variants -------------------------------------------------------------------


def _rows(sep: str, decimal: str = ".", x=X, y=Y) -> list[str]:
    rows = [f"{float(a)!r}{sep}{float(b)!r}" for a, b in zip(x, y, strict=True)]
    return [r.replace(".", ",") for r in rows] if decimal == "," else rows


TEXT_VARIANTS = {
    "tab": "\n".join(_rows("\t")),
    "comma": "\n".join(_rows(",")),
    "comma-space": "\n".join(_rows(", ")),
    "semicolon": "\n".join(_rows(";")),
    "spaces": "\n".join(_rows("   ")),
    "semicolon-decimal-comma": "\n".join(_rows(";", ",")),
    "tab-decimal-comma": "\n".join(_rows("\t", ",")),
    "spaces-decimal-comma": "\n".join(_rows(" ", ",")),
    "exponent-decimal-comma": "\n".join(
        f"{a:.6e};{b:.6e}".replace(".", ",") for a, b in zip(X, Y, strict=True)
    ),
    "crlf": "\r\n".join(_rows("\t")) + "\r\n",
    "cr-only": "\r".join(_rows("\t")),
    "descending": "\n".join(_rows("\t", x=X[::-1], y=Y[::-1])),
    "trailing-separator": "\n".join(r + ";" for r in _rows(";")),
    "comments": "# exported by hand\n% another comment\n// and another\n\n"
    + "\n".join([*_rows("\t")[:100], "# a comment inside the data", *_rows("\t")[100:]]),
    "text-header": "Sample NMC811 spot 3\nDate: 2024-05-01\nRaman shift (cm-1)\tIntensity\n"
    + "\n".join(_rows("\t")),
    "leading-spaces": "\n".join(" " + r for r in _rows(", ")),
    "tab-indented": "\n".join("\t" + r for r in _rows("\t")),
}


@pytest.mark.parametrize("text", TEXT_VARIANTS.values(), ids=TEXT_VARIANTS.keys())
def test_text_variants_give_same_spectrum(tmp_path, text):
    path = tmp_path / "spectrum.txt"
    path.write_bytes(text.encode())
    s = read_spectrum(path)
    np.testing.assert_allclose(s.x, X, rtol=1e-12)
    np.testing.assert_allclose(s.y, Y, rtol=1e-6)
    assert s.meta["format"] in {"text", "thermo-csv"}


@pytest.mark.parametrize(
    ("encoding", "bom"), [("latin-1", b""), ("cp1252", b""), ("utf-8", b"\xef\xbb\xbf")]
)
def test_header_encodings(tmp_path, encoding, bom):
    text = "# Échantillon NMC à 25 °C, spot µ-3\nRaman shift (cm⁻¹)\tIntensité\n"
    text = text.replace("⁻¹", "-1") if encoding != "utf-8" else text
    path = tmp_path / "enc.txt"
    path.write_bytes(bom + (text + "\n".join(_rows("\t"))).encode(encoding))
    s = read_spectrum(path)
    np.testing.assert_allclose(s.x, X)
    assert s.meta["x_unit_original"] == "cm-1"
    assert s.meta["columns"][1] == "Intensité"


def test_reversed_real_file_reads_identically(tmp_path):
    lines = (DATA / "polystyrene_horiba633.txt").read_bytes().splitlines()
    path = tmp_path / "reversed.txt"
    path.write_bytes(b"\r\n".join(lines[::-1]))
    a = read_spectrum(DATA / "polystyrene_horiba633.txt")
    b = read_spectrum(path)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)


def test_named_columns_select_by_name_and_index(tmp_path):
    rows = [f"{a}\t{b}\t{b * 2}" for a, b in zip(X, Y, strict=True)]
    path = tmp_path / "three.txt"
    path.write_text("Raman shift (cm-1)\tRaw\tCorrected\n" + "\n".join(rows))
    np.testing.assert_allclose(read_spectrum(path, column="Corrected").y, 2 * Y)
    np.testing.assert_allclose(read_spectrum(path, column=1).y, Y)
    np.testing.assert_allclose(read_spectrum(path, column=-1).y, 2 * Y)


# --- Horiba LabSpec ------------------------------------------------------------------

LABSPEC_HEADER = (
    "#Acq. time (s)=\t60\n#Accumulations=\t2\n#Detector temperature (°C)=\t-70.13\n"
    "#Instrument=\tLabRAM HR Evol\n#Grating=\t600 gr/mm\n#Laser (nm)=\t632.817 \n"
    "#Laser Pol. (°)=\t45.008\n#X (µm)=\t-0.4\n#Y (µm)=\t-0.6\n#Z (µm)=\t-326.7\n"
    "#Title=\tNMC spot\n#AxisType[0]=Intens\n#AxisUnit[0]=Cnt\n"
    "#AxisType[1]=Spectr\n#AxisUnit[1]=1/cm\n"
)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_labspec_two_column_export(tmp_path, encoding):
    path = tmp_path / "labspec.txt"
    path.write_bytes(
        (LABSPEC_HEADER + "\n".join(_rows("\t", x=X[::-1], y=Y[::-1]))).encode(encoding)
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
    path.write_text(line + "\n#Acq. time (s)=10\n" + "\n".join(_rows("\t")))
    s = read_spectrum(path)
    assert s.meta["laser_nm"] == pytest.approx(laser)
    assert s.meta["format"] == "labspec"


def test_laser_argument_overrides_header(tmp_path):
    path = tmp_path / "labspec.txt"
    path.write_text("#Laser=633\n" + "\n".join(_rows("\t")))
    assert read_spectrum(path, laser_nm=632.8).meta["laser_nm"] == 632.8


def _labspec_table(coords: list[list[float]]) -> str:
    lead = "\t" * len(coords[0])
    axis = lead + "\t".join(repr(float(v)) for v in X)
    rows = [
        "\t".join(repr(c) for c in xy) + "\t" + "\t".join(repr(float(v)) for v in Y)
        for xy in coords
    ]
    return LABSPEC_HEADER + "\n".join([axis, *rows])


@pytest.mark.parametrize("coords", [[[1.0]], [[12.5, -3.0]]], ids=["index", "xy"])
def test_labspec_single_spectrum_table(tmp_path, coords):
    path = tmp_path / "table.txt"
    path.write_text(_labspec_table(coords), encoding="utf-8")
    s = read_spectrum(path)
    np.testing.assert_allclose(s.x, X)
    np.testing.assert_allclose(s.y, Y)
    assert s.meta["format"] == "labspec"
    if len(coords[0]) == 2:
        assert (s.meta["stage_x_um"], s.meta["stage_y_um"]) == (12.5, -3.0)


# --- absolute wavelength axes ---------------------------------------------------------


def _witec_rows_as_plain_text(tmp_path, header: str = "") -> Path:
    lines = (DATA / "witec_ascii_Si-wafer.txt").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "nm.txt"
    path.write_text(header + "\n".join(lines[lines.index("nm,CCD cts") + 1 :]))
    return path


def test_unlabelled_nm_axis_is_converted_when_laser_given(tmp_path):
    path = _witec_rows_as_plain_text(tmp_path)
    with pytest.warns(UserWarning, match="looks like wavelength in nm"):
        s = read_spectrum(path, laser_nm=532)
    ref = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532)
    np.testing.assert_allclose(s.x, ref.x)
    np.testing.assert_allclose(s.y, ref.y)
    assert s.meta["x_unit_inferred"] is True


def test_header_saying_nm_is_converted(tmp_path):
    path = _witec_rows_as_plain_text(tmp_path, "Wavelength (nm), Counts\n")
    s = read_spectrum(path, laser_nm=532)
    assert s.meta["x_unit_original"] == "nm"
    np.testing.assert_allclose(s.x, 1e7 / 532 - 1e7 / _NM, rtol=1e-12)


def test_header_saying_cm1_disables_nm_guess(tmp_path):
    x = np.linspace(400.0, 700.0, 1500)  # fine step inside 190-1100: would look like nm
    path = tmp_path / "fine.txt"
    path.write_text("Raman shift (cm-1)\tI\n" + "\n".join(_rows("\t", x=x, y=np.sin(x))))
    np.testing.assert_allclose(read_spectrum(path).x, x)


# --- errors --------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _three_columns(tmp_path):
    return _write(
        tmp_path, "three.txt", "\n".join(f"{a}\t{b}\t{b}" for a, b in zip(X, Y, strict=True))
    )


def _truncated_wdf(tmp_path):
    return _write(tmp_path, "cut.wdf", (DATA / "renishaw_graphene_sp.wdf").read_bytes()[:40000])


def _witec_without_laser(tmp_path):
    return DATA / "witec_ascii_Si-wafer.txt"


def _labspec_map(tmp_path):
    return _write(tmp_path, "map.txt", _labspec_table([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))


ERROR_CASES = {
    "missing": (lambda p: p / "nope.txt", "no such file"),
    "directory": (lambda p: p, "is a directory"),
    "empty": (lambda p: _write(p, "e.txt", b""), "file is empty"),
    "blank": (lambda p: _write(p, "b.txt", "\r\n  \n\t\n"), "file is empty"),
    "header-only": (
        lambda p: _write(p, "h.txt", "#Laser=633\nRaman shift\tIntensity\n"),
        "no numeric data",
    ),
    "one-column": (lambda p: _write(p, "one.txt", "\n".join(map(str, X))), "only one column"),
    "text-in-data": (
        lambda p: _write(p, "t.txt", "\n".join([*_rows("\t")[:50], "160.5\tsaturated"])),
        "line 51 is text where numbers",
    ),
    "ragged": (
        lambda p: _write(p, "r.txt", "\n".join([*_rows("\t"), "1\t2\t3"])),
        "same number of numeric columns",
    ),
    "binary-nul": (
        lambda p: _write(p, "bin.txt", (DATA / "thermo_dxr_sucrose780.spc").read_bytes()),
        "binary file (NUL bytes)",
    ),
    "spc": (lambda p: DATA / "thermo_dxr_sucrose780.spc", "Galactic SPC is not supported"),
    "undecodable": (
        lambda p: _write(
            p, "u.txt", np.random.default_rng(0).integers(1, 256, 3000, np.uint8).tobytes()
        ),
        "binary or undecodable",
    ),
    "three-columns": (_three_columns, "pass column="),
    "nm-axis-no-laser": (
        lambda p: _witec_rows_as_plain_text(p),
        "looks like absolute wavelength in nm; pass laser_nm=",
    ),
    "nm-header-no-laser": (
        lambda p: _witec_rows_as_plain_text(p, "Wavelength (nm), Counts\n"),
        "pass laser_nm=",
    ),
    "witec-no-laser": (_witec_without_laser, "pass laser_nm="),
    "unsupported-unit": (
        lambda p: _write(
            p, "ev.txt", "[Header]\nXAxisUnit = eV\n[Data]\nE,I\neV,cts\n" + "\n".join(_rows(","))
        ),
        "unit 'eV' is not supported",
    ),
    "labspec-map": (_labspec_map, "3 spectra (a map or series); use read_map"),
    "pixel-axis": (
        lambda p: _write(
            p, "px.txt", "Pixel;Counts\n" + "\n".join(f"{i};{i % 9}" for i in range(50))
        ),
        "unit 'pixel' is not supported",
    ),
    "truncated-wdf": (_truncated_wdf, "truncated or damaged"),
    "text-named-wdf": (
        lambda p: _write(p, "fake.wdf", "\n".join(_rows("\t"))),
        "no WDF1 signature",
    ),
}


@pytest.mark.parametrize(("make", "message"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_read_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ReadError, match=re.escape(message)) as info:
        read_spectrum(path)
    assert isinstance(info.value, OSError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("\n".join([*_rows("\t")[:20], "200.1\tNaN", *_rows("\t")[21:]]), "NaN or infinite"),
        ("\n".join([*_rows("\t"), _rows("\t")[0]]), "repeated value"),
        ("\n".join(f"{a}\t5" for a in X), "constant"),
        ("\n".join(_rows("\t")[:5]), "only 5 points"),
        ("100\t1\n100\t2\n" * 10, "repeated value"),
    ],
    ids=["nan", "duplicate", "constant", "too-short", "duplicate-x-block"],
)
def test_invalid_spectra_raise_input_error_naming_the_file(tmp_path, content, message):
    path = _write(tmp_path, "bad_values.txt", content)
    with pytest.raises(InputError, match=message) as info:
        read_spectrum(path)
    assert str(info.value).startswith("bad_values.txt: ")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"laser_nm": -532}, "laser_nm must be"),
        ({"laser_nm": "green"}, "laser_nm must be"),
        ({"laser_nm": float("nan")}, "laser_nm must be"),
        ({"column": "nope"}, "no column named 'nope'"),
        ({"column": 0}, "is the x axis"),
        ({"column": 7}, "out of range"),
        ({"column": 1.5}, "column must be a name"),
    ],
)
def test_bad_options_raise_input_error(tmp_path, kwargs, message):
    path = _write(tmp_path, "s.txt", "shift\tintensity\n" + "\n".join(_rows("\t")))
    with pytest.raises(InputError, match=message):
        read_spectrum(path, **kwargs)


def test_column_name_without_header_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no column names; pass column= as an index"):
        read_spectrum(_three_columns(tmp_path), column="Intensity")


def test_wdf_without_renishawwire(monkeypatch):
    monkeypatch.setitem(sys.modules, "renishawWiRE", None)  # makes the import fail
    with pytest.raises(
        ReadError, match=r"pip install nmcraman\[io\] \(or pip install renishawWiRE"
    ):
        read_spectrum(DATA / "renishaw_graphene_sp.wdf")


class _FakeWDF:
    """Stands in for renishawWiRE.WDFReader; class attributes set per test."""

    closed = False

    def __init__(self, path):
        pass

    def close(self):
        type(self).closed = True


class _FakeMap(_FakeWDF):
    measurement_type = types.SimpleNamespace(name="Mapping")
    count = 100
    spectra = np.ones((10, 10, 1015))


class _FakeNoAxis(_FakeWDF):
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
