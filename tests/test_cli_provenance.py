"""Provenance sidecars, QC flags and --despike of the command (nmcraman/cli/_provenance.py)."""

import datetime
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nmcraman import Band, __version__, deconvolve
from nmcraman.bands import PRESETS, bands
from nmcraman.cli import main
from nmcraman.synthetic import simulate

SPECTRA = Path(__file__).resolve().parents[1] / "spectra"
NAMES = ("core_75.txt", "cs_75.txt")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """The shipped spectra, an unreadable file and a spectrum with a cosmic ray; the cwd."""
    for name in NAMES:
        shutil.copy(SPECTRA / name, tmp_path / name)
    (tmp_path / "bad.txt").write_text("this is not a spectrum\n")
    s = simulate("Core_75", snr=300, rng=1)
    y = s.y.copy()
    y[400] += 40 * 1000.0 / 300  # one channel, 40 noise sigma
    np.savetxt(tmp_path / "spiked.txt", np.column_stack([s.x, y]))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def sidecar(path) -> dict:
    return json.loads(Path(f"{path}.json").read_text())


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_fit_writes_its_provenance(work, capsys):
    argv = ["fit", *NAMES, "bad.txt", "--bands", "nmc", "--shape", "gaussian", "--xmin", "190",
            "-o", "o.csv"]  # fmt: skip
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    status, _, err = run(capsys, *argv)
    assert status == 1, err  # bad.txt failed; the others are written
    rec = sidecar(work / "o.csv")
    assert rec["output"] == "o.csv"
    assert rec["nmcraman_version"] == __version__
    assert rec["argv"] == argv
    assert rec["command"] == "nmcraman " + " ".join(argv)
    assert before <= datetime.datetime.fromisoformat(rec["date"])
    assert [Band(**d) for d in rec["priors"]] == bands("nmc")
    # Not given: the defaults the fit used, those of deconvolve.
    assert (rec["bands"], rec["shape"], rec["baseline"]) == ("nmc", "gaussian", "auto")
    assert rec["window"] == [190.0, None]
    assert rec["window_rule"] == "auto"
    assert rec["options"]["engine"] == "numba"
    assert rec["options"]["format"] == "long"
    assert rec["options"]["despike"] is False
    assert [i["path"] for i in rec["inputs"]] == [*NAMES, "bad.txt"]
    for item in rec["inputs"]:
        assert item["sha256"] == sha(work / item["path"])
        assert item["bytes"] == (work / item["path"]).stat().st_size
    assert [f["path"] for f in rec["failed"]] == ["bad.txt"]
    assert set(pd.read_csv("o.csv")["file"]) == set(NAMES)


def test_auto_records_both_presets_and_priors_read_back(work, capsys):
    assert run(capsys, "fit", "core_75.txt", "-o", "o.csv")[0] == 0
    rec = sidecar(work / "o.csv")
    assert rec["bands"] == "auto"
    assert set(rec["priors"]) == set(PRESETS)
    # The recorded numbers are the priors themselves: they rebuild the same bands.
    for name, listed in rec["priors"].items():
        assert [Band(**d) for d in listed] == bands(name)


def test_table_s3_keeps_band_and_spectrum_flags(work, capsys):
    status, _, err = run(capsys, "fit", "core_75.txt", "spiked.txt", "--bands", "nmc",
                         "--format", "table-s3", "-o", "s3.csv")  # fmt: skip
    assert status == 0, err
    df = pd.read_csv("s3.csv").set_index("band")
    want = deconvolve("core_75.txt", bands="nmc").table.set_index("band")["flag"]
    assert df["core_75 flag"].tolist() == want.tolist()
    spiked = deconvolve("spiked.txt", bands="nmc")
    assert "spike" in spiked.qc
    assert all(f.split(";")[-len(spiked.qc) :] == list(spiked.qc) for f in df["spiked flag"])
    assert (work / "s3.csv.json").is_file()


def test_despike_reaches_deconvolve(work, capsys):
    status, _, err = run(capsys, "fit", "spiked.txt", "--bands", "nmc", "--despike", "-o", "o.csv")
    assert status == 0, err
    got = pd.read_csv("o.csv")
    want = deconvolve("spiked.txt", bands="nmc", despike=True).table
    np.testing.assert_allclose(got["area_pct"], want["area_pct"], rtol=1e-9)
    assert got["flag"].str.endswith("spike").all()  # removed, and still flagged
    raw = deconvolve("spiked.txt", bands="nmc").table
    assert not np.allclose(raw["area_pct"], want["area_pct"], rtol=1e-9)


def test_existing_sidecar_needs_force(work, capsys):
    Path("o.csv.json").write_text("{}")
    status, _, err = run(capsys, "fit", "core_75.txt", "--bands", "nmc", "-o", "o.csv")
    assert status == 2
    assert "o.csv.json exists" in err
    assert not Path("o.csv").exists()
    assert run(capsys, "fit", "core_75.txt", "--bands", "nmc", "-o", "o.csv", "--force")[0] == 0
    assert sidecar("o.csv")["inputs"][0]["path"] == "core_75.txt"


def test_no_csv_is_left_without_its_sidecar(work, capsys, monkeypatch):
    import nmcraman.cli._provenance as provenance

    monkeypatch.setattr(
        provenance, "sidecar_path", lambda out: work / "missing" / f"{out.name}.json"
    )
    status, _, err = run(capsys, "fit", "core_75.txt", "--bands", "nmc", "-o", "o.csv")
    assert status == 1
    assert "does not exist" in err
    assert sorted(p.name for p in work.iterdir()) == sorted([*NAMES, "bad.txt", "spiked.txt"])


def test_joint_writes_a_sidecar_beside_each_csv(tmp_path, capsys):
    from nmcraman.synthetic import replicate_set

    spots = []
    for i, s in enumerate(replicate_set("CS_75", 3, rng=1)):
        spots.append(tmp_path / f"spot{i}.txt")
        np.savetxt(spots[-1], np.column_stack([s.x, s.y]))
    out = tmp_path / "sample.csv"
    status, _, err = run(capsys, "fit", *spots, "--joint", "--bands", "nmc+lo", "-o", out)
    assert status == 0, err
    for csv in (out, tmp_path / "sample_spectra.csv"):
        rec = sidecar(csv)
        assert rec["output"] == csv.name
        assert [i["sha256"] for i in rec["inputs"]] == [sha(p) for p in spots]
        assert rec["options"]["joint"] is True


def test_map_writes_its_provenance(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "spectra"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(SPECTRA / name, folder / name)
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "map", "spectra", "--bands", "nmc", "-o", "px.csv")
    assert status == 0, err
    rec = sidecar(tmp_path / "px.csv")
    assert rec["argv"][:2] == ["map", "spectra"]
    assert [Band(**d) for d in rec["priors"]] == bands("nmc")
    assert sorted(Path(i["path"]).name for i in rec["inputs"]) == sorted(NAMES)
    for item in rec["inputs"]:
        assert item["sha256"] == sha(item["path"])


@pytest.mark.parametrize(
    ("window", "baseline", "span"),
    [("bands", "poly3", (180.0, 775.0)), ("wide", "poly3", (150.0, 900.0)), ("auto", "auto", None)],
)
def test_window_option_reaches_the_fit_and_its_record(work, capsys, window, baseline, span):
    status, _, err = run(capsys, "fit", "core_75.txt", "--bands", "nmc", "--window", window,
                         "--baseline", baseline, "-o", "o.csv")  # fmt: skip
    assert status == 0, err
    rec = sidecar(work / "o.csv")
    assert (rec["window_rule"], rec["baseline"]) == (window, baseline)
    ref = deconvolve("core_75.txt", bands="nmc", window=window, baseline=baseline)
    if span is None:
        span = (180.0, 775.0) if ref.meta["auto_choice"]["window"] == "bands" else (150.0, 900.0)
    assert ref.meta["window"] == span
    got = pd.read_csv(work / "o.csv")
    np.testing.assert_allclose(got["area_pct"], ref.table["area_pct"], rtol=1e-9)


def test_unknown_window_is_a_usage_error(work, capsys):
    status, _, err = run(capsys, "fit", "core_75.txt", "--window", "narrow", "-o", "o.csv")
    assert status == 2
    assert "--window" in err
    assert not (work / "o.csv").exists()


def test_the_sidecar_records_what_was_fitted(work, capsys):
    """Not only the options given: the window, baseline orders and weights, constraints."""
    (work / "p.toml").write_text(
        'preset = "nmc"\n[Mn_A1g]\nfix = ["position"]\n[Co_Eg]\ntie = {fwhm = "Co_A1g"}\n'
    )
    status, _, _ = run(capsys, "fit", "core_75.txt", "--bands", "p.toml", "-o", "o.csv")
    assert status == 0
    rec = sidecar(work / "o.csv")
    ref = deconvolve("core_75.txt", bands="p.toml")
    (done,) = rec["fitted"]
    assert done["path"] == "core_75.txt"
    assert done["window"] == list(ref.meta["window"])
    assert done["baseline"] == ref.meta["baseline"]
    assert done["auto_choice"]["weights"] == pytest.approx(ref.meta["auto_choice"]["weights"])
    assert done["held"] == {"Mn_A1g": {"fix": ["position"]}, "Co_Eg": {"tie": {"fwhm": "Co_A1g"}}}
    assert done["model"]["window"] == "auto"


def test_a_map_sidecar_records_what_was_fitted(work, capsys):
    status, _, _ = run(
        capsys, "map", "c*_75.txt", "--bands", "nmc", "--window", "bands", "--baseline", "poly3",
        "-o", "m.csv",
    )  # fmt: skip
    assert status == 0
    (done,) = sidecar(work / "m.csv")["fitted"]
    assert done["window"] == [180.0, 775.0]
    assert done["baseline"] == "joint polynomial, order 3"
    assert done["model"]["baseline"] == "poly3"
