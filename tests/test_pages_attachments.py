"""Attachments: allow-list, size limit, content check, random names on disk, download, roles."""

import io
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Attachment, AuditEvent
from tests.support.pages import login, start_case, text

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.fixture
def case(app, deployed, tmp_path):
    app.config["ATTACHMENT_DIR"] = str(tmp_path / "store")
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    return start_case()


def upload(client, reference, name, content):
    return client.post(f"/dossiers/{reference}/pieces", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data", follow_redirects=True)


def stored(tmp_path):
    folder = tmp_path / "store"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_upload_and_download(app, case, tmp_path):
    g = login(app, "gestionnaire")
    resp = upload(g, case.reference, "facture mars.pdf", PDF)
    assert "Pièce jointe « facture mars.pdf » ajoutée." in text(resp)
    attachment = db.session.scalars(select(Attachment)).one()
    assert stored(tmp_path) == [attachment.stored_name]
    assert "facture" not in attachment.stored_name and len(attachment.stored_name) == 32
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "attachment_added")).one()
    assert event.data["sha256"] == attachment.sha256 and event.data["filename"] == "facture mars.pdf"
    resp = login(app, "auditeur").get(f"/dossiers/{case.reference}/pieces/{attachment.id}")
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.mimetype == "application/pdf" and "attachment;" in resp.headers["Content-Disposition"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp.close()  # send_file streams the stored file: close it


@pytest.mark.parametrize("name, content, message", [
    ("gros.pdf", b"%PDF" + b"x" * 2000, "Fichier trop volumineux : "),
    ("outil.exe", b"MZ\x90\x00", "Type de fichier non accepté (.exe)"),
    ("page.html", b"<script>alert(1)</script>", "Type de fichier non accepté (.html)"),
    ("sans-extension", b"abc", "Choisissez un fichier avec une extension"),
    ("faux.pdf", b"MZ\x90\x00 not a pdf", "Le contenu ne correspond pas à un fichier .pdf."),
    ("vide.txt", b"", "Le fichier est vide."),
])
def test_refused_uploads_store_nothing(app, case, tmp_path, name, content, message):
    resp = upload(login(app, "gestionnaire"), case.reference, name, content)
    assert message in text(resp)
    assert db.session.scalars(select(Attachment)).all() == [] and stored(tmp_path) == []


@pytest.mark.parametrize("name, shown", [
    ("../../../etc/cron.d/evil.txt", "evil.txt"),
    # the multipart header's quoted string already drops the backslashes (werkzeug unquotes it)
    ("..\\..\\windows\\win.ini.txt", "windowswin.ini.txt"),
    ("/abs/path/note.txt", "note.txt"), ("..txt", "txt"), ("bad\x00name.txt", "badname.txt"),
])
def test_path_traversal_names_never_reach_the_disk(app, case, tmp_path, name, shown):
    resp = upload(login(app, "gestionnaire"), case.reference, name, b"hello")
    attachment = db.session.scalars(select(Attachment)).first()
    if shown == "txt":  # a name that is only an extension has no usable name left
        assert attachment is None and stored(tmp_path) == []
        return
    assert attachment is not None, text(resp)
    assert attachment.filename == shown
    assert stored(tmp_path) == [attachment.stored_name]  # inside the store, random name
    assert not (tmp_path / "etc").exists()


def test_request_over_the_app_limit_is_413(app, case):
    app.config["MAX_CONTENT_LENGTH"] = 2048
    resp = login(app, "gestionnaire").post(f"/dossiers/{case.reference}/pieces",
                                           data={"file": (io.BytesIO(b"x" * 5000), "a.txt")},
                                           content_type="multipart/form-data")
    assert resp.status_code == 413 and "Fichier trop volumineux" in text(resp)


def test_download_checks_the_case(app, case, deployed):
    g = login(app, "gestionnaire")
    upload(g, case.reference, "a.txt", b"hello")
    other = start_case(customer_name="Autre client", description="Autre sujet")
    attachment = db.session.scalars(select(Attachment)).one()
    assert g.get(f"/dossiers/{other.reference}/pieces/{attachment.id}").status_code == 404
    assert g.get(f"/dossiers/{case.reference}/pieces/999").status_code == 404


def test_auditor_cannot_upload(app, case, tmp_path):
    resp = login(app, "auditeur").post(f"/dossiers/{case.reference}/pieces",
                                       data={"file": (io.BytesIO(b"hello"), "a.txt")},
                                       content_type="multipart/form-data")
    assert resp.status_code == 403 and stored(tmp_path) == []


def test_complainant_files_and_messages_reach_the_staff_case_page(app, case, tmp_path):
    import io as _io

    from app.services.public import intake as public

    public.add_information(case.tracking_token, "Voici la facture.", "facture.pdf", _io.BytesIO(PDF))
    g = login(app, "gestionnaire")
    page = g.get(f"/dossiers/{case.reference}")
    html, shown = page.get_data(as_text=True), text(page)
    assert "Pièce jointe du réclamant" in shown and "Voici la facture." in shown
    link = re.search(r'href="(/dossiers/[^"]+/pieces-reclamant/\d+)">facture.pdf</a>', html).group(1)
    resp = g.get(link)
    assert resp.status_code == 200 and resp.data == PDF and resp.mimetype == "application/pdf"
    resp.close()
    assert g.get(f"/dossiers/{case.reference}/pieces-reclamant/1").status_code == 404  # not a file event


def test_clean_filename_strips_both_separators():
    from app.services.cases.notes import clean_filename

    assert clean_filename("..\\..\\windows\\win.ini.txt") == "win.ini.txt"
    assert clean_filename("a/b/../../c.pdf") == "c.pdf"
    assert clean_filename("\x00\x1f.hidden.txt") == "hidden.txt"
