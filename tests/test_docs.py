"""The documentation's examples run, and its figures and tables can be made.

For each page ``docs/*.rst``, every ``.. code-block:: python`` block and every
``$ nmcraman ...`` line of a ``.. code-block:: console`` block runs in page order, the
Python blocks sharing one namespace, in a fresh temporary folder that holds a copy of
``spectra/`` and ``docs/table_s3.csv``: the examples use paths relative to the
repository root, and whatever they write stays out of the repository. Commands go
through `nmcraman.cli.main`; a command ending in ``# exit status N`` must exit with N,
every other one with 0. Other console lines (``pip``, ``python -m sphinx``, ``python
benchmarks/run.py``) are instructions, not examples, and are not run.

The figure script runs in its quick mode (small map, few spectra) into a temporary
folder; the full figures are made by the docs build.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import shutil
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import nmcraman
from nmcraman.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.rst"))
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<lang>\w+)\s*$")
_EXIT = re.compile(r"#\s*exit status (\d+)\b")


def code_blocks(path: Path) -> list[tuple[str, int, str]]:
    """``(language, line number, code)`` of every code-block directive of a page."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        i += 1
        if not match:
            continue
        indent = len(match["indent"])
        while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):  # options
            i += 1
        body: list[str] = []
        start = i + 1
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
            i += 1
        blocks.append((match["lang"], start, textwrap.dedent("\n".join(body)).strip("\n")))
    return blocks


def commands(console: str) -> list[tuple[list[str], int]]:
    """``nmcraman`` commands of a console block: (arguments, expected exit status)."""
    out = []
    for line in console.splitlines():
        if not line.startswith("$ nmcraman"):
            continue
        expected = _EXIT.search(line)
        args = shlex.split(line[2:], comments=True)
        out.append((args[1:], int(expected[1]) if expected else 0))
    return out


def _workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "spectra", tmp_path / "spectra")
    (tmp_path / "docs").mkdir()
    shutil.copy(DOCS / "table_s3.csv", tmp_path / "docs" / "table_s3.csv")
    return tmp_path


def _runnable(page: Path) -> int:
    """Number of Python blocks and ``nmcraman`` commands on a page."""
    return sum(
        1 if lang == "python" else len(commands(code)) if lang == "console" else 0
        for lang, _, code in code_blocks(page)
    )


def _pages_with_examples() -> list[Path]:
    return [p for p in PAGES if _runnable(p)]


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.stem)
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(_workdir(tmp_path))
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    ran = 0
    try:
        for lang, lineno, code in code_blocks(page):
            where = f"{page.relative_to(ROOT)}:{lineno}"
            if lang == "python":
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(code, where, "exec"), namespace)
                ran += 1
            elif lang == "console":
                for args, expected in commands(code):
                    err = io.StringIO()
                    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                        status = cli_main(args)
                    assert status == expected, (
                        f"{where}: nmcraman {shlex.join(args)} exited {status}, expected"
                        f" {expected}: {err.getvalue().strip()}"
                    )
                    ran += 1
    finally:
        plt.close("all")
    assert ran == _runnable(page)


def test_code_block_parser(tmp_path):
    page = textwrap.dedent(
        """
        Text.

        .. code-block:: python
           :caption: x

           a = 1
           if a:
               b = 2

        After.

        .. code-block:: console

           $ nmcraman bands
           $ pip install nmcraman
           $ nmcraman fit x.txt -o y.csv   # exit status 1: nothing written
        """
    )
    path = tmp_path / "page.rst"
    path.write_text(page, encoding="utf-8")
    blocks = code_blocks(path)
    assert [b[0] for b in blocks] == ["python", "console"]
    assert blocks[0][2] == "a = 1\nif a:\n    b = 2"
    assert commands(blocks[1][2]) == [(["bands"], 0), (["fit", "x.txt", "-o", "y.csv"], 1)]


def _load_make_figures():
    spec = importlib.util.spec_from_file_location(
        "make_figures", DOCS / "figures" / "make_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_figures(tmp_path_factory):
    """Run docs/figures/make_figures.py in quick mode; return the output folder."""
    out = tmp_path_factory.mktemp("docs_figures")
    try:
        written = _load_make_figures().build(out, out, quick=True)
    finally:
        plt.close("all")
    return out, written


def test_figure_script_runs(quick_figures):
    out, written = quick_figures
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) >= 8
    for path in written:
        assert path.parent == out
        assert path.stat().st_size > 0


def test_every_generated_file_a_page_uses_is_made(quick_figures):
    out, _ = quick_figures
    used = set()
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        used |= set(re.findall(r"_generated/([\w.-]+)", text))
        used |= set(re.findall(r"_static/figures/([\w.-]+)", text))
    missing = sorted(name for name in used if not (out / name).is_file())
    assert not missing, f"pages use files that make_figures.py does not make: {missing}"


def test_band_table_covers_every_band(quick_figures):
    out, _ = quick_figures
    table = (out / "bands_table.rst").read_text(encoding="utf-8")
    for band_id in nmcraman.BANDS:
        assert f"``{band_id}``" in table


def test_api_page_lists_every_public_name():
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    entries = set(re.findall(r"^\s{3}(\w+)\s*$", text, flags=re.M))
    entries |= set(re.findall(r"^\.\. py:data:: (\w+)\s*$", text, flags=re.M))
    missing = [name for name in nmcraman.__all__ if name not in entries]
    assert not missing, f"add to docs/api.rst: {missing}"


def test_table_s3_copy_matches_the_reference_used_for_the_spectra():
    from nmcraman.synthetic import REFERENCE

    published = pd.read_csv(DOCS / "table_s3.csv")
    rows = [
        (sample, band, pos, fwhm, pct)
        for sample, bands_ in REFERENCE.items()
        for band, pos, fwhm, pct in bands_
    ]
    ref = pd.DataFrame(rows, columns=["sample", "band", "position_cm1", "fwhm_cm1", "area_pct"])
    merged = published.merge(ref, on=["sample", "band"], suffixes=("", "_ref"))
    assert len(merged) == len(published) == len(ref)
    for col in ("position_cm1", "fwhm_cm1", "area_pct"):
        assert (merged[col] - merged[f"{col}_ref"]).abs().max() < 1e-9


def test_saturation_rule_on_the_errors_page_is_the_code_s():
    """docs/errors.rst states the run length of a saturated pixel: it is the constant,
    and a map flags a pixel with that many points at its maximum, not one with fewer."""
    from nmcraman import deconvolve_map
    from nmcraman._validation import SATURATION_RUN
    from nmcraman.synthetic import simulate

    text = (DOCS / "errors.rst").read_text(encoding="utf-8")
    stated = re.findall(r"(\d+) or more consecutive points at the spectrum's maximum", text)
    assert stated == [str(SATURATION_RUN)]
    n = int(stated[0])
    s = simulate("Core_75", snr=100, rng=3)
    top = int(np.argmax(s.y))
    cube = np.repeat(s.y[None, None, :], 2, axis=1)
    cube[0, 0, top : top + n] = s.y[top]  # a flat top of n points
    cube[0, 1, top : top + n - 1] = s.y[top]  # one point short
    flags = deconvolve_map(cube, s.x, bands="nmc", jobs=1, progress=False).flag_names()
    assert "saturated" in flags[0].split(";")
    assert "saturated" not in flags[1].split(";")
