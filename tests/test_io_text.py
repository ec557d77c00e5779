"""Tests of nmcraman.io._text and ._columns: text columns, separators, encodings, names."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import DATA, X, Y, peak, text_rows, three_columns

from nmcraman.errors import InputError
from nmcraman.io import read_spectrum

# --- real plain-text files --------------------------------------------------------


@pytest.mark.parametrize(
    "band", [619, 793, 999, 1028, 1155, 1198, 1582, 1601, 2911, 3054], ids=lambda b: f"{b}cm-1"
)
def test_horiba_polystyrene_bands_as_found_in_file(band):
    s = read_spectrum(DATA / "polystyrene_horiba633.txt")
    assert peak(s, band, 8) == pytest.approx(band, abs=1.5)


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
    assert 1330 < peak(s, 1345, 30) < 1355
    assert 1575 < peak(s, 1592, 30) < 1605


def test_thermo_csv_uniform_step():
    step = np.diff(read_spectrum(DATA / "thermo_dxr_sucrose780.csv").x)
    assert step == pytest.approx(np.full(step.size, 1.9285), abs=0.001)


# --- text variants ----------------------------------------------------------------

TEXT_VARIANTS = {
    "tab": "\n".join(text_rows("\t")),
    "comma": "\n".join(text_rows(",")),
    "comma-space": "\n".join(text_rows(", ")),
    "semicolon": "\n".join(text_rows(";")),
    "spaces": "\n".join(text_rows("   ")),
    "semicolon-decimal-comma": "\n".join(text_rows(";", ",")),
    "tab-decimal-comma": "\n".join(text_rows("\t", ",")),
    "spaces-decimal-comma": "\n".join(text_rows(" ", ",")),
    "exponent-decimal-comma": "\n".join(
        f"{a:.6e};{b:.6e}".replace(".", ",") for a, b in zip(X, Y, strict=True)
    ),
    "crlf": "\r\n".join(text_rows("\t")) + "\r\n",
    "cr-only": "\r".join(text_rows("\t")),
    "descending": "\n".join(text_rows("\t", x=X[::-1], y=Y[::-1])),
    "trailing-separator": "\n".join(r + ";" for r in text_rows(";")),
    "comments": "# exported by hand\n% another comment\n// and another\n\n"
    + "\n".join([*text_rows("\t")[:100], "# a comment inside the data", *text_rows("\t")[100:]]),
    "text-header": "Sample NMC811 spot 3\nDate: 2024-05-01\nRaman shift (cm-1)\tIntensity\n"
    + "\n".join(text_rows("\t")),
    "leading-spaces": "\n".join(" " + r for r in text_rows(", ")),
    "tab-indented": "\n".join("\t" + r for r in text_rows("\t")),
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
    path.write_bytes(bom + (text + "\n".join(text_rows("\t"))).encode(encoding))
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


def test_column_name_without_header_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no column names; pass column= as an index"):
        read_spectrum(three_columns(tmp_path), column="Intensity")


# --- columns named in a header line ---------------------------------------------------


@pytest.mark.parametrize(
    ("header", "sep", "order"),
    [
        ("Intensity (counts)\tRaman Shift (cm-1)", "\t", "yx"),
        ("Raman Shift (cm-1)\tIntensity (counts)", "\t", "xy"),
        ("Counts;Wavenumber (cm-1)", ";", "yx"),
        ("cts,Shift", ",", "yx"),
        ("Signal\tcm-1", "\t", "yx"),
        ("Intensity\tX", "\t", "yx"),
        ("Background\tIntensity (a.u.)\tRaman shift (1/cm)", "\t", "byx"),
    ],
)
def test_named_columns_give_x_and_intensity_in_any_order(tmp_path, header, sep, order):
    values = {"x": X, "y": Y, "b": np.full(X.size, 7.0)}
    rows = [sep.join(repr(float(values[c][i])) for c in order) for i in range(X.size)]
    path = tmp_path / "named.txt"
    path.write_text(header + "\n" + "\n".join(rows))
    s = read_spectrum(path)
    np.testing.assert_array_equal(s.x, X)
    np.testing.assert_array_equal(s.y, Y)


def test_named_x_column_is_not_an_intensity_column(tmp_path):
    rows = [f"{b}\t{a}" for a, b in zip(X, Y, strict=True)]
    path = tmp_path / "named.txt"
    path.write_text("Intensity (counts)\tRaman Shift (cm-1)\n" + "\n".join(rows))
    np.testing.assert_array_equal(read_spectrum(path, column=0).y, Y)
    with pytest.raises(InputError, match="is out of range or is the x axis"):
        read_spectrum(path, column=1)


@pytest.mark.parametrize("header", ["", "A\tB\n"], ids=["no header", "names say nothing"])
def test_unnamed_swapped_columns_say_which_column_was_taken_as_x(tmp_path, header):
    rows = [f"{b}\t{a}" for a, b in zip(X, np.round(Y, 0), strict=True)]
    path = tmp_path / "swapped.txt"
    path.write_text(header + "\n".join(rows))
    with pytest.raises(InputError, match=r"repeated value.*x was taken from the first column"):
        read_spectrum(path)
