"""Rate-limit counters in the database (database://): shared by workers, atomic, on the app clock, fail-safe."""

import multiprocessing
import threading

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from app import clock, create_app
from app.extensions import db
from app.models import RateLimitCounter, User
from app.ops.rate_limits import DatabaseStorage, storage_uri, stored_key
from app.web import limiter
from tests.support.setup import START

# The default storage (no RATELIMIT_STORAGE_URI): the database on SQLite and PostgreSQL alike.
LIMITED = {"RATELIMIT_ENABLED": True, "LOGIN_RATELIMIT": "3 per minute"}
TIMEOUT = 60


def wrong_login(client):
    return client.post("/login", data={"username": "nobody", "password": "wrong"}).status_code


def counters() -> dict[str, tuple[int, float]]:
    return {r.key: (r.count, r.expires_at.timestamp()) for r in db.session.scalars(select(RateLimitCounter))}


@pytest.mark.parametrize("config, expected", [
    ({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@db/x"}, "database://"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.db"}, "database://"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.db", "RATELIMIT_STORAGE_URI": "memory://"}, "memory://"),
    ({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@db/x", "RATELIMIT_STORAGE_URI": "redis://r:6379"},
     "redis://r:6379"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/x.db", "RATELIMIT_STORAGE_URI": "database://"}, "database://"),
])
def test_default_storage_is_the_database_on_every_backend(config, expected):
    assert storage_uri(config) == expected


def test_database_scheme_takes_no_address():
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    assert isinstance(storage_from_string("database://"), DatabaseStorage)
    with pytest.raises(ConfigurationError):
        storage_from_string("database://db.internal:5432/other")


def test_long_keys_fit_the_column():
    assert stored_key("LIMITER/1.2.3.4/auth.login") == "LIMITER/1.2.3.4/auth.login"
    long = "LIMITER/" + "x" * 400
    assert len(stored_key(long)) == 255 and stored_key(long) != stored_key(long + "y")


def test_fixed_window_counts_and_expires_on_the_app_clock(ctx):
    storage = DatabaseStorage()
    assert storage.check()
    assert storage.get("k") == 0 and storage.get_expiry("k") == START.timestamp()
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.incr("k", 60, amount=2) == 5
    assert storage.get("k") == 5 and storage.get_expiry("k") == START.timestamp() + 60
    clock.advance(seconds=59)
    assert storage.incr("k", 60) == 6  # same window: its end does not move
    assert storage.get_expiry("k") == START.timestamp() + 60
    clock.advance(seconds=1)  # the window is over: nothing counted, the next hit opens a new one
    assert storage.get("k") == 0
    assert storage.incr("k", 60) == 1 and storage.get_expiry("k") == START.timestamp() + 120
    storage.incr("other", 10)
    storage.clear("k")
    assert storage.get("k") == 0 and storage.get("other") == 1
    assert storage.reset() == 1 and counters() == {}


def test_expired_windows_are_deleted_in_batches_now_and_then(ctx):
    storage = DatabaseStorage(cleanup_interval=60, cleanup_batch=2)
    for n in range(5):
        storage.incr(f"short{n}", 10)
    storage.incr("long", 3600)
    assert len(counters()) == 6
    clock.advance(seconds=30)  # the short windows are over, but the last cleanup was under a minute ago
    storage.incr("long", 3600)
    assert len(counters()) == 6
    clock.advance(seconds=31)
    storage.incr("long", 3600)  # one batch of 2 expired rows
    assert len(counters()) == 4
    assert storage.delete_expired() == 2 and storage.delete_expired() == 1 and storage.delete_expired() == 0
    assert counters() == {"long": (3, START.timestamp() + 3600)}


def test_a_hit_neither_commits_nor_rolls_back_the_request_transaction(ctx, backend):
    storage = DatabaseStorage()
    db.session.add(User(username="pending", password_hash="x", created_at=START))
    if backend == "postgresql":  # SQLite: a flushed write holds the file lock, which the limiter would wait for
        db.session.flush()
    assert storage.incr("k", 60) == 1
    db.session.rollback()  # the request fails: its work is gone, the hit is still counted
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert storage.get("k") == 1
    db.session.add(User(username="kept", password_hash="x", created_at=START))
    assert storage.incr("k", 60) == 2
    db.session.commit()
    assert db.session.scalar(select(User.username)) == "kept" and storage.get("k") == 2


def test_concurrent_hits_from_threads_lose_no_count(app):
    threads_n, hits = 8, 25
    returned, errors = [], []

    def hammer():
        with app.app_context():
            storage = DatabaseStorage()
            try:
                for _ in range(hits):
                    returned.append(storage.incr("LIMITER/203.0.113.1/auth.login", 60))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert errors == []
    # Every increment saw a different count: none was lost, none counted twice.
    assert sorted(returned) == list(range(1, threads_n * hits + 1))
    with app.app_context():
        assert DatabaseStorage().get("LIMITER/203.0.113.1/auth.login") == threads_n * hits


def _worker(url, name, my_turn, done, queue):
    """One gunicorn-like worker in its own process: its own app, memory, limiter and pool."""
    clock.set_now(START)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                      "WTF_CSRF_ENABLED": False, **LIMITED})
    client = app.test_client()
    statuses = []
    for attempts in (2, 1) if name == "a" else (2,):
        my_turn.wait(TIMEOUT)
        my_turn.clear()
        statuses += [wrong_login(client) for _ in range(attempts)]
        done.set()
    queue.put((name, type(limiter.storage).__name__, statuses))


@pytest.mark.parametrize("app_config", [LIMITED])
def test_two_worker_processes_share_the_sign_in_limit(app):
    """Worker a tries twice, worker b twice, a once more: with 3 per minute the 4th and 5th get 429."""
    mp = multiprocessing.get_context("spawn")
    turn_a, turn_b, queue = mp.Event(), mp.Event(), mp.Queue()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    # a's "done" is b's turn and the other way round: a, b, a.
    procs = [mp.Process(target=_worker, args=(url, "a", turn_a, turn_b, queue)),
             mp.Process(target=_worker, args=(url, "b", turn_b, turn_a, queue))]
    for p in procs:
        p.start()
    turn_a.set()
    results = {}
    for _ in procs:
        name, storage, statuses = queue.get(timeout=TIMEOUT)
        results[name] = (storage, statuses)
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert results == {"a": ("DatabaseStorage", [401, 401, 429]), "b": ("DatabaseStorage", [401, 429])}
    with app.app_context():
        [(count, _expires)] = counters().values()
        assert count == 5


@pytest.fixture
def unreachable_storage(monkeypatch):
    """The limiter's database is down (connection refused) while the app's own database still answers."""
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 2})
    monkeypatch.setattr(DatabaseStorage, "engine", lambda self: dead)
    yield
    limiter._storage_dead = False  # the process-wide limiter: the next app starts on its storage again
    dead.dispose()


@pytest.mark.parametrize("app_config", [LIMITED])
def test_storage_down_falls_back_to_each_workers_memory_not_an_error(app, client, unreachable_storage, caplog):
    with pytest.raises(OperationalError):
        DatabaseStorage().incr("k", 60)
    assert not DatabaseStorage().check()
    # The limits still hold, counted in this worker's memory until the database answers again; no 500.
    assert [wrong_login(client) for _ in range(4)] == [401, 401, 401, 429]
    assert client.get("/login").status_code == 200
    assert any("falling back to in-memory storage" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("app_config", [LIMITED])
def test_sign_in_limit_across_pages_with_headers(app, client):
    assert [wrong_login(client) for _ in range(4)] == [401, 401, 401, 429]
    resp = client.post("/login", data={"username": "nobody", "password": "wrong"})
    assert resp.status_code == 429 and resp.headers["X-RateLimit-Limit"] == "3"
    assert resp.headers["X-RateLimit-Reset"] == str(int(START.timestamp()) + 61)
    clock.advance(minutes=1)  # the window is over
    assert wrong_login(client) == 401
    with app.app_context():
        assert [count for count, _ in counters().values()] == [1]
