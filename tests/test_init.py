"""The package's import: the public names, and what it leaves to first use."""

import importlib
import subprocess
import sys

import pytest

import nmcraman

#: Modules `import nmcraman` must not load: each takes a large part of a second
#: (`import nmcraman` should stay < 0.5 s). The fitters and results (numba, pandas) load
#: on first use of a public name, the readers and pages when they are used.
HEAVY = (
    "numba",
    "pandas",
    "nmcraman.fit",
    "scipy.stats",
    "scipy.cluster",
    "nmcraman.io",
    "nmcraman.results.html.page",
    "matplotlib.pyplot",
)


@pytest.mark.parametrize("module", HEAVY)
def test_import_leaves_heavy_modules_to_first_use(module):
    code = f"import sys, nmcraman; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"import nmcraman loads {module}"


def test_every_public_name_exists():
    for name in nmcraman.__all__:
        assert getattr(nmcraman, name) is not None, name


@pytest.mark.parametrize("name", sorted(nmcraman._ON_USE))
def test_names_loaded_on_use_come_from_their_module(name):
    module = importlib.import_module(f"nmcraman.{nmcraman._ON_USE[name]}")
    assert getattr(nmcraman, name) is getattr(module, name)
    assert name in dir(nmcraman)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'deconvolv'"):
        nmcraman.deconvolv  # noqa: B018


@pytest.mark.parametrize("suffix", [".json", ".nc"])
def test_load_in_a_fresh_process_knows_every_saved_type(tmp_path, suffix, pooled_map):
    path = tmp_path / f"map{suffix}"
    pooled_map["unpooled"].save(path)
    code = f"import nmcraman; print(type(nmcraman.load({str(path)!r})).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "MapResult"


@pytest.mark.parametrize(
    "name", [n for n in nmcraman.__all__ if n[0].islower() and callable(getattr(nmcraman, n))]
)
def test_public_entry_points_stay_readable(name):
    """At most 16 parameters (ModelSpec fields ride in **model) and 40 docstring lines:
    essays and measured numbers live in docs/."""
    import inspect

    func = getattr(nmcraman, name)
    assert len(inspect.signature(func).parameters) <= 16
    assert len(inspect.getdoc(func).splitlines()) <= 40
