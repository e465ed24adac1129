"""The modelers in French: every string bpmn-js, the properties panel (Camunda 7 provider), bpmn-js-bpmnlint,
bpmnlint and dmn-js pass to translate() has a French entry, and a browser crawl selecting each element type
finds none of those English strings on screen (panel, palette, context pad, popup menu, lint markers, DMN table);
bpmnlint markers appear live while drawing, in French, and go when the problem is fixed."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRINGS = ROOT / "frontend" / "i18n" / "strings-en.json"
TRANSLATE = ROOT / "app" / "static" / "processes" / "translate-fr.js"


def french_catalogue() -> dict[str, str]:
    """translate-fr.js's catalogue, read by node as the browser reads it."""
    script = f"global.window = {{}}; require({json.dumps(str(TRANSLATE))}); " \
             "console.log(JSON.stringify(window.frenchTranslations));"
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


def english_strings() -> dict[str, list[str]]:
    return json.loads(STRINGS.read_text(encoding="utf-8"))


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")


@needs_node
def test_every_translate_string_of_the_libraries_has_a_french_entry():
    catalogue = french_catalogue()
    strings = english_strings()
    assert len(strings["bpmn"]) > 300 and len(strings["dmn"]) > 150 and len(strings["bpmnlint"]) > 20
    missing = {group: [s for s in items if s not in catalogue] for group, items in strings.items()}
    assert missing == {"bpmn": [], "bpmnlint": [], "dmn": []}
    # placeholders survive the translation
    for english, french in catalogue.items():
        for name in ("{type}", "{element}", "{errors}", "{warnings}", "{kind}", "{expressionLanguageLabel}"):
            assert (name in english) == (name in french), english


@needs_node
@pytest.mark.skipif(not (ROOT / "node_modules" / "bpmn-js-bpmnlint").exists(),
                    reason="node_modules not installed from this package.json (npm ci / make vendor)")
def test_the_string_list_is_up_to_date_with_the_installed_libraries(tmp_path):
    """frontend/i18n/extract.py over today's node_modules gives the committed list (a library upgrade that adds
    strings must add their French too)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("extract", ROOT / "frontend" / "i18n" / "extract.py")
    extract = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extract)
    assert extract.strings(extract.BPMN) == english_strings()["bpmn"]
    assert extract.strings(extract.DMN) == english_strings()["dmn"]


# --- in the browser ----------------------------------------------------------------------------------------

sync_api = pytest.importorskip("playwright.sync_api")

from tests.support.browser import LiveServer, chromium, chromium_available, definition_id, login  # noqa: E402

browser_only = pytest.mark.skipif(not chromium_available(), reason="chromium not installed")
browser_mark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("modeler-fr"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def open_modeler(page, definition: int):
    page.goto(f"/processus/versions/{definition}/modeleur")
    page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)


# Every text a person can read in the editor's chrome: text nodes and the title, aria-label and placeholder
# attributes, in the properties panel, the palette, the context pad, popup menus and lint overlays.
VISIBLE_TEXTS = """(selectors) => {
  const found = new Set();
  for (const root of document.querySelectorAll(selectors)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const text = walker.currentNode.textContent.trim();
      if (text) { found.add(text); }
    }
    for (const el of [root, ...root.querySelectorAll('[title], [aria-label], [placeholder]')]) {
      for (const attr of ['title', 'aria-label', 'placeholder']) {
        const value = el.getAttribute && el.getAttribute(attr);
        if (value && value.trim()) { found.add(value.trim()); }
      }
    }
  }
  return [...found];
}"""

CHROME = "#properties, .djs-palette, .djs-context-pad, .djs-popup, .bjsl-overlay, .bjsl-button"

EXPAND_ALL = """() => {
  for (const header of document.querySelectorAll('#properties .bio-properties-panel-group-header:not(.open)')) {
    header.click();
  }
  for (const toggle of document.querySelectorAll('#properties .bio-properties-panel-collapsible-entry-header')) {
    if (!toggle.closest('.bio-properties-panel-collapsible-entry').classList.contains('open')) { toggle.click(); }
  }
}"""


def english_on_screen(page, english: set[str], catalogue: dict[str, str], selectors: str = CHROME) -> set[str]:
    texts = page.evaluate(VISIBLE_TEXTS, selectors)
    # an English source string left as it is, unless French says the very same word (« Documentation »)
    return {t for t in texts if t in english and catalogue.get(t) != t}


def select(page, element_id: str) -> None:
    page.evaluate("""(id) => {
        const m = window.processModeler, registry = m.get('elementRegistry');
        const el = registry.get(id);
        m.get('selection').select(el);
        m.get('contextPad').open(el);
    }""", element_id)
    page.wait_for_timeout(150)
    page.evaluate(EXPAND_ALL)
    page.wait_for_timeout(150)
    page.evaluate(EXPAND_ALL)  # nested lists opened by the first pass
    page.wait_for_timeout(100)


@browser_only
@browser_mark
@needs_node
def test_no_english_string_left_on_the_modeler(server, browser):
    catalogue = french_catalogue()
    strings = english_strings()
    english = set(strings["bpmn"]) | set(strings["bpmnlint"])
    page, errors = login(browser, server.base, "proprietaire")
    open_modeler(page, definition_id(server))
    # a plain task and a parallel gateway are drawn, the shipped process has the rest
    page.evaluate("""() => {
        const m = window.processModeler, factory = m.get('elementFactory'), modeling = m.get('modeling');
        const lane = m.get('elementRegistry').get('Lane_reclamation_accueil');
        const bo = m.get('bpmnFactory').create('bpmn:Task', { id: 'Task_plain' });
        const task = factory.createShape({ type: 'bpmn:Task', businessObject: bo });
        modeling.createShape(task, { x: lane.x + 300, y: lane.y + lane.height / 2 }, lane);
    }""")
    elements = {
        "task": "Task_plain", "user task": "ut_qualify", "service task": "st_acknowledgment",
        "script task": "sc_contest", "business rule task": "br_department", "gateway": "gw_written",
        "start event": "start_received", "timer boundary event": "bt_overdue",
        "message boundary event": "bt_contested", "message catch event": "catch_dispute_closed",
        "end event": "end_feedback", "sub-process": "sp_traitement", "sequence flow": "f_info_yes",
        "lane": "Lane_reclamation_gestionnaire", "process": "Participant_reclamation",
    }
    left = {}
    for kind, element_id in elements.items():
        select(page, element_id)
        found = english_on_screen(page, english, catalogue)
        if found:
            left[kind] = sorted(found)
    # the popup menu (« Changer le type ») of a task lists every element type
    select(page, "ut_qualify")
    page.click('.djs-context-pad [data-action="replace"]')
    page.wait_for_selector(".djs-popup", timeout=5000)
    found = english_on_screen(page, english, catalogue)
    if found:
        left["popup menu"] = sorted(found)
    page.keyboard.press("Escape")
    assert left == {}
    # what the crawl saw really is the French panel (a crawl that saw nothing would pass)
    select(page, "ut_qualify")
    panel = page.inner_text("#properties")
    assert "Général" in panel and "Attribution" in panel and "Écouteurs d'exécution" in panel
    assert page.locator('.djs-palette [aria-label="Créer une tâche"]').count() == 1
    assert errors == []
    page.context.close()


@browser_only
@browser_mark
@needs_node
def test_no_english_string_left_on_the_decision_table(server, browser):
    catalogue = french_catalogue()
    english = set(english_strings()["dmn"])
    page, errors = login(browser, server.base, "proprietaire")
    page.goto(f"/processus/versions/{definition_id(server)}/decisions/service_par_categorie.dmn/editeur")
    page.wait_for_selector("#decision-canvas[data-loaded=true]", timeout=30000)
    selectors = "#decision-canvas"
    seen = english_on_screen(page, english, catalogue, selectors)
    # the context menu of a rule and of an input column
    page.locator("td.rule-index").first.click(button="right")
    page.wait_for_timeout(200)
    seen |= english_on_screen(page, english, catalogue, selectors + ", .context-menu, .dms-context-menu")
    page.keyboard.press("Escape")
    page.locator("th.input-cell").first.click(button="right")
    page.wait_for_timeout(200)
    seen |= english_on_screen(page, english, catalogue, selectors + ", .context-menu, .dms-context-menu")
    assert seen == set()
    text = page.inner_text("#decision-canvas")
    assert "Politique de résultat" in text or "Première" in text
    assert [e for e in errors if "Inferno" not in e] == []
    page.context.close()


@browser_only
@browser_mark
def test_lint_marker_appears_live_in_french_and_goes_when_fixed(server, browser):
    page, errors = login(browser, server.base, "proprietaire")
    open_modeler(page, definition_id(server))
    page.wait_for_selector("#canvas[data-lint-errors]", timeout=10000)
    assert page.get_attribute("#canvas", "data-lint-errors") == "0"  # the shipped process has no lint error
    # draw a task connected to nothing: bpmnlint marks it at once, in French
    page.evaluate("""() => {
        const m = window.processModeler, factory = m.get('elementFactory'), modeling = m.get('modeling');
        const lane = m.get('elementRegistry').get('Lane_reclamation_accueil');
        const bo = m.get('bpmnFactory').create('bpmn:Task', { id: 'Task_loose', name: 'Tâche isolée' });
        const task = factory.createShape({ type: 'bpmn:Task', businessObject: bo });
        modeling.createShape(task, { x: lane.x + 300, y: lane.y + lane.height / 2 + 40 }, lane);
    }""")
    page.wait_for_selector('.djs-overlays[data-container-id="Task_loose"] .bjsl-overlay', timeout=10000)
    page.wait_for_function("() => Number(document.querySelector('#canvas').dataset.lintErrors) > 0", timeout=10000)
    lint = page.inner_text("#lint-list")
    assert "Tâche isolée" in lint and "L'élément n'est relié à rien" in lint and "not connected" not in lint
    # the marker's pop-up (shown on hover) says it in French too
    popup = page.text_content('.djs-overlays[data-container-id="Task_loose"] .bjsl-dropdown')
    assert "L'élément n'est relié à rien" in popup and "not connected" not in popup
    assert "erreur(s)" in page.get_attribute(".bjsl-button", "title") or "erreur" in page.inner_text(".bjsl-button")
    assert page.locator("#deploy").is_disabled()
    # fix it (remove the task): the marker and the list entry go
    page.evaluate("""() => {
        const m = window.processModeler;
        m.get('modeling').removeElements([m.get('elementRegistry').get('Task_loose')]);
    }""")
    page.wait_for_function("() => document.querySelector('#canvas').dataset.lintErrors === '0'", timeout=10000)
    assert page.locator('.djs-overlays[data-container-id="Task_loose"]').count() == 0
    assert "Tâche isolée" not in page.inner_text("#lint")
    assert errors == []
    page.context.close()


@browser_only
@browser_mark
def test_server_rules_are_checked_live_while_editing(server, browser):
    page, errors = login(browser, server.base, "proprietaire")
    open_modeler(page, definition_id(server))
    assert page.locator(".proc-lint-error").count() == 0
    # an unknown handler topic: a rule only the server knows, marked without « Valider » nor saving
    page.evaluate("""() => {
        const m = window.processModeler, el = m.get('elementRegistry').get('st_feedback_closed');
        m.get('modeling').updateProperties(el, {'camunda:topic': 'fax_customer'});
    }""")
    page.wait_for_selector('g.djs-element[data-element-id="st_feedback_closed"].proc-lint-error', timeout=15000)
    assert "fax_customer" in page.inner_text("#problem-list")
    assert page.locator("#deploy").is_disabled()
    page.evaluate("""() => {
        const m = window.processModeler, el = m.get('elementRegistry').get('st_feedback_closed');
        m.get('modeling').updateProperties(el, {'camunda:topic': 'set_status'});
    }""")
    page.wait_for_function("() => document.querySelectorAll('.proc-lint-error').length === 0", timeout=15000)
    assert page.get_attribute("#canvas", "data-live-checks") in ("2", "3")
    assert errors == []
    page.context.close()
