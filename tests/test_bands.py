"""Band priors: presets, citations, overrides, TOML round trip, validation."""

from pathlib import Path

import pytest

from nmcraman import BANDS, PRESETS, Band, BandError, bands
from nmcraman.bands import bands_to_toml, resolve_bands
from nmcraman.synthetic import REFERENCE


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_are_valid_and_cited(preset):
    out = bands(preset)
    assert [b.id for b in out] == list(PRESETS[preset])
    for b in out:
        assert b.window[0] <= b.centre <= b.window[1]
        assert b.reference


@pytest.mark.parametrize("sample", list(REFERENCE))
def test_priors_admit_the_published_values_without_being_them(sample):
    for band, pos, fwhm, _ in REFERENCE[sample]:
        b = BANDS[band]
        assert b.window[0] < pos < b.window[1]
        assert b.fwhm_range[0] < fwhm < b.fwhm_range[1]
        assert abs(b.centre - pos) > 0.5


def test_toml_round_trip(tmp_path):
    path = tmp_path / "priors.toml"
    path.write_text(bands_to_toml(bands("nmc+lo")), encoding="utf-8")
    assert resolve_bands(path) == bands("nmc+lo")
    assert resolve_bands(str(path)) == bands("nmc+lo")


def test_dict_overrides_and_drops():
    out = resolve_bands({"preset": "nmc+lo", "Mn_A1g": {"centre": 600.0}, "LO_RS": False})
    assert [b.id for b in out] == list(PRESETS["nmc"])
    assert out[-1].centre == 600.0
    assert out[-1].window == BANDS["Mn_A1g"].window


def test_known_ids_fill_from_the_library_and_new_bands_need_fields():
    out = resolve_bands(
        {
            "preset": "none",
            "Co_A1g": {},
            "Li2CO3": {"centre": 1090, "window": [1080, 1100], "fwhm_range": [5, 40]},
        }
    )
    assert out[0] == BANDS["Co_A1g"]
    assert out[1].label == "Li2CO3"
    assert 5 < out[1].fwhm < 40


_OVERRIDES = "[bands.Mn_A1g]\ncentre = 600.0\n\n[bands.LO_RS]\nfwhm = 30.0\n"
_CH = {"centre": 2900, "window": [2850, 2950], "fwhm_range": [5, 80]}


@pytest.mark.parametrize("as_file", [True, False], ids=["toml", "dict"])
def test_changes_without_a_preset_are_refused(tmp_path, as_file):
    """A file of changes alone would fit Mn_A1g and LO_RS only: it must name its preset."""
    spec = {"Mn_A1g": {"centre": 600.0}, "LO_RS": {"fwhm": 30.0}}
    if as_file:
        spec = tmp_path / "changes.toml"
        spec.write_text(_OVERRIDES, encoding="utf-8")
    said = 'preset = "none"' if as_file else '"preset": "none"'
    with pytest.raises(BandError, match=f"changes Mn_A1g, LO_RS but names no preset.*{said}"):
        resolve_bands(spec)


@pytest.mark.parametrize(
    ("preset", "ids"),
    [("nmc+lo", list(PRESETS["nmc+lo"])), ("nmc", [*PRESETS["nmc"], "LO_RS"]),
     ("none", ["Mn_A1g", "LO_RS"])],
)  # fmt: skip
def test_a_named_preset_says_what_changes_apply_to(tmp_path, preset, ids):
    path = tmp_path / "changes.toml"
    path.write_text(f'preset = "{preset}"\n\n' + _OVERRIDES, encoding="utf-8")
    out = {b.id: b for b in resolve_bands(path)}
    assert list(out) == ids
    assert out["Mn_A1g"].centre == 600.0
    assert out["Mn_A1g"].window == BANDS["Mn_A1g"].window
    assert out["LO_RS"].fwhm == 30.0


@pytest.mark.parametrize(
    "spec",
    [
        {"CH_stretch": _CH},  # a new band: a custom model
        {"Mn_A1g": {"centre": 600, "window": [580, 620], "fwhm": 50}, "CH_stretch": _CH},
        {"bands": {"Mn_A1g": {"center": 600, "window": [580, 620], "fwhm_range": [10, 90]}}},
    ],
)
def test_full_bands_without_a_preset_are_a_custom_model(spec):
    table = spec.get("bands", spec)
    assert [b.id for b in resolve_bands(spec)] == list(table)


def test_band_list_passes_through():
    b = Band("X", "X", 500, (480, 520), 40, (10, 90))
    assert resolve_bands([b]) == [b]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"preset": "none", "Ni_Eg": {"centre": 200}}, "outside its window"),
        ({"preset": "none", "Ni_Eg": {"window": [400, 300]}}, "window low"),
        ({"preset": "none", "Ni_Eg": {"fwhm_range": [100, 20]}}, "0 < low < high"),
        ({"preset": "none", "Ni_Eg": {"fwhm_range": [-5, 20]}}, "0 < low < high"),
        ({"preset": "none", "Ni_Eg": {"fwhm": 300}}, "outside fwhm_range"),
        ({"preset": "none", "Ni_Eg": {"centre": "abc"}}, "must be a number"),
        ({"preset": "none", "Ni_Eg": {"centre": float("nan")}}, "finite"),
        ({"preset": "none", "Ni_Eg": {"window": 5}}, "pair"),
        ({"preset": "none", "Ni_Eg": {"window": [1, 2, 3]}}, "pair"),
        ({"preset": "none", "Ni_Eg": {"colour": "red"}}, "unknown field"),
        ({"preset": "none", "Ni_Eg": 5}, "table of fields"),
        ({"New": {"centre": 500}}, "unknown band id"),
        ({"preset": "nmc", "LO_RS": False}, "cannot drop"),
        ({"preset": "xyz"}, "unknown preset"),
        ({}, "no bands"),
        ({"bands": 3}, "table of band id"),
        ("nmc+lo+x", "unknown bands"),
        (42, "must be a preset"),
        ([BANDS["Ni_Eg"], BANDS["Ni_Eg"]], "duplicate band id"),
        ({"bad id": {"centre": 1, "window": [0, 2], "fwhm_range": [1, 2]}}, "must be a name"),
        ({"preset": "none", "Ni_Eg": {"fix": ["area"]}}, "cannot fix 'area'"),
        ({"preset": "none", "Ni_Eg": {"fix": 3}}, "fix must be a list"),
        ({"preset": "none", "Ni_Eg": {"tie": {"position": "Co_Eg"}}}, "only the FWHM can be tied"),
        ({"preset": "none", "Ni_Eg": {"tie": {"fwhm": "Ni_Eg"}}}, "another band's id"),
        ({"preset": "none", "Ni_Eg": {"tie": "Co_Eg"}}, "tie must map a parameter"),
        (
            {"preset": "none", "Ni_Eg": {"tie": {"fwhm": "Co_Eg"}, "fix": ["fwhm"]}},
            "both fixed and tied",
        ),
        ({"preset": "nmc", "Ni_Eg": {"tie": {"fwhm": "LO_RS"}}}, "not among the bands"),
        (
            {
                "preset": "nmc",
                "Ni_Eg": {"tie": {"fwhm": "Co_Eg"}},
                "Co_Eg": {"tie": {"fwhm": "Mn_Eg"}},
            },
            "tied in turn",
        ),
    ],
)
def test_invalid_priors_raise_band_error(spec, match):
    with pytest.raises(BandError, match=match):
        resolve_bands(spec)


@pytest.mark.parametrize(("python", "needs_tomli"), [("3.10", True), ("3.11", False)])
def test_tomli_is_installed_where_the_standard_library_lacks_tomllib(python, needs_tomli):
    """nmcraman.bands reads TOML with tomllib from Python 3.11 and with tomli before it,
    so the package must depend on tomli exactly there (a fresh install on 3.10)."""
    from packaging.requirements import Requirement

    from nmcraman.bands import tomllib

    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    assert project["requires-python"] == ">=3.10"
    tomli = [
        r
        for r in map(Requirement, project["dependencies"])
        if r.name == "tomli" and (r.marker is None or r.marker.evaluate({"python_version": python}))
    ]
    assert bool(tomli) is needs_tomli


def test_exported_toml_shows_fix_and_tie_in_comments_that_work(tmp_path):
    """The commented examples, uncommented into a band's table, are valid priors."""
    text = bands_to_toml(bands("nmc+lo"))
    examples = {
        key: line.lstrip("# ").split("  #")[0].strip()
        for line in text.splitlines()
        for key in ("fix", "tie")
        if line.lstrip("# ").startswith(f"{key} = ")
    }
    assert examples == {"fix": 'fix = ["position"]', "tie": 'tie = {fwhm = "Co_Eg"}'}
    edited = text.replace("[bands.Mn_A1g]\n", f"[bands.Mn_A1g]\n{examples['fix']}\n")
    edited = edited.replace("[bands.Ni_Eg]\n", f"[bands.Ni_Eg]\n{examples['tie']}\n")
    path = tmp_path / "edited.toml"
    path.write_text(edited, encoding="utf-8")
    out = {b.id: b for b in resolve_bands(path)}
    assert out["Mn_A1g"].fix == ("position",)
    assert out["Ni_Eg"].tie == (("fwhm", "Co_Eg"),)


def test_bad_toml_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[bands.Ni_Eg\ncentre = ", encoding="utf-8")
    with pytest.raises(BandError, match="cannot read band priors"):
        resolve_bands(path)


def test_fix_and_tie_round_trip_through_toml(tmp_path):
    spec = {"preset": "nmc+lo", "Ni_A1g": {"tie": {"fwhm": "Mn_Eg"}}, "Mn_A1g": {"fix": "position"}}
    band_list = resolve_bands(spec)
    by_id = {b.id: b for b in band_list}
    assert by_id["Ni_A1g"].tie == (("fwhm", "Mn_Eg"),)
    assert by_id["Mn_A1g"].fix == ("position",)
    path = tmp_path / "constrained.toml"
    path.write_text(bands_to_toml(band_list), encoding="utf-8")
    assert 'tie = {fwhm = "Mn_Eg"}' in path.read_text(encoding="utf-8")
    assert resolve_bands(path) == band_list
