"""Tests of nmcraman.io._jasco: JASCO Spectra Manager text exports (header, XYDATA, sections)."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import DATA, write

from nmcraman.errors import ReadError
from nmcraman.io import read_map, read_spectrum

SAMPLE = DATA / "jasco_synthetic_raman.csv"


def _truth():
    from make_vendor_files import jasco_axis, jasco_counts

    x = jasco_axis()
    return x, jasco_counts(x)


@pytest.fixture(autouse=True)
def _data_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))


def test_real_nrs5100_export():
    """A JASCO NRS-5100 Raman export (JASCOFiles.jl fixture, anonymised by its authors)."""
    path = DATA / "jasco_nrs5100_raman.csv"
    lines = path.read_bytes().decode().splitlines()
    start = lines.index("XYDATA") + 1
    x, y = np.loadtxt(lines[start : start + 1024], delimiter=",", unpack=True)
    s = read_spectrum(path)
    assert s.meta["format"] == "jasco"
    np.testing.assert_array_equal(s.x, x)  # stored ascending, 545.8049 to 1597.9994
    np.testing.assert_array_equal(s.y, y)
    assert (s.x[0], s.x[-1], s.y[0]) == (545.8049, 1597.9994, 199.0)
    assert s.meta["laser_nm"] == 532.05
    assert s.meta["instrument"] == "JASCO NRS-5100"
    info = s.meta["sections"]["Measurement Information"]
    assert (info["Exposure"], info["Accumulation"], info["Shift"]) == ("60 sec", "2", "-2.19 cm-1")
    assert s.meta["sections"]["Detailed Information"]["Data points"] == "1024"


def test_csv_export_with_trailing_sections():
    x, y = _truth()
    s = read_spectrum(SAMPLE)
    assert s.meta["format"] == "jasco"
    np.testing.assert_array_equal(s.x, x)
    np.testing.assert_array_equal(s.y, y)
    assert s.meta["title"] == "Synthetic Raman"
    assert s.meta["header"]["DATA TYPE"] == "RAMAN SPECTRUM"
    assert s.meta["header"]["NPOINTS"] == "700"
    assert s.meta["x_unit_original"] == "cm-1"  # XUNITS 1/CM
    assert s.meta["laser_nm"] == 532.08  # from [Measurement Information]
    assert s.meta["instrument"] == "JASCO NRS-4500"
    sections = s.meta["sections"]
    assert list(sections) == ["Comments", "Detailed Information", "Measurement Information"]
    assert sections["Measurement Information"]["Resolution"] == "1.05 cm-1, 1.02 cm-1/pixel"


def _as_tab_export(text: str) -> str:
    head, _, rest = text.partition("XYDATA")
    data, _, tail = rest.partition("\r\n\r\n")
    head = "\r\n".join(line.replace(",", "\t", 1) for line in head.split("\r\n"))
    data = "\r\n".join(line.replace(",", "\t") for line in data.split("\r\n"))
    return f"{head}XYDATA{data}\r\n\r\n{tail}"


@pytest.mark.parametrize("variant", ["tab", "no-sections", "no-blank-line", "renamed"])
def test_layout_variants(tmp_path, variant):
    text = SAMPLE.read_bytes().decode()
    if variant == "tab":
        text = _as_tab_export(text)
    elif variant == "no-sections":
        text = text[: text.index("\r\n\r\n#####")]
    elif variant == "no-blank-line":
        text = text.replace("\r\n\r\n#####", "\r\n#####")
    s = read_spectrum(write(tmp_path, "spectrum.txt" if variant == "renamed" else "j.txt", text))
    x, y = _truth()
    assert s.meta["format"] == "jasco"
    np.testing.assert_array_equal(s.x, x)
    np.testing.assert_array_equal(s.y, y)
    assert read_map(write(tmp_path, "m.csv", text)).shape == (1,)


def test_nm_axis_is_converted_with_the_laser_line(tmp_path):
    text = SAMPLE.read_bytes().decode().replace("XUNITS,1/CM", "XUNITS,NANOMETERS")
    nm = np.linspace(540.0, 560.0, 700)
    head, _, rest = text.partition("XYDATA\r\n")
    rows, _, tail = rest.partition("\r\n\r\n")
    counts = [row.split(",")[1] for row in rows.split("\r\n")]
    rows = "\r\n".join(f"{a:.4f},{b}" for a, b in zip(nm, counts, strict=True))
    s = read_spectrum(write(tmp_path, "nm.csv", f"{head}XYDATA\r\n{rows}\r\n\r\n{tail}"))
    np.testing.assert_allclose(s.x, 1e7 / 532.08 - 1e7 / np.round(nm, 4))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("NPOINTS,700", "NPOINTS,800"), "NPOINTS says 800 points"),
        (lambda t: t.replace("\r\n600.", "\r\nabc.", 1), "is text where numbers were expected"),
        (lambda t: t[: t.index("XYDATA") + 6], "no numeric data"),
    ],
    ids=["truncated", "text-in-data", "no-rows"],
)
def test_damaged_exports_are_one_line_read_errors(tmp_path, edit, message):
    path = write(tmp_path, "bad.csv", edit(SAMPLE.read_bytes().decode()))
    with pytest.raises(ReadError, match=message) as info:
        read_spectrum(path)
    assert "\n" not in str(info.value)
