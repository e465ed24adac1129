"""Dashboard, indicator and case exports: thin routes over app.services.indicators.figures and exports."""

from flask import Response, render_template, request, stream_with_context

from app.access import groups_required
from app.reports import bp
from app.services.core.errors import Invalid
from app.services.indicators import exports, labels
from app.services.indicators import figures as indicators
from app.vocabulary import REPORT_READERS

READERS = REPORT_READERS


def _filters():
    """The filters from the query string, or the default period with the errors to show."""
    try:
        return indicators.parse_filters(request.args), {}
    except Invalid as exc:
        return indicators.parse_filters({}), exc.errors


@bp.get("/")
@groups_required(*READERS)
def dashboard():
    filters, errors = _filters()
    figures = indicators.compute(filters)
    return render_template("reports/dashboard.html", figures=figures, filters=filters, errors=errors,
                           cat=labels.catalogue(), query=request.query_string.decode("utf-8", "replace")), \
        422 if errors else 200


@bp.get("/indicators.csv")
@groups_required(*READERS)
def indicators_csv():
    filters = indicators.parse_filters(request.args)
    body = exports.indicators_csv(indicators.compute(filters))
    return Response(body, mimetype="text/csv", headers=_attachment(f"indicateurs_{filters.start}_{filters.end}.csv"))


@bp.get("/cases.csv")
@groups_required(*READERS)
def cases_csv():
    filters = indicators.parse_filters(request.args)
    return Response(stream_with_context(exports.cases_csv(filters)), mimetype="text/csv",
                    headers=_attachment(f"dossiers_{filters.start}_{filters.end}.csv"))


@bp.errorhandler(Invalid)
def invalid(exc: Invalid):
    return Response("; ".join(f"{k} : {v}" for k, v in exc.errors.items()), status=422, mimetype="text/plain")


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
