"""``nmcraman fit --html PATH``: where the HTML pages of the fits go (`nmcraman.results.html.page`).

- one page per fit: PATH ending in ``.html`` (or ``.htm``) is that page, and needs
  exactly one input file; any other PATH is a folder (made if missing, its parent must
  exist) that receives ``<file stem>.html`` for each input;
- with ``--joint``: PATH is the one page of the set (the summary, then each spectrum
  with its fit), so it must end in ``.html``.

Every target is checked before any fit, so a bad path fails at once (exit status 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ._common import UsageError, check_output, folder_targets

#: File name endings that make ``--html`` one page rather than a folder.
PAGE_SUFFIXES = (".html", ".htm")


def add_html_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--html PATH`` to ``fit``."""
    parser.add_argument(
        "--html",
        metavar="PATH",
        help="self-contained HTML pages (interactive plot, table, provenance): PATH.html"
        " for one file or with --joint (the set's page), else a folder of one page per file",
    )


def is_page(path: str) -> bool:
    """Tell whether ``--html PATH`` names one page (an ``.html`` file) rather than a folder."""
    return Path(path).suffix.lower() in PAGE_SUFFIXES


def joint_target(path: str | None, force: bool) -> Path | None:
    """Return the page of a joint fit, checked; None without ``--html``.

    Raises
    ------
    UsageError
        If ``path`` does not end in ``.html``, or cannot be written (`check_output`).
    """
    if path is None:
        return None
    if not is_page(path):
        raise UsageError(f"--html {path}: with --joint give one page, a name ending in .html.")
    check_output(Path(path), force)
    return Path(path)


def page_targets(path: str | None, files: Sequence[str], force: bool) -> list[Path | None]:
    """Return one page per input file (None each without ``--html``), checked.

    Raises
    ------
    UsageError
        If one page is named for several files, a page exists and ``force`` is False,
        the folder is a file, or its parent folder is missing.
    """
    if path is None:
        return [None] * len(files)
    if is_page(path):
        if len(files) != 1:
            raise UsageError(
                f"--html {path} is one page but {len(files)} files are fitted; give a folder"
                " (one page per file) or use --joint for one page of the set."
            )
        check_output(Path(path), force)
        return [Path(path)]
    hint = "give a folder or a name ending in .html"
    return folder_targets("--html", path, files, ".html", force, noun="page", hint=hint)
