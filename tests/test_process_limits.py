"""Deploy-time limits: statically unbounded code, too-short cycle timers and oversized documents are refused,
naming the element, in French; the run-time guards catch what the document does not show."""

import pytest

from app.engine import DefinitionError, DocumentLimits
from app.extensions import db
from app.services.cases import lifecycle as cases
from app.services.core import definitions
from app.services.people.users import by_username
from app.services.processes.validation import validate
from tests.support.processes import chain, process, script, timer


def problems(xml):
    return [(p.element, p.label, p.message) for p in validate(xml)[1]]


@pytest.mark.parametrize("code", ["x = 10 ** 10 ** 10", "x = 'a' * 10 ** 10", "x = [0] * 10 ** 10",
                                  "x = 1 << 10 ** 9", "x = 2 ** 64 ** 8"])
def test_constant_huge_computation_is_refused_at_deploy(code):
    found = problems(process("huge", [script("Calculer", code)]))
    assert {(e, label) for e, label, _ in found} == {("s0", "Calculer")}
    assert "Script : Ligne 1 : calcul démesuré (puissance, répétition ou décalage de constantes)" in found[0][2]
    with pytest.raises(DefinitionError, match="calcul démesuré"):  # the engine's own check (file deployments)
        from app.engine import parse_definition

        parse_definition(process("huge", [script("Calculer", code)]))


def test_endless_while_and_huge_range_are_refused_but_bounded_code_passes():
    found = problems(process("loops", [script("Boucler", "while True:\n    x = 1"),
                                       script("Compter", "for i in range(10 ** 12):\n    x = i")]))
    found = [p for p in found if p[2].startswith("Script")]  # (the engine's check says the same, unprefixed)
    assert found == [("s0", "Boucler", "Script : Ligne 1 : boucle « while » sans fin (condition toujours vraie et "
                                        "aucun break)."),
                     ("s1", "Compter", "Script : Ligne 1 : range() démesuré (plus de 10 000 000 éléments).")]
    fine = ["while True:\n    x = 1\n    if x:\n        break", "x = 10 ** 5000 // 10 ** 4990",
            "x = 'ab' * 1000", "x = [i for i in range(1000)]", "while n > 0:\n    n = n - 1"]
    assert problems(process("fine", [script(f"S{i}", code) for i, code in enumerate(fine)], {"n": "long"})) == []


@pytest.mark.parametrize("cycle, refused", [("R/PT0S", True), ("R5/PT30S", True), ("R/PT1M", False),
                                            ("R3/P1D", False), ("R/2027-01-01T00:00:00+00:00/PT1S", True)])
def test_cycle_timer_under_the_minimum_is_refused_at_deploy(cycle, refused):
    found = problems(process("cycle", [timer("Relancer", f'"{cycle}"', "timeCycle")]))
    if refused:
        assert {p[:2] for p in found} == {("s0", "Relancer")}
        assert "cycle trop court" in found[0][2] and "60 s au minimum" in found[0][2]
    else:
        assert found == []


def test_cycle_timer_minimum_is_configurable(monkeypatch):
    monkeypatch.setattr(DocumentLimits, "min_cycle_seconds", 10)
    assert problems(process("cycle", [timer("Relancer", '"R5/PT30S"', "timeCycle")])) == []


def test_computed_cycle_under_the_minimum_ends_in_an_incident(users):
    definitions.deploy_xml(process("cycle_rt", [timer("Relancer", '"R/PT" + str(n) + "S"', "timeCycle")],
                                   {"n": "long"}), "test", "cycle.bpmn")
    db.session.commit()
    case = cases.start_case(by_username("gestionnaire"), "cycle_rt", {"n": 0})
    assert case.incident.startswith("Le minuteur « Relancer » a un cycle trop court (0 s ; 60 s au minimum)")
    other = cases.start_case(by_username("gestionnaire"), "cycle_rt", {"n": 3600})
    assert other.incident is None and other.next_timer_at is not None


def test_long_chain_within_the_limit_is_validated():
    # SpiffWorkflow's parser recursed past Python's limit at about 490 chained elements.
    assert problems(chain("chaine", 800)) == []


def test_upload_of_5000_chained_elements_is_a_clear_422(users, api):
    xml = chain("chaine", 5000)
    resp = api.post("proprietaire", "/api/process-definitions", data=xml.encode(),
                    headers={"Content-Type": "application/xml"})
    assert resp.status_code == 422
    [problem] = resp.get_json()["errors"]
    assert problem["message"].startswith("Processus trop grand : 5\u202f002 éléments et 5\u202f001 flux ; au maximum "
                                         "2\u202f000 éléments")


@pytest.fixture
def restore_limits():
    """Put the process-wide limits back after a test whose app configured other ones."""
    saved = (DocumentLimits.max_elements, DocumentLimits.min_cycle_seconds)
    yield
    DocumentLimits.max_elements, DocumentLimits.min_cycle_seconds = saved


class TestConfiguredLimit:
    @pytest.fixture
    def app_config(self):
        return {"MAX_BPMN_ELEMENTS": 50}

    def test_element_limit_is_configurable(self, restore_limits, users, client):
        from io import BytesIO

        client.post("/login", data={"username": "proprietaire", "password": "demo"})
        upload = {"file": (BytesIO(chain("chaine", 60).encode()), "c.bpmn")}
        resp = client.post("/processus/televerser", data=upload, content_type="multipart/form-data")
        assert resp.status_code == 422
        assert "Processus trop grand" in resp.get_data(as_text=True)
        assert "au maximum 50 éléments" in resp.get_data(as_text=True)
        assert DocumentLimits.max_elements == 50
