"""Screenshots of the HTML pages for docs/html.rst, taken in headless Chromium.

Usage (from anywhere; needs Debian's ``chromium`` and ``pip install playwright``)::

    python docs/figures/html_screenshots.py

Makes the pages with the ``html`` step of make_figures.py into a temporary folder,
opens them offline in the system Chromium (the browser the tests use), points at a
band of the fit page so that its values show, clicks a pixel of the map page so that
its band table and fit show, and writes ``docs/_static/screenshots/fit_page.png``,
``set_page.png`` and ``map_page.png``. Those PNGs are committed, so the docs build
needs no browser; run this again when the pages change.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "_static" / "screenshots"
sys.path.insert(0, str(HERE))

import make_figures  # noqa: E402


def shoot(pages: Path, out: Path) -> list[Path]:
    """Open the fit, set and map pages of ``pages``; save a PNG of each into ``out``."""
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("html_screenshots: no chromium on PATH (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 980, "height": 900}, device_scale_factor=1)
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
        )
        page.goto((pages / "fit_page.html").as_uri())
        box = page.locator("svg.plot .area").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.66, box["y"] + box["height"] * 0.3)
        written.append(out / "fit_page.png")
        page.screenshot(path=written[-1], clip={"x": 0, "y": 0, "width": 980, "height": 900})
        page.goto((pages / "set_page.html").as_uri())
        written.append(out / "set_page.png")
        page.screenshot(path=written[-1], clip={"x": 0, "y": 0, "width": 980, "height": 700})
        page.goto((pages / "map_page.html").as_uri())
        page.select_option("select[name=Band]", label="Mn (A1g)")
        box = page.locator("canvas.map").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.3)
        page.wait_for_selector(".pixelfit svg.plot")
        written.append(out / "map_page.png")
        page.screenshot(path=written[-1], full_page=True)
        browser.close()
    return written


def main() -> int:
    """Make the pages, then the screenshots; see the module docstring."""
    with tempfile.TemporaryDirectory() as tmp:
        make_figures.build(Path(tmp), Path(tmp), only=["html"])
        for path in shoot(Path(tmp), OUT):
            print(f"html_screenshots: wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
