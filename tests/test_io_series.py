"""Tests of nmcraman.io._series: one map file per step, stacked into one series."""

from __future__ import annotations

import re

import numpy as np
import pytest
from io_samples import CUBE, MAP_X, STAGE_X, STAGE_Y, labspec_lines, num, write_lines

import nmcraman
from nmcraman.errors import InputError, ReadError
from nmcraman.io import read_series

#: Three steps whose every spectrum differs from every other step's and pixel's.
STEPS = [CUBE + 1000.0 * k for k in range(3)]


def _series(folder, names=("map_1.txt", "map_2.txt", "map_10.txt"), cubes=STEPS, headers=None):
    """Write one LabSpec text map per name; return the paths."""
    headers = headers or [()] * len(names)
    return [
        write_lines(folder, name, labspec_lines(cube=cube, header=header))
        for name, cube, header in zip(names, cubes, headers, strict=True)
    ]


def test_steps_are_stacked_in_natural_order_with_the_map_dims(tmp_path):
    _series(tmp_path)
    s = read_series(tmp_path)
    assert s.shape == (3, 4, 5)
    assert s.spectra.shape == (3, 4, 5, MAP_X.size)
    np.testing.assert_array_equal(s.spectra, np.stack(STEPS))  # map_10 last, not second
    np.testing.assert_array_equal(s.x, MAP_X)
    assert s.meta["names"] == ["map_1.txt", "map_2.txt", "map_10.txt"]
    assert s.meta["dims"] == ("time", "y", "x")
    assert s.meta["time_source"] == "order"
    assert s.meta["step_format"] == "labspec-map"
    coords = s.meta["dim_coords"]
    np.testing.assert_array_equal(coords["time"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(coords["y"], STAGE_Y)
    np.testing.assert_array_equal(coords["x"], STAGE_X)
    assert s.coords.shape == (60, 2)


@pytest.mark.parametrize(
    "spec",
    [
        lambda folder: [folder / "map_10.txt", folder / "map_2.txt", folder / "map_1.txt"],
        lambda folder: str(folder / "map_*.txt"),
        lambda folder: folder,
    ],
    ids=["list", "glob", "folder"],
)
def test_a_list_a_glob_and_a_folder_give_the_same_series(tmp_path, spec):
    _series(tmp_path)
    s = read_series(spec(tmp_path))
    assert s.meta["names"] == ["map_1.txt", "map_2.txt", "map_10.txt"]
    np.testing.assert_array_equal(s.spectra, np.stack(STEPS))


def test_top_level_export():
    assert nmcraman.read_series is read_series
    assert "read_series" in nmcraman.__all__


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("time (h)\n0\n0.25\n2.5\n", [0.0, 0.25, 2.5]),
        ("file;voltage\nmap_10.txt;4,2\nmap_1.txt;3,0\nmap_2;3,5\n", [3.0, 3.5, 4.2]),
        ("map_2.txt,1.5\nmap_1.txt,0.5\nmap_10.txt,9\nother.txt,7\n", [0.5, 1.5, 9.0]),
        ("# minutes\n0\t\n15\n30\n", [0.0, 15.0, 30.0]),
    ],
    ids=["one-column-header", "file-time-semicolon-decimal-comma", "file-time-no-header",
         "comment-line"],
)  # fmt: skip
def test_times_from_a_csv_file(tmp_path, csv, expected):
    _series(tmp_path)
    (tmp_path / "times.csv").write_text(csv)  # beside the maps: not read as a step
    s = read_series(tmp_path, times=tmp_path / "times.csv", dim="voltage")
    assert s.meta["dims"] == ("voltage", "y", "x")
    np.testing.assert_array_equal(s.meta["dim_coords"]["voltage"], expected)
    assert s.meta["time_source"] == "csv"
    np.testing.assert_array_equal(s.spectra, np.stack(STEPS))


def test_times_as_numbers(tmp_path):
    _series(tmp_path)
    s = read_series(tmp_path, times=(0.0, 0.5, 1.5))
    np.testing.assert_array_equal(s.meta["dim_coords"]["time"], [0.0, 0.5, 1.5])
    assert s.meta["time_source"] == "times"


def test_times_are_checked_before_any_map_is_read(tmp_path):
    _series(tmp_path)
    write_lines(tmp_path, "map_3.txt", ["not a map"])  # reading it would raise ReadError
    with pytest.raises(InputError, match="times must be 4 finite numbers"):
        read_series(tmp_path, times=[0.0, 1.0])
    with pytest.raises(ReadError, match=r"^map_3\.txt: "):
        read_series(tmp_path, times=[0.0, 1.0, 2.0, 3.0])


def test_times_from_the_acquisition_dates_in_hours(tmp_path):
    dates = ["05.03.2024 14:30", "05.03.2024 14:00:00", "05.03.2024 16:15"]
    _series(tmp_path, headers=[[f"#Date=\t{d}", "#Laser (nm)=\t532"] for d in dates])
    s = read_series(tmp_path)
    assert s.meta["time_source"] == "metadata"
    np.testing.assert_allclose(s.meta["dim_coords"]["time"], [0.5, 0.0, 2.25])
    assert s.meta["acquired"][1] == "2024-03-05T14:00:00"
    assert s.meta["laser_nm"] == 532.0


def test_equal_dates_fall_back_to_file_order(tmp_path):
    _series(tmp_path, headers=[["#Date=\t05.03.2024 14:30"]] * 3)
    s = read_series(tmp_path)
    assert s.meta["time_source"] == "order"
    np.testing.assert_array_equal(s.meta["dim_coords"]["time"], [0.0, 1.0, 2.0])


def test_line_scans_and_single_spectra(tmp_path):
    (tmp_path / "line").mkdir()
    (tmp_path / "spot").mkdir()
    for k in range(3):  # a line of 5 positions, and one spectrum, per step
        lines = ["\t" + "\t".join(num(v) for v in MAP_X)]
        lines += [f"{5.0 * i}\t" + "\t".join(num(v) for v in STEPS[k][0, i]) for i in range(5)]
        write_lines(tmp_path / "line", f"line{k}.txt", lines)
        rows = [f"{num(a)}\t{num(b)}" for a, b in zip(MAP_X, STEPS[k][1, 1], strict=True)]
        write_lines(tmp_path / "spot", f"spot{k}.txt", rows)
    line = read_series(tmp_path / "line")
    assert line.spectra.shape == (3, 5, MAP_X.size)
    assert line.meta["dims"] == ("time", "pixel")
    np.testing.assert_array_equal(line.meta["dim_coords"]["pixel"], 5.0 * np.arange(5))
    np.testing.assert_array_equal(line.spectra, np.stack([c[0] for c in STEPS]))
    spot = read_series(tmp_path / "spot")
    assert spot.spectra.shape == (3, MAP_X.size)
    assert spot.meta["dims"] == ("time",)
    np.testing.assert_array_equal(spot.spectra, np.stack([c[1, 1] for c in STEPS]))


def _one_line(info, *parts):
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert re.search(part, message), (part, message)


def test_a_step_on_another_axis_is_refused_by_name(tmp_path):
    paths = _series(tmp_path)
    write_lines(tmp_path, "map_2.txt", labspec_lines(cube=STEPS[1], x=MAP_X + 0.5))
    with pytest.raises(ReadError) as info:
        read_series(tmp_path)
    _one_line(info, r"^map_2\.txt: its Raman-shift axis differs", r"moved by up to 0\.5 cm-1")
    write_lines(tmp_path, "map_2.txt", labspec_lines(cube=STEPS[1][..., :-1], x=MAP_X[:-1]))
    with pytest.raises(ReadError) as info:
        read_series(paths)
    _one_line(info, r"^map_2\.txt: .*channels where map_1\.txt has")


def test_a_step_of_another_shape_is_refused_by_name(tmp_path):
    _series(tmp_path, cubes=[STEPS[0], STEPS[1], STEPS[2][:3]])
    with pytest.raises(ReadError) as info:
        read_series(tmp_path)
    _one_line(info, r"^map_10\.txt: a map of shape \(3, 5\) where map_1\.txt has \(4, 5\)")


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda d: d / "empty", ReadError, "holds no spectrum files"),
        (lambda d: [], ReadError, "no map files given"),
        (lambda d: str(d / "nothing*.txt"), ReadError, "no file matches"),
    ],
    ids=["empty-folder", "empty-list", "no-match"],
)
def test_nothing_to_read_is_refused(tmp_path, make, error, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(error, match=message) as info:
        read_series(make(tmp_path))
    _one_line(info)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"times": [0.0, 1.0]}, InputError, "times must be 3 finite numbers"),
        ({"times": [0.0, np.nan, 1.0]}, InputError, "times must be 3 finite numbers"),
        ({"times": ["a", "b", "c"]}, InputError, "times must be 3 finite numbers"),
        ({"times": "missing.csv"}, ReadError, "no such file"),
        ({"csv": "0\n1\n"}, ReadError, "2 times for 3 files"),
        ({"csv": "t\n0\nsoon\n1\n"}, ReadError, "line 3 has 'soon' where a time belongs"),
        ({"csv": "map_1.txt,0\nmap_2.txt,1\n"}, ReadError, "no time for map_10.txt"),
        ({"csv": "a,b,c\n1,2,3\n"}, ReadError, "expected one time per line"),
        ({"dim": "y"}, InputError, "dim must name the series dimension"),
        ({"dim": ""}, InputError, "dim must name the series dimension"),
        ({"shift": np.nan}, InputError, "shift"),
    ],
    ids=["too-few", "nan", "text", "missing-csv", "csv-too-few", "csv-text", "csv-missing-file",
         "csv-three-columns", "dim-y", "dim-empty", "shift-nan"],
)  # fmt: skip
def test_bad_times_and_options_are_one_line_errors(tmp_path, monkeypatch, kwargs, error, message):
    (tmp_path / "maps").mkdir()
    _series(tmp_path / "maps")
    monkeypatch.chdir(tmp_path)
    if "csv" in kwargs:
        (tmp_path / "times.csv").write_text(kwargs.pop("csv"))
        kwargs["times"] = tmp_path / "times.csv"
    with pytest.raises(error, match=re.escape(message)) as info:
        read_series(tmp_path / "maps", **kwargs)
    _one_line(info)
