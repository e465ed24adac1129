"""Where files live outside the database: the attachment folder and the instance folder (keys)."""

from pathlib import Path

from flask import current_app


def attachment_dir(create: bool = True) -> Path:
    """The folder of attachment files: ATTACHMENT_DIR, default instance/attachments."""
    path = Path(current_app.config.get("ATTACHMENT_DIR") or Path(current_app.instance_path) / "attachments")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def instance_dir() -> Path:
    """The instance folder: the secret key and any other key file, the default SQLite database (INSTANCE_PATH)."""
    return Path(current_app.instance_path)


def storage_dir() -> Path:
    """The folder of the stored case files (created if missing)."""
    return attachment_dir()
