#!/usr/bin/env bash
# Start or stop a private, throwaway IMAP server (Debian's dovecot-imapd) living entirely in DIR.
#
#   scripts/imap.sh start DIR   # prints imap://reclamations:PASSWORD@127.0.0.1:PORT/INBOX (also in DIR/url)
#   scripts/imap.sh stop DIR
#
# The server listens on 127.0.0.1 on a free port picked at run time (STARTTLS offered there), and with TLS from
# the start on a second free port (DIR/imaps_url); its self-signed certificate for 127.0.0.1 is DIR/ca.pem
# (when openssl is there; otherwise plain IMAP only). One user
# `reclamations` whose password is generated at start (maildir under DIR/mail). It is for tests and
# benchmarks only. A stale DIR left by a killed run is cleaned up on start. Works as root (the mail
# processes run as `nobody`) and as an ordinary user.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2
[ -n "$dir" ] || usage

DOVECOT=${DOVECOT:-$(command -v dovecot || echo /usr/sbin/dovecot)}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

stop_server() {
    local pidfile=$dir/run/master.pid pid
    [ -f "$pidfile" ] || return 0
    pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
    # Only a dovecot started with this folder's configuration: never another process that reused the pid.
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$dir/dovecot.conf"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
        [ -e "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

write_config() {
    local port=$1 user group
    if [ "$(id -u)" = 0 ]; then
        user=nobody; group=nogroup
        getent group nogroup >/dev/null || group=nobody
    else
        user=$(id -un); group=$(id -gn)
    fi
    local tls="ssl = no" imaps=""
    if [ -f "$dir/cert.pem" ]; then
        tls="ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem"
        imaps="  inet_listener imaps {
    address = 127.0.0.1
    port = $2
    ssl = yes
  }"
    fi
    cat >"$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
$tls
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:$dir/mail/%u
mail_max_userip_connections = 100
imap_max_line_length = 1M
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/users
}
userdb {
  driver = static
  args = uid=$user gid=$group home=$dir/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
$imaps
  chroot =
}
service anvil {
  chroot =
}
CONF
}

case "$action" in
start)
    [ -x "$DOVECOT" ] || { echo "imap.sh: dovecot not found (apt-get install dovecot-imapd)" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_server
    rm -rf "$dir/run" "$dir/state" "$dir/mail" "$dir/url" "$dir/imaps_url" "$dir/port" "$dir/dovecot.log" \
        "$dir"/*.pem
    # The auth and mail processes run as nobody when started by root: they must traverse DIR and write mail/.
    chmod 755 "$dir"
    mkdir -p "$dir/run" "$dir/state" "$dir/mail"
    chmod 777 "$dir/mail"
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
    echo "reclamations:{PLAIN}$password" >"$dir/users"
    chmod 644 "$dir/users"
    if command -v openssl >/dev/null 2>&1; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 || rm -f "$dir/key.pem" "$dir/cert.pem"
        [ -f "$dir/cert.pem" ] && cp "$dir/cert.pem" "$dir/ca.pem" && chmod 644 "$dir/cert.pem" "$dir/key.pem"
    fi
    started=
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        tls_port=$(free_port)
        write_config "$port" "$tls_port"
        if "$DOVECOT" -c "$dir/dovecot.conf" 2>>"$dir/start.log"; then
            # Wait until the login service accepts connections.
            for _ in $(seq 100); do
                if python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1', $port), 0.5); \
sys.exit(0 if s.recv(64).startswith(b'* OK') else 1)" 2>/dev/null; then
                    started=1; break
                fi
                sleep 0.1
            done
            [ -n "$started" ] && break
        fi
        stop_server   # the port was taken in between, or the server did not come up: try another one
    done
    if [ -z "$started" ]; then
        echo "imap.sh: could not start dovecot; logs follow" >&2
        cat "$dir/start.log" "$dir/dovecot.log" >&2 2>/dev/null || true
        exit 1
    fi
    url="imap://reclamations:$password@127.0.0.1:$port/INBOX"
    echo "$port" >"$dir/port"
    echo "$url" >"$dir/url"
    [ -f "$dir/cert.pem" ] && echo "imaps://reclamations:$password@127.0.0.1:$tls_port/INBOX" >"$dir/imaps_url"
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
