"""``nmcraman fit --html``: one page, a folder of pages, the page of a joint set."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from nmcraman import deconvolve, deconvolve_joint
from nmcraman.cli import main
from nmcraman.synthetic import simulate

#: The ``browser`` and ``visit`` fixtures (headless Chromium).
pytest_plugins = ["browser"]

SPECTRA = Path(__file__).resolve().parents[1] / "spectra"
NAMES = ("core_75.txt", "cs_75.txt")


@pytest.fixture
def work(tmp_path, monkeypatch):
    for name in NAMES:
        shutil.copy(SPECTRA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


def page_numbers(text, column):
    """Every exact value of ``column`` in a page's band tables, in page order."""
    found = re.findall(rf'data-col="{column}" data-value="([^"]+)"', text)
    return np.array([float(v) for v in found])


def test_one_file_one_page(work, capsys):
    status, err = run(capsys, "fit", "cs_75.txt", "-o", "o.csv", "--html", "cs.html")
    assert status == 0, err
    text = (work / "cs.html").read_text()
    want = deconvolve(SPECTRA / "cs_75.txt")
    assert "<title>cs_75.txt</title>" in text
    for column in ("position", "fwhm_err", "area_pct"):
        np.testing.assert_allclose(page_numbers(text, column), want.table[column], rtol=1e-12)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_several_files_one_page_each_in_a_folder(work, capsys, jobs):
    status, err = run(capsys, "fit", *NAMES, "-o", "o.csv", "--html", "pages", "--jobs", jobs)
    assert status == 0, err
    assert sorted(p.name for p in (work / "pages").iterdir()) == ["core_75.html", "cs_75.html"]
    for name in NAMES:
        text = (work / "pages" / f"{Path(name).stem}.html").read_text()
        want = deconvolve(SPECTRA / name)
        assert f"<title>{name}</title>" in text
        np.testing.assert_allclose(page_numbers(text, "area_pct"), want.table["area_pct"])


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        ([*NAMES, "--html", "one.html"], "is one page but 2 files"),
        (["cs_75.txt", "--html", "no_such/one.html"], "does not exist"),
        ([*NAMES, "--html", "no_such/pages"], "does not exist"),
        ([*NAMES, "--html", "cs_75.txt"], "is a file"),
    ],
)
def test_bad_targets_fail_before_any_fit(work, capsys, argv, match):
    status, err = run(capsys, "fit", *argv, "-o", "o.csv")
    assert status == 2
    assert match in err
    assert not (work / "o.csv").exists()


def test_existing_pages_need_force(work, capsys):
    (work / "pages").mkdir()
    (work / "pages" / "cs_75.html").write_text("old")
    status, err = run(capsys, "fit", *NAMES, "-o", "o.csv", "--html", "pages")
    assert status == 2
    assert "--force" in err
    assert (work / "pages" / "cs_75.html").read_text() == "old"
    status, err = run(capsys, "fit", *NAMES, "-o", "o.csv", "--html", "pages", "--force")
    assert status == 0, err
    assert (work / "pages" / "cs_75.html").read_text().startswith("<!DOCTYPE html>")


@pytest.fixture
def spots(tmp_path):
    paths = []
    for i in range(2):
        s = simulate("CS_75", snr=150, rng=40 + i)
        path = tmp_path / f"spot{i}.txt"
        np.savetxt(path, np.column_stack([s.x, s.y]))
        paths.append(str(path))
    return paths


def test_joint_writes_one_page_of_the_set(spots, tmp_path, capsys):
    out, page = tmp_path / "sample.csv", tmp_path / "sample.html"
    status, err = run(capsys, "fit", *spots, "--joint", "--bands", "nmc+lo", "-o", out,
                      "--html", page)  # fmt: skip
    assert status == 0, err
    assert str(page) in err
    text = page.read_text()
    want = deconvolve_joint(spots, bands="nmc+lo")
    assert text.count('class="spectrum"') == 2
    for spot in spots:  # each spectrum's own source, under its heading
        assert text.count(f"source {spot}") == 1
    # The summary first, then each spectrum's table.
    expected = np.concatenate(
        [want.summary["area_pct"], *[r.table["area_pct"] for r in want.results]]
    )
    np.testing.assert_allclose(page_numbers(text, "area_pct"), expected, rtol=1e-9)


def test_joint_needs_a_page_name(spots, tmp_path, capsys):
    status, err = run(capsys, "fit", *spots, "--joint", "-o", tmp_path / "s.csv",
                      "--html", tmp_path / "pages")  # fmt: skip
    assert status == 2
    assert "ending in .html" in err
    assert not (tmp_path / "s.csv").exists()


def test_map_html_writes_the_map_page(tmp_path, capsys, visit):
    from nmcraman.synthetic import core_shell_map

    cube, x, _ = core_shell_map(3, 4, rng=0)
    src = tmp_path / "cube.txt"
    rows = ["\t\t" + "\t".join(f"{v:g}" for v in x)]
    for i in range(cube.shape[0]):
        for j in range(cube.shape[1]):
            rows.append(f"{2.0 * j}\t{2.0 * i}\t" + "\t".join(f"{v:.2f}" for v in cube[i, j]))
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = tmp_path / "map.html"
    code = main(["map", str(src), "-o", str(tmp_path / "map.csv"), "--html", str(page), "-q"])
    assert code == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") or "<html" in text[:200]
    assert "Mn (A1g)" in text or "Mn_A1g" in text
    # The page is the clickable one: a click on a pixel draws its fit, axes in µm.
    opened = visit(page)
    canvas = opened.page.locator("canvas.map")
    box = canvas.bounding_box()
    opened.page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    opened.page.wait_for_selector(".pixelfit[data-pixel='6'] svg.plot")
    assert opened.page.locator(".pixelfit ul.legend li").count() >= 9  # data .. residual
    assert opened.page.locator(".xaxis .label").inner_text() == "x (µm)"
    assert opened.problems == []
    code = main(["map", str(src), "-o", str(tmp_path / "other.csv"), "--html", str(page), "-q"])
    assert code == 2  # the page exists: --force needed, nothing written
    assert not (tmp_path / "other.csv").exists()
