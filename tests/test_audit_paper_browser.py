"""On paper, in chromium: the printed trail fits A4 portrait (no column cut off, start data expanded, the
Print button works under the CSP) and the register fits A4 landscape; both checked as print media and through
chromium's own PDF read back with pdftotext."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.flows import complaint_data, do, start
from tests.support.live import CHROMIUM, browser_page, serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
              pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")]
pytest.importorskip("playwright.sync_api")

MM = 96 / 25.4  # CSS pixels per millimetre
PORTRAIT_WIDTH = round((210 - 20) * MM)  # A4 minus the print stylesheet's 10 mm side margins
LANDSCAPE_WIDTH = round((297 - 20) * MM)


@pytest.fixture
def live(app, deployed, api, runner, backend):
    if backend != "sqlite":
        pytest.skip("the browser check runs once, on SQLite")
    reference = start(api, **complaint_data(description="Frais de livraison facturés deux fois " * 8))["reference"]
    do(api, reference, "ut_qualify", "gestionnaire",
       {"admissible": "yes", "category": "billing", "severity": "high", "department": "billing"})
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with serve(app, backend, "the browser check") as server:
        yield server, reference


@pytest.fixture
def page(live):
    with browser_page(timezone_id="America/New_York",  # not Paris: times must still be Paris
                      init_script="window.__printed = 0; window.print = function () { window.__printed += 1; };"
                      ) as page:
        yield page


def _sign_in(page, base):
    page.goto(f"{base}/login")
    page.get_by_label("Identifiant").fill("auditeur")
    page.get_by_label("Mot de passe").fill("demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/(taches|audit|dossiers)"))


def _overflow(page, width: int) -> dict:
    page.set_viewport_size({"width": width, "height": 1100})
    return page.evaluate("""(width) => {
        const cut = [];
        document.querySelectorAll('table, th, td, dl, h1, p').forEach((el) => {
            const box = el.getBoundingClientRect();
            if (box.width > 0 && box.right > width + 1) cut.push(el.tagName + ':' + el.textContent.slice(0, 40));
        });
        return {scroll: document.documentElement.scrollWidth, cut: cut.slice(0, 5)};
    }""", width)


def _pdftotext(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, timeout=60)
    return done.stdout.decode("utf-8")


def test_printed_trail_fits_a4_and_prints_under_the_csp(live, page):
    (server, reference) = live
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, server.url)
    response = page.goto(f"{server.url}/audit/cases/{reference}/print")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "onclick" not in page.content()
    page.get_by_role("button", name="Imprimer").click()
    assert page.evaluate("window.__printed") == 1
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    page.emulate_media(media="print")
    found = _overflow(page, PORTRAIT_WIDTH)
    assert found["scroll"] <= PORTRAIT_WIDTH + 1 and found["cut"] == [], found
    assert page.locator(".topbar").is_hidden() and page.locator("button[data-print]").is_hidden()
    assert page.locator("details.audit-start-data[open]").count() == 1  # start data expanded on paper
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    text = _pdftotext(pdf)
    for heading in ("N°", "Date (Paris)", "Acteur", "Événement", "Étape", "Détails"):
        assert heading in text, heading
    assert "Données d'ouverture" in text and "Canal de réception" in text and "Point de contrôle signé" in text
    # times are Paris times whatever the browser's zone: the case started at 09:00 UTC
    assert "23/11/2026" in text and "10:00:00" in text


def test_register_fits_a4_landscape(live, page):
    (server, reference) = live
    _sign_in(page, server.url)
    page.goto(f"{server.url}/audit/register?from=2026-11-01&to=2026-11-30")
    page.emulate_media(media="print")
    found = _overflow(page, LANDSCAPE_WIDTH)
    assert found["scroll"] <= LANDSCAPE_WIDTH + 1 and found["cut"] == [], found
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    done = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, timeout=60)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts \(A4\)", done.stdout.decode())
    assert size and float(size.group(1)) > float(size.group(2))  # A4 landscape
    text = _pdftotext(pdf)
    for heading in ("N°", "Reçue le", "Canal", "Client", "Objet", "Description", "Réponse", "Résolution"):
        assert heading in text, heading
    assert reference in text and "Martine Lefèvre" in text


def test_slider_caption_is_paris_time_in_french(live, page):
    (server, reference) = live
    _sign_in(page, server.url)
    page.goto(f"{server.url}/audit/cases/{reference}")
    page.wait_for_selector("#audit-diagram[data-ready=true]", timeout=20000)
    page.fill("#audit-slider", "0")
    page.dispatch_event("#audit-slider", "input")
    caption = page.locator("#audit-current").inner_text()
    assert caption.startswith("Événement 1 / ") and "Dossier enregistré par accueil le 23/11/2026 10:00:00" in caption
