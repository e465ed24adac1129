"""Browser tests of the modeler for process owners: French panel, problems on the diagram, DMN editor,
Camunda's old namespace, « Ouvrir un fichier »."""

from pathlib import Path

import pytest

from tests.support.browser import (
    LiveServer,
    api_token,
    chromium,
    chromium_available,
    definition_id,
    login,
)

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
if not chromium_available():
    pytest.skip("chromium not installed", allow_module_level=True)

BPMN = Path(__file__).resolve().parent / "bpmn"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("modeler"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def upload(page, xml: str) -> dict:
    token = api_token(page, "proprietaire")
    resp = page.context.request.post("/api/process-definitions", data=xml.encode("utf-8"), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
    assert resp.status == 201, resp.text()
    return resp.json()


def lenient_draft(server, xml: str) -> int:
    """A draft with problems, as the modeler's « Enregistrer » keeps it."""
    from app.services.people.users import by_username
    from app.services.processes.admin import save_draft

    with server.app.app_context():
        draft, _ = save_draft(by_username("proprietaire"), xml, strict=False)
        return draft.id


def open_modeler(page, definition: int):
    page.goto(f"/processus/versions/{definition}/modeleur")
    page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)


def test_properties_panel_is_french_and_styled(server, browser):
    page, errors = login(browser, server.base, "proprietaire")
    open_modeler(page, definition_id(server))
    page.click('g.djs-element[data-element-id="ut_qualify"]')
    header = page.locator("[data-group-id='group-general'] .bio-properties-panel-group-header")
    assert "Général" in header.inner_text()
    assert "Attribution" in page.inner_text("#properties")  # User assignment
    assert "Champs du formulaire" in page.inner_text("#properties")
    header.click()
    name = page.locator("#bio-properties-panel-name")
    name.wait_for(timeout=10000)
    # the panel's theme applies (bio-theme-parent): inputs have a visible border
    border = name.evaluate("el => getComputedStyle(el).borderTopWidth")
    assert border not in ("0px", ""), border
    assert page.locator('.djs-palette [aria-label="Créer une tâche"]').count() == 1  # the palette too
    assert errors == []
    page.context.close()


def test_problems_are_marked_on_the_diagram_and_valider_does_not_save(server, browser):
    page, errors = login(browser, server.base, "proprietaire")
    xml = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
    draft = {"id": lenient_draft(server, xml.replace('camunda:topic="set_status"', 'camunda:topic="fax_customer"', 1)
                                 .replace('name="Qualifier la réclamation"', 'name="Qualifier (marqueurs)"'))}
    open_modeler(page, draft["id"])
    page.wait_for_selector('g.djs-element[data-element-id="st_feedback_closed"].proc-lint-error', timeout=10000)
    badge = page.locator('.proc-lint-badge[data-element="st_feedback_closed"]')
    assert badge.inner_text() == "1" and "fax_customer" in badge.get_attribute("title")
    assert page.locator("#deploy").is_disabled()  # a blocking problem remains
    # fix it in the diagram, then « Valider »: markers go, nothing is saved
    page.evaluate("""() => {
        const m = window.processModeler, el = m.get('elementRegistry').get('st_feedback_closed');
        m.get('modeling').updateProperties(el, {'camunda:topic': 'set_status'});
    }""")
    page.click("#check")
    page.wait_for_selector("#canvas[data-checked='0']", timeout=10000)
    assert page.locator(".proc-lint-error").count() == 0
    assert "rien n'est enregistré" in page.inner_text("#modeler-status")
    from app.services.processes.admin import get

    with server.app.app_context():
        assert "fax_customer" in get(draft["id"]).xml  # the draft is unchanged
    page.click("#save")
    page.wait_for_selector("#canvas[data-saved]", timeout=15000)
    assert not page.locator("#deploy").is_disabled()
    assert errors == []
    page.context.close()


def test_old_namespace_file_opens_and_saves(server, browser):
    page, errors = login(browser, server.base, "proprietaire")
    draft = upload(page, (BPMN / "camunda7_activiti.bpmn").read_text(encoding="utf-8"))
    open_modeler(page, draft["id"])
    page.click('g.djs-element[data-element-id="Activity_review"]')
    assert "Examiner la demande" in page.inner_text("#properties")
    xml = page.evaluate("async () => (await window.processModeler.saveXML({format: true})).xml")
    assert "ns0" not in xml and 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in xml
    assert 'camunda:candidateGroups="responsable"' in xml
    page.click("#save")
    page.wait_for_selector("#canvas[data-saved]", timeout=15000)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "remboursement_c7.bpmn"
    assert errors == []
    page.context.close()


def test_open_a_file_asks_which_process_it_is(server, browser, tmp_path):
    page, errors = login(browser, server.base, "proprietaire")
    current = definition_id(server)
    open_modeler(page, current)
    other = tmp_path / "validation.bpmn"
    other.write_text((BPMN / "camunda7_modern.bpmn").read_text(encoding="utf-8"), encoding="utf-8")
    page.set_input_files("#open-file", str(other))
    dialog = page.locator("#open-dialog")
    dialog.wait_for(state="visible", timeout=10000)
    assert "Ce modeleur édite « reclamation »" in dialog.inner_text()
    assert "nouveau processus « validation_c7 »" in dialog.inner_text()
    page.click("#open-confirm")
    page.wait_for_function(f"() => !location.pathname.includes('/versions/{current}/')", timeout=15000)
    page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)
    assert "Validation de geste commercial" in page.inner_text("h1")
    assert errors == []
    page.context.close()


def test_decision_table_edited_in_the_browser(server, browser):
    page, errors = login(browser, server.base, "proprietaire")
    page.goto(f"/processus/versions/{definition_id(server)}/decisions/service_par_categorie.dmn/editeur")
    page.wait_for_selector("#decision-canvas[data-loaded=true]", timeout=30000)
    table = page.locator(".tjs-table")
    assert "Service concerné" in table.inner_text() and '"technical"' in table.inner_text()
    cell = page.locator("td.output-cell", has_text='"technical"').first
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('"sales"')
    page.click("h1")
    page.click("#save-decision")
    page.wait_for_selector("#decision-canvas[data-saved]", timeout=15000)
    draft_id = int(page.get_attribute("#decision-canvas", "data-saved"))
    from app.services.processes.admin import get

    with server.app.app_context():
        draft = get(draft_id)
        assert draft.status == "draft" and '"sales"' in draft.decisions["service_par_categorie.dmn"]
        assert '"technical"' not in draft.decisions["service_par_categorie.dmn"]
    assert "brouillon n°" in page.inner_text("#decision-version")

    assert [e for e in errors if "Inferno" not in e] == []  # dmn-js's bundle warns about its own build
    page.context.close()


def test_incident_is_shown_on_the_diagram(server, browser):
    from app.services.cases import lifecycle as cases
    from app.services.people.users import by_username
    from app.services.tasks import actions
    from tests.support.flows import complaint_data

    with server.app.app_context():
        case = cases.start_case(by_username("accueil"), "reclamation", complaint_data())
        reference = case.reference
        row = [r for r in actions.ready_for_case(case.id) if r.bpmn_id == "ut_qualify"][0]
        cases.complete_task(by_username("gestionnaire"), row.id,
                            {"admissible": "yes", "category": "billing", "severity": "high"})
        # skipping the analysis leaves the next gateway without its variable: an incident at gw_info
        cases.move_token(by_username("admin"), reference, "ut_analyse", "gw_info", "Analyse faite hors outil.")
    page, errors = login(browser, server.base, "admin")
    page.goto(f"/admin/incidents/{reference}")
    page.wait_for_selector("#diagram[data-incident=gw_info]", timeout=30000)
    assert page.locator('g.djs-element[data-element-id="gw_info"].hl-incident').count() == 1
    assert "needs_information" in page.inner_text(".diagram-incident")
    assert "n'existe pas dans le dossier" in page.inner_text("#incident-error")
    page.fill("#move-reason", "Aucune information à demander : décision directe.")
    page.select_option("#move-to", "ut_decide")
    page.click("#move-form button[type=submit]")
    page.wait_for_load_state()
    assert "le dossier a repris" in page.inner_text("main")
    page.goto(f"/dossiers/{reference}")
    page.wait_for_selector("#diagram[data-loaded=true]", timeout=30000)
    assert page.locator(".hl-incident").count() == 0 and page.locator(".hl-current").count() >= 1
    assert errors == []
    page.context.close()
