"""The company directory (LDAP / Active Directory, through ldap3): check a password, read the person's groups.

Configuration (README, "Directory sign-in"):
- LDAP_URL: ldap://host:389 or ldaps://host:636; LDAP_START_TLS=1 upgrades ldap:// with StartTLS;
  LDAP_CA_FILE (PEM) and LDAP_TLS_VERIFY (default on) for the server's certificate; LDAP_TIMEOUT (s, default 5).
- Finding the person: either a user-bind template, LDAP_USER_DN_TEMPLATE ("uid={username},ou=people,dc=…"),
  or a service bind and a search: LDAP_BIND_DN, LDAP_BIND_PASSWORD, LDAP_SEARCH_BASE, LDAP_USER_FILTER
  (default "(uid={username})"; AD: "(sAMAccountName={username})"). Only the search mode can tell that a
  person left the directory (their account is then deactivated).
- Groups: the groups whose member (or uniqueMember) is the person, under LDAP_GROUP_BASE (default
  LDAP_SEARCH_BASE), plus the person's memberOf values (AD, or OpenLDAP's memberof overlay).
- LDAP_GROUP_MAP: "directory group DN=application group[,group…];…", targets among the application's
  groups (the BPMN lanes and admin). Groups the mapping does not name give nothing.
- Disabled: a member of LDAP_DISABLED_GROUP (a group DN), or an AD account with the ACCOUNTDISABLE bit of
  userAccountControl.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from flask import current_app
from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from app.services.core.errors import ServiceError

UNAVAILABLE = ("Annuaire de l'entreprise injoignable : la connexion avec un compte de l'annuaire est "
               "impossible pour l'instant. Réessayez plus tard ; les comptes locaux restent utilisables.")
MISCONFIGURED = "Connexion à l'annuaire mal configurée : prévenez l'administrateur de l'application."
AD_ACCOUNTDISABLE = 0x2


class DirectoryUnavailable(ServiceError):
    status = 503


class DirectoryMisconfigured(ServiceError):
    status = 503


@dataclass
class DirectoryPerson:
    dn: str
    full_name: str
    email: str | None
    group_dns: set[str] = field(default_factory=set)
    disabled: bool = False


@dataclass
class Check:
    found: bool  # False: the directory (search mode) has no such person
    authenticated: bool
    person: DirectoryPerson | None = None


def enabled() -> bool:
    return bool(current_app.config.get("LDAP_URL"))


def normalize_dn(dn: str) -> str:
    """Compare DNs without case or spaces around separators."""
    parts = []
    for rdn in dn.split(","):
        name, _, value = rdn.partition("=")
        parts.append(f"{name.strip().lower()}={value.strip().lower()}")
    return ",".join(parts)


def parse_group_map(text: str | None, known: tuple[str, ...]) -> dict[str, set[str]]:
    """LDAP_GROUP_MAP as {normalized group DN: application groups}; an unknown target is a configuration error."""
    mapping: dict[str, set[str]] = {}
    for entry in (text or "").split(";"):
        if not entry.strip():
            continue
        dn, sep, targets = entry.rpartition("=")
        groups = {t.strip() for t in targets.split(",") if t.strip()}
        if not sep or "=" not in dn or not groups:
            raise ValueError(f"LDAP_GROUP_MAP: entry without 'DN=group': {entry.strip()!r}")
        unknown = sorted(groups - set(known))
        if unknown:
            raise ValueError(f"LDAP_GROUP_MAP: unknown application group(s) {', '.join(unknown)} "
                             f"(known: {', '.join(known)})")
        mapping.setdefault(normalize_dn(dn), set()).update(groups)
    return mapping


def mapped_groups(group_dns: set[str], mapping: dict[str, set[str]]) -> set[str]:
    return set().union(*(mapping.get(normalize_dn(dn), set()) for dn in group_dns)) if group_dns else set()


def _server() -> Server:
    config = current_app.config
    url = config["LDAP_URL"]
    tls = None
    if url.startswith("ldaps://") or config.get("LDAP_START_TLS"):
        tls = Tls(validate=ssl.CERT_REQUIRED if config.get("LDAP_TLS_VERIFY", True) else ssl.CERT_NONE,
                  ca_certs_file=config.get("LDAP_CA_FILE") or None)
    return Server(url, use_ssl=url.startswith("ldaps://"), tls=tls, get_info=NONE,
                  connect_timeout=float(config.get("LDAP_TIMEOUT", 5)))


def _connect(server: Server, dn: str | None, password: str | None, opened: list) -> Connection | None:
    """A bound connection (added to `opened`, for the caller to close), or None when the credentials are refused."""
    config = current_app.config
    conn = Connection(server, user=dn, password=password, raise_exceptions=False,
                      receive_timeout=max(1, int(config.get("LDAP_TIMEOUT", 5))), auto_referrals=False)
    opened.append(conn)
    conn.open()
    if config.get("LDAP_START_TLS") and not config["LDAP_URL"].startswith("ldaps://"):
        if not conn.start_tls():
            raise DirectoryMisconfigured(MISCONFIGURED)
    return conn if conn.bind() else None


def _first(entry, name: str):
    values = entry["attributes"].get(name) if entry else None
    if isinstance(values, list):
        return values[0] if values else None
    return values


def check(username: str, password: str) -> Check:
    """Ask the directory whether username/password is valid; read the person's name, mail, groups, state."""
    config = current_app.config
    if not password:  # an empty password would be an anonymous bind, which "succeeds"
        return Check(found=True, authenticated=False)
    attributes = [config.get("LDAP_ATTR_NAME", "displayName"), "cn", config.get("LDAP_ATTR_MAIL", "mail"),
                  "memberOf", "userAccountControl"]
    opened: list[Connection] = []
    try:
        server = _server()
        service = None
        if config.get("LDAP_USER_DN_TEMPLATE"):
            dn = config["LDAP_USER_DN_TEMPLATE"].format(username=escape_rdn(username))
        else:
            service = _connect(server, config.get("LDAP_BIND_DN"), config.get("LDAP_BIND_PASSWORD"), opened)
            if service is None:
                raise DirectoryMisconfigured(MISCONFIGURED)
            wanted = config.get("LDAP_USER_FILTER", "(uid={username})").format(
                username=escape_filter_chars(username))
            service.search(config["LDAP_SEARCH_BASE"], wanted, SUBTREE, attributes=["1.1"], size_limit=2)
            found = [e for e in service.response if e.get("type") == "searchResEntry"]
            if len(found) != 1:
                return Check(found=False, authenticated=False)
            dn = found[0]["dn"]
        user = _connect(server, dn, password, opened)
        if user is None:
            return Check(found=True, authenticated=False)
        reader = service or user
        reader.search(dn, "(objectClass=*)", BASE, attributes=attributes)
        entry = next((e for e in reader.response if e.get("type") == "searchResEntry"), None)
        groups = {str(g) for g in ((entry or {}).get("attributes", {}).get("memberOf") or [])}
        base = config.get("LDAP_GROUP_BASE") or config.get("LDAP_SEARCH_BASE")
        if base:
            escaped = escape_filter_chars(dn)
            member_filter = config.get("LDAP_GROUP_FILTER", "(|(member={dn})(uniqueMember={dn}))")
            reader.search(base, member_filter.format(dn=escaped), SUBTREE, attributes=["1.1"])
            groups |= {e["dn"] for e in reader.response if e.get("type") == "searchResEntry"}
    except LDAPException as exc:
        current_app.logger.warning("directory unavailable: %s", type(exc).__name__)
        raise DirectoryUnavailable(UNAVAILABLE) from None
    finally:
        for conn in opened:
            try:
                conn.unbind()
            except LDAPException:
                pass
            if conn.socket is not None:  # a refused connect leaves ldap3's socket open
                conn.socket.close()
    control = _first(entry, "userAccountControl")
    disabled_group = config.get("LDAP_DISABLED_GROUP")
    disabled = bool(disabled_group and normalize_dn(disabled_group) in {normalize_dn(g) for g in groups})
    if control is not None and str(control).lstrip("-").isdigit():
        disabled = disabled or bool(int(control) & AD_ACCOUNTDISABLE)
    name = _first(entry, config.get("LDAP_ATTR_NAME", "displayName")) or _first(entry, "cn") or username
    return Check(found=True, authenticated=True, person=DirectoryPerson(
        dn=dn, full_name=str(name)[:200], email=(str(_first(entry, config.get("LDAP_ATTR_MAIL", "mail")) or "")
                                                 or None), group_dns=groups, disabled=disabled))
