"""French formats through Babel: amounts, dates, the letter's place and date line, amounts typed by people."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app import formatting
from app.formatting import AmountError, long_date, long_datetime, money, parse_amount, place_date

NNBSP, NBSP = "\u202f", "\u00a0"


def test_amounts_are_french_currency():
    assert money(Decimal("1250.4")) == f"1{NNBSP}250,40{NBSP}€"
    assert money(625.2) == f"625,20{NBSP}€"
    assert money("1 250,40") == f"1{NNBSP}250,40{NBSP}€"
    assert money(0) == f"0,00{NBSP}€"
    assert money(None) == "" and money("") == ""
    assert formatting.number(Decimal("1250.456"), 1) == f"1{NNBSP}250,5"


@pytest.mark.parametrize(("typed", "expected"), [
    ("1 250,40", "1250.40"), ("1250,40 €", "1250.40"), ("1250.40", "1250.40"), (f"1{NNBSP}250,40", "1250.40"),
    (f"1{NBSP}250,40{NBSP}€", "1250.40"), ("12,5", "12.5"), ("  42 ", "42"), ("1250,40 EUR", "1250.40"),
])
def test_french_amounts_are_parsed(typed, expected):
    assert parse_amount(typed) == Decimal(expected)


@pytest.mark.parametrize("typed", ["abc", "1.250,40", "12,5,3", "€", "NaN", "1 2 3,4"])
def test_bad_amounts_are_refused_in_french(typed):
    with pytest.raises(AmountError, match="Montant invalide"):
        parse_amount(typed)


def test_dates_in_french_and_in_paris():
    assert long_date(date(2026, 12, 3)) == "3 décembre 2026"
    assert long_date(date(2026, 12, 1)) == "1er décembre 2026"
    assert long_date("2026-12-03") == "3 décembre 2026"
    # 23:30 UTC on 31 December is already New Year's Day in Paris.
    assert long_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "1er janvier 2027"
    assert long_date("2026-07-14T22:15:00+00:00") == "15 juillet 2026"
    assert long_datetime(datetime(2026, 12, 3, 13, 5, tzinfo=UTC)) == "3 décembre 2026 à 14:05"
    assert long_datetime(datetime(2026, 7, 3, 13, 5, tzinfo=UTC)) == "3 juillet 2026 à 15:05"  # summer time
    assert long_date(None) == "" and long_date("not a date") == ""


def test_place_and_date_line():
    assert place_date(date(2026, 12, 3)) == "Paris, le 3 décembre 2026"
    assert place_date(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), "Lyon") == "Lyon, le 3 décembre 2026"


def test_filters_are_registered_in_the_app(app):
    env = app.jinja_env
    assert set(formatting.FILTERS) <= set(env.filters)
    rendered = env.from_string("{{ 625.2|money }} · {{ d|place_date }}").render(d=date(2026, 12, 3))
    assert rendered == f"625,20{NBSP}€ · Paris, le 3 décembre 2026"
