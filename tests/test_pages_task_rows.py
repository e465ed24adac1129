"""Task list rows as printed: user text escaped, a printed row kept for the next view only while nothing it shows
changed, and the page read in one statement besides the user (app/tasks/rows.py, app/services/tasks/list_page.py).
"""

import re

from sqlalchemy import event

from app.extensions import db
from tests.support.pages import login, ready_task, set_task, start_case

HOSTILE = '<script>alert("x")</script> & "Dupont" <b>'


def _row(resp, reference: str) -> str:
    rows = re.findall(r"<tr class=\"[^\"]*\">.*?</tr>", resp.get_data(as_text=True), flags=re.S)
    return next(r for r in rows if reference in r)


def test_user_text_is_escaped_in_the_rows_on_every_view(app, deployed):
    case = start_case(customer_name=HOSTILE)
    set_task(ready_task(case), name='Qualifier <i>"vite"</i>')
    g = login(app, "gestionnaire")
    for _ in range(2):  # printed, then kept: the same escaped text
        html = g.get("/taches/?onglet=group").get_data(as_text=True)
        assert "<script>alert" not in html and "<b>" not in html and "<i>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Dupont&#34; &lt;b&gt;" in html
        assert f'aria-label="Sélectionner {case.reference} Qualifier &lt;i&gt;&#34;vite&#34;&lt;/i&gt;"' in html


def test_a_kept_row_follows_every_change_it_shows(app, deployed):
    case = start_case()
    task = ready_task(case)
    reference, task_id = case.reference, task.id
    g = login(app, "gestionnaire")
    first = _row(g.get("/taches/?onglet=group"), reference)
    assert "Prendre et ouvrir" in first and "en retard" not in first
    assert _row(g.get("/taches/?onglet=group"), reference) == first  # nothing changed: the same row

    set_task(db.session.get(type(task), task_id), due_in_days=-1, priority=3)
    late = _row(g.get("/taches/?onglet=group"), reference)
    assert late != first and "en retard" in late and "critique" in late and 'class="row-overdue"' in late

    assert g.post(f"/taches/{task_id}/prendre").status_code == 302
    held = _row(g.get("/taches/?onglet=mine"), reference)
    assert "Libérer" in held and "Prendre et ouvrir" not in held and "gestionnaire" in held

    # the same row for a read-only auditor: no box to tick, no button, whatever another viewer was shown
    auditor = _row(login(app, "auditeur").get("/taches/?onglet=all"), reference)
    assert 'name="task_ids"' not in auditor and "Libérer" not in auditor and "Ouvrir" in auditor


def test_an_unfiltered_view_reads_the_user_then_the_page_in_one_statement(app, deployed):
    for _ in range(3):
        start_case()
    db.session.rollback()
    g = login(app, "gestionnaire")
    g.get("/taches/?onglet=group")
    seen: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        resp = g.get("/taches/?onglet=group")
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert resp.status_code == 200 and resp.get_data(as_text=True).count('type="checkbox" name="task_ids"') == 3
    assert len(seen) == 2, seen  # the user (session), then rows, counts, forecast, top bar and filter choices
    assert "FROM user_account" in seen[0] and "notification" in seen[1] and "process_definition" in seen[1]
