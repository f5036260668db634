"""CSV files an auditor opens in a spreadsheet.

Cells come from users (identity names, statement text, reasons). A cell starting with ``=``,
``+``, ``-``, ``@`` (or a tab/CR) is a formula to Excel and LibreOffice — CSV injection — so
such text cells get a leading apostrophe, the convention spreadsheets display as plain text.
Numbers are written as numbers and never prefixed.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO

Cell = str | int | float | bool | datetime | None

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return "'" + value if value.startswith(_FORMULA_START) else value


class CsvFile:
    """One evidence CSV: a header row, then rows written as they come (nothing is held)."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.rows = 0
        self._file: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(header)
        self._width = len(header)

    def row(self, *values: Cell) -> None:
        if len(values) != self._width:
            raise ValueError(f"{self.path.name}: {len(values)} cells for {self._width} columns")
        self._writer.writerow([cell_text(v) for v in values])
        self.rows += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CsvFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
