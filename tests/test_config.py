"""Configuration by environment: DATABASE_URL as operators write it, SECRET_KEY generated and kept."""

import os

import pytest

from app import create_app
from app.config import load_config, normalize_db_url
from app.extensions import db


def test_plain_postgresql_urls_use_psycopg():
    assert normalize_db_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalize_db_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_db_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_default_database_is_sqlite_under_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'reclamations.db'}"


def test_secret_key_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(str(tmp_path))["SECRET_KEY"]
    assert len(first) >= 32 and (tmp_path / "secret_key").exists()
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert load_config(str(tmp_path))["SECRET_KEY"] == first
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_config(str(tmp_path))["SECRET_KEY"] == "from-the-environment"


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")
def test_database_url_as_given_reaches_postgresql(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", os.environ["TEST_DATABASE_URL"])  # plain postgresql://user@host:port/db
    app = create_app({"TESTING": True})
    with app.app_context():
        assert db.engine.dialect.name == "postgresql" and db.engine.dialect.driver == "psycopg"
        assert db.session.execute(db.text("select 1")).scalar() == 1
        db.session.remove()
        db.engine.dispose()
