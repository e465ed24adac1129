"""French amounts and dates through Babel (Europe/Paris), for the audit pages and exports.

Small on purpose: app/formatting.py is also being built for the letters (another branch); the names here are
the audit's needs and are meant to be merged into that module.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from app.vocabulary import PARIS

LOCALE = "fr_FR"


def format_amount(value) -> str:
    """An amount in euros, French style: 1 250,40 € (no-break spaces as Babel writes them)."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    return format_currency(Decimal(str(value)), "EUR", locale=LOCALE)


def format_number(value) -> str:
    """A number French style: 1 250,4."""
    return format_decimal(Decimal(str(value)), locale=LOCALE)


def _moment(value):
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value


def format_date_fr(value) -> str:
    """A date as 03/12/2026 (a datetime read in Europe/Paris); empty when missing or unreadable."""
    moment = _moment(value)
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=PARIS)).astimezone(PARIS).date()
    return format_date(moment, "dd/MM/yyyy", locale=LOCALE) if isinstance(moment, date) else ""


def format_datetime_paris(value, seconds: bool = False) -> str:
    """An aware datetime (or ISO string) in Europe/Paris: 03/12/2026 08:40 (or 08:40:00)."""
    moment = _moment(value)
    if not isinstance(moment, datetime):
        return format_date_fr(moment) if isinstance(moment, date) else ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=PARIS)
    return format_datetime(aware, "dd/MM/yyyy HH:mm" + (":ss" if seconds else ""), tzinfo=PARIS, locale=LOCALE)


def parse_datetime_paris(text: str) -> datetime | None:
    """A moment typed in French (« 03/12/2026 08:40 », « 03/12/2026 ») or ISO; naive means Paris time."""
    text = (text or "").strip()
    for pattern in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=PARIS)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def sort_key(text: str) -> str:
    """French alphabetical order (accents ignored: « Échéance » between « Dossier » and « Litige »)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
