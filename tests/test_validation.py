"""Checks shared by the doors: how a reader's message reads through ``read=``."""

import shutil

import pytest
from io_samples import three_columns, witec_rows_as_plain_text

from nmcraman import ReadError, deconvolve, deconvolve_joint, deconvolve_map
from nmcraman._validation import read_spelling
from nmcraman.cli._common import cli_spelling


@pytest.mark.parametrize(
    ("message", "want"),
    [
        ("f: nm; pass laser_nm= to convert it", "f: nm; pass read={'laser_nm': ...} to convert it"),
        ("f: column=5 is out of range", "f: read={'column': 5} is out of range"),
        ("f: column='I (a.u.)' is not", "f: read={'column': 'I (a.u.)'} is not"),
        ("f: pass column= (a name)", "f: pass read={'column': ...} (a name)"),
        ("f: y_column=2 and a.laser_nm=3 stay", "f: y_column=2 and a.laser_nm=3 stay"),
        ("f: column==5 stays", "f: column==5 stays"),
    ],
)
def test_reader_keywords_are_spelled_as_read_takes_them(message, want):
    assert read_spelling(message) == want


@pytest.mark.parametrize(
    ("message", "want"),
    [
        ("f: pass laser_nm= to convert it", "f: pass --laser-nm to convert it"),
        ("f: column=5 is out of range", "f: --column 5 is out of range"),
        ("f: pass column= (a name)", "f: pass --column (a name)"),
    ],
)
def test_the_command_line_spells_them_as_its_options_either_way(message, want):
    assert cli_spelling(read_spelling(message)) == cli_spelling(message) == want


def _folder(tmp_path, make):
    one = make(tmp_path)
    folder = tmp_path / "spectra"
    folder.mkdir()
    for k in range(2):
        shutil.copy(one, folder / f"s{k}.txt")
    return one, folder


DOORS = {
    "deconvolve": lambda one, folder: deconvolve(one),
    "deconvolve_joint": lambda one, folder: deconvolve_joint([one, one]),
    "deconvolve_map": lambda one, folder: deconvolve_map(folder),
}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("make", "keyword"),
    [(witec_rows_as_plain_text, "read={'laser_nm': ...}"), (three_columns, "read={'column': ...}")],
)
def test_a_reader_error_through_a_door_names_its_read_option(tmp_path, door, make, keyword):
    one, folder = _folder(tmp_path, make)
    with pytest.raises(ReadError) as caught:
        DOORS[door](one, folder)
    message = str(caught.value)
    assert keyword in message
    assert "laser_nm=" not in message.replace("read={'laser_nm'", "")
    assert "\n" not in message
