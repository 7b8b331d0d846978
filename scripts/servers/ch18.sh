#!/usr/bin/env bash
# Private ClickHouse 18.16 server (Debian's clickhouse-server package) on 127.0.0.1.
#
#   ch18.sh start DIR [HTTP_PORT] [TCP_PORT]   prints the HTTP port once /ping answers (0 or absent = a free port)
#   ch18.sh stop DIR                           SIGTERM, then SIGKILL after 20 s
#
# DIR receives config.xml, users.xml, data/, tmp/, log/, pid, http_port and tcp_port.
# Users: `default` (no password), `writer` / `secret` and the read-only `reader` / `reader`, and
# `limited` / `limited` (only the `system` database), all limited to loopback.
# The default profile enables LowCardinality, which 18.16 still calls experimental.
set -euo pipefail

usage() { echo "usage: $0 start DIR [HTTP_PORT] [TCP_PORT] | stop DIR" >&2; exit 64; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

server_binary() {
    for candidate in /usr/bin/clickhouse-server /usr/sbin/clickhouse-server; do
        [ -x "$candidate" ] && { echo "$candidate"; return; }
    done
    command -v clickhouse-server || { echo "clickhouse-server is not installed" >&2; exit 69; }
}

write_config() {
    local dir=$1 http=$2 tcp=$3
    mkdir -p "$dir"/{data,tmp,user_files,log,format_schemas}
    cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/server.log</log>
        <errorlog>$dir/log/server.err.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
XML
    cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <writer>
            <password>secret</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </writer>
        <reader>
            <password>reader</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </reader>
        <limited>
            <password>limited</password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <allow_databases><database>system</database></allow_databases>
        </limited>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

start() {
    local dir http tcp binary pid
    dir=$(realpath -m "$1")
    http=${2:-0}; tcp=${3:-0}
    [ "$http" = 0 ] && http=$(free_port)
    [ "$tcp" = 0 ] && tcp=$(free_port)
    if [ -s "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "a server already runs from $dir (pid $(cat "$dir/pid"))" >&2; exit 1
    fi
    binary=$(server_binary)
    write_config "$dir" "$http" "$tcp"
    rm -f "$dir/http_port" "$dir/tcp_port"
    (cd "$dir" && exec setsid "$binary" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 </dev/null) &
    pid=$!
    echo "$pid" > "$dir/pid"
    for _ in $(seq 1 120); do
        if curl -fsS -m 1 "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then
            echo "$http" > "$dir/http_port"; echo "$tcp" > "$dir/tcp_port"
            echo "$http"; return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "clickhouse-server exited during start-up:" >&2
            tail -n 20 "$dir/log/stdout.log" "$dir/log/server.err.log" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.5
    done
    echo "clickhouse-server did not answer /ping on 127.0.0.1:$http within 60 s" >&2
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
    start) [ $# -ge 2 ] || usage; start "$2" "${3:-0}" "${4:-0}" ;;
    stop) [ $# -ge 2 ] || usage; stop "$2" ;;
    *) usage ;;
esac
