"""The cost of one letter PDF (WeasyPrint), as the outbox sender makes it, and of writing a letter in a step.

    PYTHONPATH=. .venv/bin/python bench/letter_pdf.py [--runs 30] [--smoke]

Method: a fresh SQLite database (the migrations, processes/ deployed), one complaint with a postal address;
its response letter is rendered from the active template as the step writes it, then laid out as a PDF
--runs times after one warm-up (the first call loads pango and the fonts: reported apart). The table gives the
median, the 95th percentile and the minimum wall-clock time of `letters.render_pdf`, for a one-page letter and
a long one, with the PDF size; a second table times what the step itself pays to write the letter
(`messages.queue`: the active version read, the text and HTML parts rendered, the row flushed). The machine
line gives nproc, CPU, RAM and the load average at the start: the machine is shared, so read the figures with
that load in mind. --smoke: two runs, to check that it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import COMPLAINT, fresh_database, machine, median_ms, p95_ms, prepare, table  # noqa: E402

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
PARAGRAPH = ("Nous avons examiné votre réclamation avec attention, repris l'historique de votre compte et "
             "vérifié chacune des factures concernées. ")


def measure(runs: int) -> str:
    from weasyprint import HTML

    from app import clock
    from app.extensions import db
    from app.services.cases.lifecycle import start_case
    from app.services.messaging import letters, messages
    from app.services.people.users import by_username

    lines = []
    with fresh_database("sqlite") as url:
        app = prepare(url)
        clock.set_now(NOW)
        with app.app_context():
            data = {**COMPLAINT, "customer_email": None, "customer_address": "3 rue des Lilas\n69003 Lyon"}
            case = start_case(by_username("accueil"), "reclamation", data)
            letter_data = {**case.data, "decision": "partly", "compensation": 625.2,
                           "response_text": PARAGRAPH * 3}
            rows = []
            for label, text in (("short", PARAGRAPH * 3), ("long", (PARAGRAPH * 6 + "\n\n") * 14)):
                message = messages.queue(case, "response", {**letter_data, "response_text": text})
                db.session.flush()
                started = time.perf_counter()
                pdf = letters.render_pdf(message, case)
                cold = time.perf_counter() - started
                timings = []
                for _ in range(runs):
                    started = time.perf_counter()
                    pdf = letters.render_pdf(message, case)
                    timings.append(time.perf_counter() - started)
                pages = len(HTML(string=letters.letter_html(message, case)).render().pages)
                rows.append([f"{label} ({pages} p.)", runs, f"{cold * 1000:.0f}", f"{median_ms(timings):.1f}",
                             f"{p95_ms(timings):.1f}", f"{min(timings) * 1000:.1f}", f"{len(pdf) / 1024:.1f}"])
                db.session.rollback()
            # What a step pays to write a letter: the active version read, its text and HTML parts rendered.
            timings = []
            for _ in range(max(runs, 5)):
                started = time.perf_counter()
                messages.queue(case, "response", letter_data)
                db.session.flush()
                timings.append(time.perf_counter() - started)
                db.session.rollback()
            queue_row = [f"{median_ms(timings):.2f}", f"{p95_ms(timings):.2f}", f"{min(timings) * 1000:.2f}"]
        clock.set_now(None)
    lines.append(table("Cost of one letter PDF (letters.render_pdf, WeasyPrint)",
                       ["letter", "runs", "first call ms", "median ms", "p95 ms", "min ms", "PDF KiB"], rows))
    lines.append(table("Cost of writing the letter in the step (messages.queue: template read, text and HTML "
                       "rendered, row flushed)", ["median ms", "p95 ms", "min ms"], [queue_row]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="two runs, to check that it still runs")
    args = parser.parse_args()
    runs = 2 if args.smoke else args.runs
    info = machine()
    load = os.getloadavg()
    import weasyprint

    print(f"Machine: {info['nproc']} CPUs, {info['cpu']}, {info['ram']} RAM, Python {info['python']}, "
          f"WeasyPrint {weasyprint.__version__}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("Method: fresh SQLite database, the response letter as the step writes it, laid out --runs times after "
          "one first call (pango and fonts loading); wall-clock time of letters.render_pdf.\n")
    print(measure(runs))


if __name__ == "__main__":
    main()
