"""The nmcraman command line: CSV contents and layouts, exit statuses, atomic outputs."""

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_fit

import nmcraman.fit
from nmcraman import __version__, deconvolve
from nmcraman.bands import BANDS, PRESETS, bands, resolve_bands
from nmcraman.cli import main
from nmcraman.cli.fit import _table_s3
from nmcraman.results.result import TABLE_COLUMNS

SPECTRA = Path(__file__).resolve().parents[1] / "spectra"
NAMES = ("core_75.txt", "cs_75.txt")
#: table-s3 column suffix -> `Result.table` column.
S3_FIELDS = {
    "position": "position",
    "position err": "position_err",
    "FWHM": "fwhm",
    "FWHM err": "fwhm_err",
    "area %": "area_pct",
    "area % err": "area_pct_err",
    "flag": "flag",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder holding the shipped spectra and one unreadable file; also the cwd."""
    for name in NAMES:
        shutil.copy(SPECTRA / name, tmp_path / name)
    (tmp_path / "bad.txt").write_text("this is not a spectrum\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def expected():
    """``expected(name, **options)``: `deconvolve` on a shipped spectrum, cached."""
    cache = {}

    def get(name, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = deconvolve(SPECTRA / name, **options)
        return cache[key]

    return get


def run(capsys, *argv):
    """Call ``main`` in-process; return (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def leftovers(folder):
    """Temporary files that an atomic write would leave behind if it went wrong."""
    return sorted(p.name for p in Path(folder).rglob("*.tmp"))


def assert_rows_match(rows, result):
    got = rows[list(TABLE_COLUMNS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, result.table, check_exact=False, rtol=1e-9, atol=1e-9)


def subprocess_run(*argv, cwd):
    return subprocess.run(
        [sys.executable, "-m", "nmcraman", *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# --- nmcraman fit: contents ---------------------------------------------------------


@pytest.mark.parametrize("preset", ["auto", *PRESETS])
def test_long_csv_equals_deconvolve(work, capsys, expected, preset):
    status, _, err = run(capsys, "fit", *NAMES, "--bands", preset, "-o", "out.csv")
    assert status == 0, err
    df = pd.read_csv(work / "out.csv")
    assert list(df.columns) == ["file", "preset", *TABLE_COLUMNS]
    assert list(dict.fromkeys(df["file"])) == list(NAMES)
    for name in NAMES:
        res = expected(name, bands=preset)
        rows = df[df["file"] == name]
        chosen = res.model_choice["chosen"] if preset == "auto" else preset
        assert set(rows["preset"]) == {chosen}
        assert_rows_match(rows, res)
    assert "wrote out.csv (2 of 2 spectra)" in err
    assert leftovers(work) == []


@pytest.mark.parametrize(
    ("argv", "options"),
    [
        (["--shape", "gaussian"], {"shape": "gaussian"}),
        (["--shape", "pseudo_voigt", "--eta", "0.4"], {"shape": "pseudo_voigt", "eta": 0.4}),
        (["--baseline", "asls", "--refine", "2"], {"baseline": "asls", "refine": 2}),
        (
            ["--baseline", "poly2", "--xmin", "200", "--xmax", "760"],
            {"baseline": "poly2", "window": (200.0, 760.0)},
        ),
        (["--engine", "lmfit"], {"engine": "lmfit"}),
    ],
)
def test_fit_options_reach_deconvolve(work, capsys, expected, argv, options):
    status, _, err = run(capsys, "fit", "core_75.txt", "--bands", "nmc", *argv, "-o", "o.csv")
    assert status == 0, err
    assert_rows_match(pd.read_csv(work / "o.csv"), expected("core_75.txt", bands="nmc", **options))


def _reader_variants(folder):
    """core_75 as an nm-axis file (532 nm laser) and as a three-column file (y last)."""
    x, y = np.loadtxt(SPECTRA / "core_75.txt", unpack=True)
    nm = 1e7 / (1e7 / 532.0 - x)
    rows = [f"{a:.6f}\t{b:.4f}" for a, b in zip(nm, y, strict=True)]
    (folder / "nm.txt").write_text("\n".join(rows))
    rows = [f"{a:.2f}\t{b * 0.5:.4f}\t{b:.4f}" for a, b in zip(x, y, strict=True)]
    (folder / "three.txt").write_text("shift\tdark\tcounts\n" + "\n".join(rows))


@pytest.mark.parametrize(
    ("name", "argv", "options"),
    [
        ("core_75.txt", ["--shift", "2.5"], {"shift": 2.5}),
        ("nm.txt", ["--laser-nm", "532"], {"laser_nm": 532.0}),
        ("three.txt", ["--column", "2"], {"column": 2}),
        ("three.txt", ["--column", "counts"], {"column": "counts"}),
    ],
)
def test_reader_options_reach_the_reader(work, capsys, name, argv, options):
    from nmcraman.io import read_spectrum

    _reader_variants(work)
    status, _, err = run(capsys, "fit", name, "--bands", "nmc", *argv, "-o", "o.csv")
    assert status == 0, err
    rows = pd.read_csv(work / "o.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the nm axis warning, which the command printed
        assert_rows_match(rows, deconvolve(read_spectrum(name, **options), bands="nmc"))
    # the same bands as the original file: moved by the shift, or not at all
    plain = deconvolve(SPECTRA / "core_75.txt", bands="nmc").table["position"].to_numpy()
    moved = rows["position"].to_numpy() - options.get("shift", 0.0)
    np.testing.assert_allclose(moved, plain, atol=0.3)


def test_criterion_is_passed_to_auto(work, capsys, expected):
    assert run(capsys, "fit", "cs_75.txt", "--criterion", "aic", "-o", "o.csv")[0] == 0
    res = expected("cs_75.txt", criterion="aic")
    df = pd.read_csv(work / "o.csv")
    assert set(df["preset"]) == {res.model_choice["chosen"]}
    assert_rows_match(df, res)


@pytest.mark.parametrize("order", [NAMES, NAMES[::-1]])
def test_table_s3_layout(work, capsys, expected, order):
    status, _, err = run(capsys, "fit", *order, "--format", "table-s3", "-o", "s3.csv")
    assert status == 0, err
    df = pd.read_csv(work / "s3.csv")
    stems = [Path(n).stem for n in order]
    assert list(df.columns) == ["band", "label"] + [f"{s} {f}" for s in stems for f in S3_FIELDS]
    results = {n: expected(n) for n in order}
    union = {b for r in results.values() for b in r.table["band"]}
    assert list(df["band"]) == [b for b in PRESETS["nmc+lo"] if b in union]
    assert list(df["label"]) == [BANDS[b].label for b in df["band"]]
    for name, res in results.items():
        stem = Path(name).stem
        got = df.set_index("band")
        table = res.table.set_index("band")
        for field, column in S3_FIELDS.items():
            values = got[f"{stem} {field}"]
            pd.testing.assert_series_equal(
                values.loc[table.index], table[column], check_names=False, rtol=1e-9
            )
            assert values.drop(table.index).isna().all()  # bands this fit did not have


@pytest.mark.parametrize(
    "first", [list(PRESETS["nmc"]), list(PRESETS["nmc+lo"]), ["Co_Eg", "Mn_A1g"]]
)
def test_table_s3_bands_are_a_union_in_prior_order(first):
    def table(name, ids):
        return pd.DataFrame(
            {"file": name, "band": ids, "label": [BANDS[i].label for i in ids]}
            | dict.fromkeys(TABLE_COLUMNS[2:-1], 1.0)
            | {"flag": "ok"}
        )

    out = _table_s3([table("a.txt", first), table("b.txt", list(PRESETS["nmc+lo"]))])
    assert list(out["band"]) == list(PRESETS["nmc+lo"])
    assert out["a position"].notna().sum() == len(first)
    assert out["a flag"].notna().sum() == len(first)


def test_globs_expand_sorted_and_repeats_are_dropped(work, capsys):
    status, _, err = run(capsys, "fit", "core_75.txt", "c*_75.txt", "-o", "o.csv", "--bands", "nmc")
    assert status == 0, err
    assert list(dict.fromkeys(pd.read_csv(work / "o.csv")["file"])) == list(NAMES)


def test_plot_writes_one_png_per_spectrum(work, capsys):
    status, _, err = run(capsys, "fit", *NAMES, "-o", "o.csv", "--plot", "figures")
    assert status == 0, err
    pngs = sorted((work / "figures").iterdir())
    assert [p.name for p in pngs] == ["core_75.png", "cs_75.png"]
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    # Plots are outputs too: not overwritten without --force.
    assert run(capsys, "fit", *NAMES, "-o", "o2.csv", "--plot", "figures")[0] == 2
    assert not (work / "o2.csv").exists()
    assert run(capsys, "fit", *NAMES, "-o", "o2.csv", "--plot", "figures", "--force")[0] == 0


def test_parallel_jobs_keep_input_order(work, capsys):
    files = ["cs_75.txt", "bad.txt", "core_75.txt"]
    assert run(capsys, "fit", *files, "--bands", "nmc", "-o", "serial.csv")[0] == 1
    status, _, err = run(capsys, "fit", *files, "--bands", "nmc", "--jobs", "2", "-o", "par.csv")
    assert status == 1
    assert "nmcraman: bad.txt: " in err
    serial, parallel = pd.read_csv(work / "serial.csv"), pd.read_csv(work / "par.csv")
    assert list(dict.fromkeys(parallel["file"])) == ["cs_75.txt", "core_75.txt"]
    # Worker processes may load the kernels from numba's cache (always with the spawn
    # start method, the default on macOS and Windows): same fit up to assert_same_fit.
    assert_same_fit(parallel, serial)


# --- nmcraman fit: failures and exit statuses -----------------------------------------


@pytest.mark.parametrize("bad", ["bad.txt", "missing.txt"])
def test_some_inputs_failing_exits_1_and_writes_the_rest(work, capsys, expected, bad):
    status, _, err = run(capsys, "fit", "core_75.txt", bad, "--bands", "nmc", "-o", "out.csv")
    assert status == 1
    lines = err.splitlines()
    assert [ln for ln in lines if ln.startswith(f"nmcraman: {bad}: ")] == [lines[0]]
    assert "Traceback" not in err
    df = pd.read_csv(work / "out.csv")
    assert set(df["file"]) == {"core_75.txt"}
    assert_rows_match(df, expected("core_75.txt", bands="nmc"))


def test_all_inputs_failing_writes_nothing(work, capsys):
    status, _, err = run(capsys, "fit", "bad.txt", "missing.txt", "-o", "out.csv")
    assert status == 1
    assert "nmcraman: bad.txt: " in err
    assert "nmcraman: missing.txt: " in err
    assert not (work / "out.csv").exists()
    assert leftovers(work) == []


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["fit", "-o", "o.csv"],
        ["fit", "core_75.txt"],
        ["fit", "core_75.txt", "-o", "o.csv", "--bands", "nmc+xyz"],
        ["fit", "core_75.txt", "-o", "o.csv", "--bands", "missing.toml"],
        ["fit", "core_75.txt", "-o", "o.csv", "--shape", "square"],
        ["fit", "core_75.txt", "-o", "o.csv", "--baseline", "magic"],
        ["fit", "core_75.txt", "-o", "o.csv", "--xmin", "abc"],
        ["fit", "core_75.txt", "-o", "o.csv", "--xmin", "nan"],
        ["fit", "core_75.txt", "-o", "o.csv", "--xmin", "800", "--xmax", "200"],
        ["fit", "core_75.txt", "-o", "o.csv", "--xmin", "200", "--window", "bands"],
        ["fit", "core_75.txt", "-o", "o.csv", "--eta", "0.5"],
        ["fit", "core_75.txt", "-o", "o.csv", "--shape", "pseudo_voigt", "--eta", "2"],
        ["fit", "core_75.txt", "-o", "o.csv", "--jobs", "0"],
        ["fit", "core_75.txt", "-o", "o.csv", "--format", "wide"],
        ["fit", "core_75.txt", "-o", "o.csv", "--shift", "two"],
        ["fit", "core_75.txt", "-o", "o.csv", "--shift", "inf"],
        ["fit", "core_75.txt", "-o", "o.csv", "--laser-nm", "5"],
        ["fit", "*.spc", "-o", "o.csv"],
        ["fit", "core_75.txt", "-o", "no_such_folder/o.csv"],
        ["fit", "core_75.txt", "-o", "core_75.txt", "--force"],
        ["fit", "core_75.txt", "-o", "."],
        ["fit", "core_75.txt", "-o", "o.csv", "--plot", "no_such_folder/figures"],
        ["bands", "nmc+xyz"],
        ["bands", "--export", "no_such_folder/p.toml"],
    ],
)
def test_usage_errors_exit_2_without_traceback_or_output(work, capsys, argv):
    before = sorted(p.name for p in work.iterdir())
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.strip()
    assert "Traceback" not in err
    assert sorted(p.name for p in work.iterdir()) == before


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["fit", *NAMES, "--share", "shape"], "--share applies to --joint fits"),
        (["fit", *NAMES, "--bands", "changes.toml"], "changes Mn_A1g but names no preset"),
        (["map", "core_75.txt", "--share", "shape"], "--share applies to --pooling phases"),
        (["map", "core_75.txt", "--max-phases", "3"], "--max-phases applies to --pooling phases"),
    ],
)
def test_options_nothing_would_use_are_usage_errors(work, capsys, argv, match):
    (work / "changes.toml").write_text("[bands.Mn_A1g]\ncentre = 600.0\n")
    before = sorted(p.name for p in work.iterdir())
    status, _, err = run(capsys, *argv, "-o", "o.csv")
    assert status == 2
    assert err.count("\n") == 1
    assert match in err
    assert sorted(p.name for p in work.iterdir()) == before


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("nm.txt", "pass --laser-nm to convert it"),
        ("three.txt", "pass --column (a name or a 0-based index)"),
    ],
)
def test_reader_errors_name_the_command_line_option(work, capsys, name, said):
    _reader_variants(work)
    (work / "three.txt").write_text((work / "three.txt").read_text().replace("counts", "raw"))
    status, _, err = run(capsys, "fit", name, "--bands", "nmc", "-o", "o.csv")
    assert status == 1
    assert said in err
    assert "laser_nm=" not in err
    assert "column=" not in err


@pytest.mark.parametrize("command", ["fit", "bands"])
def test_existing_output_needs_force(work, capsys, command):
    target = work / ("out.csv" if command == "fit" else "p.toml")
    target.write_text("old\n")
    argv = (
        ["fit", "core_75.txt", "--bands", "nmc", "-o"]
        if command == "fit"
        else ["bands", "--export"]
    )
    status, _, err = run(capsys, *argv, target.name)
    assert status == 2
    assert "--force" in err
    assert target.read_text() == "old\n"
    assert run(capsys, *argv, target.name, "--force")[0] == 0
    assert target.read_text() != "old\n"
    assert leftovers(work) == []


@pytest.mark.parametrize(
    ("error", "status"), [(OSError(28, "No space left on device"), 1), (KeyboardInterrupt(), 130)]
)
def test_failed_write_leaves_old_output_and_no_temp_file(work, capsys, monkeypatch, error, status):
    (work / "out.csv").write_text("old\n")

    def half_write(self, path, **kwargs):
        Path(path).write_text("file,preset,band\ncore_75.txt,nmc,")
        raise error

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    code, _, err = run(capsys, "fit", "core_75.txt", "--bands", "nmc", "-o", "out.csv", "--force")
    assert code == status
    assert "Traceback" not in err
    assert (work / "out.csv").read_text() == "old\n"
    assert leftovers(work) == []


def test_unexpected_errors_are_one_line_unless_debug(work, capsys, monkeypatch):
    real = nmcraman.fit.deconvolve

    def flaky(spectrum, **kwargs):  # the command reads the file, then fits the Spectrum
        if Path(spectrum.meta["source"]).name == "cs_75.txt":
            raise RuntimeError("kernel exploded")
        warnings.warn("detector saturated", UserWarning, stacklevel=1)
        return real(spectrum, **kwargs)

    monkeypatch.setattr(nmcraman.fit, "deconvolve", flaky)
    status, _, err = run(capsys, "fit", *NAMES, "--bands", "nmc", "-o", "a.csv")
    assert status == 1
    assert "nmcraman: cs_75.txt: unexpected RuntimeError: kernel exploded" in err
    assert "nmcraman: core_75.txt: warning: detector saturated" in err
    assert "Traceback" not in err
    status, _, err = run(capsys, "--debug", "fit", *NAMES, "--bands", "nmc", "-o", "b.csv")
    assert status == 1
    assert "Traceback" in err
    assert "RuntimeError: kernel exploded" in err


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_silences_summary_and_warnings_not_failures(work, capsys, where):
    quiet = ["-q", "fit"] if where == "before" else ["fit", "-q"]
    status, out, err = run(
        capsys, *quiet, "core_75.txt", "bad.txt", "--bands", "nmc", "-o", "o.csv"
    )
    assert status == 1
    assert out == ""
    assert err.splitlines() == [err.splitlines()[0]]
    assert err.startswith("nmcraman: bad.txt: ")


# --- nmcraman bands -----------------------------------------------------------------


def test_bands_shows_what_is_fixed_and_tied(work, capsys):
    (work / "held.toml").write_text(
        'preset = "nmc+lo"\n[bands.Mn_A1g]\nfix = ["position", "fwhm"]\n'
        '[bands.Ni_A1g]\ntie = {fwhm = "Mn_Eg"}\n'
    )
    status, out, err = run(capsys, "bands", "held.toml")
    assert status == 0, err
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha()}
    assert rows["id"].rstrip().endswith("fix / tie")
    assert rows["Mn_A1g"].rstrip().endswith("fix fwhm, position")
    assert rows["Ni_A1g"].rstrip().endswith("tie fwhm = Mn_Eg")
    assert rows["Co_Eg"].rstrip().endswith("-")


@pytest.mark.parametrize("preset", [*PRESETS, "auto"])
def test_bands_prints_every_band_and_its_citation(capsys, preset):
    status, out, _ = run(capsys, "bands", preset)
    assert status == 0
    shown = bands("nmc+lo" if preset == "auto" else preset)
    for b in shown:
        assert b.id in out
        assert b.reference in out
        assert f"{b.centre:g}" in out
    for missing in set(BANDS) - {b.id for b in shown}:
        assert missing not in out
    assert "nmcraman.bands" in out  # where the full references are


def test_bands_default_is_every_band(capsys):
    out = run(capsys, "bands")[1]
    assert all(band_id in out for band_id in BANDS)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_export_round_trips_and_feeds_fit(work, capsys, expected, preset):
    status, out, _ = run(capsys, "bands", preset, "--export", "my_priors.toml")
    assert status == 0
    assert out == ""
    assert resolve_bands("my_priors.toml") == bands(preset)
    assert run(capsys, "bands", "my_priors.toml")[0] == 0  # a prior file can be shown too
    status, _, err = run(capsys, "fit", "cs_75.txt", "--bands", "my_priors.toml", "-o", "o.csv")
    assert status == 0, err
    df = pd.read_csv(work / "o.csv")
    assert set(df["preset"]) == {"my_priors.toml"}
    assert_rows_match(df, expected("cs_75.txt", bands=preset))


# --- global options and the real command --------------------------------------------


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(capsys, flag):
    status, out, _ = run(capsys, flag)
    assert status == 0
    assert out.strip() == f"nmcraman {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["bands", "-h"]])
def test_help_has_examples(capsys, argv):
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert "examples:" in out
    assert "nmcraman fit " in out


def test_python_dash_m_end_to_end(work, expected):
    proc = subprocess_run(
        "fit", "core_75.txt", "bad.txt", "--bands", "nmc", "-o", "o.csv", cwd=work
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("nmcraman: bad.txt: ")
    assert "Traceback" not in proc.stderr
    want = expected("core_75.txt", bands="nmc")
    assert_same_fit(pd.read_csv(work / "o.csv")[list(TABLE_COLUMNS)], want.table)
    proc = subprocess_run("fit", "core_75.txt", "-o", "o.csv", cwd=work)  # exists, no --force
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert_same_fit(pd.read_csv(work / "o.csv")[list(TABLE_COLUMNS)], want.table)
    proc = subprocess_run("--version", cwd=work)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"nmcraman {__version__}")


# --- nmcraman map -------------------------------------------------------------------


def _write_labspec_map(path, rows=4, cols=5, extra=None):
    """A LabSpec-style map export of `core_shell_map`: axis row, then X, Y, spectrum.

    ``extra(x)``, if given, is added to every spectrum.
    """
    from nmcraman.synthetic import core_shell_map

    cube, x, _ = core_shell_map(rows, cols, rng=0)
    if extra is not None:
        cube = cube + extra(x)
    lines = ["\t\t" + "\t".join(repr(float(v)) for v in x)]
    for r in range(rows):
        for c in range(cols):
            values = [2.0 * c, 1.5 * r, *cube[r, c].tolist()]
            lines.append("\t".join(repr(float(v)) for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def map_work(tmp_path, monkeypatch):
    """A folder holding a 4 x 5 synthetic map, an unreadable file and a folder of spectra."""
    _write_labspec_map(tmp_path / "map.txt")
    (tmp_path / "bad.txt").write_text("this is not a spectrum\n")
    folder = tmp_path / "spectra"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(SPECTRA / name, folder / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def map_calls(monkeypatch):
    """Records ``(data, kwargs, result)`` of each `deconvolve_map` call the CLI makes."""
    import nmcraman.maps

    real, calls = nmcraman.maps.deconvolve_map, []

    def spy(data, **kwargs):
        calls.append((data, kwargs, real(data, **kwargs)))
        return calls[-1][2]

    monkeypatch.setattr(nmcraman.maps, "deconvolve_map", spy)
    return calls


def map_expected(source, **options):
    from nmcraman import deconvolve_map

    return deconvolve_map(source, progress=False, **options)


def read_table(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def assert_table_equals(path, result):
    """The CSV at ``path`` holds ``result.table``, the one the command computed; the
    files of a folder or glob are in its ``file`` column, as in fit's CSV."""
    got = read_table(path)
    want = result.table.rename(columns={"name": "file"}).reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("preset", ["auto", "nmc"])
def test_map_csv_equals_deconvolve_map(map_work, capsys, map_calls, preset):
    from nmcraman.io import read_map

    status, out, err = run(capsys, "map", "map.txt", "--bands", preset, "-o", "pixels.csv")
    assert status == 0, err
    assert out == ""
    [(data, kwargs, res)] = map_calls
    assert res.shape == (4, 5)
    assert_table_equals(map_work / "pixels.csv", res)  # exactly the table of that call
    assert kwargs["bands"] == preset
    assert (kwargs["jobs"], kwargs["warm_start"], kwargs["despike_spectra"]) == (None, None, False)
    sm = read_map("map.txt")
    np.testing.assert_array_equal(data.spectra, sm.spectra)
    np.testing.assert_array_equal(data.coords, sm.coords)
    want = map_expected("map.txt", bands=preset)
    assert_same_fit(read_table(map_work / "pixels.csv"), want.table)
    flagged = int((res.stats["flags"] != 0).sum())
    assert f"nmcraman: 20 pixels, {flagged} flagged" in err
    assert err.rstrip().endswith("wrote pixels.csv")
    assert len(err.splitlines()) == 1
    assert leftovers(map_work) == []


def test_map_options_reach_deconvolve_map(map_work, capsys, map_calls):
    argv = ["--bands", "nmc", "--shape", "gaussian", "--baseline", "poly2", "--xmin", "200",
            "--xmax", "850", "--no-warm-start", "--despike", "--jobs", "1"]  # fmt: skip
    status, _, err = run(capsys, "map", "map.txt", *argv, "-o", "o.csv")
    assert status == 0, err
    res = map_expected(
        "map.txt", bands="nmc", shape="gaussian", baseline="poly2", window=(200.0, 850.0),
        warm_start=False, despike_spectra=True, jobs=1,
    )  # fmt: skip
    [(_, kwargs, used)] = map_calls
    assert_table_equals(map_work / "o.csv", used)
    assert_same_fit(read_table(map_work / "o.csv"), res.table)
    options = {"bands": "nmc", "shape": "gaussian", "baseline": "poly2", "refine": 1,
               "window": (200.0, 850.0), "eta": None, "jobs": 1,
               "warm_start": False,
               "despike_spectra": True, "progress": False, "pooling": "none",
               "share": None, "max_phases": None}  # fmt: skip
    assert kwargs == options  # share and max_phases: not given, and unused unpooled


def test_map_reader_options_reach_the_readers(map_work, capsys, map_calls):
    from nmcraman.io import read_many, read_map

    status, _, err = run(
        capsys, "map", "map.txt", "--bands", "nmc", "--shift", "-1.5", "-o", "a.csv"
    )
    assert status == 0, err
    [(data, _, _)] = map_calls
    np.testing.assert_allclose(data.x, read_map("map.txt").x - 1.5)
    assert data.meta["shift_cm1"] == -1.5
    _reader_variants(map_work / "spectra")
    (map_work / "spectra" / "nm.txt").unlink()
    argv = ["--bands", "nmc", "--column", "1", "--laser-nm", "532", "-o", "b.csv"]
    status, _, err = run(capsys, "map", "spectra", *argv)
    assert status == 0, err
    data = map_calls[-1][0]
    want = read_many("spectra", column=1, laser_nm=532.0)
    np.testing.assert_array_equal(data.spectra, want.spectra)
    assert data.meta["laser_nm"] == 532.0
    names = data.meta["names"]
    three, core = (data.spectra[names.index(n)] for n in ("three.txt", "core_75.txt"))
    np.testing.assert_allclose(three, 0.5 * core, atol=1e-4)  # column 1: the "dark" half


def test_map_of_a_folder_names_files_and_reports_failures(map_work, capsys, map_calls):
    (map_work / "spectra" / "bad.txt").write_text("not a spectrum\n")
    status, _, err = run(capsys, "map", "spectra", "--bands", "nmc", "-o", "o.csv")
    assert status == 1  # like fit: an input failed, the others are written
    assert err.startswith("nmcraman: bad.txt: ")
    df = pd.read_csv(map_work / "o.csv")
    assert "name" not in df  # as fit names its inputs: the path, in a "file" column
    assert list(dict.fromkeys(df["file"])) == [f"spectra/{n}" for n in NAMES]
    fitted = map_calls[0][2]  # named by the files' names; the CSV by their paths
    assert_table_equals(
        map_work / "o.csv", fitted.replace(names=[f"spectra/{n}" for n in fitted.names])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped bad.txt
        want = map_expected("spectra", bands="nmc").table
    got = read_table(map_work / "o.csv")
    assert_same_fit(got.drop(columns="file"), want.drop(columns="name"))
    status, _, err = run(capsys, "map", "spectra/c*.txt", "--bands", "nmc", "-o", "g.csv")
    assert status == 0, err
    assert list(dict.fromkeys(pd.read_csv("g.csv")["file"])) == [f"spectra/{n}" for n in NAMES]


def test_map_images_one_png_per_parameter_and_band(map_work, capsys):
    status, _, err = run(capsys, "map", "map.txt", "-o", "o.csv", "--images", "maps")
    assert status == 0, err
    res = map_expected("map.txt")
    names = {f"{p}_{b}.png" for p in ("position", "fwhm", "area_pct") for b in res.bands}
    pngs = sorted((map_work / "maps").iterdir())
    assert {p.name for p in pngs} == names | {"flags.png"}
    assert "area_pct_Mn_A1g.png" in names
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    assert f"and {len(pngs)} images in maps" in err
    # Images are outputs too: not overwritten without --force, checked before the fit.
    status, _, err = run(capsys, "map", "map.txt", "-o", "o2.csv", "--images", "maps")
    assert status == 2
    assert "--force" in err
    assert not (map_work / "o2.csv").exists()
    args = ("map", "map.txt", "-o", "o2.csv", "--images", "maps", "--force")
    assert run(capsys, *args)[0] == 0
    assert leftovers(map_work) == []


def test_map_pooling_phases_writes_the_phase_column_and_image(map_work, capsys, map_calls):
    argv = ["--bands", "nmc", "--pooling", "phases", "--share", "shape", "--max-phases", "2"]
    status, _, err = run(capsys, "map", "map.txt", *argv, "-o", "o.csv", "--images", "maps")
    assert status == 0, err
    [(_, kwargs, used)] = map_calls
    assert (kwargs["pooling"], kwargs["share"], kwargs["max_phases"]) == ("phases", "shape", 2)
    assert_table_equals(map_work / "o.csv", used)
    want = map_expected("map.txt", bands="nmc", pooling="phases", share="shape", max_phases=2)
    df = pd.read_csv(map_work / "o.csv")
    assert (df["phase"].to_numpy() == want.table["phase"].to_numpy()).all()
    assert (map_work / "maps" / "phase.png").read_bytes().startswith(PNG_MAGIC)


def test_map_pooling_shows_a_phase_s_misfit_in_csv_summary_and_sidecar(map_work, capsys):
    """Every pixel of a one-phase map has a band at 625 cm-1 that the model lacks."""
    import json

    _write_labspec_map(map_work / "misfit.txt", 8, 8,
                       extra=lambda x: 80.0 / (1.0 + ((x - 625.0) / 20.0) ** 2))  # fmt: skip
    argv = ["--bands", "nmc+lo", "--window", "bands", "--baseline", "poly3"]
    argv += ["--pooling", "phases", "--max-phases", "1", "-o", "o.csv"]
    status, _, err = run(capsys, "map", "misfit.txt", *argv)
    assert status == 0, err
    assert "model_misfit 64" in err
    assert pd.read_csv(map_work / "o.csv")["flag"].str.contains("model_misfit").all()
    fitted = json.loads((map_work / "o.csv.json").read_text())["fitted"][0]
    [phase] = fitted["pooling"]["phases"]
    assert phase["model_misfit"] is True
    assert phase["misfit_pvalue"] < 1e-3


def test_map_images_put_row_0_at_the_top_and_phases_in_a_colour_each(
    map_work, capsys, map_calls, monkeypatch
):
    """As the HTML page: row 0 at the top; the phase image a key of integer labels."""
    from matplotlib.figure import Figure

    real, saved = Figure.savefig, []

    def spy(fig, *args, **kwargs):
        saved.append(fig)
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    argv = ["--bands", "nmc", "--pooling", "phases", "--max-phases", "2"]
    status, _, err = run(capsys, "map", "map.txt", *argv, "-o", "o.csv", "--images", "maps")
    assert status == 0, err
    [(_, _, res)] = map_calls
    assert len(saved) == len(list((map_work / "maps").iterdir()))
    for fig in saved:
        [im] = fig.axes[0].images
        assert im.origin == "upper"
        assert tuple(im.get_extent()) == (-0.5, 4.5, 3.5, -0.5)  # 4 rows, 5 columns
    [phase_fig] = [f for f in saved if f.axes[0].get_title().endswith(": phase")]
    [im] = phase_fig.axes[0].images
    labels = sorted(set(res.stats["phase"].tolist()))
    assert list(im.colorbar.get_ticks()) == labels
    assert len({im.cmap(im.norm(k)) for k in labels}) == len(labels)


@pytest.mark.parametrize("bad", ["bad.txt", "missing.txt"])
def test_map_unreadable_input_exits_1_and_writes_nothing(map_work, capsys, bad):
    status, out, err = run(capsys, "-q", "map", bad, "-o", "o.csv", "--images", "maps")
    assert status == 1
    assert out == ""
    assert err.startswith(f"nmcraman: {bad}: ")
    assert "Traceback" not in err
    assert not (map_work / "o.csv").exists()
    assert not (map_work / "maps").exists()
    assert leftovers(map_work) == []


def test_map_unusable_data_exits_1(map_work, capsys):
    # The map is readable, but no band lies in the requested window.
    status, _, err = run(capsys, "map", "map.txt", "--xmin", "850", "--xmax", "900", "-o", "o.csv")
    assert status == 1
    assert err.startswith("nmcraman: map.txt: band ")
    assert not (map_work / "o.csv").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["map", "map.txt"],
        ["map", "-o", "o.csv"],
        ["map", "*.xyz", "-o", "o.csv"],
        ["map", "map.txt", "-o", "o.csv", "--bands", "nmc+xyz"],
        ["map", "map.txt", "-o", "o.csv", "--shape", "square"],
        ["map", "map.txt", "-o", "o.csv", "--xmin", "800", "--xmax", "200"],
        ["map", "map.txt", "-o", "o.csv", "--eta", "0.5"],
        ["map", "map.txt", "-o", "o.csv", "--jobs", "0"],
        ["map", "map.txt", "-o", "o.csv", "--shift", "nan"],
        ["map", "map.txt", "-o", "o.csv", "--laser-nm", "90000"],
        ["map", "map.txt", "-o", "no_such_folder/o.csv"],
        ["map", "map.txt", "-o", "map.txt", "--force"],
        ["map", "map.txt", "-o", "o.csv", "--images", "bad.txt"],
        ["map", "map.txt", "-o", "o.csv", "--images", "no_such_folder/maps"],
    ],
)
def test_map_usage_errors_exit_2_without_output(map_work, capsys, argv):
    before = sorted(p.name for p in map_work.iterdir())
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.strip()
    assert "Traceback" not in err
    assert sorted(p.name for p in map_work.iterdir()) == before


def test_map_existing_output_needs_force(map_work, capsys):
    (map_work / "o.csv").write_text("old\n")
    status, _, err = run(capsys, "map", "map.txt", "--bands", "nmc", "-o", "o.csv")
    assert status == 2
    assert "--force" in err
    assert (map_work / "o.csv").read_text() == "old\n"
    assert run(capsys, "map", "map.txt", "--bands", "nmc", "-o", "o.csv", "--force")[0] == 0
    assert (map_work / "o.csv").read_text().startswith("row,col,x,y,band")


@pytest.mark.parametrize(
    ("error", "status"), [(OSError(28, "No space left on device"), 1), (KeyboardInterrupt(), 130)]
)
def test_map_failed_write_leaves_old_output(map_work, capsys, monkeypatch, error, status):
    (map_work / "o.csv").write_text("old\n")

    def half_write(self, path, **kwargs):
        Path(path).write_text("row,col,x,y,band\n0,0,")
        raise error

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    code, _, err = run(capsys, "map", "map.txt", "--bands", "nmc", "-o", "o.csv", "--force")
    assert code == status
    assert "Traceback" not in err
    assert (map_work / "o.csv").read_text() == "old\n"
    assert leftovers(map_work) == []


def test_map_unexpected_errors_are_one_line_unless_debug(map_work, capsys, monkeypatch):
    import nmcraman.maps

    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(nmcraman.maps, "deconvolve_map", broken)
    status, _, err = run(capsys, "map", "map.txt", "-o", "a.csv")
    assert status == 1
    assert "nmcraman: map.txt: unexpected RuntimeError: kernel exploded" in err
    assert "Traceback" not in err
    status, _, err = run(capsys, "--debug", "map", "map.txt", "-o", "a.csv")
    assert status == 1
    assert "Traceback" in err
    assert not (map_work / "a.csv").exists()


def test_map_quiet_prints_nothing_on_success(map_work, capsys):
    status, out, err = run(capsys, "map", "-q", "map.txt", "--bands", "nmc", "-o", "o.csv")
    assert (status, out, err) == (0, "", "")


def test_map_help_has_examples(capsys):
    status, out, _ = run(capsys, "map", "--help")
    assert status == 0
    assert "nmcraman map " in out
    assert "--images" in out


def test_map_python_dash_m_end_to_end(map_work):
    proc = subprocess_run("map", "map.txt", "--bands", "nmc", "-o", "o.csv", cwd=map_work)
    assert proc.returncode == 0, proc.stderr
    want = map_expected("map.txt", bands="nmc")
    got = pd.read_csv(map_work / "o.csv", keep_default_na=False, na_values=[""])
    # Another process, whose kernels may be compiled afresh: each default pixel makes
    # about a dozen fits, and where one stops an iteration apart its errors move by
    # up to 0.2 % (CI, cold numba cache), as on the maps of tests/test_maps.py.
    assert_same_fit(got, want.table, err_rtol=0.01)
    proc = subprocess_run("map", "bad.txt", "-o", "b.csv", cwd=map_work)
    assert proc.returncode == 1
    assert proc.stderr.startswith("nmcraman: bad.txt: ")
    assert "Traceback" not in proc.stderr


# --- fit --joint ------------------------------------------------------------------------


@pytest.fixture
def spots(tmp_path):
    """Four spectrum files of one CS_75-like sample."""
    from nmcraman.synthetic import replicate_set

    paths = []
    for i, s in enumerate(replicate_set("CS_75", 4, rng=1)):
        path = tmp_path / f"spot{i}.txt"
        np.savetxt(path, np.column_stack([s.x, s.y]))
        paths.append(str(path))
    return paths


def test_fit_joint_writes_the_summary_and_every_spectrum(spots, tmp_path, capsys):
    from nmcraman import deconvolve_joint

    out = tmp_path / "sample.csv"
    code, _, err = run(capsys, "fit", *spots, "--joint", "--bands", "nmc+lo", "-o", str(out))
    assert code == 0, err
    summary = pd.read_csv(out)
    table = pd.read_csv(tmp_path / "sample_spectra.csv")
    want = deconvolve_joint(spots, bands="nmc+lo")
    np.testing.assert_allclose(summary["area_pct"], want.summary["area_pct"], rtol=1e-9)
    np.testing.assert_allclose(summary["position_err"], want.summary["position_err"], rtol=1e-9)
    assert summary["flag"].tolist() == want.summary["flag"].tolist()
    assert table["file"].tolist() == [p for p in spots for _ in range(7)]
    assert want.names == tuple(spots)  # the names Python gives are the command line's
    np.testing.assert_allclose(table["area_pct"], want.table["area_pct"], rtol=1e-9)


def test_fit_joint_shape_warns_when_sharing_does_not_fit(spots, tmp_path, capsys):
    out = tmp_path / "s.csv"
    code, _, err = run(capsys, "fit", *spots, "--joint", "--share", "shape", "--bands", "nmc+lo",
                       "-o", str(out))  # fmt: skip
    assert code == 0
    assert "consider --share partial" in err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--jobs", "2"], "drop --jobs"),
        (["--format", "table-s3"], "drop --plot and --format"),
        (["--engine", "lmfit"], "one engine"),
    ],
)
def test_fit_joint_refuses_options_it_cannot_honour(spots, tmp_path, capsys, extra, match):
    out = tmp_path / "s.csv"
    code, _, err = run(capsys, "fit", *spots, "--joint", *extra, "-o", str(out))
    assert code == 2
    assert match in err
    assert not out.exists()
    assert not (tmp_path / "s_spectra.csv").exists()


def test_fit_joint_needs_two_files(spots, tmp_path, capsys):
    code, _, err = run(capsys, "fit", spots[0], "--joint", "-o", str(tmp_path / "s.csv"))
    assert code == 2
    assert "two or more" in err
