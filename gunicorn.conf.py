"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py 'app:create_app()'` (make serve-prod).

Every setting can be changed from the environment (see README, "Production"). Workers share nothing but
the database: sessions are signed cookies, parsed specs are cached per process by content hash.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
# No preload: each worker opens its own database pool after the fork (a pool must not cross a fork).
preload_app = False
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so that a slow leak in a library cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 2000))
max_requests_jitter = 200
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The app writes one JSON line per request itself (app/ops/logs.py): no gunicorn access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Only the TLS proxy in front may set X-Forwarded-*; the app applies them when TRUSTED_PROXIES is set.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190

# Prometheus metrics summed across workers (prometheus-client's multiprocess mode): every process writes its
# counters to files in PROMETHEUS_MULTIPROC_DIR, emptied when the server starts; the master removes a dead
# worker's live gauges. Set before any worker imports the app (no preload), so every worker sees it.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    _own_metrics_dir = tempfile.mkdtemp(prefix="reclamations-metrics-", dir=worker_tmp_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def on_starting(server):
    import glob

    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for stale in glob.glob(os.path.join(folder, "*.db")):  # a previous run's counts must not add to this one's
        os.unlink(stale)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:  # a folder made above for this run only
        import shutil

        shutil.rmtree(_own_metrics_dir, ignore_errors=True)

def post_worker_init(worker):
    """Move what start-up allocated (modules, parsed app) out of the collector's generations: each request's
    garbage collection then scans only what requests allocate (it took 3.5-5.6 % of a step)."""
    gc.freeze()
