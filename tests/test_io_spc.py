"""Tests of nmcraman.io._spc: Galactic SPC against the real files' twins, and the spec's cases."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from io_samples import DATA, write

from nmcraman.errors import ReadError
from nmcraman.io import read_map, read_spectrum

# --- the real files against their twins --------------------------------------------------


def test_thermo_integer_spc_matches_its_csv_twin():
    """32-bit integer y with fexp 11 (subfile exponent 0): y = int * 2**(11 - 32)."""
    spc = read_spectrum(DATA / "thermo_dxr_sucrose780.spc")
    csv = read_spectrum(DATA / "thermo_dxr_sucrose780.csv")
    assert spc.meta["format"] == "spc"
    assert spc.meta["title"] == "bogus DXR sucrose 780 for installer testing"
    assert len(spc) == len(csv) == 1753
    # the CSV prints 7 significant digits: x to 5e-4 cm-1, y to a few ppm
    np.testing.assert_allclose(spc.x, csv.x, rtol=0, atol=6e-4)
    np.testing.assert_allclose(spc.y, csv.y, rtol=1e-5)


def test_renishaw_float_spc_matches_its_wdf_twin():
    """float32 y on the uniform grid WiRE resampled the non-uniform .wdf axis onto."""
    spc = read_spectrum(DATA / "renishaw_polymer_532nm_export.spc")
    wdf = read_spectrum(DATA / "renishaw_polymer_532nm.wdf")
    assert spc.meta["laser_nm"] == 532.0  # "Laser=Laser: 532 nm edge" in the log block
    assert spc.meta["header"]["Measurement_type"] == "SingleScan"
    assert (spc.x[0], spc.x[-1]) == pytest.approx((wdf.x[0], wdf.x[-1]), abs=1e-4)
    assert np.ptp(np.diff(spc.x)) < 1e-3  # evenly spaced, where the .wdf axis is not
    twin = np.interp(spc.x, wdf.x, wdf.y)
    assert np.max(np.abs(spc.y - twin)) < 3e-5 * np.max(wdf.y)


def test_spc_is_recognised_by_content_whatever_its_name(tmp_path):
    path = write(tmp_path, "export.dat", (DATA / "thermo_dxr_sucrose780.spc").read_bytes())
    assert read_spectrum(path).meta["format"] == "spc"


# --- files written from the specification -----------------------------------------------

TSPREC, TMULTI, TXYXYS, TXVALS = 0x01, 0x04, 0x40, 0x80


def spc_file(
    ys,
    *,
    x=None,
    first=1000.0,
    last=100.0,
    flags=0,
    fexp=-128,
    subexps=None,
    xtype=13,
    order="<",
    version=0x4B,
):
    """SPC bytes as the 1996 specification lays them out (header, x, subfiles)."""
    points = len(ys[0])
    head = bytearray(512)
    struct.pack_into(
        order + "BBBbIddI", head, 0, flags, version, 0, fexp, points, first, last, len(ys)
    )
    head[28] = xtype
    body = bytes(head)
    if flags & TXVALS and not flags & TXYXYS:
        body += np.asarray(x[0], dtype=order + "f4").tobytes()
    for k, y in enumerate(ys):
        exp = subexps[k] if subexps else 0
        body += struct.pack(order + "BbHfffIIf4s", 0, exp, k, float(k), 0, 0, len(y), 0, 0, b"")
        if flags & TXYXYS:
            body += np.asarray(x[k], dtype=order + "f4").tobytes()
        if (subexps[k] if flags & TMULTI else fexp) == -128:
            body += np.asarray(y, dtype=order + "f4").tobytes()
        else:
            body += np.asarray(y, dtype=order + ("i2" if flags & TSPREC else "i4")).tobytes()
    return body


AXIS = np.linspace(100.0, 1000.0, 200)
COUNTS = 500 + 400 * np.exp(-(((AXIS - 520) / 15) ** 2))


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_float_evenly_spaced(tmp_path, order):
    version = 0x4B if order == "<" else 0x4C
    raw = spc_file([COUNTS], first=100.0, last=1000.0, order=order, version=version)
    s = read_spectrum(write(tmp_path, "f.spc", raw))
    np.testing.assert_allclose(s.x, AXIS)
    np.testing.assert_allclose(s.y, COUNTS, rtol=1e-6)  # float32


@pytest.mark.parametrize(("flags", "bits"), [(0, 32), (TSPREC, 16)], ids=["int32", "int16"])
def test_integer_y_is_scaled_by_the_main_exponent(tmp_path, flags, bits):
    fexp = 12
    ints = np.round(COUNTS * 2.0 ** (bits - fexp) / 1000).astype(np.int64)  # fits the type
    raw = spc_file([ints], first=100.0, last=1000.0, flags=flags, fexp=fexp)
    s = read_spectrum(write(tmp_path, "i.spc", raw))
    np.testing.assert_allclose(s.y, ints * 2.0 ** (fexp - bits))


def test_multifile_uses_each_subfile_exponent_and_reads_as_a_batch(tmp_path):
    ints = [np.round(COUNTS * k).astype(np.int64) for k in (1, 2, 3)]
    raw = spc_file(ints, first=100.0, last=1000.0, flags=TMULTI, fexp=0, subexps=[32, 31, 30])
    path = write(tmp_path, "multi.spc", raw)
    m = read_map(path)
    assert m.shape == (3,)
    assert m.meta["format"] == "spc-multi"
    np.testing.assert_allclose(m.meta["z"], [0.0, 1.0, 2.0])
    for k, scale in enumerate((1.0, 0.5, 0.25)):
        np.testing.assert_allclose(m.spectra[k], ints[k] * scale)
    with pytest.raises(ReadError, match=r"3 subfiles.*use read_map"):
        read_spectrum(path)


def test_xyxy_file_has_an_axis_per_subfile(tmp_path):
    xs = [AXIS, AXIS[::-1]]
    raw = spc_file([COUNTS, COUNTS[::-1]], x=xs, flags=TMULTI | TXYXYS, subexps=[-128, -128])
    m = read_map(write(tmp_path, "xy.spc", raw))  # same points, stored in two orders
    np.testing.assert_allclose(m.x, AXIS, rtol=1e-6)
    raw = spc_file(
        [COUNTS, COUNTS], x=[AXIS, AXIS + 1], flags=TMULTI | TXYXYS, subexps=[-128, -128]
    )
    path = write(tmp_path, "xy2.spc", raw)
    with pytest.raises(ReadError, match="different x axes"):
        read_map(path)


def test_explicit_x_values(tmp_path):
    x = np.sort(np.random.default_rng(1).uniform(100, 1000, 200))
    raw = spc_file([COUNTS], x=[x], flags=TXVALS)
    np.testing.assert_allclose(read_spectrum(write(tmp_path, "x.spc", raw)).x, x, rtol=1e-6)


def test_nm_axis_needs_and_uses_the_laser(tmp_path):
    nm = 1e7 / (1e7 / 532.0 - AXIS)
    raw = spc_file([COUNTS], first=nm[0], last=nm[-1], xtype=3)
    path = write(tmp_path, "nm.spc", raw)
    with pytest.raises(ReadError, match="pass laser_nm="):
        read_spectrum(path)
    s = read_spectrum(path, laser_nm=532.0)
    # evenly spaced in nm, so not in cm-1: compare the converted grid
    np.testing.assert_allclose(s.x, 1e7 / 532.0 - 1e7 / np.linspace(nm[0], nm[-1], 200))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (spc_file([COUNTS], version=0x4D), "old-format"),
        (spc_file([COUNTS])[:900], "it is truncated"),
        (spc_file([COUNTS], xtype=4), "x axis is SPC x type 4"),
        (spc_file([COUNTS], version=0x21), "not a Galactic SPC file"),
        (b"\x00\x4b" + b"\x00" * 100, "too short"),
    ],
    ids=["old-format", "truncated", "seconds-axis", "bad-version", "too-short"],
)
def test_damaged_spc_files_are_one_line_read_errors(tmp_path, raw, message):
    with pytest.raises(ReadError, match=message) as info:
        read_spectrum(write(tmp_path, "bad.spc", raw))
    assert "\n" not in str(info.value)
