"""The one CSV writer of every export (cases, indicators, audit trails): UTF-8 with a BOM, CRLF lines, and
cells that a spreadsheet program would run as a formula neutralised (CSV injection, OWASP).

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, unless it is a
plain number (`-12.5` stays a number). Dates are written in ISO 8601.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

BOM = "\ufeff"  # spreadsheet programs then read the file as UTF-8
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value) -> str:
    """A value as a safe CSV cell."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text[:1] in FORMULA_STARTS and not _is_number(text):
        return "'" + text
    return text


def exact_cell(value) -> str:
    """A value as a safe CSV cell that `uncell` turns back into the exact text (signed exports, whose hashes are
    recomputed from the cells): a text starting with a formula character or with the quote itself gets the quote."""
    text = "" if value is None else str(value)
    if text[:1] == "'" or (text[:1] in FORMULA_STARTS and not _is_number(text)):
        return "'" + text
    return text


def uncell(text: str) -> str:
    """The exact text of a cell written by `exact_cell`."""
    return text[1:] if text.startswith("'") else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text.lower().lstrip("+-") not in ("inf", "infinity", "nan")


def lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """Each row as one CSV line (for streaming), cells made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def stream(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """A whole CSV document, piece by piece: the BOM, the header, then the rows."""
    yield BOM
    yield from lines([header])
    yield from lines(rows)


def document(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    """A whole CSV document as one string."""
    return "".join(stream(header, rows))
