#!/usr/bin/env python3
"""Serve ClickHouse 26.9 (PyPI's chdb-core) over its real HTTP and native TCP interfaces on 127.0.0.1.

usage: chdb_http_server.py DIR HTTP_PORT [TCP_PORT] [MAX_SECONDS]

Port 0 lets the kernel choose; the bound ports are written to DIR/http_port and DIR/tcp_port.
Tables live in DIR/data and survive restarts.

chdb's connection API runs an embedded server that cannot open listeners, but `_chdb.query`
runs the clickhouse-local program, which can (`SYSTEM START LISTEN`). clickhouse-local reads
`config.xml` from the working directory, so the ports and users are configured there. The
listeners live while that one multi-statement query runs, so it ends with a long sleep;
stopping the process (SIGTERM/SIGKILL) or `KILL QUERY` on the sleep ends the server.
"""
import os
import sys


def write_file(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    work = os.path.abspath(sys.argv[1])
    http_port = int(sys.argv[2])
    tcp_port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    max_seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 86400

    os.makedirs(os.path.join(work, "data"), exist_ok=True)
    for name in ("http_port", "tcp_port"):
        try:
            os.unlink(os.path.join(work, name))
        except FileNotFoundError:
            pass

    write_file(os.path.join(work, "config.xml"), f"""<clickhouse>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <users_config>users.xml</users_config>
</clickhouse>
""")
    loopback = "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
    write_file(os.path.join(work, "users.xml"), f"""<clickhouse>
    <profiles><default></default><readonly><readonly>1</readonly></readonly></profiles>
    <quotas><default></default></quotas>
    <users>
        <default>
            <password></password>{loopback}
            <profile>default</profile><quota>default</quota>
            <access_management>1</access_management>
        </default>
        <writer>
            <password>secret</password>{loopback}
            <profile>default</profile><quota>default</quota>
        </writer>
        <reader>
            <password>reader</password>{loopback}
            <profile>readonly</profile><quota>default</quota>
        </reader>
        <limited>
            <password>limited</password>{loopback}
            <profile>default</profile><quota>default</quota>
            <grants><query>GRANT SELECT ON *.*</query></grants>
        </limited>
    </users>
</clickhouse>
""")

    os.chdir(work)
    from chdb import _chdb  # imported after chdir: clickhouse-local reads ./config.xml

    script = f"""
SYSTEM START LISTEN HTTP;
SYSTEM START LISTEN TCP;
SELECT getServerPort('http_port') INTO OUTFILE '{work}/http_port.tmp' TRUNCATE FORMAT TSV;
SELECT getServerPort('tcp_port') INTO OUTFILE '{work}/tcp_port.tmp' TRUNCATE FORMAT TSV;
SELECT sum(sleepEachRow(1)) FROM numbers({max_seconds}) SETTINGS max_block_size = 1;
"""
    # The port files are written under a temporary name first so that a reader never sees a
    # half-written file; the rename happens from a watcher thread below.
    import threading
    import time

    def publish() -> None:
        for _ in range(600):
            ready = all(os.path.exists(os.path.join(work, f"{n}.tmp")) for n in ("http_port", "tcp_port"))
            if ready:
                time.sleep(0.05)
                for n in ("tcp_port", "http_port"):
                    os.replace(os.path.join(work, f"{n}.tmp"), os.path.join(work, n))
                return
            time.sleep(0.1)

    threading.Thread(target=publish, daemon=True).start()
    # clickhouse-local reports errors on stderr only; a missing port file means it never listened.
    _chdb.query(script, "TabSeparated", path=os.path.join(work, "data"))
    if not os.path.exists(os.path.join(work, "http_port")) and not os.path.exists(os.path.join(work, "http_port.tmp")):
        print("ClickHouse (chdb) did not start listening; see the error above", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
