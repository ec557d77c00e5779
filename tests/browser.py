"""Headless Chromium for the tests of the HTML pages, driven by playwright.

The browser is the system's (Debian package ``chromium``), never one that playwright
downloads. Without it (or without playwright) the tests are skipped with the reason,
except under CI (the ``CI`` environment variable set), where they must run and fail.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest


def chromium_path() -> str | None:
    """The system Chromium's executable, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs chromium)")
    pytest.skip(f"{reason}: apt-get install chromium; pip install playwright")


@contextmanager
def launch():
    """Yield a playwright Browser on the system Chromium (skip or fail as the module says)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    exe = chromium_path()
    if exe is None:
        _missing("no chromium executable on PATH")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Visit:
    """One page opened from a file, offline: every request other than the file is aborted.

    Attributes
    ----------
    page : playwright Page
    requests : list of str
        Every URL the page asked for, the file's own included.
    problems : list of str
        Console errors and warnings, and uncaught exceptions.
    """

    def __init__(self, browser, path: Path, width: int = 1000):
        url = path.resolve().as_uri()
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.requests: list[str] = []
        self.problems: list[str] = []

        # Record every request; abort any but the file's (none may reach the network).
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.context.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def browser():
    """The system Chromium, once per test module."""
    with launch() as b:
        yield b


@pytest.fixture
def visit(browser):
    """``visit(path)``: open a page file in a fresh context (a `Visit`), closed after."""
    opened = []

    def open_(path):
        opened.append(Visit(browser, path))
        return opened[-1]

    yield open_
    for v in opened:
        v.close()
