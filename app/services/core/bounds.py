"""Limits of what the database and the calendar hold, checked at the edge with a French message.

Numbers from a URL or a form go into SQL: above a signed 32-bit integer PostgreSQL's INTEGER columns refuse
them, above 64 bits SQLite's driver does (500 either way). Dates outside 1900–2999 overflow as soon as a time
zone or a delay is applied (0001-01-01 in Paris is year 0 in UTC). Each helper raises Invalid (422), naming
the field, so such input ends in a clear message and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from app.services.core.errors import Invalid
from app.vocabulary import MAX_DAY, MIN_DAY

MAX_ID = 2**31 - 1  # ids, sequence and version numbers are INTEGER columns
MAX_PAGE = 1_000_000
DAY_RANGE = "Date hors des limites admises (du 01/01/1900 au 31/12/2999)."


def whole_number(raw, field: str, low: int = 0, high: int = MAX_ID, default: int | None = None,
                 message: str | None = None) -> int:
    """An integer from text or a number, between low and high; `default` when absent or blank."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is not None:
            return default
        raise Invalid({field: message or f"Nombre entier attendu (de {low} à {high})."})
    text = str(raw).strip()
    if isinstance(raw, bool) or not (text.isdigit() or (text[:1] == "-" and text[1:].isdigit())) or len(text) > 20:
        raise Invalid({field: message or f"Nombre entier attendu (de {low} à {high})."})
    value = int(text)
    if not low <= value <= high:
        raise Invalid({field: message or f"Nombre entier attendu (de {low} à {high})."})
    return value


def page_number(raw, field: str = "page", default: int | None = 1) -> int:
    """A page number, 1 to MAX_PAGE (blank: the first page)."""
    return whole_number(raw, field, 1, MAX_PAGE, default=default,
                        message=f"Numéro de page attendu : un entier de 1 à {MAX_PAGE:,}.".replace(",", "\u202f"))


def record_id(raw, field: str = "id") -> int | None:
    """An optional id (None when absent), bounded to what an INTEGER column holds."""
    if raw is None or raw == "":
        return None
    return whole_number(raw, field, 1, MAX_ID, message="Identifiant inconnu.")


def check_day(value: date | datetime | None, field: str) -> date | datetime | None:
    """The date itself when it is within the calendar the application handles, else Invalid."""
    if value is None:
        return None
    day = value.date() if isinstance(value, datetime) else value
    if not MIN_DAY <= day <= MAX_DAY:
        raise Invalid({field: DAY_RANGE})
    return value
