"""`flask mail fetch`: one pass against Dovecot, no IMAP_URL, a malformed one; `make run` starts it with IMAP_URL."""

import re
import subprocess

import pytest

from tests.support.mails import mail
from tests.support.setup import ROOT

pytestmark = pytest.mark.usefixtures("deployed")


def test_mail_fetch_once_reads_the_mailbox(mailbox, runner):
    mailbox.append(mail())
    mailbox.append(mail(subject="Absent", headers={"Auto-Submitted": "auto-replied"}))
    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code == 0, result.output
    assert "Courriels relevés : 2 (dossiers ouverts : 1" in result.output
    assert "réponses automatiques : 1" in result.output
    again = runner.invoke(args=["mail", "fetch", "--once"])
    assert "Courriels relevés : 0" in again.output and mailbox.uids("INBOX") == []


def test_mail_fetch_without_or_with_a_bad_imap_url(app, runner):
    app.config["IMAP_URL"] = None
    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code == 0 and "IMAP_URL non configuré" in result.output
    app.config["IMAP_URL"] = "pop://x@y"
    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code != 0 and "IMAP_URL attendu" in result.output


def test_mail_fetch_once_reports_an_unreachable_server(app, runner):
    from tests.support.mails import free_port

    app.config["IMAP_URL"] = f"imap://u:p@127.0.0.1:{free_port()}/INBOX?timeout=2"
    result = runner.invoke(args=["mail", "fetch", "--once"])
    assert result.exit_code != 0 and "Relève interrompue" in result.output


@pytest.mark.parametrize("imap_url, started", [("imap://u:p@127.0.0.1:1/INBOX", True), ("", False)])
def test_make_run_starts_the_mail_fetcher_only_with_imap_url(imap_url, started, tmp_path):
    # `make -n` prints the recipe without running it; the shell condition is then run on its own.
    recipe = subprocess.run(["make", "-n", "-s", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}).stdout
    assert "mail fetch" in recipe
    condition = re.search(r'if \[ -n "\$IMAP_URL" \]; then (.*?) mail fetch & mail=\$!; fi;', recipe)
    assert condition, recipe[-2000:]
    # The Makefile's own condition, with the fetcher replaced by a no-op.
    probe = "mail=; " + condition.group(0).replace(condition.group(1) + " mail fetch", "sleep 0") + \
        " echo ${mail:+started}"
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env={"IMAP_URL": imap_url}).stdout
    assert ("started" in out) is started
