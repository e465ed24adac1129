#!/usr/bin/env bash
# Start or stop a private, throwaway PostgreSQL server living entirely in DIR.
#
#   scripts/pg.sh start DIR   # prints postgresql://postgres@127.0.0.1:PORT/app_test (also in DIR/url)
#   scripts/pg.sh stop DIR
#
# The server listens on 127.0.0.1 on a free port picked at run time, keeps its socket
# in DIR, trusts local connections and has database `app_test`. Durability is switched
# off: it is for tests only. A stale DIR left by a killed run is cleaned up on start.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2
[ -n "$dir" ] || usage

pg_bindir() {
    local bin
    if command -v pg_config >/dev/null 2>&1; then
        bin=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
            echo "$bin"; return
        fi
    fi
    # Debian keeps the server binaries in a versioned folder; take the newest.
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$bin" ] && [ -x "$bin/initdb" ]; then
        echo "$bin"; return
    fi
    echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    exit 1
}

# initdb and postgres refuse to run as root: run them as the postgres user then.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

stop_server() {
    local data=$dir/data pid
    [ -f "$data/postmaster.pid" ] || return 0
    if [ -x "$BIN/pg_ctl" ]; then
        as_pg "$BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    # pg_ctl may fail on a half-broken data dir: make sure the postmaster is gone.
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] \
        && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$data"; then
        kill -9 "$pid" 2>/dev/null || true
        for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
    fi
    rm -f "$data/postmaster.pid"
}

BIN=$(pg_bindir)

case "$action" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 777 "$dir"
    # A stale DIR (killed run): stop whatever still runs there and start from scratch.
    stop_server
    rm -rf "$dir/data" "$dir/url" "$dir/port" "$dir/log" "$dir"/.s.PGSQL.*
    if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -w "$dir"; then
        echo "pg.sh: user postgres cannot write to $dir (a parent folder is not searchable?)" >&2
        exit 1
    fi
    as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    started=
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        if as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -o \
            "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null 2>&1; then
            started=1
            break
        fi
        stop_server   # the port was taken in between: try another one
    done
    if [ -z "$started" ]; then
        echo "pg.sh: could not start PostgreSQL; log follows" >&2
        cat "$dir/log" >&2 || true
        exit 1
    fi
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres app_test
    url="postgresql://postgres@127.0.0.1:$port/app_test"
    echo "$port" >"$dir/port"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    stop_server
    ;;
*)
    usage
    ;;
esac
