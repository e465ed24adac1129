"""A step's letter is written from the template text active at that moment, whoever saved it: a version saved
through the editor, or committed by another worker on its own connection, is the very next letter's; a version
whose transaction rolled back never is (templates.for_message reads the active rows with the step)."""

import pytest
from sqlalchemy import create_engine, insert, select

from app import clock
from app.extensions import db
from app.models import MessageTemplate, OutboxMessage
from app.services.core.transaction import transaction
from app.services.messaging import template_editing, templates
from app.services.people.users import by_username
from tests.support.flows import complaint_data, do, start


def _to_decision(api) -> str:
    reference = start(api, **complaint_data())["reference"]
    do(api, reference, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing",
                                                      "severity": "high"})
    do(api, reference, "ut_analyse", "service", {"facts": "Frais facturés deux fois.", "systemic": "no",
                                                 "needs_information": "no"})
    return reference


def _decide(api, reference) -> OutboxMessage:
    do(api, reference, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Remboursé."})
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "response")
                              .order_by(OutboxMessage.id.desc())).first()


def _latest(key: str) -> MessageTemplate:
    db.session.expire_all()
    return db.session.scalars(select(MessageTemplate).where(MessageTemplate.key == key)
                              .order_by(MessageTemplate.version.desc())).first()


def test_each_letter_uses_the_version_saved_just_before_it(deployed, api):
    first = _to_decision(api)
    second = _to_decision(api)
    third = _to_decision(api)
    before = _decide(api, first)  # compiled and used once: what a cache would keep
    v1, sig1 = _latest("response"), _latest("_signature")
    assert before.template_version_id == v1.id and "Première version" not in before.body

    owner = by_username("proprietaire")
    template_editing.save(owner, "response", "Réponse {{ reference }}",
                          'Première version pour {{ customer_name }}.\n{% include "_signature" %}',
                          base_version=v1.version)
    template_editing.save(owner, "_signature", "", "Signé : le service relations clients (v2).\n",
                          base_version=sig1.version)
    v2 = _latest("response")
    letter = _decide(api, second)
    assert letter.template_version_id == v2.id and letter.subject == f"Réponse {second}"
    assert letter.body.startswith("Première version pour Martine Lefèvre.")
    assert "Signé : le service relations clients (v2)." in letter.body
    assert "Signé : le service relations clients (v2)." in letter.body_html

    # Another worker saves a third version on its own connection (not this session): the next letter has it.
    other = create_engine(db.engine.url)
    try:
        with other.begin() as conn:
            conn.execute(insert(MessageTemplate.__table__).values(
                key="response", version=v2.version + 1, kind="letter", label="Réponse", subject="Troisième",
                body="Troisième version, {{ reference }}.\n", note="autre worker", created_at=clock.now(),
                created_by="proprietaire"))
    finally:
        other.dispose()
    v3 = _latest("response")
    letter = _decide(api, third)
    assert letter.template_version_id == v3.id and letter.body == f"Troisième version, {third}.\n"
    assert letter.subject == "Troisième"


def test_a_version_rolled_back_is_never_used(deployed, api):
    reference = _to_decision(api)
    templates.seed_missing()
    current = _latest("response")
    with pytest.raises(RuntimeError), transaction():
        db.session.add(MessageTemplate(key="response", version=current.version + 1, kind="letter",
                                       label="Réponse", subject="Jamais", body="Jamais envoyée.\n", note="annulée",
                                       created_at=clock.now(), created_by="proprietaire"))
        db.session.flush()
        row, blocks = templates.for_message("response")  # seen inside its own transaction...
        assert row.subject == "Jamais" and "_signature" in blocks
        raise RuntimeError("rolled back")
    letter = _decide(api, reference)  # ...and never after it
    assert letter.template_version_id == current.id and "Jamais" not in letter.body + letter.subject


def test_for_message_reads_what_active_and_active_blocks_read(deployed):
    templates.seed_missing()
    for key in ("response", "survey", "_signature"):
        row, blocks = templates.for_message(key)
        orm = templates.active(key)
        assert (row.id, row.version, row.kind, row.subject, row.body) == (
            orm.id, orm.version, orm.kind, orm.subject, orm.body)
        assert blocks == templates.active_blocks()


def test_for_message_seeds_a_missing_template_and_refuses_an_unknown_one(deployed):
    row, blocks = templates.for_message("holding_letter")  # nothing seeded yet: the template and the blocks
    assert row.version == 1 and row.id == _latest("holding_letter").id
    assert {"_signature", "_mediator"} <= set(blocks)
    with pytest.raises(Exception, match="Modèle de message inconnu"):
        templates.for_message("absent_key")


def test_a_step_with_two_letters_reads_their_templates_once_and_uses_each_new_version(deployed, api):
    from sqlalchemy import event

    reference = _to_decision(api)
    do(api, reference, "ut_decide", "gestionnaire", {"decision": "accepted", "response_text": "Remboursé."})
    owner = by_username("proprietaire")
    templates.seed_missing()
    for key in ("closure", "survey"):
        current = _latest(key)
        template_editing.save(owner, key, f"Nouveau {key} {{{{ reference }}}}", f"Texte {key} v2.\n",
                              base_version=current.version)
    expected = {key: _latest(key).id for key in ("closure", "survey")}
    reads = []

    def seen(conn, cursor, statement, *args):
        if "message_template" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        do(api, reference, "ut_reaction", "gestionnaire", {"reaction": "satisfied", "reaction_on": "2026-11-25",
                                                          "payment_blocked": "no"})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    db.session.expire_all()
    letters = {m.template: m for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template.in_(("closure", "survey"))))}
    assert set(letters) == {"closure", "survey"}
    for key, message in letters.items():
        assert message.template_version_id == expected[key]
        assert message.subject == f"Nouveau {key} {reference}" and message.body == f"Texte {key} v2.\n"
    assert len(reads) == 1  # both letters and the shared blocks: one statement
