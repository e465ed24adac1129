"""Screenshot of the modeler: docs/screenshots/modeler-lint.png (a task drawn connected to nothing, marked live by
bpmnlint in French, the issue listed under « Règles de modélisation », the French properties panel).

    PYTHONPATH=. .venv/bin/python scripts/modeler_screenshots.py

Serves the app with the shipped processes on a free loopback port (throw-away SQLite database) and signs in
as the process owner in Debian's chromium.
"""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.browser import ARGS, CHROMIUM, LiveServer, login  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    live = LiveServer(Path(tempfile.mkdtemp()))
    try:
        from app.services.core.definitions import active

        with live.app.app_context():
            definition = active("reclamation").id
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page, _errors = login(browser, live.base, "proprietaire")
            page.set_viewport_size({"width": 1400, "height": 900})
            page.goto(f"/processus/versions/{definition}/modeleur")
            page.wait_for_selector("#canvas[data-loaded=true]", timeout=30000)
            page.evaluate("""() => {
                const m = window.processModeler, factory = m.get('elementFactory'), modeling = m.get('modeling');
                const lane = m.get('elementRegistry').get('Lane_reclamation_accueil');
                const bo = m.get('bpmnFactory').create('bpmn:Task', { id: 'Task_loose', name: 'Tâche isolée' });
                const task = factory.createShape({ type: 'bpmn:Task', businessObject: bo });
                const shape = modeling.createShape(task, { x: lane.x + 420, y: lane.y + lane.height / 2 + 40 }, lane);
                m.get('selection').select(shape);
                m.get('canvas').zoom(1);
                m.get('canvas').scrollToElement(shape, { top: 200, left: 300 });
            }""")
            page.wait_for_function("() => Number(document.querySelector('#canvas').dataset.lintErrors) > 0")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / "modeler-lint.png"), full_page=True)
            browser.close()
    finally:
        live.stop()


if __name__ == "__main__":
    main()
