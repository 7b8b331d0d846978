#!/usr/bin/env python3
"""A TCP fault proxy for Sluice's reliability suite.

    python3 scripts/chaos_lib/faultproxy.py --upstream HOST:PORT [--listen PORT] [--control PORT]
                                            [--tls-cert CERT --tls-key KEY] [--port-file FILE]

It forwards every connection made to the listen port (127.0.0.1) to the upstream, and applies the
current *rule* to it. The rule is switched over a small HTTP API on the control port (127.0.0.1 only),
while traffic flows:

    GET  /          the rule and the counters (JSON)
    POST /rule      replace the rule; the body is a JSON object with any of the fields below
    POST /reset     back to plain forwarding
    POST /drop      reset (RST) every open connection now

Rule fields (all optional; the default is plain forwarding):

    fault          "none" | "reset" | "close" | "blackhole" | "blackhole_reply" | "refuse"
                   reset:            after `after_bytes` bytes in `direction`, both sides get a TCP RST
                   close:            after `after_bytes` bytes in `direction`, both sides are closed (FIN),
                                     e.g. a response cut in the middle
                   blackhole:        accept the connection and never answer (nothing goes upstream)
                   blackhole_reply:  forward the request upstream but never return the reply to the client;
                                     the connection stays open
                   refuse:           close the listening socket, so connects are refused (ECONNREFUSED)
    after_bytes    bytes to let through before reset/close (default 0)
    direction      "down" (server to client, default) or "up" (client to server): what after_bytes counts
    latency_ms     delay before each forwarded chunk in `latency_direction` ("down" default, "up", "both")
    bandwidth_bps  at most this many bytes per second per connection and direction (0: unlimited)
    match          a regular expression over the client's bytes (latin-1, case-insensitive); a connection is
                   armed only once its request data matches; the matching chunk passes and the fault
                   counts from the next byte
    times          arm at most this many connections, then forward plainly (default: unlimited)
    existing       apply the rule to connections already open (default true); false: only new ones

`--tls-cert/--tls-key` make the listener speak TLS (the upstream stays plain), for certificate tests.
`--port-file` receives "LISTEN_PORT CONTROL_PORT" once both listen.

The rule and counters are also usable in-process: `FaultProxy(...)`, `await proxy.start()`,
`proxy.set_rule({...})`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import ssl
import struct
import sys
import time

FAULTS = ("none", "reset", "close", "blackhole", "blackhole_reply", "refuse")
DIRECTIONS = ("down", "up")
LATENCY_DIRECTIONS = ("down", "up", "both")
CHUNK = 65536


class RuleError(ValueError):
    """A rule the proxy cannot apply; the control API answers 400 with the message."""


def parse_rule(fields: dict) -> dict:
    """Validates a rule given as a JSON object and fills in defaults."""
    if not isinstance(fields, dict):
        raise RuleError("the rule must be a JSON object")
    known = {"fault", "after_bytes", "direction", "latency_ms", "latency_direction", "bandwidth_bps", "match",
             "times", "existing"}
    unknown = set(fields) - known
    if unknown:
        raise RuleError("unknown rule fields: %s" % ", ".join(sorted(unknown)))
    rule = {
        "fault": fields.get("fault", "none"),
        "after_bytes": fields.get("after_bytes", 0),
        "direction": fields.get("direction", "down"),
        "latency_ms": fields.get("latency_ms", 0),
        "latency_direction": fields.get("latency_direction", "down"),
        "bandwidth_bps": fields.get("bandwidth_bps", 0),
        "match": fields.get("match"),
        "times": fields.get("times"),
        "existing": fields.get("existing", True),
    }
    if rule["fault"] not in FAULTS:
        raise RuleError("fault must be one of %s" % ", ".join(FAULTS))
    if rule["direction"] not in DIRECTIONS:
        raise RuleError("direction must be down or up")
    if rule["latency_direction"] not in LATENCY_DIRECTIONS:
        raise RuleError("latency_direction must be down, up or both")
    for name in ("after_bytes", "bandwidth_bps"):
        if not isinstance(rule[name], int) or isinstance(rule[name], bool) or rule[name] < 0:
            raise RuleError("%s must be a non-negative integer" % name)
    if not isinstance(rule["latency_ms"], (int, float)) or isinstance(rule["latency_ms"], bool) or rule["latency_ms"] < 0:
        raise RuleError("latency_ms must be a non-negative number")
    if rule["times"] is not None and (not isinstance(rule["times"], int) or rule["times"] < 0):
        raise RuleError("times must be a non-negative integer")
    if rule["match"] is not None:
        if not isinstance(rule["match"], str):
            raise RuleError("match must be a string")
        try:
            rule["_pattern"] = re.compile(rule["match"].encode("latin-1"), re.IGNORECASE)
        except (re.error, UnicodeEncodeError) as error:
            raise RuleError("match is not a usable regular expression: %s" % error)
    return rule


def public_rule(rule: dict) -> dict:
    return {k: v for k, v in rule.items() if not k.startswith("_")}


class Connection:
    """One proxied connection: its two pumps share the arming state and the byte counters."""

    def __init__(self, proxy: "FaultProxy", ident: int, client_reader, client_writer):
        self.proxy = proxy
        self.ident = ident
        self.client_reader = client_reader
        self.client_writer = client_writer
        self.upstream_reader = None
        self.upstream_writer = None
        self.rule_version = -1
        self.armed = False
        self.window = b""  # the client's recent bytes, for `match`
        self.counted = {"up": 0, "down": 0}  # bytes since arming, per direction
        self.bytes = {"up": 0, "down": 0}
        self.done = asyncio.Event()

    def refresh(self, at_accept: bool = False):
        """Re-reads the rule when it changed: un-arms, and arms when the rule has no `match`."""
        proxy = self.proxy
        if self.rule_version == proxy.rule_version:
            return
        self.rule_version = proxy.rule_version
        self.armed = False
        self.counted = {"up": 0, "down": 0}
        rule = proxy.rule
        if rule["match"] is None and (at_accept or rule["existing"]):
            self.armed = proxy.take_arm()

    def observe_client_bytes(self, data: bytes) -> bool:
        """Feeds client bytes to `match`; returns whether this chunk armed the connection."""
        pattern = self.proxy.rule.get("_pattern")
        if self.armed or pattern is None:
            return False
        self.window = (self.window + data)[-CHUNK * 4:]
        if pattern.search(self.window) and self.proxy.take_arm():
            self.armed = True
            self.window = b""
            return True
        return False

    def abort(self, rst: bool):
        for writer in (self.client_writer, self.upstream_writer):
            if writer is None:
                continue
            try:
                if rst:
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                else:
                    if writer.can_write_eof():
                        writer.write_eof()
                    writer.close()
            except (OSError, RuntimeError):
                pass
        self.done.set()


class FaultProxy:
    """The proxy: a listener, the control API, the current rule and counters."""

    def __init__(self, upstream_host: str, upstream_port: int, listen_port: int = 0, control_port: int = 0,
                 tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.listen_port = listen_port
        self.control_port = control_port
        self.tls = tls
        self.rule = parse_rule({})
        self.rule_version = 0
        self.armed_left = None
        self.server = None
        self.control = None
        self.connections: dict[int, Connection] = {}
        self.next_ident = 0
        self.stats = {"connections": 0, "bytes_up": 0, "bytes_down": 0, "armed": 0, "resets": 0, "closes": 0,
                      "blackholed": 0, "upstream_failures": 0}

    # MARK: rule

    def set_rule(self, fields: dict) -> dict:
        rule = parse_rule(fields)
        self.rule = rule
        self.rule_version += 1
        self.armed_left = rule["times"]
        self._apply_listener_state()
        return public_rule(rule)

    def take_arm(self) -> bool:
        if self.armed_left is not None:
            if self.armed_left <= 0:
                return False
            self.armed_left -= 1
        self.stats["armed"] += 1
        return True

    def _apply_listener_state(self):
        loop = asyncio.get_event_loop()
        if self.rule["fault"] == "refuse" and (self.armed_left is None or self.armed_left > 0):
            if self.server is not None:
                self.server.close()
                self.server = None
        elif self.server is None and self.listen_port:
            loop.create_task(self._listen())

    def snapshot(self) -> dict:
        return {"rule": public_rule(self.rule), "listen_port": self.listen_port, "control_port": self.control_port,
                "upstream": "%s:%d" % self.upstream, "open": len(self.connections), "stats": dict(self.stats),
                "listening": self.server is not None}

    # MARK: lifecycle

    async def start(self):
        await self._listen()
        self.control = await asyncio.start_server(self._control, self.host, self.control_port)
        self.control_port = self.control.sockets[0].getsockname()[1]

    async def _listen(self):
        server = await asyncio.start_server(self._accept, self.host, self.listen_port, ssl=self.tls,
                                            reuse_address=True, backlog=1024)
        self.listen_port = server.sockets[0].getsockname()[1]
        if self.rule["fault"] == "refuse" and (self.armed_left is None or self.armed_left > 0):
            server.close()
            return
        self.server = server

    async def stop(self):
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.control is not None:
            self.control.close()
        for conn in list(self.connections.values()):
            conn.abort(rst=True)

    def drop_all(self) -> int:
        n = len(self.connections)
        for conn in list(self.connections.values()):
            conn.abort(rst=True)
        return n

    # MARK: data path

    async def _accept(self, reader, writer):
        self.next_ident += 1
        conn = Connection(self, self.next_ident, reader, writer)
        self.connections[conn.ident] = conn
        self.stats["connections"] += 1
        try:
            conn.refresh(at_accept=True)
            if conn.armed and self.rule["fault"] == "blackhole":
                self.stats["blackholed"] += 1
                await self._swallow(conn)
                return
            try:
                conn.upstream_reader, conn.upstream_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                self.stats["upstream_failures"] += 1
                conn.abort(rst=True)
                return
            up = asyncio.ensure_future(self._pump(conn, "up", reader, conn.upstream_writer))
            down = asyncio.ensure_future(self._pump(conn, "down", conn.upstream_reader, writer))
            await asyncio.wait([up, down, asyncio.ensure_future(conn.done.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            # One side finished: let the other drain briefly, then close both.
            await asyncio.wait([up, down], timeout=0.5 if not conn.done.is_set() else 0)
            for task in (up, down):
                task.cancel()
            conn.abort(rst=False)
        finally:
            self.connections.pop(conn.ident, None)

    async def _swallow(self, conn: Connection):
        """Blackhole: read and discard the client's bytes until it goes away (or the proxy drops it)."""
        reader = conn.client_reader
        while not conn.done.is_set():
            read = asyncio.ensure_future(reader.read(CHUNK))
            stop = asyncio.ensure_future(conn.done.wait())
            finished, _ = await asyncio.wait([read, stop], return_when=asyncio.FIRST_COMPLETED)
            if stop in finished:
                read.cancel()
                return
            stop.cancel()
            try:
                data = read.result()
            except (OSError, ConnectionError):
                return
            if not data:
                conn.abort(rst=False)
                return
            self.stats["bytes_up"] += len(data)

    async def _pump(self, conn: Connection, direction: str, reader, writer):
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    try:
                        if writer.can_write_eof():
                            writer.write_eof()
                    except (OSError, RuntimeError):
                        pass
                    return
                conn.refresh()
                rule = self.rule
                if direction == "up" and conn.observe_client_bytes(data):
                    # The matching chunk itself goes through; the fault counts from the next byte on.
                    await self._send(conn, direction, writer, data, rule, shaped=False)
                    continue
                if not conn.armed:
                    await self._send(conn, direction, writer, data, rule, shaped=False)
                    continue
                fault = rule["fault"]
                if fault == "blackhole_reply" and direction == "down":
                    conn.bytes["down"] += len(data)
                    continue  # the reply is swallowed; the connection stays open
                if fault == "blackhole" and direction == "up":
                    continue  # armed later by `match`: the rest of the request vanishes
                if fault in ("reset", "close") and direction == rule["direction"]:
                    room = rule["after_bytes"] - conn.counted[direction]
                    if room < len(data):
                        if room > 0:
                            await self._send(conn, direction, writer, data[:room], rule, shaped=True)
                        conn.counted[direction] += max(room, 0)
                        self.stats["resets" if fault == "reset" else "closes"] += 1
                        await asyncio.sleep(0.05 if fault == "close" else 0)
                        conn.abort(rst=fault == "reset")
                        return
                    conn.counted[direction] += len(data)
                await self._send(conn, direction, writer, data, rule, shaped=True)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            conn.abort(rst=False)
        except asyncio.CancelledError:
            raise

    async def _send(self, conn, direction, writer, data, rule, shaped):
        if shaped:
            latency = rule["latency_ms"]
            if latency and rule["latency_direction"] in (direction, "both"):
                await asyncio.sleep(latency / 1000.0)
            rate = rule["bandwidth_bps"]
            if rate:
                step = max(1, min(len(data), rate // 20 or 1))
                for start in range(0, len(data), step):
                    piece = data[start:start + step]
                    writer.write(piece)
                    await writer.drain()
                    self._count(conn, direction, len(piece))
                    await asyncio.sleep(len(piece) / rate)
                return
        writer.write(data)
        await writer.drain()
        self._count(conn, direction, len(data))

    def _count(self, conn, direction, n):
        conn.bytes[direction] += n
        self.stats["bytes_up" if direction == "up" else "bytes_down"] += n

    # MARK: control API

    async def _control(self, reader, writer):
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1].strip())
            if length > 65536:
                raise RuleError("body too large")
            body = await asyncio.wait_for(reader.readexactly(length), timeout=10) if length else b""
            status, answer = self._route(method, path, body)
        except RuleError as error:
            status, answer = 400, {"error": str(error)}
        except (ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            status, answer = 400, {"error": "bad request: %s" % error}
        payload = json.dumps(answer).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
        try:
            writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                         b"connection: close\r\n\r\n" % (status, reason.encode(), len(payload)) + payload)
            await writer.drain()
            writer.close()
        except OSError:
            pass

    def _route(self, method: str, path: str, body: bytes):
        if method == "GET" and path == "/":
            return 200, self.snapshot()
        if method == "POST" and path == "/rule":
            try:
                fields = json.loads(body or b"{}")
            except ValueError as error:
                raise RuleError("the body is not JSON: %s" % error)
            return 200, {"rule": self.set_rule(fields)}
        if method == "POST" and path == "/reset":
            return 200, {"rule": self.set_rule({})}
        if method == "POST" and path == "/drop":
            return 200, {"dropped": self.drop_all()}
        return 404, {"error": "no such endpoint: %s %s" % (method, path)}


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def serve(args):
    host, _, port = args.upstream.rpartition(":")
    tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    proxy = FaultProxy(host or "127.0.0.1", int(port), args.listen, args.control, tls=tls)
    await proxy.start()
    line = "%d %d\n" % (proxy.listen_port, proxy.control_port)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(line)
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    sys.stdout.write(line)
    sys.stdout.flush()
    await asyncio.Event().wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--listen", type=int, default=0, help="listen port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--control", type=int, default=0, help="control API port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--port-file")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
