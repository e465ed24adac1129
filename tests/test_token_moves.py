"""Moving a case's token to any element of its process version, including one passed long ago and dropped by
compaction: the target's subtree is built from the spec, data kept, task rows and deadlines recomputed,
token_moved on the audit trail and the replay reproducing it (both backends)."""

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Case, TaskRow
from app.services.audit.verification import verify_case
from app.services.cases import lifecycle as cases
from app.services.cases.lifecycle import fire_due_timers
from app.services.core.definitions import deploy_files
from app.services.core.errors import Invalid
from app.services.people.users import by_username
from tests.support.flows import case, complaint_data, do, start
from tests.support.setup import TEST_BPMN

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

QUALIFY = {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing",
           "qualification_comment": "Double facturation avérée."}
ANALYSE = {"facts": "Frais facturés deux fois.", "root_cause": "Erreur de paramétrage", "curative_action": "Avoir",
           "curative_cost": 12.5, "systemic": "no", "needs_information": "no"}
DECIDE = {"decision": "accepted", "compensation": 12.5, "response_text": "Nous vous remboursons les frais."}
SATISFIED = {"reaction": "satisfied", "reaction_on": "2026-11-25", "payment_blocked": "no"}
REASON = "Analyse incomplète : pièces reçues après la réponse."


def admin():
    return by_username("admin")


def ready_ids(api, ref) -> list[str]:
    return sorted(t["bpmn_id"] for t in case(api, ref)["tasks"])


def row_states(reference) -> dict[str, list[str]]:
    case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
    found: dict[str, list[str]] = {}
    for row in db.session.scalars(select(TaskRow).where(TaskRow.case_id == case_id)):
        found.setdefault(row.bpmn_id, []).append(row.state)
    return {bpmn_id: sorted(states) for bpmn_id, states in found.items()}  # same clock: no order to rely on


def live_elements(reference) -> set[str]:
    """The BPMN elements with a task in the live (compacted) tree."""
    current = cases.get_case(reference)
    workflow = cases.load_workflow(current, cases.CaseContext(current, "admin"))
    found = set()
    for task in workflow.wf.get_tasks():
        if task.task_spec.bpmn_id:
            found.add(task.task_spec.bpmn_id)
    for sub in workflow.wf.subprocesses.values():
        found.update(t.task_spec.bpmn_id for t in sub.get_tasks() if t.task_spec.bpmn_id)
    return found


def answered_complaint(api) -> str:
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    assert ready_ids(api, ref) == ["ut_reaction"]
    return ref


def test_reopen_analyse_after_the_answer_although_compaction_dropped_it(api, deployed):
    ref = answered_complaint(api)
    assert "ut_analyse" not in live_elements(ref)  # compaction dropped the finished subprocess
    assert cases.get_case(ref).next_timer_at is None  # the subprocess's deadline timers ended with it
    targets = cases.token_targets(admin(), ref)["ut_reaction"]
    assert targets["ut_analyse"] == "Traitement › Analyser la réclamation"
    assert "start_received" not in targets and "sp_start" not in targets  # start events are no targets
    assert "bt_overdue" not in targets and "ut_reaction" not in targets

    cases.move_token(admin(), ref, "ut_reaction", "ut_analyse", REASON)
    current = case(api, ref)
    assert [t["bpmn_id"] for t in current["tasks"]] == ["ut_analyse"]
    assert current["tasks"][0]["lane"] == "service" and current["incident"] is None
    # data kept: what the earlier analysis and decision wrote is still there for the new pass
    assert current["data"]["root_cause"] == "Erreur de paramétrage" and current["data"]["decision"] == "accepted"
    assert row_states(ref)["ut_reaction"] == ["cancelled"]
    # the subprocess's boundary timers are armed again from the case's due date
    moved_case = cases.get_case(ref)
    assert moved_case.next_timer_at is not None and moved_case.next_timer_at < moved_case.due_at
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == moved_case.id,
                                                        AuditEvent.type == "token_moved")).one()
    assert (event.data["from"], event.data["to"], event.data["reason"]) == ("ut_reaction", "ut_analyse", REASON)
    assert verify_case(moved_case) == []

    # the case goes on from there as drawn: analysis, decision, reaction, closure
    do(api, ref, "ut_analyse", "service", {**ANALYSE, "root_cause": "Double saisie"})
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    do(api, ref, "ut_reaction", "gestionnaire", SATISFIED)
    closed = case(api, ref)
    assert closed["status"] == "closed" and closed["data"]["root_cause"] == "Double saisie"
    assert [t["bpmn_id"] for t in closed["tasks"]] == ["ut_survey"]
    assert verify_case(cases.get_case(ref)) == []


def test_reopened_subprocess_deadline_fires_again(api, deployed):
    ref = answered_complaint(api)
    cases.move_token(admin(), ref, "ut_reaction", "ut_analyse", REASON)
    clock.advance(days=16)  # past the 15-day answer deadline: the re-armed boundary timer fires
    assert ref in fire_due_timers()
    assert ready_ids(api, ref) == ["ut_analyse", "ut_overdue"]
    assert verify_case(cases.get_case(ref)) == []


def test_move_back_inside_the_subprocess_and_out_of_it(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    do(api, ref, "ut_analyse", "service", ANALYSE)
    cases.move_token(admin(), ref, "ut_decide", "ut_analyse", "Analyse à reprendre avec le service.")
    assert ready_ids(api, ref) == ["ut_analyse"]
    # out of the subprocess, to a step of the main process: the subprocess and its timers are cancelled
    cases.move_token(admin(), ref, "ut_analyse", "ut_qualify", "Qualification erronée : catégorie à revoir.")
    current = cases.get_case(ref)
    assert ready_ids(api, ref) == ["ut_qualify"] and current.next_timer_at is None
    assert current.data["category"] == "billing"  # data kept
    do(api, ref, "ut_qualify", "gestionnaire", {**QUALIFY, "category": "delivery"})
    assert ready_ids(api, ref) == ["ut_analyse"] and cases.get_case(ref).next_timer_at is not None
    do(api, ref, "ut_analyse", "service", ANALYSE)
    do(api, ref, "ut_decide", "gestionnaire", DECIDE)
    do(api, ref, "ut_reaction", "gestionnaire", SATISFIED)
    assert case(api, ref)["status"] == "closed"
    assert verify_case(cases.get_case(ref)) == []


def test_move_forward_to_a_later_element_and_to_an_end(api, deployed):
    ref = start(api, **complaint_data())["reference"]
    do(api, ref, "ut_qualify", "gestionnaire", QUALIFY)
    # from the analysis straight to the client's reaction: the subprocess is left, the answer steps not run
    cases.move_token(admin(), ref, "ut_analyse", "ut_reaction", "Réponse faite par téléphone, hors application.")
    assert ready_ids(api, ref) == ["ut_reaction"]
    assert cases.get_case(ref).status == "in_progress"  # st_answered was not run
    cases.move_token(admin(), ref, "ut_reaction", "end_rejected", "Doublon d'une réclamation déjà traitée.")
    done = case(api, ref)
    assert done["completed"] is True and done["tasks"] == []
    assert verify_case(cases.get_case(ref)) == []


def test_refused_targets_have_a_french_reason_and_change_nothing(api, deployed):
    ref = answered_complaint(api)
    before = cases.get_case(ref).workflow_state.state

    def refusal(target):
        with pytest.raises(Invalid) as exc:
            cases.move_token(admin(), ref, "ut_reaction", target, REASON)
        return exc.value.errors["to"]

    assert "événement de début" in refusal("sp_start") and "événement de début" in refusal("start_received")
    assert "se déclenche seul" in refusal("bt_overdue")
    assert "n'est pas un élément de cette version" in refusal("nowhere")
    with pytest.raises(Invalid) as exc:
        cases.move_token(admin(), ref, "ut_analyse", "ut_qualify", REASON)
    assert "aucun jeton" in exc.value.errors["from"]
    db.session.expire_all()
    assert cases.get_case(ref).workflow_state.state == before
    assert ready_ids(api, ref) == ["ut_reaction"]


@pytest.fixture
def parallel(users):
    deploy_files([TEST_BPMN / "parallel_loop.bpmn"], "test")


def test_parallel_branch_targets(parallel):
    manager = by_username("gestionnaire")
    current = cases.start_case(manager, "double_avis", {"customer_name": "Martine Lefèvre"})
    ref = current.reference
    held = cases.token_targets(admin(), ref)
    # from one branch: its own steps and what follows the join, never the other branch
    assert "ut_finance" not in held["ut_service"] and "ut_conclude" in held["ut_service"]
    with pytest.raises(Invalid) as exc:
        cases.move_token(admin(), ref, "ut_service", "ut_finance", REASON)
    assert "branche parallèle" in exc.value.errors["to"]
    # back before the split: the other branch's token is cancelled too, both branches start again once
    cases.move_token(admin(), ref, "ut_service", "split", "Les deux avis sont à redemander.")
    assert row_states(ref) == {"ut_service": ["cancelled", "ready"], "ut_finance": ["cancelled", "ready"]}
    # one branch done, the other moved on past the join: the join's waiting arrival is cancelled with it
    cases.complete_task(by_username("finance"), ready_row(ref, "ut_finance"), {"finance_opinion": "favorable"})
    cases.move_token(admin(), ref, "ut_service", "ut_conclude", "Avis du service donné par écrit, au dossier.")
    assert row_states(ref) == {"ut_service": ["cancelled", "cancelled"], "ut_finance": ["cancelled", "completed"],
                               "ut_conclude": ["ready"]}
    cases.complete_task(manager, ready_row(ref, "ut_conclude"), {"again": False})
    assert cases.get_case(ref).completed
    assert verify_case(cases.get_case(ref)) == []


def ready_row(reference, bpmn_id) -> str:
    case_id = db.session.scalar(select(Case.id).where(Case.reference == reference))
    return db.session.scalars(select(TaskRow.id).where(TaskRow.case_id == case_id, TaskRow.bpmn_id == bpmn_id,
                                                       TaskRow.state == "ready")).one()


# --- the dispute process -------------------------------------------------------------------------------------

def test_dispute_reopened_analysis_rearms_its_escalation_timer(api, deployed):
    resp = api.post("finance", "/api/cases", json={"process": "litige", "data": {
        "customer_name": "Acier Nord SA", "invoice_refs": "FA-1", "blocked_amount": 5000.0,
        "block_reason": "Livraison incomplète"}})
    ref = resp.get_json()["reference"]
    escalation_at = cases.get_case(ref).next_timer_at
    do(api, ref, "ut_analyse", "commercial", {"justified": "not_justified", "analysis": "Livraison complète"})
    do(api, ref, "ut_collection", "finance", {"collection_action": "Relance"})
    do(api, ref, "ut_release", "finance", {"payment_released": "yes", "released_amount": 5000.0})
    assert ready_ids(api, ref) == ["ut_close"] and cases.get_case(ref).next_timer_at is None
    assert "ut_analyse" not in live_elements(ref)
    cases.move_token(admin(), ref, "ut_close", "ut_analyse", "Nouvelle pièce : bon de livraison incomplet.")
    current = cases.get_case(ref)
    assert ready_ids(api, ref) == ["ut_analyse"] and current.data["payment_released"] == "yes"
    assert current.next_timer_at == escalation_at  # the escalation deadline, computed again from the data
    do(api, ref, "ut_analyse", "commercial", {"justified": "justified", "analysis": "Livraison incomplète",
                                              "proposed_credit": 900.0})
    assert ready_ids(api, ref) == ["ut_credit_note"]
    assert verify_case(cases.get_case(ref)) == []


# --- what the engine refuses, on a diagram of its own (no database) -----------------------------------------

MULTI = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="multi" name="Multi" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="ut_a" name="Préparer"/>
    <bpmn:subProcess id="sp_each" name="Pour chaque pièce">
      <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
      <bpmn:startEvent id="each_start"/>
      <bpmn:userTask id="ut_each" name="Vérifier la pièce"/>
      <bpmn:endEvent id="each_end"/>
      <bpmn:sequenceFlow id="e1" sourceRef="each_start" targetRef="ut_each"/>
      <bpmn:sequenceFlow id="e2" sourceRef="ut_each" targetRef="each_end"/>
    </bpmn:subProcess>
    <bpmn:subProcess id="esp" name="Sur relance" triggeredByEvent="true">
      <bpmn:startEvent id="esp_start" isInterrupting="false">
        <bpmn:messageEventDefinition messageRef="m_relance"/></bpmn:startEvent>
      <bpmn:userTask id="ut_relance" name="Traiter la relance"/>
      <bpmn:endEvent id="esp_end"/>
      <bpmn:sequenceFlow id="r1" sourceRef="esp_start" targetRef="ut_relance"/>
      <bpmn:sequenceFlow id="r2" sourceRef="ut_relance" targetRef="esp_end"/>
    </bpmn:subProcess>
    <bpmn:userTask id="ut_b" name="Conclure"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ut_a"/>
    <bpmn:sequenceFlow id="f2" sourceRef="ut_a" targetRef="sp_each"/>
    <bpmn:sequenceFlow id="f3" sourceRef="sp_each" targetRef="ut_b"/>
    <bpmn:sequenceFlow id="f4" sourceRef="ut_b" targetRef="end"/>
  </bpmn:process>
  <bpmn:message id="m_relance" name="relance"/>
</bpmn:definitions>"""


def test_multi_instance_and_event_subprocess_contents_are_refused_in_french():
    from app.engine import CaseWorkflow, MoveRefused, StepContext, parse_definition

    pspec = parse_definition(MULTI, "multi")
    workflow, _ = CaseWorkflow.start(pspec, {}, StepContext())
    assert [t.bpmn_id for t in workflow.ready_tasks()] == ["ut_a"]
    targets = workflow.token_targets()["ut_a"]
    assert "sp_each" in targets and "ut_b" in targets  # the multi-instance activity as a whole is a target
    assert not {"ut_each", "ut_relance", "esp", "esp_end", "start", "each_start"} & set(targets)
    with pytest.raises(MoveRefused) as exc:
        workflow.move_token("ut_a", "ut_each")
    assert "instances multiples" in str(exc.value) and "« Pour chaque pièce »" in str(exc.value)
    with pytest.raises(MoveRefused) as exc:
        workflow.move_token("ut_a", "ut_relance")
    assert "aucun flux" in str(exc.value) and "« Sur relance »" in str(exc.value)
    with pytest.raises(MoveRefused) as exc:
        workflow.move_token("ut_a", "esp")
    assert "aucun flux" in str(exc.value)
    with pytest.raises(MoveRefused) as exc:
        workflow.move_token("ut_a", "ut_a")
    assert "déjà" in str(exc.value)
    # the activity itself: both instances are created
    result = workflow.move_token("ut_a", "sp_each")
    assert result.error is None and [t.bpmn_id for t in workflow.ready_tasks()] == ["ut_each", "ut_each"]


def test_admin_page_offers_a_step_passed_long_ago_and_moves_there(api, deployed, client):
    ref = answered_complaint(api)
    assert client.post("/login", data={"username": "admin", "password": "demo"}).status_code == 302
    case_page = client.get(f"/dossiers/{ref}").get_data(as_text=True)
    assert f'href="/admin/incidents/{ref}">déplacer le jeton</a>' in case_page  # not in incident, still movable
    page = client.get(f"/admin/incidents/{ref}").get_data(as_text=True)
    assert "Déplacer le jeton — " in page and 'value="ut_analyse"' in page
    assert "Traitement › Analyser la réclamation" in page and 'value="sp_start"' not in page
    resp = client.post(f"/admin/incidents/{ref}/deplacer", data={"from": "ut_reaction", "to": "ut_analyse",
                                                                  "reason": REASON}, follow_redirects=True)
    assert "jeton déplacé, le dossier a repris" in resp.get_data(as_text=True)
    assert ready_ids(api, ref) == ["ut_analyse"]
    # a refused target: the French reason on the page, nothing changed
    resp = client.post(f"/admin/incidents/{ref}/deplacer", data={"from": "ut_analyse", "to": "bt_overdue",
                                                                  "reason": REASON}, follow_redirects=True)
    assert "se déclenche seul" in resp.get_data(as_text=True)
    assert ready_ids(api, ref) == ["ut_analyse"]
