"""The model specification (`nmcraman.model`): checks, defaults, refusals, record."""

import dataclasses
import json

import numpy as np
import pytest

from nmcraman import FitOptions, InputError
from nmcraman.model import FIXED, WINDOWS, ModelSpec, check_window, is_auto


def test_defaults_are_those_of_deconvolve():
    import inspect

    from nmcraman import deconvolve

    params = inspect.signature(deconvolve).parameters
    for f in dataclasses.fields(ModelSpec):
        if f.name in params:
            assert params[f.name].default == f.default, f.name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": "voigt"}, "unknown shape"),
        ({"eta": 1.5}, "eta must lie in"),
        ({"eta": "half"}, "eta"),
        ({"window": "narrow"}, "unknown window"),
        ({"criterion": "hqc"}, "criterion"),
        ({"engine": "scipy"}, "unknown engine"),
        ({"options": {"max_iter": 3}}, "FitOptions"),
        ({"baseline_kwargs": [1, 2]}, "baseline_kwargs"),
        ({"despike": "yes"}, "despike"),
        ({"xmin": "low"}, "xmin"),
        ({"baseline": "poly7"}, "unknown baseline 'poly7'"),
        ({"baseline": "spline"}, "unknown baseline 'spline'"),
    ],
)
def test_bad_fields_are_refused_in_one_line(kwargs, match):
    with pytest.raises(InputError, match=match) as info:
        ModelSpec(**kwargs)
    assert "\n" not in str(info.value)


def test_values_are_normalised():
    spec = ModelSpec(window="AUTO", eta=np.float32(0.25), xmin=np.int64(200))
    assert spec.window == "auto"
    assert type(spec.eta) is float
    assert spec.eta == 0.25
    assert spec.xmin == 200.0
    assert spec.choosing


def test_prepare_kwargs_carry_every_model_field_of_prepare():
    import inspect

    from nmcraman._engine.problem import prepare

    spec = ModelSpec(shape="gaussian", eta=0.3, **FIXED, refine=2, xmin=200.0,
                     options=FitOptions(max_iter=50), baseline_kwargs={"lam": 1e5})  # fmt: skip
    kw = spec.prepare_kwargs
    params = set(inspect.signature(prepare).parameters) - {"spectrum", "band_list"}
    assert set(kw) == params
    assert (kw["shape"], kw["refine"], kw["options"].max_iter) == ("gaussian", 2, 50)
    assert not spec.choosing


@pytest.mark.parametrize(
    ("field", "value"), [("engine", "lmfit"), ("despike", True), ("criterion", "aic")]
)
def test_refuse_names_the_field_and_the_door(field, value):
    spec = ModelSpec(**{field: value})
    with pytest.raises(InputError, match=f"{field}=.* is not used by the door: why") as info:
        spec.refuse("the door", field, reason="why")
    assert "\n" not in str(info.value)
    ModelSpec().refuse("the door", field)  # the default is never refused


def test_record_is_plain_values():
    spec = ModelSpec(bands={"preset": "nmc"}, baseline=np.zeros(3), options=FitOptions())
    rec = spec.record()
    json.dumps(rec)
    assert rec["bands"] == "dict"
    assert rec["baseline"] == "array"
    assert ModelSpec(baseline=lambda x, y: x).record()["baseline"] == "callable"
    assert ModelSpec(bands="nmc+lo").record()["bands"] == "nmc+lo"


def test_window_names():
    assert check_window("auto") == "auto"
    for rule in WINDOWS:
        assert check_window(rule) == rule
    assert [is_auto(v) for v in ("Auto", None, "poly3")] == [True, False, False]
