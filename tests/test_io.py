"""Tests of nmcraman.io: formats found from the content, and the errors of every reader."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from io_samples import (
    CUBE,
    DATA,
    MAP_X,
    STAGE_X,
    STAGE_Y,
    X,
    expected_coords,
    labspec_lines,
    labspec_table,
    text_rows,
    three_columns,
    witec_rows_as_plain_text,
    write,
    write_lines,
)

from nmcraman import Spectrum, deconvolve_map
from nmcraman.errors import InputError, ReadError
from nmcraman.io import read_many, read_map, read_spectrum
from nmcraman.io._files import Source
from nmcraman.io._formats import FORMATS, sniff

# --- formats found from the content -----------------------------------------------


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
    ("name", "fmt"),
    [
        ("renishaw_graphene_sp.wdf", "wdf"),
        ("witec_ascii_Si-wafer.txt", "witec"),
        ("polystyrene_bwtek532.txt", "bwtek"),
        ("polystyrene_horiba633.txt", "text"),
        ("thermo_dxr_sucrose780.csv", "text"),
        ("labspec_map_synthetic.txt", "text"),
        ("thermo_dxr_sucrose780.spc", "spc"),
        ("renishaw_polymer_532nm_export.spc", "spc"),
        ("jasco_synthetic_raman.csv", "jasco"),
        ("labspec_xml_spectrum_nm.xml", "labspec-xml"),
        ("labspec_xml_map.xml", "labspec-xml"),
        ("labspec_xml_3611subs.xml", "labspec-xml"),
        ("jasco_nrs5100_raman.csv", "jasco"),
    ],
)
def test_each_file_is_sniffed_to_its_format_whatever_its_name(tmp_path, name, fmt):
    raw = (DATA / name).read_bytes()
    assert sniff(Source(DATA / name, raw)) is FORMATS[fmt]
    assert sniff(Source(tmp_path / "renamed.dat", raw)) is FORMATS[fmt]


def test_warnings_point_at_the_caller(tmp_path):
    nm = witec_rows_as_plain_text(tmp_path)
    with pytest.warns(UserWarning, match="looks like wavelength in nm") as caught:
        read_spectrum(nm, laser_nm=532)
    aborted = write_lines(tmp_path, "aborted.txt", labspec_lines()[:-3])
    with pytest.warns(UserWarning, match="do not fill a grid") as caught_map:
        read_map(aborted)
    folder = tmp_path / "folder"
    folder.mkdir()
    write(folder, "good.txt", "\n".join(text_rows("\t")))
    write(folder, "bad.txt", "not a spectrum")
    with pytest.warns(UserWarning, match="could not be read") as caught_many:
        read_many(folder)
    for record in (*caught, *caught_map, *caught_many):
        assert record.filename == __file__


# --- read_spectrum errors ---------------------------------------------------------


def _truncated_wdf(tmp_path):
    return write(tmp_path, "cut.wdf", (DATA / "renishaw_graphene_sp.wdf").read_bytes()[:40000])


def _witec_without_laser(tmp_path):
    return DATA / "witec_ascii_Si-wafer.txt"


def _labspec_map(tmp_path):
    return write(tmp_path, "map.txt", labspec_table([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]]))


ERROR_CASES = {
    "missing": (lambda p: p / "nope.txt", "no such file"),
    "directory": (lambda p: p, "is a directory"),
    "empty": (lambda p: write(p, "e.txt", b""), "file is empty"),
    "blank": (lambda p: write(p, "b.txt", "\r\n  \n\t\n"), "file is empty"),
    "header-only": (
        lambda p: write(p, "h.txt", "#Laser=633\nRaman shift\tIntensity\n"),
        "no numeric data",
    ),
    "one-column": (lambda p: write(p, "one.txt", "\n".join(map(str, X))), "only one column"),
    "text-in-data": (
        lambda p: write(p, "t.txt", "\n".join([*text_rows("\t")[:50], "160.5\tsaturated"])),
        "line 51 is text where numbers",
    ),
    "ragged": (
        lambda p: write(p, "r.txt", "\n".join([*text_rows("\t"), "1\t2\t3"])),
        "same number of numeric columns",
    ),
    "binary-nul": (lambda p: write(p, "bin.txt", bytes(range(256)) * 8), "binary file (NUL bytes)"),
    "truncated-spc": (
        lambda p: write(p, "cut.spc", (DATA / "thermo_dxr_sucrose780.spc").read_bytes()[:6000]),
        "it is truncated",
    ),
    "undecodable": (
        lambda p: write(
            p, "u.txt", np.random.default_rng(0).integers(1, 256, 3000, np.uint8).tobytes()
        ),
        "binary or undecodable",
    ),
    "three-columns": (three_columns, "pass column="),
    "nm-axis-no-laser": (
        lambda p: witec_rows_as_plain_text(p),
        "looks like absolute wavelength in nm; pass laser_nm=",
    ),
    "nm-header-no-laser": (
        lambda p: witec_rows_as_plain_text(p, "Wavelength (nm), Counts\n"),
        "pass laser_nm=",
    ),
    "witec-no-laser": (_witec_without_laser, "pass laser_nm="),
    "unsupported-unit": (
        lambda p: write(
            p,
            "ev.txt",
            "[Header]\nXAxisUnit = eV\n[Data]\nE,I\neV,cts\n" + "\n".join(text_rows(",")),
        ),
        "unit 'eV' is not supported",
    ),
    "labspec-map": (_labspec_map, "3 spectra (a map or series); use read_map"),
    "pixel-axis": (
        lambda p: write(
            p, "px.txt", "Pixel;Counts\n" + "\n".join(f"{i};{i % 9}" for i in range(50))
        ),
        "unit 'pixel' is not supported",
    ),
    "truncated-wdf": (_truncated_wdf, "truncated or damaged"),
    "text-named-wdf": (
        lambda p: write(p, "fake.wdf", "\n".join(text_rows("\t"))),
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
        (
            "\n".join([*text_rows("\t")[:20], "200.1\tNaN", *text_rows("\t")[21:]]),
            "NaN or infinite",
        ),
        ("\n".join([*text_rows("\t"), text_rows("\t")[0]]), "repeated value"),
        ("\n".join(f"{a}\t5" for a in X), "constant"),
        ("\n".join(text_rows("\t")[:5]), "only 5 points"),
        ("100\t1\n100\t2\n" * 10, "repeated value"),
    ],
    ids=["nan", "duplicate", "constant", "too-short", "duplicate-x-block"],
)
def test_invalid_spectra_raise_input_error_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, "bad_values.txt", content)
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
        ({"shift": "2"}, "shift must be a number"),
        ({"shift": float("inf")}, "shift must be a finite number"),
        ({"format": "csv"}, "unknown format 'csv'; use one of wdf, spc, labspec-xml, jasco,"),
    ],
)
def test_bad_options_raise_input_error(tmp_path, kwargs, message):
    path = write(tmp_path, "s.txt", "shift\tintensity\n" + "\n".join(text_rows("\t")))
    with pytest.raises(InputError, match=message):
        read_spectrum(path, **kwargs)


@pytest.mark.parametrize("reader", [read_spectrum, read_map])
def test_format_forces_one_reader(tmp_path, reader):
    path = write(tmp_path, "s.txt", "XUNITS\t1/CM\nXYDATA\n" + "\n".join(text_rows("\t")))
    assert reader(path).meta["format"] == "jasco"
    # the plain column reader on the same file: the two key lines are a text header
    forced = reader(path, format="text")
    assert forced.meta["format"] == "text"
    np.testing.assert_array_equal(forced.x, reader(path).x)
    with pytest.raises(ReadError, match=r"not a Renishaw \.wdf file"):
        reader(path, format="wdf")


_OWN_FORMAT = {
    "thermo_dxr_sucrose780.spc": "spc",
    "jasco_synthetic_raman.csv": "jasco",
    "labspec_xml_map.xml": "labspec-xml",
}


@pytest.mark.parametrize(
    ("other", "fmt"),
    [(name, fmt) for name, own in _OWN_FORMAT.items() for fmt in FORMATS if fmt != own],
)
def test_a_forced_format_on_another_format_is_a_library_error(tmp_path, other, fmt):
    """Forced on a file of another format, each reader reads it or says why not, in one
    line (the plain column reader reads the JASCO rows, for instance)."""
    path = write(tmp_path, "other.dat", (DATA / other).read_bytes())
    for reader in (read_spectrum, read_map):
        message = _error_message(lambda r=reader: r(path, format=fmt))
        assert message is None or "\n" not in message


def _error_message(call) -> str | None:
    """The message of the library error ``call()`` raises, or None if it succeeds."""
    try:
        call()
    except (ReadError, InputError) as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("reader", [read_spectrum, read_map])
def test_shift_moves_the_axis_and_is_recorded(tmp_path, reader):
    path = write(tmp_path, "s.txt", "\n".join(text_rows("\t")))
    plain, moved = reader(path), reader(path, shift=-2.5)
    np.testing.assert_allclose(moved.x, plain.x - 2.5)
    assert moved.meta["shift_cm1"] == -2.5
    assert "shift_cm1" not in plain.meta


def test_read_map_passes_column_to_single_spectrum_files(tmp_path):
    path = three_columns(tmp_path)
    with pytest.raises(ReadError, match="pass column="):
        read_map(path)
    assert read_map(path, column=2).shape == (1,)


# --- read_map: errors, files of one spectrum, into deconvolve_map -----------------


def _ragged(p):
    lines = labspec_lines()
    lines[5] = lines[5].rsplit("\t", 3)[0]
    return write_lines(p, "ragged.txt", lines)


def _replace_value(p, name, text):
    lines = labspec_lines()
    fields = lines[3].split("\t")
    fields[10] = text
    lines[3] = "\t".join(fields)
    return write_lines(p, name, lines)


AXIS3 = "\t" * 3  # three empty corner cells

BODY = labspec_lines()[1:]

ERRORS = {
    "missing": (lambda p: p / "nope.txt", ReadError, "no such file"),
    "directory": (lambda p: p, ReadError, "is a folder; use read_many"),
    "empty": (lambda p: write_lines(p, "e.txt", []), ReadError, "file is empty"),
    "header-only": (
        lambda p: write_lines(p, "h.txt", ["#Laser=532"]), ReadError, "no numeric data"
    ),
    "ragged": (_ragged, ReadError, r"line 6 has 750 values where line 2 has 753; .*ragged"),
    "text-line": (
        lambda p: write_lines(
            p, "t.txt", [*labspec_lines()[:4], "pixel lost", *labspec_lines()[4:]]
        ),
        ReadError,
        "line 5 is text where numbers were expected",
    ),
    "bad-number": (
        lambda p: _replace_value(p, "n.txt", "1.2.3"), ReadError, "line 4 .*not a number"
    ),
    "axis-mismatch": (
        lambda p: write_lines(
            p, "a.txt", [AXIS3 + "\t".join(map(str, MAP_X)), *labspec_lines()[1:]]
        ),
        ReadError,
        "axis row .* expected 1 or 2 coordinate columns",
    ),
    "axis-hole": (
        lambda p: write_lines(p, "x.txt", [labspec_lines()[0].replace("\t151.0\t", "\t\t"), *BODY]),
        ReadError,
        "axis row .* empty or non-finite",
    ),
    "no-coordinate": (
        lambda p: write_lines(p, "c.txt", [*labspec_lines()[:3], labspec_lines()[3][4:]]),
        ReadError,
        "line 4 has no valid stage coordinate",
    ),
    "repeated-shift": (
        lambda p: write_lines(p, "r.txt", labspec_lines(x=np.r_[MAP_X[:-1], MAP_X[0]])),
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


def test_single_spectrum_files_are_maps_of_one_pixel(tmp_path):
    s = read_spectrum(DATA / "polystyrene_horiba633.txt")
    m = read_map(DATA / "polystyrene_horiba633.txt")
    assert m.shape == (1,)
    assert m.coords is None
    np.testing.assert_array_equal(m.spectra[0], s.y)
    one = read_map(write_lines(tmp_path, "one.txt", labspec_lines(order=[(2, 3)])))
    assert one.shape == (1,)
    np.testing.assert_array_equal(one.coords, [[STAGE_X[3], STAGE_Y[2]]])
    np.testing.assert_array_equal(one.spectra[0], CUBE[2, 3])


def test_deconvolve_map_reads_map_files_and_folders(tmp_path_factory, batch):
    path = write_lines(tmp_path_factory.mktemp("map"), "map.txt", labspec_lines())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = deconvolve_map(path, bands="nmc", progress=False)
    ref = deconvolve_map(CUBE, MAP_X, bands="nmc", progress=False)
    assert res.shape == (4, 5)
    table = res.table
    np.testing.assert_array_equal(table[["x", "y"]].drop_duplicates(), expected_coords())
    # Same minimum to the convergence tolerance (ftol 1e-8).
    np.testing.assert_allclose(table["area_pct"], ref.table["area_pct"], atol=0.01)
    names = deconvolve_map(batch, bands="nmc", progress=False).table["name"]
    assert list(dict.fromkeys(names)) == ["s0.txt", "s1.txt", "s2.txt"]


def test_synthetic_vendor_files_are_what_their_script_writes(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(DATA))
    import make_vendor_files

    monkeypatch.setattr(make_vendor_files, "HERE", tmp_path)
    make_vendor_files.main()
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "jasco_synthetic_raman.csv",
        "labspec_xml_map.xml",
        "labspec_xml_spectrum_nm.xml",
    ]
    for name in written:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


# --- the reader options through every door ------------------------------------------------

_FIXED_MODEL = {"bands": "nmc", "window": "bands", "baseline": "poly3"}


def _variant_files(tmp_path):
    """Two NMC spectra as files that need a reader option: an axis in nm (532 nm laser,
    not stated) and three columns that no name tells apart (the intensity is the last)."""
    from nmcraman.synthetic import simulate

    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(2)]
    files = {"laser_nm": [], "column": []}
    for i, s in enumerate(spectra):
        nm = 1e7 / (1e7 / 532.0 - s.x)
        files["laser_nm"].append(write_lines(tmp_path, f"nm{i}.txt", text_rows("\t", x=nm, y=s.y)))
        rows = [f"{a:.6f}\t{b / 2:.6f}\t{b:.6f}" for a, b in zip(s.x, s.y, strict=True)]
        files["column"].append(write_lines(tmp_path, f"three{i}.txt", ["shift\traw\tother", *rows]))
    return files


@pytest.mark.parametrize(("option", "value"), [("laser_nm", 532.0), ("column", 2)])
def test_reader_options_reach_every_door(tmp_path, option, value):
    """deconvolve, deconvolve_joint and deconvolve_map take what read_* take."""
    from nmcraman import deconvolve, deconvolve_joint

    paths = _variant_files(tmp_path)[option]
    kwargs = {option: value}
    pattern = str(tmp_path / f"{paths[0].stem[:-1]}*.txt")
    with pytest.raises(ReadError, match=f"pass {option}="):
        read_spectrum(paths[0])
    with pytest.raises(ReadError, match=re.escape(f"pass read={{'{option}': ...}}")):
        deconvolve(paths[0], **_FIXED_MODEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the nm axis converted: said once per file read
        read = [read_spectrum(p, **kwargs) for p in paths]
        single = deconvolve(paths[0], read=kwargs, **_FIXED_MODEL)
        joint = deconvolve_joint(paths, read=kwargs, **_FIXED_MODEL)
        batch = deconvolve_map(pattern, read=kwargs, **_FIXED_MODEL, progress=False)
        batch_read = deconvolve_map(read_many(pattern, **kwargs), **_FIXED_MODEL, progress=False)
    pd.testing.assert_frame_equal(single.table, deconvolve(read[0], **_FIXED_MODEL).table)
    want = deconvolve_joint(read, **_FIXED_MODEL)
    pd.testing.assert_frame_equal(joint.summary, want.summary)
    pd.testing.assert_frame_equal(batch.table, batch_read.table)


def test_shift_reaches_every_door_for_files_and_arrays(tmp_path):
    from nmcraman import deconvolve, deconvolve_joint
    from nmcraman.synthetic import simulate

    s = [simulate("Core_75", snr=150, rng=i) for i in range(2)]
    paths = [
        write_lines(tmp_path, f"s{i}.txt", text_rows("\t", x=t.x, y=t.y)) for i, t in enumerate(s)
    ]
    moved = [(t.x + 2.5, t.y) for t in s]
    want = deconvolve(*moved[0], **_FIXED_MODEL).table
    for data in (paths[0], Spectrum(s[0].x, s[0].y), np.column_stack([s[0].x, s[0].y])):
        got = deconvolve(data, shift=2.5, **_FIXED_MODEL)
        pd.testing.assert_frame_equal(got.table, want)
        assert got.meta["shift_cm1"] == 2.5
    want = deconvolve_joint(moved, **_FIXED_MODEL).summary
    for data in (paths, [(t.x, t.y) for t in s]):
        got = deconvolve_joint(data, shift=2.5, **_FIXED_MODEL)
        pd.testing.assert_frame_equal(got.summary, want)
    got = deconvolve_map(str(tmp_path / "s*.txt"), shift=2.5, **_FIXED_MODEL, progress=False)
    want = deconvolve_map(np.array([t.y for t in s]), s[0].x + 2.5, **_FIXED_MODEL, progress=False)
    pd.testing.assert_frame_equal(got.table.drop(columns="name"), want.table)


@pytest.mark.parametrize("option", [{"laser_nm": 532.0}, {"column": 1}], ids=["laser", "column"])
@pytest.mark.parametrize("door", ["deconvolve", "deconvolve_joint", "deconvolve_map"])
def test_file_options_are_refused_for_arrays(door, option):
    import nmcraman
    from nmcraman.synthetic import simulate

    s = [simulate("Core_75", snr=150, rng=i) for i in range(2)]
    data = {
        "deconvolve": (s[0].x, s[0].y),
        "deconvolve_joint": ([(t.x, t.y) for t in s],),
        "deconvolve_map": (np.array([t.y for t in s]), s[0].x),
    }[door]
    with pytest.raises(InputError, match=r"^read=\{.*\} applies only to data read from a file"):
        getattr(nmcraman, door)(*data, read=option)
