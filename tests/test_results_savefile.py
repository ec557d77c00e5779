"""Save and load (nmcraman/results/savefile.py): exact round trips and refused files."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

import nmcraman
from nmcraman import InputError, JointResult, ReadError, Result, deconvolve, load
from nmcraman.bands import Band
from nmcraman.maps import deconvolve_batch
from nmcraman.results.savefile import FORMAT_VERSION
from nmcraman.synthetic import simulate


def _same(a, b) -> None:
    """Assert that two saved values are equal number for number (NaN equal to NaN)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, (Result, JointResult)):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name))
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def _round_trip(obj, tmp_path):
    path = tmp_path / "fit.json"
    obj.save(path)
    return load(path)


@pytest.mark.parametrize(
    ("truth", "kwargs"),
    [
        ("Core_75", {"bands": "nmc"}),
        ("CS_75", {"bands": "nmc+lo", "shape": "pseudo_voigt"}),
        ("Core_75", {"bands": "nmc", "shape": "gaussian", "baseline": "asls"}),
        ("CS_75", {}),  # auto: model_choice holds the alternative Result
        ("Core_75", {"bands": "nmc", "engine": "lmfit"}),
    ],
)
def test_result_round_trip_is_exact(truth, kwargs, tmp_path):
    s = simulate(truth, snr=150, rng=7)
    res = deconvolve(s.x, s.y, **kwargs)
    back = _round_trip(res, tmp_path)
    _same(res, back)
    # The public views too: the table, curves, components and covariance.
    pd.testing.assert_frame_equal(back.table, res.table, check_exact=True)
    pd.testing.assert_frame_equal(back.components, res.components, check_exact=True)
    pd.testing.assert_frame_equal(back.covariance, res.covariance, check_exact=True)
    for name in ("x", "y", "baseline", "best_fit", "residual"):
        assert np.array_equal(getattr(back, name), getattr(res, name))
    assert back.priors == res.priors
    assert all(isinstance(b, Band) for b in back.priors)
    assert back.meta["nmcraman_version"] == nmcraman.__version__
    assert back.report() == res.report()
    assert np.array_equal(back.spectrum_y, s.y)
    assert back.qc == res.qc
    if "bands" not in kwargs:
        _same(res.model_choice["alternative"], back.model_choice["alternative"])


def test_source_nan_and_odd_metadata_survive(tmp_path):
    s = simulate("Core_75", snr=150, rng=3)
    spec = nmcraman.Spectrum(
        s.x, s.y, {"source": "/data/core 75.txt", "laser_nm": 532.0, "gain": np.float32(1.5),
                   "bad": [math.nan, math.inf, -math.inf], "pair": (1, "a"), 3: "int key"},
    )  # fmt: skip
    res = deconvolve(spec, bands="nmc")
    back = _round_trip(res, tmp_path)
    _same(res.meta, back.meta)
    assert back.meta["source"] == "/data/core 75.txt"
    text = (tmp_path / "fit.json").read_text()
    assert "NaN" not in text
    assert "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in the file"))


def test_joint_round_trip_returns_a_joint_result(tmp_path):
    spectra = [(s.x, s.y) for s in (simulate("Core_75", snr=150, rng=i) for i in range(3))]
    res = nmcraman.deconvolve_joint(spectra)  # auto: the alternative is a JointResult
    back = _round_trip(res, tmp_path)
    assert isinstance(back, JointResult)
    _same(res, back)
    pd.testing.assert_frame_equal(back.summary, res.summary, check_exact=True)
    pd.testing.assert_frame_equal(back.table, res.table, check_exact=True)
    assert isinstance(back.model_choice["alternative"], JointResult)


@pytest.mark.parametrize(
    "kwargs", [{}, {"baseline": "asls", "shape": "pseudo_voigt"}, {"keep_spectra": False}]
)
def test_map_round_trip(kwargs, tmp_path):
    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(4)]
    res = deconvolve_batch(
        spectra[0].x,
        np.array([s.y for s in spectra]),
        coords=np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 1.5], [1.5, 1.5]]),
        names=["a", "b", "c", "d"],
        **kwargs,
    ).replace(shape=(2, 2), dims=None)  # a 2 x 2 map
    res = res.replace(meta={**res.meta, "source": "map.txt"})  # fmt: skip
    back = _round_trip(res, tmp_path)
    assert isinstance(back, nmcraman.MapResult)
    assert back.shape == (2, 2)
    for name in ("params", "stats", "meta", "bands", "labels", "band_flags", "names", "coords"):
        _same(getattr(res, name), getattr(back, name))
    pd.testing.assert_frame_equal(back.table, res.table, check_exact=True)
    if res.spectra is None:
        assert back.spectra is None
        return
    assert (back.spectra.initial is None) == (res.spectra.initial is None)
    for kept in ("data", "initial"):
        a, b = getattr(res.spectra, kept), getattr(back.spectra, kept)
        for field in ("codes", "offset", "step") if a is not None else ():
            _same(getattr(a, field), getattr(b, field))
    _same(res.spectra.x, back.spectra.x)
    _same(res.spectra.baseline_coef, back.spectra.baseline_coef)
    pd.testing.assert_frame_equal(back.curves(3), res.curves(3), check_exact=True)


def test_a_map_saved_before_maps_kept_spectra_loads(tmp_path):
    """A file of format 1 has no ``spectra``: it loads, without them."""
    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(2)]
    res = deconvolve_batch(spectra[0].x, np.array([s.y for s in spectra]), bands="nmc")
    path = tmp_path / "map.json"
    res.save(path)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == FORMAT_VERSION == 2
    del doc["data"]["__map__"]["spectra"]
    doc["format_version"] = 1
    path.write_text(json.dumps(doc))
    back = load(path)
    assert back.spectra is None
    pd.testing.assert_frame_equal(back.table, res.table, check_exact=True)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    s = simulate("Core_75", snr=150, rng=1)
    path = tmp_path_factory.mktemp("saved") / "fit.json"
    deconvolve(s.x, s.y, bands="nmc").save(path)
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x,y\n1,2\n", "not JSON"),
        ('{"a": 1}', "not an nmcraman save file"),
        ("[1, 2]", "not an nmcraman save file"),
        (lambda d: {**d, "format_version": FORMAT_VERSION + 1}, "upgrade"),
        (lambda d: {**d, "format_version": "one"}, "not valid"),
        (lambda d: {**d, "kind": "JointResult"}, "damaged"),
        (lambda d: {**d, "data": {"__result__": {"x": 1}}}, "damaged"),
        (lambda d: {k: v for k, v in d.items() if k != "data"}, "damaged"),
    ],
)
def test_bad_files_raise_read_error(content, message, saved, tmp_path):
    path = tmp_path / "bad.json"
    text = content if isinstance(content, str) else json.dumps(content(saved))
    path.write_text(text)
    with pytest.raises(ReadError, match=message) as info:
        load(path)
    assert "\n" not in str(info.value)


def test_truncated_and_missing_files(saved, tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(saved)[:5000])
    with pytest.raises(ReadError, match="not JSON"):
        load(path)
    with pytest.raises(ReadError, match="cannot read"):
        load(tmp_path / "absent.json")


def _fit_of(kind: str):
    spectra = [simulate("Core_75", snr=150, rng=i) for i in range(2)]
    fixed = {"bands": "nmc", "window": "bands", "baseline": "poly3"}
    if kind == "Result":
        return deconvolve(spectra[0].x, spectra[0].y, **fixed)
    if kind == "JointResult":
        return nmcraman.deconvolve_joint([(s.x, s.y) for s in spectra], **fixed)
    return deconvolve_batch(spectra[0].x, np.array([s.y for s in spectra]), **fixed)


@pytest.mark.parametrize("writer", ["save", "to_csv", "to_html"])
@pytest.mark.parametrize("kind", ["Result", "JointResult", "MapResult"])
def test_no_writer_overwrites_a_file_without_force(tmp_path, kind, writer):
    fit = _fit_of(kind)
    path = tmp_path / "out.txt"
    path.write_text("the user's file", encoding="utf-8")
    with pytest.raises(InputError, match=r"out\.txt exists; pass force=True to overwrite it\.$"):
        getattr(fit, writer)(path)
    assert path.read_text(encoding="utf-8") == "the user's file"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left
    getattr(fit, writer)(path, force=True)
    assert path.read_text(encoding="utf-8") != "the user's file"


def test_save_refuses_what_it_cannot_write(tmp_path):
    s = simulate("Core_75", snr=150, rng=1)
    res = deconvolve(nmcraman.Spectrum(s.x, s.y, {"when": object()}), bands="nmc")
    with pytest.raises(InputError, match="cannot save a value of type object"):
        res.save(tmp_path / "x.json")
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(InputError, match="can save a Result"):
        nmcraman.results.savefile.save({"a": 1}, tmp_path / "y.json")
    res = deconvolve(s.x, s.y, bands="nmc")
    res.save(tmp_path / "z.json")
    with pytest.raises(InputError, match="exists"):
        res.save(tmp_path / "z.json", force=False)
