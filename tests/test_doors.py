"""Every door into the fit honours every model option: the matrix test.

The doors are `deconvolve` (numba and lmfit engines), `deconvolve_batch`,
`deconvolve_map` (in memory, on a dask array, pooled by phase), `deconvolve_joint`
and the CLI's ``fit``. An unpooled door must give, for each spectrum, the table
`deconvolve` gives with the same options (warm starts off: a map's warm start is a
different start, not a different model); a door that dropped or changed an option
would not. Pooled doors share shapes between spectra, so there the test is that the
held parameters hold exactly. Pooling through a navigation dimension (``through=``)
is a row of its own: honoured by the doors that fit a series, refused by name by the
others.
"""

import json

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from conftest import SEPARATE_PROCESS_RTOL_UNRESOLVED, SEPARATE_PROCESS_SIGMA
from io_samples import labspec_lines, write_lines

from nmcraman import deconvolve, deconvolve_batch, deconvolve_joint, deconvolve_map
from nmcraman.cli import main
from nmcraman.synthetic import perturb, simulate

#: A position fixed away from its prior and the truth, and a tie: both must hold.
HELD = {
    "preset": "nmc",
    "Mn_A1g": {"centre": 600.0, "fix": ["position"]},
    "Co_Eg": {"tie": {"fwhm": "Co_A1g"}},
}
#: One case per option: the keyword arguments every door receives.
CASES = {
    "fix_tie": {"bands": HELD},
    "gaussian": {"shape": "gaussian"},
    "pseudo_voigt_eta": {"shape": "pseudo_voigt", "eta": 0.3},
    "poly2": {"baseline": "poly2"},
    "wide": {"window": "wide"},
    "window_sides": {"window": (200.0, 760.0)},
    "asls_refine": {"baseline": "asls", "refine": 2},
    "despike": {"despike": True},
}
#: What every case starts from: the fixed model, so that the doors' defaults play no
#: part, and the six NMC bands.
BASE = {"bands": "nmc", "window": "bands", "baseline": "poly3"}
#: Values compared, in units of their own 1-sigma error: the same spectrum and model
#: through another door stops within the kernels' tolerance of the same minimum. The
#: batch driver and `deconvolve` are separately compiled kernels whose last digits
#: differ (fastmath), which moves a Gaussian fit's stop by up to about 0.005 sigma.
VALUES = ("position", "fwhm", "area_pct")


@pytest.fixture(scope="module")
def spectra():
    """Four Core_75-like spectra (one with a cosmic-ray spike) on one axis."""
    rng = np.random.default_rng(23)
    out = [simulate(perturb("Core_75", rng), snr=150, rng=rng) for _ in range(4)]
    x = out[0].x
    ys = np.array([s.y for s in out])
    ys[1, np.argmin(np.abs(x - 455.0))] += 40 * ys[1].std()
    return x, ys


def _options(case):
    return {**BASE, **CASES[case]}


def _without_despike(kwargs):
    return {k: v for k, v in kwargs.items() if k != "despike"}


def _map_kwargs(kwargs):
    """Map doors spell ``despike`` as ``despike_spectra``."""
    out = _without_despike(kwargs)
    if kwargs.get("despike"):
        out["despike_spectra"] = True
    return out


def _per_spectrum(table, key):
    return [g.reset_index(drop=True) for _, g in table.groupby(key, sort=True)]


def _assert_same(tables, reference, door):
    assert len(tables) == len(reference)
    for got, ref in zip(tables, reference, strict=True):
        assert list(got["band"]) == list(ref["band"]), door
        # A map's flag adds the pixel's QC flags (poor_fit, spike) to the band's own.
        for mine, want in zip(got["flag"], ref["flag"], strict=True):
            assert want == "ok" or set(want.split(";")) <= set(mine.split(";")), door
        for col in VALUES:
            want = ref[col].to_numpy(dtype=float)
            err = ref[f"{col}_err"].to_numpy(dtype=float)
            tol = np.where(np.isfinite(err), SEPARATE_PROCESS_SIGMA * err, 1e-3 * np.abs(want))
            diff = np.abs(got[col].to_numpy(dtype=float) - want)
            assert np.all(diff <= tol + 1e-9), f"{door}: {col} {diff} > {tol}"
        np.testing.assert_allclose(
            got["area_pct_err"].to_numpy(dtype=float), ref["area_pct_err"].to_numpy(dtype=float),
            rtol=SEPARATE_PROCESS_RTOL_UNRESOLVED, err_msg=f"{door}: area_pct_err",
        )  # fmt: skip


@pytest.fixture(scope="module")
def reference(spectra):
    """`deconvolve` of each spectrum, per case: what every unpooled door must give."""
    x, ys = spectra
    return {case: [deconvolve(x, y, **_options(case)).table for y in ys] for case in CASES}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("door", ["batch", "map", "dask", "joint_none"])
def test_unpooled_doors_give_the_table_of_deconvolve(spectra, reference, case, door):
    x, ys = spectra
    kwargs = _options(case)
    if door == "batch":
        m = deconvolve_batch(x, ys, warm_start=False, **_map_kwargs(kwargs))
        tables = _per_spectrum(m.table, "row")
    elif door in ("map", "dask"):
        cube = ys.reshape(2, 2, -1)
        data = da.from_array(cube, chunks=(1, 2, -1)) if door == "dask" else cube
        m = deconvolve_map(data, x, warm_start=False, **_map_kwargs(kwargs))
        tables = _per_spectrum(m.table, ["row", "col"])
    else:
        j = deconvolve_joint([(x, y) for y in ys], share="none", **kwargs)
        tables = [r.table for r in j.results]
    _assert_same(tables, reference[case], door)


@pytest.fixture(scope="module")
def by_default(spectra):
    """`deconvolve` with every default: window and orders chosen per spectrum."""
    x, ys = spectra
    return [deconvolve(x, y).table for y in ys]


@pytest.mark.parametrize("door", ["batch_one", "batch", "map", "dask", "joint_none", "cli"])
def test_the_defaults_give_the_table_of_deconvolve(spectra, by_default, door, tmp_path):
    """With default arguments every unpooled door gives `deconvolve`'s table.

    Default arguments only: where each pixel chooses, maps start no pixel from its
    neighbour (`nmcraman.maps.pixels.warm_default`). The joint fit is given the band set
    that each spectrum's own choice made (a set chooses one for all its spectra).
    """
    x, ys = spectra
    reference = by_default
    if door == "batch_one":
        m = deconvolve_batch(x, ys[:1])
        tables, reference = _per_spectrum(m.table, "row"), by_default[:1]
    elif door == "batch":
        tables = _per_spectrum(deconvolve_batch(x, ys).table, "row")
    elif door in ("map", "dask"):
        cube = ys.reshape(2, 2, -1)
        data = da.from_array(cube, chunks=(1, 2, -1)) if door == "dask" else cube
        tables = _per_spectrum(deconvolve_map(data, x).table, ["row", "col"])
    elif door == "joint_none":
        chosen = {len(t) for t in by_default}
        assert len(chosen) == 1  # these spectra choose one band set
        bands = "nmc" if chosen == {6} else "nmc+lo"
        j = deconvolve_joint([(x, y) for y in ys], share="none", bands=bands)
        tables = [r.table for r in j.results]
    else:
        path = tmp_path / "s.txt"
        np.savetxt(path, np.column_stack([x, ys[0]]))
        out = tmp_path / "out.csv"
        assert main(["fit", str(path), "-o", str(out), "-q"]) == 0
        tables, reference = [pd.read_csv(out).drop(columns="file")], by_default[:1]
    for got, want in zip(tables, reference, strict=True):
        assert list(got["band"]) == list(want["band"]), door
        for col in VALUES:  # the bar: 0.5 points and 0.5 cm-1; here ten times less
            np.testing.assert_allclose(got[col], want[col], atol=0.05, err_msg=door)


@pytest.mark.parametrize("case", ["fix_tie"])
def test_the_lmfit_engine_reaches_the_same_table(spectra, reference, case):
    x, ys = spectra
    got = deconvolve(x, ys[0], engine="lmfit", **_options(case)).table
    ref = reference[case][0]
    # lmfit stops by its own tolerances: within a few hundredths of an error bar,
    # where the data determine the value (a NaN error marks a flat valley).
    for col in ("position", "fwhm", "area_pct"):
        diff = np.abs(got[col] - ref[col]).to_numpy()
        err = ref[f"{col}_err"].to_numpy()
        determined = np.isfinite(err)
        assert determined.sum() >= 4
        assert np.all(diff[determined] <= 0.05 * err[determined] + 1e-9), col
    _assert_held(got)


def _assert_held(table):
    """The fixed position is its prior to 1e-9 and the tied FWHMs are one value."""
    rows = table.set_index("band") if "band" in table else table
    mn = np.atleast_1d(rows.loc["Mn_A1g", "position"])
    assert np.all(np.abs(mn - 600.0) <= 1e-9)
    co_eg = np.atleast_1d(rows.loc["Co_Eg", "fwhm"])
    co_a1g = np.atleast_1d(rows.loc["Co_A1g", "fwhm"])
    assert np.all(np.abs(co_eg - co_a1g) <= 1e-9)


@pytest.mark.parametrize(
    "door",
    ["deconvolve", "map_warm", "pooled_partial", "pooled_shape", "dask_pooled",
     "joint_shape", "joint_partial"],
)  # fmt: skip
def test_fix_and_tie_hold_exactly_on_every_door(spectra, door):
    x, ys = spectra
    kwargs = _options("fix_tie")
    cube = ys.reshape(2, 2, -1)
    if door == "deconvolve":
        table = deconvolve(x, ys[0], **kwargs).table
    elif door == "map_warm":
        table = deconvolve_map(cube, x, **kwargs).table
    elif door.startswith("pooled"):
        share = door.split("_")[1]
        table = deconvolve_map(cube, x, pooling="phases", share=share, **kwargs).table
    elif door == "dask_pooled":
        data = da.from_array(cube, chunks=(1, 2, -1))
        table = deconvolve_map(data, x, pooling="phases", **kwargs).table
    else:
        share = door.split("_")[1]
        table = deconvolve_joint([(x, y) for y in ys], share=share, **kwargs).table
    _assert_held(table)


def test_the_cli_honours_a_priors_file_with_fix_and_tie(spectra, tmp_path):
    """``nmcraman fit`` with a TOML of the same priors writes deconvolve's table."""
    x, ys = spectra
    path = tmp_path / "s.txt"
    np.savetxt(path, np.column_stack([x, ys[0]]))
    priors = tmp_path / "p.toml"
    priors.write_text(
        'preset = "nmc"\n[Mn_A1g]\ncentre = 600.0\nfix = ["position"]\n'
        '[Co_Eg]\ntie = {fwhm = "Co_A1g"}\n'
    )
    out = tmp_path / "out.csv"
    code = main(["fit", str(path), "-o", str(out), "--bands", str(priors), "--window", "bands",
                 "--baseline", "poly3", "-q"])  # fmt: skip
    assert code == 0
    got = pd.read_csv(out)
    _assert_held(got)
    ref = deconvolve(x, ys[0], **_options("fix_tie")).table
    np.testing.assert_allclose(got["area_pct"], ref["area_pct"], atol=1e-4)


def test_the_constraints_applied_are_recorded_on_every_door(spectra):
    """Provenance is what was done: the held parameters, on each door's result."""
    x, ys = spectra
    kwargs = _options("fix_tie")
    want = {"Mn_A1g": {"fix": ["position"]}, "Co_Eg": {"tie": {"fwhm": "Co_A1g"}}}
    assert deconvolve(x, ys[0], **kwargs).meta["held"] == want
    assert deconvolve_map(ys.reshape(2, 2, -1), x, **kwargs).meta["held"] == want
    j = deconvolve_joint([(x, y) for y in ys], share="shape", **kwargs)
    assert all(r.meta["held"] == want for r in j.results)
    free = deconvolve(x, ys[0], **BASE)
    assert "held" not in free.meta


@pytest.mark.parametrize("door", ["deconvolve", "batch", "map", "dask", "pooled", "joint"])
def test_every_door_records_the_model_it_fitted(spectra, door):
    """``meta["model"]`` is the specification the door built (`ModelSpec.record`)."""
    x, ys = spectra
    kwargs = _options("pseudo_voigt_eta")
    cube = ys.reshape(2, 2, -1)
    if door == "deconvolve":
        metas = [deconvolve(x, ys[0], **kwargs).meta]
    elif door == "batch":
        metas = [deconvolve_batch(x, ys, **kwargs).meta]
    elif door in ("map", "dask", "pooled"):
        data = da.from_array(cube, chunks=(1, 2, -1)) if door == "dask" else cube
        pooled = {"pooling": "phases"} if door == "pooled" else {}
        metas = [deconvolve_map(data, x, **kwargs, **pooled).meta]
    else:
        metas = [r.meta for r in deconvolve_joint([(x, y) for y in ys], **kwargs).results]
    for meta in metas:
        model = meta["model"]
        assert (model["shape"], model["eta"], model["bands"]) == ("pseudo_voigt", 0.3, "nmc")
        assert (model["window"], model["baseline"]) == ("bands", "poly3")


#: Pooling through time: each phase pooled step by step, its shapes linked by a walk.
THROUGH = {"pooling": "phases", "through": "time"}
#: The model of conftest's ``shifting_series`` (its spectra hold the LO band): fixed.
SERIES = {"bands": "nmc+lo", "window": "bands", "baseline": "poly3", "progress": False}
SERIES_X = np.arange(150.0, 901.0)


@pytest.fixture(scope="module")
def through_reference(shifting_series):
    """The (time, y, x) series pooled through time in memory: what every door must give."""
    cube, _ = shifting_series
    return deconvolve_map(cube, SERIES_X, dims=("time", "y", "x"), **THROUGH, **SERIES)


@pytest.mark.parametrize("door", ["map", "dask", "cli"])
def test_through_is_honoured_by_every_door_that_fits_a_series(
    shifting_series, through_reference, door, tmp_path
):
    cube, _ = shifting_series
    if door == "map":
        m = through_reference
        table, recorded = m.table, m.meta["pooling"]["through"]
        assert all("walk_sd" in p for p in m.meta["pooling"]["phases"])  # the walk was fitted
    elif door == "dask":
        data = da.from_array(cube, chunks=(2, 1, 3, -1))
        m = deconvolve_map(data, SERIES_X, dims=("time", "y", "x"), **THROUGH, **SERIES)
        table, recorded = m.table, m.meta["pooling"]["through"]
    else:
        names = [write_lines(tmp_path, f"step_{k}.txt", labspec_lines(cube=step, x=SERIES_X))
                 for k, step in enumerate(cube)]  # fmt: skip
        out = tmp_path / "out.csv"
        argv = ["map", *map(str, names), "--series", "--pooling", "phases", "--through",
                "--bands", "nmc+lo", "--window", "bands", "--baseline", "poly3", "-o", str(out),
                "-q"]  # fmt: skip
        assert main(argv) == 0
        table = pd.read_csv(out)
        options = json.loads((tmp_path / "out.csv.json").read_text())["options"]
        recorded = options["dim"] if options["through"] else None
    assert recorded == "time", door
    ref = through_reference.table
    assert list(table["band"]) == list(ref["band"]), door
    np.testing.assert_allclose(table["position"], ref["position"], atol=1e-6, err_msg=door)


@pytest.mark.parametrize("door", ["deconvolve", "batch", "joint", "cli_fit"])
def test_through_is_refused_by_name_where_there_is_no_series(spectra, door, tmp_path, capsys):
    """A spectrum, a batch and a set have no navigation dimension to pool through."""
    x, ys = spectra
    if door == "cli_fit":
        path = tmp_path / "s.txt"
        np.savetxt(path, np.column_stack([x, ys[0]]))
        assert main(["fit", str(path), "-o", str(tmp_path / "out.csv"), "--through"]) == 2
        assert "unrecognized arguments: --through" in capsys.readouterr().err
        return
    fit = {
        "deconvolve": lambda **kw: deconvolve(x, ys[0], **kw),
        "batch": lambda **kw: deconvolve_batch(x, ys, pooling="phases", **kw),
        "joint": lambda **kw: deconvolve_joint([(x, y) for y in ys], **kw),
    }[door]
    with pytest.raises(TypeError, match="unexpected keyword argument 'through'"):
        fit(through="time", **BASE)
