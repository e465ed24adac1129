"""A private OpenLDAP server for sign-in tests (scripts/ldap.sh), and helpers to change its people and groups.

Registered as a pytest plugin by tests/conftest.py: the `ldap_server` fixture starts one slapd per test session
on a free port in a temporary folder and stops it at the end; `directory` gives a fresh ou=people/ou=groups.
"""

import subprocess
from pathlib import Path

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE, Connection, Server

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = "dc=example,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PLACEHOLDER = f"cn=placeholder,{SUFFIX}"


def write_self_signed(folder: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem in folder); return the certificate's path."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    for path in folder.iterdir():
        path.chmod(0o644)  # slapd may run as another user
    return folder / "cert.pem"


class LdapServer:
    """scripts/ldap.sh start|stop DIR; with tls=True, a self-signed certificate, StartTLS and ldaps://."""

    def __init__(self, folder: Path, tls: bool = False):
        self.folder = folder
        self.url = None
        self.ldaps_url = None
        self.ca_file = write_self_signed(folder / "tls") if tls else None

    def start(self) -> str:
        done = subprocess.run(["bash", str(ROOT / "scripts" / "ldap.sh"), "start", str(self.folder)],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError("slapd did not start: " + done.stderr)
        self.url = done.stdout.strip().splitlines()[-1]
        if self.ca_file is not None:
            self.ldaps_url = (self.folder / "ldaps_url").read_text().strip()
        return self.url

    def stop(self) -> None:
        subprocess.run(["bash", str(ROOT / "scripts" / "ldap.sh"), "stop", str(self.folder)], timeout=60)

    def admin(self) -> Connection:
        dn, password = (self.folder / "admin").read_text().split()
        # Opened and bound by `with`, unbound (socket closed) when the block ends.
        return Connection(Server(self.url), user=dn, password=password)


class Directory:
    """People and groups in the test directory (as its administrator)."""

    def __init__(self, server: LdapServer):
        self.server = server

    def clear(self) -> None:
        with self.server.admin() as conn:
            for base in (PEOPLE, GROUPS):
                conn.search(base, "(objectClass=*)", SUBTREE, attributes=["1.1"])
                for dn in sorted((e["dn"] for e in conn.response if e["dn"] != base), key=len, reverse=True):
                    conn.delete(dn)

    def add_person(self, uid: str, password: str, name: str = "", mail: str | None = None) -> str:
        dn = f"uid={uid},{PEOPLE}"
        attributes = {"cn": name or uid, "sn": (name or uid).split()[-1], "uid": uid, "userPassword": password,
                      "displayName": name or uid}
        if mail:
            attributes["mail"] = mail
        with self.server.admin() as conn:
            assert conn.add(dn, ["inetOrgPerson"], attributes), conn.result
        return dn

    def remove_person(self, uid: str) -> None:
        with self.server.admin() as conn:
            conn.delete(f"uid={uid},{PEOPLE}")

    def set_password(self, uid: str, password: str) -> None:
        with self.server.admin() as conn:
            conn.modify(f"uid={uid},{PEOPLE}", {"userPassword": [(MODIFY_REPLACE, [password])]})

    def group(self, cn: str) -> str:
        return f"cn={cn},{GROUPS}"

    def add_member(self, cn: str, uid: str) -> None:
        """Add a person to a group, creating it if needed."""
        dn, member = self.group(cn), f"uid={uid},{PEOPLE}"
        with self.server.admin() as conn:
            if not conn.search(dn, "(objectClass=*)", attributes=["1.1"]) or not conn.response:
                # groupOfNames needs a member: a placeholder keeps the group when its last person leaves
                assert conn.add(dn, ["groupOfNames"], {"cn": cn, "member": [PLACEHOLDER, member]}), conn.result
            else:
                assert conn.modify(dn, {"member": [(MODIFY_ADD, [member])]}), conn.result

    def remove_member(self, cn: str, uid: str) -> None:
        with self.server.admin() as conn:
            assert conn.modify(self.group(cn), {"member": [(MODIFY_DELETE, [f"uid={uid},{PEOPLE}"])]}), conn.result


@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory):
    server = LdapServer(tmp_path_factory.mktemp("slapd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def directory(ldap_server):
    people = Directory(ldap_server)
    people.clear()
    return people
