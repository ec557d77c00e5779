"""The one export path of the three result classes: table files, save files, HTML pages.

`Result`, `JointResult` and `MapResult` inherit `Exports`; each names its page in
``_page`` (``"fit"``, ``"joint"``, ``"map"``). Every export writes atomically and
refuses to replace an existing file unless ``force=True`` (`nmcraman._atomic`).
"""

from __future__ import annotations

import importlib
import os

from .._atomic import atomic_write
from ..errors import InputError
from . import savefile

__all__ = ["PAGES", "Exports"]

#: Each result's page: the module of `nmcraman.results.html` and its writer.
PAGES = {
    "fit": ("page", "write_result"),
    "joint": ("page", "write_joint"),
    "map": ("map", "write_map"),
}


class Exports:
    """``to_csv``, ``to_parquet``, ``save`` and ``to_html`` of a result with a ``table``."""

    _page: str

    def to_csv(self, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write `table` to a CSV file.

        Parameters
        ----------
        path : str or path
            Output file.
        force : bool, optional
            Overwrite an existing file (without it, an existing file is an
            `InputError`). Default is False.
        """
        atomic_write(path, lambda tmp: self.table.to_csv(tmp, index=False), force=force)

    def to_parquet(self, path: str | os.PathLike, *, force: bool = False) -> None:
        """Write `table` to a Parquet file (needs pyarrow); ``force`` as for `to_csv`."""
        try:
            atomic_write(path, lambda tmp: self.table.to_parquet(tmp, index=False), force=force)
        except ImportError as exc:
            raise InputError(f"Parquet needs pyarrow: pip install pyarrow ({exc}).") from None

    def save(self, path: str | os.PathLike, *, force: bool = False) -> None:
        """Save the whole result for `nmcraman.load`.

        A name ending ``.nc`` saves a map as netCDF-4, binary, chunked and compressed,
        whose kept spectra `nmcraman.load` reads only when used
        (`nmcraman.results.netcdf`, ``pip install nmcraman[netcdf]``): the format for
        large maps and series. Any other name gives JSON (`nmcraman.results.savefile`,
        which says why JSON): exact, but a large map makes a large file.

        Parameters
        ----------
        path : str or path
            Output file, e.g. ``core_75.json`` or ``series.nc``.
        force : bool, optional
            Overwrite an existing file (without it, an existing file is an
            `InputError`). Default is False.
        """
        savefile.save(self, path, force=force)

    def to_html(
        self, path: str | os.PathLike, *, title: str | None = None, force: bool = False
    ) -> None:
        """Write a self-contained HTML page of this result; it needs no network.

        A fit's page holds an interactive plot (zoom, values under the pointer), the
        band table with errors and flags, the fit statistics and the provenance; a
        set's adds each spectrum's; a map's shows parameter, ratio and QC images with a
        colour bar, a click on a pixel shows its bands, and a series gets a slider over
        its steps and the trend plot of the image shown (`nmcraman.results.html`).

        Parameters
        ----------
        path : str or path
            Output file, e.g. ``fit.html``.
        title : str, optional
            Page heading. Default is the source's name.
        force : bool, optional
            Overwrite an existing file (without it, an existing file is an
            `InputError`). Default is False.
        """
        module, writer = PAGES[self._page]
        page = importlib.import_module(f"{__package__}.html.{module}")
        getattr(page, writer)(self, path, title=title, force=force)
