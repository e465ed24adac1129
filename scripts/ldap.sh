#!/usr/bin/env bash
# Start or stop a private, throwaway OpenLDAP server (Debian's slapd) living entirely in DIR.
#
#   scripts/ldap.sh start DIR   # prints ldap://127.0.0.1:PORT (also in DIR/url)
#   scripts/ldap.sh stop DIR
#
# Suffix dc=example,dc=org, administrator cn=admin,dc=example,dc=org with password `secret` (DIR/admin),
# base entries ou=people and ou=groups. For tests only: listens on 127.0.0.1, on a free port picked at run time.
# TLS: put DIR/tls/cert.pem and DIR/tls/key.pem (PEM) before `start`: StartTLS is then offered on the ldap://
# port and ldaps:// listens on a second free port (its URL in DIR/ldaps_url).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2
[ -n "$dir" ] || usage

SLAPD=${SLAPD:-/usr/sbin/slapd}
SUFFIX="dc=example,dc=org"
ADMIN="cn=admin,$SUFFIX"
PASSWORD=secret

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

stop_server() {
    local pid
    [ -f "$dir/slapd.pid" ] || return 0
    pid=$(cat "$dir/slapd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$dir/slapd.conf"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/slapd.pid"
}

case "$action" in
start)
    [ -x "$SLAPD" ] || { echo "ldap.sh: slapd not found (apt-get install slapd ldap-utils)" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_server   # a stale DIR (killed run): start from scratch
    rm -rf "$dir/db" "$dir/url" "$dir/port" "$dir/ldaps_url"
    mkdir -p "$dir/db"
    tls=
    if [ -f "$dir/tls/cert.pem" ] && [ -f "$dir/tls/key.pem" ]; then
        tls="TLSCertificateFile $dir/tls/cert.pem
TLSCertificateKeyFile $dir/tls/key.pem"
    fi
    cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $dir/slapd.pid
database mdb
maxsize 10485760
suffix "$SUFFIX"
rootdn "$ADMIN"
rootpw $PASSWORD
directory $dir/db
index objectClass,uid,member eq
CONF
    [ -n "$tls" ] && printf '%s\n' "$tls" | cat - "$dir/slapd.conf" >"$dir/slapd.conf.new" && mv "$dir/slapd.conf.new" "$dir/slapd.conf"
    started=
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        listen="ldap://127.0.0.1:$port/"
        if [ -n "$tls" ]; then sport=$(free_port); listen="$listen ldaps://127.0.0.1:$sport/"; fi
        if "$SLAPD" -f "$dir/slapd.conf" -h "$listen" >"$dir/slapd.log" 2>&1; then
            for _ in $(seq 100); do
                python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))" \
                    && { started=1; break; }
                sleep 0.05
            done
        fi
        [ -n "$started" ] && break
        stop_server   # the port was taken in between: try another one
    done
    if [ -z "$started" ]; then
        echo "ldap.sh: could not start slapd; log follows" >&2
        cat "$dir/slapd.log" >&2 || true
        exit 1
    fi
    cat >"$dir/base.ldif" <<LDIF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups
LDIF
    ldapadd -x -H "ldap://127.0.0.1:$port" -D "$ADMIN" -w "$PASSWORD" -f "$dir/base.ldif" >"$dir/ldapadd.log" 2>&1 \
        || { cat "$dir/ldapadd.log" >&2; stop_server; exit 1; }
    url="ldap://127.0.0.1:$port"
    [ -n "$tls" ] && echo "ldaps://127.0.0.1:$sport" >"$dir/ldaps_url"
    echo "$port" >"$dir/port"
    echo "$url" >"$dir/url"
    printf '%s\n%s\n' "$ADMIN" "$PASSWORD" >"$dir/admin"
    echo "$url"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    dir=$(cd "$dir" && pwd)
    stop_server
    ;;
*)
    usage
    ;;
esac
