"""Case rules stated once: the status a step's data gives, the column value of a data field, task priority.

The service writes cases with these (cases.lifecycle.apply_step) and replay and verification recompute with
the same functions, so what they compare cannot drift apart.
"""

from datetime import UTC
from decimal import Decimal, InvalidOperation

from app.engine import data_limit, data_size, size_text
from app.services.core.errors import Invalid
from app.services.core.handlers import parse_moment

SEVERITY_PRIORITY = {"critical": 3, "high": 2, "medium": 1, "low": 0}
DATE_FIELDS = {"received_at", "due_at", "closed_at"}
MONEY_FIELDS = {"amount", "blocked_amount", "credited_amount"}
FINAL_STATUSES = ("closed", "resolved")


def status_of(data: dict, completed: bool) -> str:
    """The case status for this data: the process's `status`, or `closed` once the workflow has completed."""
    status = str(data.get("status") or "open")
    return "closed" if completed and status not in FINAL_STATUSES else status


def column_value(name: str, value):
    """The value a business column stores for a case data value (None when it does not convert)."""
    if value in (None, ""):
        return None
    if name in DATE_FIELDS:
        try:
            parsed = parse_moment(value)
        except ValueError:
            return None
        return parsed[0].astimezone(UTC) if parsed else None
    if name in MONEY_FIELDS:
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            return None
    if name == "satisfaction_score":
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return str(value)[:500]


def check_data_size(data: dict) -> None:
    """Refuse (422, nothing stored) data a step submits above the case data cap (CASE_DATA_MAX_BYTES)."""
    size = data_size(data)
    if size > data_limit():
        message = (f"Données trop volumineuses ({size_text(size)} ; {size_text(data_limit())} au maximum par étape) : "
                   "raccourcissez les textes ou joignez plutôt un fichier.")
        raise Invalid({"data": message}, message)
