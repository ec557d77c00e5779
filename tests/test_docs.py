"""The documentation's examples run, and its figures and tables can be made.

For each page ``docs/*.rst``, every ``.. code-block:: python`` block and every
``$ nmcraman ...`` line of a ``.. code-block:: console`` block runs in page order, the
Python blocks sharing one namespace, in a fresh temporary folder that holds a copy of
``spectra/``, ``docs/table_s3.csv`` and ``tests/data/`` (the real instrument files of
docs/own_data.rst): the examples use paths relative to the repository root, and
whatever they write stays out of the repository. Commands go
through `nmcraman.cli.main`; a command ending in ``# exit status N`` must exit with N,
every other one with 0. Other console lines (``pip``, ``python -m sphinx``, ``python
benchmarks/run.py``) are instructions, not examples, and are not run.

A Python block followed directly by its output, a ``.. code-block:: text`` block or a
``.. literalinclude:: _generated/NAME.txt`` (made by the figure script), must print that
output (`same_output`). The README's code runs the same way (`test_readme_code_runs`).

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
from typing import NamedTuple

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


_GENERATED_TEXT = re.compile(r"^\.\. literalinclude:: _generated/([\w.-]+\.txt)\s*$")
_NUMBER = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


class Block(NamedTuple):
    """A code block of a page: language, first line of code, code, and whether only
    blank lines separate it from the block before (then it may be that block's output)."""

    lang: str
    line: int
    code: str
    follows: bool


def code_blocks(path: Path) -> list[Block]:
    """Every code-block directive of a page, in order.

    A ``literalinclude`` of a generated text file is a block of language ``generated``
    whose code is the file name.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = end = 0
    while i < len(lines):
        follows = bool(blocks) and not any(s.strip() for s in lines[end:i])
        generated = _GENERATED_TEXT.match(lines[i])
        match = _DIRECTIVE.match(lines[i])
        i += 1
        if generated:
            blocks.append(Block("generated", i, generated[1], follows))
            while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):  # options
                i += 1
            end = i
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
        code = textwrap.dedent("\n".join(body)).strip("\n")
        blocks.append(Block(match["lang"], start, code, follows))
        end = i
    return blocks


def same_output(got: str, want: str) -> str | None:
    """None if ``got`` prints what ``want`` shows, else where they part.

    Text must match up to the width of runs of spaces (pandas widens a column for a
    wider number). Each number may differ by one unit of its last printed digit: a
    value on a rounding edge, or an iteration count, may move by that much between
    CPUs (AVX2 or AVX-512 code) and between kernels compiled afresh or loaded from
    numba's cache, which stop a fit within 0.01 sigma of the same minimum
    (tests/test_cli.py, SEPARATE_PROCESS_SIGMA).
    """
    g = _NUMBER.split(" ".join(got.split()))
    w = _NUMBER.split(" ".join(want.split()))
    for k, (a, b) in enumerate(zip(g, w, strict=False)):
        if k % 2 == 0:
            if a != b:
                return f"text {a!r} where {b!r} is shown, after {''.join(w[:k])[-60:]!r}"
            continue
        mantissa = b.lower().split("e")[0]
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        scale = 10.0 ** int(b.lower().split("e")[1]) if "e" in b.lower() else 1.0
        if abs(float(a) - float(b)) > 1.0001 * scale * 10.0**-digits:
            return f"{a} where {b} is shown, after {''.join(w[:k])[-60:]!r}"
    if len(g) != len(w):
        return f"{len(g) // 2} numbers printed, {len(w) // 2} shown"
    return None


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
    shutil.copytree(ROOT / "tests" / "data", tmp_path / "tests" / "data")
    return tmp_path


def _runnable(page: Path) -> int:
    """Number of Python blocks and ``nmcraman`` commands on a page."""
    return sum(
        1 if b.lang == "python" else len(commands(b.code)) if b.lang == "console" else 0
        for b in code_blocks(page)
    )


def _pages_with_examples() -> list[Path]:
    return [p for p in PAGES if _runnable(p)]


def shown_output(blocks: list[Block], k: int, generated: Path) -> str | None:
    """The output a page shows for Python block ``k``: the text block right after it,
    or the generated text file included right after it; None if it shows none."""
    if k + 1 == len(blocks) or not blocks[k + 1].follows:
        return None
    after = blocks[k + 1]
    if after.lang == "text":
        return after.code
    if after.lang == "generated":
        return (generated / after.code).read_text(encoding="utf-8")
    return None


def run_python(code: str, where: str, namespace: dict) -> str:
    """Run one block in ``namespace``; return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, where, "exec"), namespace)
    return out.getvalue()


@pytest.mark.parametrize("page", _pages_with_examples(), ids=lambda p: p.stem)
def test_page_examples_run(page, tmp_path, monkeypatch, quick_figures):
    generated, _ = quick_figures
    monkeypatch.chdir(_workdir(tmp_path))
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    blocks = code_blocks(page)
    ran = compared = 0
    try:
        for k, block in enumerate(blocks):
            where = f"{page.relative_to(ROOT)}:{block.line}"
            if block.lang == "python":
                printed = run_python(block.code, where, namespace)
                ran += 1
                shown = shown_output(blocks, k, generated)
                if shown is not None:
                    differs = same_output(printed, shown)
                    assert differs is None, f"{where} prints {differs}"
                    compared += 1
            elif block.lang == "console":
                for args, expected in commands(block.code):
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
    assert compared == sum(
        b.lang == "python" and shown_output(blocks, k, generated) is not None
        for k, b in enumerate(blocks)
    )


def test_code_block_parser(tmp_path):
    page = textwrap.dedent(
        """
        Text.

        .. code-block:: python
           :caption: x

           a = 1
           if a:
               b = 2

        .. code-block:: text

           printed

        After.

        .. code-block:: console

           $ nmcraman bands
           $ pip install nmcraman
           $ nmcraman fit x.txt -o y.csv   # exit status 1: nothing written

        .. literalinclude:: _generated/out.txt
           :language: text
        """
    )
    path = tmp_path / "page.rst"
    path.write_text(page, encoding="utf-8")
    blocks = code_blocks(path)
    assert [(b.lang, b.follows) for b in blocks] == [
        ("python", False),
        ("text", True),
        ("console", False),
        ("generated", True),
    ]
    assert blocks[0].code == "a = 1\nif a:\n    b = 2"
    assert blocks[3].code == "out.txt"
    assert shown_output(blocks, 0, tmp_path) == "printed"
    assert commands(blocks[2].code) == [(["bands"], 0), (["fit", "x.txt", "-o", "y.csv"], 1)]


@pytest.mark.parametrize(
    ("got", "want", "same"),
    [
        ("a  356.1 ± 1.4\n", "a 356.1 ± 1.4", True),  # spaces and line ends
        ("356.2 7 iterations", "356.1 8 iterations", True),  # one unit of the last digit
        ("356.3", "356.1", False),
        ("1.3e-05", "1.2e-05", True),
        ("1.4e-05", "1.2e-05", False),
        ("-0.0 ok", "0.0 ok", True),
        ("ok", "unresolved", False),
        ("356.1 2.0", "356.1", False),  # a number more
    ],
)
def test_same_output(got, want, same):
    assert (same_output(got, want) is None) is same


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


# --- README.md -------------------------------------------------------------------------

README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.M | re.S)


def readme_blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block of README.md, in order."""
    return _FENCE.findall(README.read_text(encoding="utf-8"))


def _write_labspec_map(path: Path, cube, x) -> None:
    """The map as a LabSpec text export (as docs/cli.rst writes one)."""
    lines = ["\t\t" + "\t".join(f"{v:g}" for v in x)]
    for i in range(cube.shape[0]):
        for j in range(cube.shape[1]):
            lines.append(f"{2.0 * j}\t{2.0 * i}\t" + "\t".join(f"{v:.2f}" for v in cube[i, j]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_readme_code_runs(tmp_path, monkeypatch):
    """Every Python block of the README runs, in order, in one namespace, and prints the
    ``text`` block that follows it (`same_output`); the ``python -c`` and ``nmcraman``
    lines of its ``bash`` blocks run too (``my_map.txt`` is a small synthetic map)."""
    from nmcraman.synthetic import core_shell_map, replicate_set

    work = _workdir(tmp_path)
    monkeypatch.chdir(work)
    cube, x, _ = core_shell_map(3, 4, rng=0)
    _write_labspec_map(work / "my_map.txt", cube, x)
    (work / "spots").mkdir()
    for i, s in enumerate(replicate_set("CS_75", 4, rng=0)):
        np.savetxt(work / "spots" / f"spot{i}.txt", np.column_stack([s.x, s.y]))
    # ``cube`` and ``x`` are the reader's own map in the README: a small synthetic one.
    namespace: dict = {"__name__": "readme", "cube": cube, "x": x}
    blocks = readme_blocks()
    ran = compared = 0
    try:
        for k, (lang, code) in enumerate(blocks):
            where = f"README.md block {k + 1} ({lang})"
            if lang == "python":
                printed = run_python(code, where, namespace)
                ran += 1
                if k + 1 < len(blocks) and blocks[k + 1][0] == "text":
                    differs = same_output(printed, blocks[k + 1][1])
                    assert differs is None, f"{where} prints {differs}"
                    compared += 1
            for line in code.splitlines() if lang == "bash" else []:
                if line.startswith('python -c "'):
                    run_python(line[len('python -c "') : -1], where, {"__name__": "readme_c"})
                    ran += 1
                elif line.startswith("nmcraman "):
                    args = shlex.split(line, comments=True)[1:]
                    err = io.StringIO()
                    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                        status = cli_main(args)
                    assert status == 0, f"{where}: {line} exited {status}: {err.getvalue()}"
                    ran += 1
    finally:
        plt.close("all")
    assert compared == 1  # the Example's report
    assert ran == 9  # 3 Python blocks, 1 python -c line, 5 nmcraman commands
    for name in ("cs_75_bands.csv", "cs_75_fit.png", "bands.csv", "map.csv", "map.html",
                 "my_priors.toml", "sample.csv", "sample_spectra.csv"):  # fmt: skip
        assert (work / name).is_file(), name
