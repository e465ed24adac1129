"""The audit key ring: the HMAC secrets that key the audit chain, kept outside the database.

The active key comes from `AUDIT_KEY` (environment; id `AUDIT_KEY_ID`, default "env") or, when unset, from the
key directory `AUDIT_KEY_DIR` (default instance/audit_keys/, one `<id>.key` file per key, the active id in
`current`), generated at first use. Rotating writes a new key file and makes it current; old keys stay in the
ring so that the events they keyed remain verifiable (each event stores its key id). `AUDIT_OLD_KEYS`
("id:secret,id:secret") adds retired keys for deployments that keep their keys in the environment only.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from app import clock

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


@dataclass
class KeyRing:
    active_id: str
    keys: dict[str, bytes] = field(default_factory=dict)

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    @property
    def active(self) -> bytes:
        return self.keys[self.active_id]


def key_dir() -> Path:
    return Path(current_app.config.get("AUDIT_KEY_DIR") or Path(current_app.instance_path) / "audit_keys")


def _secret(text: str) -> bytes:
    text = text.strip()
    try:
        return bytes.fromhex(text) if len(text) >= 32 else text.encode()
    except ValueError:
        return text.encode()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _new_id() -> str:
    return f"k{clock.now():%Y%m%d}-{secrets.token_hex(3)}"


def _load_dir(directory: Path) -> tuple[str | None, dict[str, bytes]]:
    keys = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.key")):
            if _ID.match(path.stem):
                keys[path.stem] = _secret(path.read_text())
    current = directory / "current"
    active = current.read_text().strip() if current.exists() else None
    return (active if active in keys else None), keys


def load() -> KeyRing:
    """Read the key ring from the configuration and the key directory (creating the first key if needed)."""
    config = current_app.config
    directory = key_dir()
    active, keys = _load_dir(directory)
    for pair in filter(None, (config.get("AUDIT_OLD_KEYS") or "").split(",")):
        key_id, _, secret = pair.partition(":")
        if _ID.match(key_id.strip()) and secret:
            keys[key_id.strip()] = _secret(secret)
    if config.get("AUDIT_KEY"):
        active = config.get("AUDIT_KEY_ID") or "env"
        keys[active] = _secret(config["AUDIT_KEY"])
    if active is None:
        active = rotate(directory)
        keys[active] = _secret((directory / f"{active}.key").read_text())
    return KeyRing(active, keys)


def rotate(directory: Path | None = None) -> str:
    """Create a new key file and make it the active key; return its id (old keys stay in the ring)."""
    directory = directory or key_dir()
    key_id = _new_id()
    while (directory / f"{key_id}.key").exists():
        key_id = _new_id()
    _write_private(directory / f"{key_id}.key", secrets.token_hex(32))
    tmp = directory / "current.tmp"
    tmp.write_text(key_id)
    tmp.replace(directory / "current")
    forget()
    return key_id


def ring() -> KeyRing:
    """The key ring of the running app (loaded once per app)."""
    cached = current_app.extensions.get("audit_keyring")
    if cached is None:
        cached = current_app.extensions["audit_keyring"] = load()
    return cached


def forget() -> None:
    """Drop the cached ring (after a rotation, or a test changing the keys)."""
    current_app.extensions.pop("audit_keyring", None)
