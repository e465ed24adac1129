"""Where case files live: instance/attachments (or ATTACHMENT_DIR), each under a random name, never the user's."""

from pathlib import Path

from flask import current_app


def storage_dir() -> Path:
    """The folder of the stored case files (created if missing)."""
    path = Path(current_app.config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")
    path.mkdir(parents=True, exist_ok=True)
    return path
