#!/usr/bin/env bash
# Private ClickHouse 26.9 server (PyPI's chdb-core, clickhouse-local code path) on 127.0.0.1.
#
#   chdb.sh start DIR [HTTP_PORT]   prints the HTTP port once /ping answers (0 or absent = a free port)
#   chdb.sh stop DIR                SIGTERM, then SIGKILL after 20 s
#
# DIR receives config.xml, users.xml, data/, server.log, pid, http_port and tcp_port.
# Users: `default` (no password), `writer` / `secret` and the read-only `reader` / `reader`, and
# `limited` / `limited` (SELECT only), all limited to loopback.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

usage() { echo "usage: $0 start DIR [HTTP_PORT] | stop DIR" >&2; exit 64; }

start() {
    local dir http pid port
    dir=$(realpath -m "$1"); http=${2:-0}
    mkdir -p "$dir"
    if [ -s "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "a server already runs from $dir (pid $(cat "$dir/pid"))" >&2; exit 1
    fi
    python3 -c 'import chdb' 2>/dev/null || { echo "chdb-core is not installed (pip install chdb-core)" >&2; exit 69; }
    rm -f "$dir/http_port" "$dir/tcp_port"
    setsid python3 "$HERE/chdb_http_server.py" "$dir" "$http" 0 >"$dir/server.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" > "$dir/pid"
    for _ in $(seq 1 240); do
        if [ -s "$dir/http_port" ]; then
            port=$(cat "$dir/http_port")
            if curl -fsS -m 1 "http://127.0.0.1:$port/ping" >/dev/null 2>&1; then echo "$port"; return 0; fi
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "chdb server exited during start-up:" >&2; tail -n 20 "$dir/server.log" >&2; exit 1
        fi
        sleep 0.5
    done
    echo "chdb server did not answer /ping within 120 s" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
}

stop() {
    local dir pid
    dir=$(realpath -m "$1")
    [ -s "$dir/pid" ] || { echo "no pid file in $dir" >&2; return 0; }
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid" "$dir/http_port" "$dir/tcp_port"
}

case "${1:-}" in
    start) [ $# -ge 2 ] || usage; start "$2" "${3:-0}" ;;
    stop) [ $# -ge 2 ] || usage; stop "$2" ;;
    *) usage ;;
esac
