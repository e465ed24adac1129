"""The process's Prometheus metrics (prometheus-client), defined once: counters and histograms that code updates.

Under gunicorn they live in PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py before any worker imports this),
one file per process, summed at scrape time (app/services/ops/metrics.py). The gauges read from the database
are not here: they are computed at scrape time, never kept per process.
"""

from prometheus_client import Counter, Histogram

PREFIX = "reclamations"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(f"{PREFIX}_http_requests", "HTTP requests answered, per route (endpoint name).",
                        ["endpoint", "method", "status"])
HTTP_DURATION = Histogram(f"{PREFIX}_http_request_duration_seconds", "Time to answer an HTTP request, per route.",
                          ["endpoint", "method"], buckets=LATENCY_BUCKETS)
ENGINE_STEP = Histogram(f"{PREFIX}_engine_step_duration_seconds",
                        "One engine step (load, run, write the case's rows), per kind of step.", ["event"],
                        buckets=LATENCY_BUCKETS)
RATE_LIMITED = Counter(f"{PREFIX}_rate_limit_rejections", "Requests refused by a rate limit (429), per route.",
                       ["endpoint"])
