"""Reading the task list's query string into filters (bad values are dropped with a French message)."""

from app.services.tasks.task_list import SCOPES, SORTS, TaskFilters

PER_PAGE = 50
MAX_DAYS = 366


def _int(value: str | None, low: int, high: int) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if low <= number <= high else None


def list_args(args, default_scope: str) -> tuple[str, TaskFilters, int, list[str]]:
    """(scope, filters, page, problems) from request.args."""
    problems = []
    scope = args.get("onglet") or default_scope
    if scope not in SCOPES:
        problems.append("Onglet inconnu : « Mes tâches » affiché.")
        scope = default_scope
    sort = args.get("tri") or "due"
    if sort not in SORTS:
        problems.append("Tri inconnu : tri par échéance.")
        sort = "due"
    due_within = None
    if args.get("sous"):
        due_within = _int(args.get("sous"), 0, MAX_DAYS)
        if due_within is None:
            problems.append(f"« Échéance sous N jours » attend un nombre entre 0 et {MAX_DAYS}.")
    page = _int(args.get("page"), 1, 1_000_000) or 1
    filters = TaskFilters(process=args.get("processus") or None, step=args.get("etape") or None,
                          channel=args.get("canal") or None, overdue=args.get("retard") == "1",
                          at_risk=args.get("risque") == "1", due_within=due_within,
                          q=(args.get("q") or "").strip()[:100] or None, sort=sort)
    return scope, filters, page, problems
