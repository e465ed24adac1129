"""A consistent copy of the database while the application runs, and its restore onto an empty database.

SQLite: the online backup API (`sqlite3.Connection.backup`, all pages in one step, so the copy is one
snapshot; in WAL mode writers go on meanwhile). PostgreSQL: `pg_dump -Fc` (one repeatable-read snapshot,
no lock beyond ACCESS SHARE) with the client binaries of the server's major version, and `pg_restore`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from app.extensions import db
from app.services.core.errors import Invalid

SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"


def backend() -> str:
    return db.engine.dialect.name


def sqlite_path() -> Path:
    """The SQLite database file of the current app."""
    return Path(db.engine.url.database).resolve()


def schema_revision() -> str | None:
    """The Alembic revision the database is at (None for an unstamped or empty database)."""
    if not inspect(db.engine).has_table("alembic_version"):
        return None
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_empty() -> bool:
    """No table at all in the database (a new SQLite file, or a new PostgreSQL database)."""
    db.session.remove()
    return not inspect(db.engine).get_table_names()


def pg_tool(name: str) -> str:
    """pg_dump or pg_restore matching the server's major version: PG_BIN_DIR, Debian's folder, else PATH."""
    with db.engine.connect() as conn:
        major = int(conn.execute(text("SHOW server_version_num")).scalar()) // 10000
    candidates = []
    if current_app.config.get("PG_BIN_DIR"):
        candidates.append(Path(current_app.config["PG_BIN_DIR"]) / name)
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin/{name}"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise Invalid({"backup": f"{name} introuvable : installez le client PostgreSQL {major} "
                                 "(paquet postgresql-client) ou réglez PG_BIN_DIR."})
    return found


def _pg_target() -> tuple[str, dict]:
    """A libpq connection URI without the password, and the environment carrying it (never on a command line)."""
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    plain = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(args: list[str], env: dict, what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Invalid({"backup": f"{what} a échoué : " + " / ".join(detail)})


def dump(folder: Path) -> Path:
    """Write a consistent copy of the database into folder; return the file."""
    if backend() == "sqlite":
        target = folder / SQLITE_FILE
        source = sqlite3.connect(sqlite_path())
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy)  # pages=-1: every page in one step, a single snapshot
        finally:
            copy.close()
            source.close()
        return target
    target = folder / PG_FILE
    uri, env = _pg_target()
    _run([pg_tool("pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(target), "-d", uri], env, "pg_dump")
    return target


def load(dump_file: Path, dump_backend: str) -> None:
    """Load a copy made by `dump` into the current app's (empty) database of the same backend."""
    if dump_backend != backend():
        raise Invalid({"backup": f"Sauvegarde d'une base {dump_backend} : elle se restaure sur une base "
                                 f"{dump_backend}, pas {backend()}."})
    db.session.remove()
    db.engine.dispose()
    if dump_backend == "sqlite":
        source = sqlite3.connect(dump_file)
        target = sqlite3.connect(sqlite_path())
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return
    uri, env = _pg_target()
    _run([pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          "-d", uri, str(dump_file)], env, "pg_restore")
