"""Staff users; their groups match the BPMN lanes."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.types import UTCDateTime
from app.vocabulary import ADMIN_GROUP


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    groups_csv: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped by sign-out and password changes: every session cookie carrying an older value stops working.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # local: password kept here (admin, tests, small setups); ldap: checked by the directory at each sign-in,
    # groups replaced by the directory's mapping (app/services/people/directory.py).
    auth_source: Mapped[str] = mapped_column(String(10), default="local", server_default="local")
    directory_dn: Mapped[str | None] = mapped_column(String(500))
    # Absence (app/services/tasks/handover.py): since when, and who takes the user's tasks (None: their group).
    absent_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    absence_delegate: Mapped[str | None] = mapped_column(String(80))

    @property
    def groups(self) -> list[str]:
        # Parsed once per value of groups_csv (a page asks many times: menus, tabs, one check per task row).
        csv = self.groups_csv or ""
        memo = self.__dict__.get("_groups_memo")
        if memo is None or memo[0] != csv:
            memo = (csv, tuple(g for g in csv.split(",") if g))
            self.__dict__["_groups_memo"] = memo
        return list(memo[1])

    @groups.setter
    def groups(self, values) -> None:
        self.groups_csv = ",".join(sorted({v.strip() for v in values if v.strip()}))

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def in_any(self, *groups: str) -> bool:
        """Tell whether the user belongs to one of the groups (admin belongs everywhere)."""
        mine = self.groups
        return ADMIN_GROUP in mine or any(g in mine for g in groups)

    def set_password(self, password: str) -> None:
        from flask import current_app

        # scrypt by default; tests choose a cheap method through config, production never should.
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if current_app else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.session_version = (self.session_version or 0) + 1  # the old password's sessions end here

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
