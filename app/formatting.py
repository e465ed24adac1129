"""French formats through Babel, in one home: amounts, dates, « Paris, le 3 décembre 2026 », amount parsing.

Imports nothing from the application but `app.vocabulary`, so services, letters and templates may all use it.
`FILTERS` are the Jinja filters of the same functions; `install(env)` registers them in a Jinja environment
(the app's own, in create_app, and the sandboxed one of the message templates), so both speak alike.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.dates import format_date, format_datetime
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal

from app.vocabulary import PARIS

LOCALE = "fr_FR"
CURRENCY = "EUR"
DEFAULT_PLACE = "Paris"
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}$")


class AmountError(ValueError):
    """A typed amount that is not a French amount; the message is for the person who typed it."""


def _as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise AmountError("Montant invalide.")
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    return parse_amount(str(value))


def money(value, currency: str = CURRENCY) -> str:
    """An amount as French currency: 1 250,40 € (Babel's narrow no-break space and no-break space)."""
    amount = _as_decimal(value)
    return "" if amount is None else _currency(str(amount), currency)


@functools.lru_cache(maxsize=4096)
def _currency(amount: str, currency: str) -> str:
    """Babel's currency format, kept per amount (a letter shows the same few amounts again and again)."""
    return format_currency(Decimal(amount), currency, locale=LOCALE)


def number(value, digits: int = 2) -> str:
    """A number in French: 1 250,4 (at most `digits` decimals)."""
    amount = _as_decimal(value)
    return "" if amount is None else format_decimal(amount, format="#,##0." + "#" * digits, locale=LOCALE)


def parse_amount(text: str | None) -> Decimal | None:
    """A French amount typed by a person: `1 250,40`, `1250,40 €`, `1250.40` -> Decimal('1250.40'); empty -> None."""
    if text is None:
        return None
    raw = str(text).strip()
    if not raw:
        return None
    cleaned = raw.removesuffix("EUR").removesuffix("€").strip()
    if not cleaned or "e" in cleaned.lower():  # only a currency sign, or 1e5: nobody types an amount that way
        raise AmountError(f"Montant invalide : « {raw[:40]} » (exemple : 1 250,40).")
    grouped = _SPACES.sub("\u202f", cleaned)  # any space is the French group separator
    try:
        value = parse_decimal(grouped, locale=LOCALE, strict=True)
    except (NumberFormatError, InvalidOperation):
        raise AmountError(f"Montant invalide : « {str(text)[:40]} » (exemple : 1 250,40).") from None
    if not value.is_finite():
        raise AmountError("Montant invalide.")
    return value


def _moment(value) -> datetime | date | None:
    """A date, an aware datetime (in Paris) or None, from a date, a datetime or an ISO string."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DAY.match(text):
                return date.fromisoformat(text)
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=PARIS)
        return aware.astimezone(PARIS)
    if isinstance(value, date):
        return value
    return None


def long_date(value) -> str:
    """A date in French: 3 décembre 2026, 1er décembre 2026 (a datetime is read in Europe/Paris)."""
    moment = _moment(value)
    if moment is None:
        return ""
    return _long_day(moment.date() if isinstance(moment, datetime) else moment)


@functools.lru_cache(maxsize=4096)
def _long_day(day: date) -> str:
    """Babel's long date of a day, kept per day (every letter writes today's and the case's dates)."""
    text = format_date(day, format="long", locale=LOCALE)
    return "1er" + text[1:] if day.day == 1 else text  # French writes the first day of a month as an ordinal


def long_datetime(value) -> str:
    """A date and time in French, in Europe/Paris: 3 décembre 2026 à 14:05."""
    moment = _moment(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return long_date(moment)
    return f"{long_date(moment)} à {format_datetime(moment, format='HH:mm', tzinfo=PARIS, locale=LOCALE)}"


def short_date(value) -> str:
    """A date as 03/12/2026 (Europe/Paris)."""
    moment = _moment(value)
    if moment is None:
        return ""
    return format_date(moment.date() if isinstance(moment, datetime) else moment, format="short", locale=LOCALE)


def place_date(value, place: str | None = None) -> str:
    """The place and date line of a letter: « Paris, le 3 décembre 2026 »."""
    text = long_date(value)
    return f"{place or DEFAULT_PLACE}, le {text}" if text else ""


FILTERS = {"money": money, "number_fr": number, "long_date": long_date, "long_datetime": long_datetime,
           "short_date": short_date, "place_date": place_date}


def install(env) -> None:
    """Register the French filters in a Jinja environment."""
    env.filters.update(FILTERS)


# --- pages: amounts, numbers, Paris dates and times shown and typed --------------------------------------

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
        return format_date(value, format="long", locale=LOCALE)
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


def sort_key(text: str) -> str:
    """French alphabetical order (accents ignored: « Échéance » between « Dossier » and « Litige »)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
