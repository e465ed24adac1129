"""Databases made by a past release, with that release's own code (git archive of its commit)."""

import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The release of 2 December 2026: its schema is the frozen baseline revision.
FIRST_RELEASE = "f371143"


def release_source(commit: str, folder: Path) -> Path:
    """Extract the project as it was at `commit` into folder/src (needs the git history, not a shallow clone)."""
    found = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True)
    if found.returncode != 0:
        raise RuntimeError(f"release {commit} not in this clone's history (git fetch --unshallow): "
                           + found.stderr.decode(errors="replace"))
    src = folder / "src"
    src.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(found.stdout)) as archive:
        archive.extractall(src, filter="data")
    return src


def run_release(src: Path, url: str, *args: str) -> str:
    """Run `flask --app app ARGS` with the release's code (its own app package first on the path)."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "release-secret", "PYTHONPATH": str(src),
           "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=src, env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"release command {args} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_release_database(url: str, folder: Path, commit: str = FIRST_RELEASE) -> Path:
    """Create, deploy and fill a database with the release's commands: init-db, deploy, demo, a timer pass."""
    src = release_source(commit, folder)
    run_release(src, url, "init-db")
    run_release(src, url, "deploy")
    run_release(src, url, "demo")
    run_release(src, url, "timers", "run", "--once")
    return src
