"""Throwaway databases for tests that need an empty one of their own (migrations, upgrades, restores)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from app.config import normalize_db_url
from app.extensions import db
from app.models import Case, ProcessDefinition


@contextmanager
def empty_database(backend: str, folder: Path, name: str = "empty") -> Iterator[str]:
    """The URL of a new empty database: a SQLite file in `folder`, or a new database on the test PostgreSQL server.

    The PostgreSQL database is dropped on exit (connections still open are closed by the server).
    """
    if backend == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    server = normalize_db_url(os.environ["TEST_DATABASE_URL"])
    database = f"{name}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + database
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()


def plain_url(url: str) -> str:
    """The URL as libpq and pg_dump take it (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def seed_case(at) -> Case:
    """One deployed definition row and one open web case made at `at`, flushed: the rows a migration test puts
    under the data it upgrades (models of the current head; the case and definition tables as every revision has
    them)."""
    definition = ProcessDefinition(key="reclamation", name="Réclamation", version=1, status="deployed", xml="<x/>",
                                   sha256="0" * 64, created_by="test", created_at=at, deployed_at=at)
    db.session.add(definition)
    db.session.flush()
    case = Case(reference="REC-2026-000001", process_key="reclamation", definition_id=definition.id, status="open",
                received_at=at, created_at=at, updated_at=at, created_by="test", tracking_token="tok", data={},
                channel="web")
    db.session.add(case)
    db.session.flush()
    return case
