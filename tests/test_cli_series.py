"""``nmcraman map FILES... --series``: one map file per step, its table, images and trend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from io_samples import labspec_lines, write_lines

from nmcraman import deconvolve_map
from nmcraman.cli import main
from nmcraman.io import read_series
from nmcraman.synthetic import core_shell_map

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ("step_1.txt", "step_2.txt", "step_10.txt")  # natural order: 10 last
TIMES = [0.0, 0.5, 2.0]
#: The fixed model: fast, and the model choice is not what these tests are about.
FIXED = ["--bands", "nmc", "--window", "bands", "--baseline", "poly3"]
FIXED_KW = {"bands": "nmc", "window": "bands", "baseline": "poly3", "progress": False}


@pytest.fixture
def steps(tmp_path, monkeypatch):
    """Three 3 x 4 LabSpec text maps, one per step, and a times CSV; also the cwd."""
    for k, name in enumerate(NAMES):
        cube, x, _ = core_shell_map(3, 4, rng=k)
        write_lines(tmp_path, name, labspec_lines(cube=cube, x=x))
    (tmp_path / "times.csv").write_text("file,hours\n" + "".join(
        f"{n},{t}\n" for n, t in zip(NAMES, TIMES, strict=True)))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    """Call ``main`` in-process; return (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def expected(**options):
    data = read_series(list(NAMES), **options)
    res = deconvolve_map(data, **FIXED_KW)
    return res.replace(names=np.repeat(data.meta["files"], 12).tolist())


def test_series_writes_the_table_with_time_and_file_columns(steps, capsys):
    argv = ["map", *NAMES, "--series", "--times", "times.csv", *FIXED, "-o", "out.csv"]
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert out == ""
    got = pd.read_csv(steps / "out.csv", keep_default_na=False, na_values=[""])
    assert list(got.columns[:9]) == [
        "time", "y", "x", "time_coord", "y_coord", "x_coord", "stage_x", "stage_y", "file",
    ]  # fmt: skip
    per_step = got.groupby("time")
    assert per_step["time_coord"].unique().map(list).tolist() == [[t] for t in TIMES]
    assert per_step["file"].unique().map(list).tolist() == [[n] for n in NAMES]
    assert (per_step.size() == 12 * 6).all()  # 3 x 4 pixels, 6 bands
    want = expected(times="times.csv").table.rename(columns={"name": "file"})
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-9)
    side = json.loads((steps / "out.csv.json").read_text())
    assert [Path(i["path"]).name for i in side["inputs"]] == [*NAMES, "times.csv"]
    assert side["options"]["series"] is True
    assert side["options"]["dim"] == "time"
    assert (steps / "out_trend.png").read_bytes().startswith(PNG_MAGIC)
    assert err.rstrip().endswith("wrote out.csv and out_trend.png")


def test_trend_plot_follows_the_band_against_the_times(steps, capsys, monkeypatch):
    from matplotlib.figure import Figure

    real, saved = Figure.savefig, []

    def spy(fig, *args, **kwargs):
        saved.append(fig)
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    argv = ["map", "*.txt", "--series", "--times", "times.csv", *FIXED, "--trend-band", "Co_A1g"]
    status, _, err = run(capsys, *argv, "-o", "out.csv")
    assert status == 0, err
    [fig] = saved
    res = expected(times="times.csv")
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "position (cm-1), Co_A1g", "fwhm (cm-1), Co_A1g", "area_pct (%), Co_A1g",
    ]  # fmt: skip
    assert fig.axes[-1].get_xlabel() == "time"
    for ax, param in zip(fig.axes, ("position", "fwhm", "area_pct"), strict=True):
        [line] = ax.get_lines()
        np.testing.assert_array_equal(line.get_xdata(), TIMES)
        want = res.trend(param, band="Co_A1g")["mean"]
        np.testing.assert_allclose(line.get_ydata(), want, rtol=1e-9)


def test_series_page_has_a_slider_over_the_steps(steps, capsys):
    """``--html`` writes the series page (`nmcraman.results.html.map`): one step per slider stop."""
    status, _, _ = run(capsys, "map", *NAMES, "--series", *FIXED, "-o", "out.csv",
                       "--html", "page.html")  # fmt: skip
    assert status == 0
    page = (steps / "page.html").read_text()
    assert '"dim": "time"' in page or '"dim":"time"' in page
    assert '"steps": 3' in page or '"steps":3' in page


def test_series_images_one_set_per_step(steps, capsys):
    argv = ["map", *NAMES, "--series", *FIXED, "--images", "maps", "-o", "out.csv"]
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    bands = expected().bands
    stems = [f"{p}_{b}" for b in bands for p in ("position", "fwhm", "area_pct")] + ["flags"]
    want = {f"{s}_time{k}.png" for s in stems for k in range(3)}
    pngs = sorted((steps / "maps").iterdir())
    assert {p.name for p in pngs} == want
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    assert f"and {len(want)} images in maps" in err
    # Without --force, images of a previous run are refused before any work.
    status, _, err = run(capsys, *argv[:-1], "other.csv")
    assert status == 2
    assert "--force" in err
    assert not (steps / "other.csv").exists()


def test_dim_names_the_series_dimension_and_a_folder_is_a_series(steps, capsys):
    argv = ["map", ".", "--series", "--dim", "voltage", "--times", "times.csv", *FIXED]
    status, _, err = run(capsys, *argv, "-o", "out.csv")
    assert status == 0, err
    got = pd.read_csv(steps / "out.csv")
    assert list(got.columns[:4]) == ["voltage", "y", "x", "voltage_coord"]
    assert sorted(got["voltage_coord"].unique()) == TIMES
    assert sorted(got["file"].unique()) == sorted(NAMES)  # the folder's files, not times.csv


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["step_1.txt", "--times", "times.csv"], "--times applies to --series"),
        (["step_1.txt", "--dim", "voltage"], "--dim applies to --series"),
        (["step_1.txt", "--trend-band", "Mn_A1g"], "--trend-band applies to --series"),
        (["step_1.txt", "step_2.txt"], "2 inputs: pass --series"),
        (["step_1.txt", "missing.txt", "--series"], "no such file 'missing.txt'"),
        (["*.xyz", "--series"], "no file matches"),
        ([*NAMES, "--series", "--times", "nope.csv"], "--times nope.csv: no such file"),
        ([*NAMES, "--series", "--trend-band", "LO_RS"], "--trend-band LO_RS is not a band"),
        (["step_1.txt", "odd.txt", "--series"], "every step of a series must be the same map"),
        (["empty", "--series"], "empty"),
        ([*NAMES, "--series", "--times", "short.csv"], "2 times for 3 files"),
        ([*NAMES, "--series", "--dim", "x"], "dim must name the series dimension"),
    ],
)
def test_series_refusals_exit_2_with_one_line_and_no_output(steps, capsys, argv, said):
    cube, x, _ = core_shell_map(2, 4, rng=5)
    write_lines(steps, "odd.txt", labspec_lines(cube=cube, x=x))  # 2 x 4, not 3 x 4
    (steps / "empty").mkdir()
    (steps / "short.csv").write_text("0\n1\n")
    before = sorted(p.name for p in steps.iterdir())
    status, out, err = run(capsys, "map", *argv, *FIXED, "-o", "out.csv")
    assert status == 2
    assert out == ""
    assert said in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert sorted(p.name for p in steps.iterdir()) == before


def test_an_existing_trend_plot_needs_force(steps, capsys):
    (steps / "out_trend.png").write_bytes(b"old")
    argv = ["map", *NAMES, "--series", *FIXED, "-o", "out.csv"]
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert "out_trend.png exists; pass --force" in err
    assert not (steps / "out.csv").exists()
    assert run(capsys, *argv, "--force")[0] == 0
    assert (steps / "out_trend.png").read_bytes().startswith(PNG_MAGIC)


def test_through_pools_the_series_step_by_step(steps, capsys):
    argv = ["map", *NAMES, "--series", "--pooling", "phases", "--through", *FIXED, "-o", "out.csv"]
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    got = pd.read_csv(steps / "out.csv", keep_default_na=False, na_values=[""])
    data = read_series(list(NAMES))
    want = deconvolve_map(data, pooling="phases", through="time", **FIXED_KW)
    want = want.replace(names=np.repeat(data.meta["files"], 12).tolist())
    np.testing.assert_allclose(got["position"], want.table["position"], atol=1e-6)
    provenance = json.loads((steps / "out.csv.json").read_text())
    assert provenance["options"]["through"] is True
