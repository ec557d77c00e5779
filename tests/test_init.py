"""The package's import: the public names, and what it leaves to first use."""

import subprocess
import sys

import pytest

import nmcraman

#: Modules `import nmcraman` must not load: each takes a large part of a second, and a
#: script that fits one spectrum never needs them (`import nmcraman` should stay < 1 s;
#: docs/performance.rst). The readers and pages load on use.
HEAVY = (
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
