"""Validation before deploy: each rule names its element; hostile XML is refused; the MIWG corpus never crashes."""

from pathlib import Path

import pytest

from app.services.processes.validation import validate

ROOT = Path(__file__).resolve().parent.parent
RECLAMATION = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
LITIGE = (ROOT / "processes" / "litige.bpmn").read_text(encoding="utf-8")
DECISIONS = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")}
MIWG = sorted((ROOT / "tests" / "miwg").glob("*.bpmn"))


def problems_of(xml, key=None):
    _, problems = validate(xml, key, DECISIONS)
    return problems


def by_element(problems, element):
    return [p.message for p in problems if p.element == element]


def test_shipped_processes_are_valid():
    assert problems_of(RECLAMATION) == []
    assert problems_of(LITIGE) == []


def test_user_task_outside_any_lane():
    xml = RECLAMATION.replace("<bpmn:flowNodeRef>ut_qualify</bpmn:flowNodeRef>", "")
    found = by_element(problems_of(xml), "ut_qualify")
    assert any("hors couloir" in m for m in found), found
    assert [p.label for p in problems_of(xml) if p.element == "ut_qualify"][0] == "Qualifier la réclamation"


def test_lane_with_unknown_group():
    xml = RECLAMATION.replace('<bpmn:lane id="Lane_reclamation_qualite" name="qualite">',
                              '<bpmn:lane id="Lane_reclamation_qualite" name="Qualité totale">')
    found = by_element(problems_of(xml), "ut_capa")
    assert any("Qualité totale" in m and "aucun groupe" in m for m in found), found


def test_unsupported_form_field_type():
    xml = RECLAMATION.replace('id="root_cause" label="Cause racine" type="text"',
                              'id="root_cause" label="Cause racine" type="colour"', 1)
    assert 'type="colour"' in xml
    found = [p for p in problems_of(xml) if "colour" in p.message]
    assert found and found[0].element == "ut_analyse", found


def test_condition_that_does_not_compile_and_refused_name():
    xml = RECLAMATION.replace('written == "yes"</bpmn:conditionExpression>', "written ==</bpmn:conditionExpression>")
    assert any("syntaxe" in m for m in by_element(problems_of(xml), "f_written_yes"))
    xml = RECLAMATION.replace('written == "yes"</bpmn:conditionExpression>',
                              "__import__('os').system('id') == 0</bpmn:conditionExpression>")
    found = by_element(problems_of(xml), "f_written_yes")
    assert any("interdit" in m for m in found), found


def test_exclusive_gateway_without_default_flow_follows_camunda():
    # Camunda takes an unconditioned flow as always true: it becomes the default, with a warning (no refusal)
    xml = RECLAMATION.replace('<bpmn:exclusiveGateway id="gw_written" name="Réclamation écrite ?" '
                              'default="f_written_no">',
                              '<bpmn:exclusiveGateway id="gw_written" name="Réclamation écrite ?">')
    problems = problems_of(xml)
    assert [p for p in problems if p.blocking] == []
    found = [p for p in problems if p.element == "f_written_no"]
    assert found and found[0].level == "warning" and "règle de Camunda" in found[0].message, found
    # every flow conditioned and none true: an incident, as in Camunda: a warning naming the gateway
    flow = '<bpmn:sequenceFlow id="f_written_no" name="Non (orale)" sourceRef="gw_written" targetRef="st_deadline_oral"'
    xml = xml.replace(flow + " />", flow + ">"
                      "<bpmn:conditionExpression>written == False</bpmn:conditionExpression></bpmn:sequenceFlow>")
    found = [p for p in problems_of(xml) if p.element == "gw_written"]
    assert found and "sans flux par défaut" in found[0].message and "2 condition" in found[0].message, found
    assert found[0].level == "warning"


def test_timer_with_invalid_duration_and_unquoted_duration():
    xml = RECLAMATION.replace('"P30D"</bpmn:timeDuration>', '"PT30D"</bpmn:timeDuration>')
    found = [p for p in problems_of(xml) if "PT30D" in p.message]
    assert found and "ISO 8601" in found[0].message and found[0].element == "bt_survey_timeout"
    # Camunda's unquoted literal is read as the fixed value, with a notice (not refused)
    xml = RECLAMATION.replace('"P30D"</bpmn:timeDuration>', 'P30D</bpmn:timeDuration>')
    found = [p for p in problems_of(xml) if p.element == "bt_survey_timeout"]
    assert len(found) == 1 and found[0].level == "info" and 'valeur fixe "P30D"' in found[0].message, found


def test_timer_variable_must_be_written_somewhere():
    # due_at is written by the set_deadline service tasks: valid as shipped (checked above).
    xml = RECLAMATION.replace(">due_at</bpmn:timeDate>", ">due_date</bpmn:timeDate>")
    found = [p for p in problems_of(xml) if "due_date" in p.message]
    assert found and found[0].element == "bt_overdue", found


def test_timer_variable_written_only_after_the_timer():
    # satisfaction_score is written by the survey, long after the response deadline timer starts
    xml = RECLAMATION.replace(">due_at</bpmn:timeDate>", ">satisfaction_score</bpmn:timeDate>")
    found = by_element(problems_of(xml), "bt_overdue")
    assert found and "seulement après" in found[0] and "satisfaction_score" in found[0], found


def test_service_task_without_registered_handler():
    xml = RECLAMATION.replace('camunda:topic="set_status"', 'camunda:topic="fax_customer"', 1)
    found = [p for p in problems_of(xml) if "fax_customer" in p.message]
    assert found and found[0].element == "st_feedback_closed" and "aucun gestionnaire" in found[0].message


def test_script_refused():
    xml = RECLAMATION.replace(
        '<bpmn:serviceTask id="st_in_progress" name="Passer en cours de traitement" camunda:type="external" '
        'camunda:topic="set_status">',
        '<bpmn:scriptTask id="st_in_progress" name="Passer en cours de traitement"><bpmn:script>import os'
        '</bpmn:script>').replace(
        '</bpmn:serviceTask>\n    <bpmn:subProcess id="sp_traitement"', '</bpmn:scriptTask>\n    '
        '<bpmn:subProcess id="sp_traitement"')
    found = by_element(problems_of(xml), "st_in_progress")
    assert any("import interdit" in m for m in found), found


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<bpmn:process id="p" name="&lol3;" isExecutable="true"/></bpmn:definitions>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
<bpmn:process id="p" name="&xxe;" isExecutable="true"/></bpmn:definitions>"""


@pytest.mark.parametrize("xml, expected", [
    (BILLION_LAUGHS, "DOCTYPE"),
    (XXE, "DOCTYPE"),
    (RECLAMATION.replace("</bpmn:definitions>", "<!--" + "x" * (3 * 1024 * 1024) + "--></bpmn:definitions>"),
     "volumineux"),
    ("<bpmn:definitions", "mal formé"),
    ("<html><body>hello</body></html>", "BPMN"),
])
def test_hostile_or_broken_xml_is_refused(xml, expected):
    key, problems = validate(xml)
    assert key is None
    assert len(problems) == 1 and expected in problems[0].message
    assert "root:" not in problems[0].message  # /etc/passwd never read into a message


def test_miwg_corpus_present():
    assert len(MIWG) == 21


@pytest.mark.parametrize("path", MIWG, ids=lambda p: p.name)
def test_miwg_diagram_validates_without_crash_and_names_elements(path):
    """Each reference diagram either passes or gets messages that name existing elements."""
    xml = path.read_text(encoding="utf-8")
    _, problems = validate(xml)
    for p in problems:
        assert p.element, p
        assert f'id="{p.element}"' in xml, p
        assert "KeyError" not in p.message and "Traceback" not in p.message


# --- decisions that cannot happen by accident ------------------------------------------------------------

def test_shipped_gateways_decide_only_on_explicit_choices():
    from app.services.processes.validation import warnings

    assert warnings(RECLAMATION) == []
    assert warnings(LITIGE) == []


@pytest.mark.parametrize("old, new, gateway, field", [
    # a default value on the field the gateway reads
    ('<camunda:formField id="payment_released" label="Paiement débloqué ?" type="enum">',
     '<camunda:formField id="payment_released" label="Paiement débloqué ?" type="enum" defaultValue="no">',
     "gw_released", "payment_released"),
    # a tick box: unticked, it silently means « non »
    # (in the form of the step just before the gateway: a field written later is a refusal, not a warning)
    ('<camunda:formField id="released_amount" label="Montant débloqué (€)" type="decimal">',
     '<camunda:formField id="urgent" label="Urgent" type="boolean" />\n'
     '          <camunda:formField id="released_amount" label="Montant débloqué (€)" type="decimal">',
     "gw_released", "urgent"),
])
def test_deploy_check_warns_when_a_gateway_reads_a_defaulted_field(old, new, gateway, field):
    from app.services.processes.validation import warnings

    xml = LITIGE.replace(old, new)
    if field == "urgent":
        xml = xml.replace('payment_released == "yes"</bpmn:conditionExpression>',
                          'payment_released == "yes" or urgent == True</bpmn:conditionExpression>')
    assert xml != LITIGE
    found = warnings(xml)
    assert [p.element for p in found] == [gateway], found
    assert f"« {field} »" in found[0].message and "choix explicite" in found[0].message
    assert problems_of(xml) == []  # a warning, not a refusal: the owner may still deploy


@pytest.mark.parametrize("config, message", [
    ("payment_blocked", "required_if attend « champ=valeur »"),
    ("nowhere=yes", "required_if nomme « nowhere », absent de ce formulaire"),
    ("payment_blocked=maybe", "required_if attend une valeur de « payment_blocked » (no, yes)"),
])
def test_required_if_must_name_a_field_and_a_value_of_the_same_form(config, message):
    xml = RECLAMATION.replace('<camunda:constraint name="required_if" config="payment_blocked=yes" />',
                              f'<camunda:constraint name="required_if" config="{config}" />', 1)
    assert xml != RECLAMATION
    assert any(message in m for m in by_element(problems_of(xml), "ut_reaction")), problems_of(xml)
