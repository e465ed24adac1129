"""French formats, through Babel: amounts, numbers, dates and Paris times shown to people, and what they type.

Stored in UTC, shown and typed in Europe/Paris (`03/12/2026 08:40`); amounts `1 250,40 €`; numbers with a narrow
no-break space between thousands (`10 000`). Imports nothing from the application but app/vocabulary.py.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.dates import format_date as _babel_date
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal

from app.vocabulary import PARIS

LOCALE = "fr_FR"
_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_FR_MOMENT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(?:à\s+)?(\d{1,2})[:h](\d{2}))?")
_FR_DAY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def format_amount(value, currency: str = "EUR") -> str:
    """1250.4 -> « 1 250,40 € » (empty text for a missing amount)."""
    if value in (None, ""):
        return ""
    return format_currency(Decimal(str(value)), currency, locale=LOCALE)


def format_number(value, decimals: int | None = None) -> str:
    """10000 -> « 10 000 »; with decimals, 12.5 -> « 12,50 »."""
    if value in (None, ""):
        return ""
    pattern = None if decimals is None else "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(value, format=pattern, locale=LOCALE)


def parse_amount(text: str) -> Decimal:
    """What French people type for an amount: « 1 250,40 », « 1250,40 € », « 1250.40 »; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("amount expected as text")
    cleaned = _SPACES.sub("", text.strip()).removesuffix("€").removesuffix("EUR").strip()
    if not cleaned or "e" in cleaned.lower():  # no 1e5: nobody types an amount that way
        raise ValueError("not an amount")
    if "," not in cleaned and cleaned.count(".") == 1:
        cleaned = cleaned.replace(".", ",")  # 1250.40: the dot is the decimal separator here
    try:
        value = parse_decimal(cleaned, locale=LOCALE, strict=True)
    except (NumberFormatError, InvalidOperation):
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise ValueError("not a finite amount")
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


def format_date_fr(value, style: str = "short") -> str:
    """A date or a UTC moment as its Paris day: « 03/12/2026 » (style long: « 3 décembre 2026 »)."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = _aware(value).astimezone(PARIS).date()
    if style == "long":
        return _babel_date(value, format="long", locale=LOCALE)
    return value.strftime("%d/%m/%Y")


def format_datetime_paris(value, seconds: bool = False) -> str:
    """A UTC moment in Paris time: « 03/12/2026 08:40 »."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return _aware(value).astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def parse_datetime_paris(text: str) -> datetime:
    """« 03/12/2026 08:40 », « 03/12/2026 à 8h40 », « 03/12/2026 » or ISO, typed in Paris time -> aware datetime."""
    raw = (text or "").strip()
    match = _FR_MOMENT.fullmatch(raw)
    if match:
        day, month, year, hour, minute = match.groups()
        try:
            value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        except ValueError:
            raise ValueError(f"no such moment: {text!r}") from None
        return value.replace(tzinfo=PARIS)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date and time: {text!r}") from None
    return _aware(value)


def parse_date_fr(text: str) -> date:
    """« 03/12/2026 » or « 2026-12-03 » -> date; ValueError otherwise."""
    raw = (text or "").strip()
    match = _FR_DAY.fullmatch(raw)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return date(year, month, day)
    return date.fromisoformat(raw)
