"""Tests of the fault proxy against a small in-process upstream (`python3 -m pytest scripts/chaos_lib`)."""
import asyncio
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from faultproxy import FaultProxy, RuleError, parse_rule


class Upstream:
    """Echoes what it receives, except `SEND n\\n`, which it answers with n bytes of `x`. Counts what it got."""

    def __init__(self):
        self.received = b""
        self.connections = 0
        self.server = None
        self.port = None

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self.received += data
                if data.startswith(b"SEND "):
                    n = int(data.split()[1])
                    writer.write(b"x" * n)
                else:
                    writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def stop(self):
        self.server.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


async def setup(rule=None, tls=None):
    upstream = Upstream()
    await upstream.start()
    proxy = FaultProxy("127.0.0.1", upstream.port, tls=tls)
    await proxy.start()
    if rule:
        proxy.set_rule(rule)
    return upstream, proxy


async def read_all(reader, limit=10_000_000, timeout=5.0):
    """Reads until EOF; returns (bytes, how it ended: 'eof' | 'reset' | 'timeout')."""
    out = b""
    try:
        while len(out) < limit:
            data = await asyncio.wait_for(reader.read(65536), timeout=timeout)
            if not data:
                return out, "eof"
            out += data
    except (ConnectionResetError, BrokenPipeError):
        return out, "reset"
    except asyncio.TimeoutError:
        return out, "timeout"
    return out, "limit"


async def control(proxy, method, path, body=None):
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.control_port)
    payload = json.dumps(body).encode() if body is not None else b""
    writer.write(b"%s %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % (method.encode(), path.encode(), len(payload)) + payload)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(content)


def test_plain_forwarding_echoes():
    async def scenario():
        upstream, proxy = await setup()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"hello")
        await writer.drain()
        assert await reader.readexactly(5) == b"hello"
        writer.write(b"SEND 200000")
        data = await reader.readexactly(200000)
        assert data == b"x" * 200000
        writer.close()
        await proxy.stop()
        upstream.stop()
        assert proxy.stats["bytes_down"] == 200005
    run(scenario())


def test_latency_delays_each_reply():
    async def scenario():
        upstream, proxy = await setup({"latency_ms": 300})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        started = time.monotonic()
        writer.write(b"ping")
        await writer.drain()
        assert await reader.readexactly(4) == b"ping"
        elapsed = time.monotonic() - started
        assert 0.29 <= elapsed < 2.0, elapsed
        writer.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_bandwidth_cap():
    async def scenario():
        upstream, proxy = await setup({"bandwidth_bps": 200_000})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        started = time.monotonic()
        writer.write(b"SEND 100000")
        await writer.drain()
        await reader.readexactly(100_000)
        elapsed = time.monotonic() - started
        assert 0.45 <= elapsed < 3.0, elapsed  # 100 kB at 200 kB/s
        writer.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_reset_after_n_bytes_of_the_reply():
    async def scenario():
        upstream, proxy = await setup({"fault": "reset", "after_bytes": 1000})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"SEND 50000")
        await writer.drain()
        data, how = await read_all(reader)
        assert data == b"x" * 1000
        assert how == "reset"
        assert proxy.stats["resets"] == 1
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_reset_after_n_bytes_of_the_request():
    async def scenario():
        upstream, proxy = await setup({"fault": "reset", "after_bytes": 10, "direction": "up"})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"0123456789ABCDEFGHIJ")
        await writer.drain()
        data, how = await read_all(reader)
        assert how == "reset"
        await asyncio.sleep(0.1)
        assert upstream.received == b"0123456789"
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_close_in_the_middle_of_the_response():
    async def scenario():
        upstream, proxy = await setup({"fault": "close", "after_bytes": 4096})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"SEND 100000")
        await writer.drain()
        data, how = await read_all(reader)
        assert len(data) == 4096
        assert how == "eof"
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_blackhole_accepts_and_never_answers():
    async def scenario():
        upstream, proxy = await setup({"fault": "blackhole"})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"SEND 10")
        await writer.drain()
        data, how = await read_all(reader, timeout=0.7)
        assert (data, how) == (b"", "timeout")
        assert upstream.connections == 0
        assert proxy.stats["blackholed"] == 1
        writer.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_blackhole_reply_forwards_the_request_but_swallows_the_answer():
    async def scenario():
        upstream, proxy = await setup({"fault": "blackhole_reply"})
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"SEND 10")
        await writer.drain()
        data, how = await read_all(reader, timeout=0.7)
        assert (data, how) == (b"", "timeout")
        assert upstream.received == b"SEND 10"
        writer.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_refuse_closes_the_listener_and_reset_reopens_it():
    async def scenario():
        upstream, proxy = await setup()
        port = proxy.listen_port
        status, _ = await control(proxy, "POST", "/rule", {"fault": "refuse"})
        assert status == 200
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        status, _ = await control(proxy, "POST", "/reset")
        assert status == 200
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ok")
        assert await reader.readexactly(2) == b"ok"
        writer.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_match_arms_only_connections_whose_request_matches_and_times_limits_them():
    async def scenario():
        upstream, proxy = await setup({"fault": "blackhole_reply", "match": "alter table", "times": 1})
        # A request that does not match passes.
        r1, w1 = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        w1.write(b"SELECT 1")
        assert await r1.readexactly(8) == b"SELECT 1"
        # The same connection: the matching request reaches upstream, its reply vanishes.
        w1.write(b"ALTER TABLE t")
        data, how = await read_all(r1, timeout=0.5)
        assert (data, how) == (b"", "timeout")
        assert upstream.received.endswith(b"ALTER TABLE t")
        # times=1: a second matching connection is not armed.
        r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        w2.write(b"ALTER TABLE u")
        assert await r2.readexactly(13) == b"ALTER TABLE u"
        w1.close()
        w2.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_switching_the_rule_while_traffic_flows():
    async def scenario():
        upstream, proxy = await setup()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port)
        writer.write(b"a")
        assert await reader.readexactly(1) == b"a"
        status, body = await control(proxy, "POST", "/rule", {"latency_ms": 250})
        assert status == 200 and body["rule"]["latency_ms"] == 250
        started = time.monotonic()
        writer.write(b"b")
        assert await reader.readexactly(1) == b"b"
        assert time.monotonic() - started >= 0.24
        # existing=false leaves open connections alone.
        await control(proxy, "POST", "/rule", {"fault": "reset", "existing": False})
        writer.write(b"c")
        assert await reader.readexactly(1) == b"c"
        status, state = await control(proxy, "GET", "/")
        assert status == 200 and state["open"] == 1 and state["rule"]["fault"] == "reset"
        status, dropped = await control(proxy, "POST", "/drop")
        assert dropped == {"dropped": 1}
        data, how = await read_all(reader, timeout=2)
        assert how in ("reset", "eof")
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_bad_rules_are_refused():
    with pytest.raises(RuleError):
        parse_rule({"fault": "explode"})
    with pytest.raises(RuleError):
        parse_rule({"after_bytes": -1})
    with pytest.raises(RuleError):
        parse_rule({"match": "("})
    with pytest.raises(RuleError):
        parse_rule({"latency": 5})

    async def scenario():
        upstream, proxy = await setup()
        status, body = await control(proxy, "POST", "/rule", {"fault": "explode"})
        assert status == 400 and "fault" in body["error"]
        status, _ = await control(proxy, "GET", "/nowhere")
        assert status == 404
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_tls_listener_serves_a_self_signed_certificate():
    directory = tempfile.mkdtemp()
    cert, key = os.path.join(directory, "c.pem"), os.path.join(directory, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)

    async def scenario():
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert, key)
        upstream, proxy = await setup(tls=server_context)
        # Verification against the system roots fails...
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection("127.0.0.1", proxy.listen_port, ssl=ssl.create_default_context(),
                                          server_hostname="localhost")
        # ...and trusting the certificate works.
        trusting = ssl.create_default_context(cafile=cert)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.listen_port, ssl=trusting,
                                                       server_hostname="localhost")
        writer.write(b"tls")
        assert await reader.readexactly(3) == b"tls"
        writer.close()
        await proxy.stop()
        upstream.stop()
    run(scenario())


def test_command_line_writes_its_ports():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        upstream_port = s.getsockname()[1]
        directory = tempfile.mkdtemp()
        port_file = os.path.join(directory, "ports")
        here = os.path.dirname(os.path.abspath(__file__))
        process = subprocess.Popen(["python3", os.path.join(here, "faultproxy.py"), "--upstream",
                                    "127.0.0.1:%d" % upstream_port, "--port-file", port_file],
                                   stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(port_file):
                    break
                time.sleep(0.05)
            listen, control_port = map(int, open(port_file).read().split())
            with socket.create_connection(("127.0.0.1", listen), timeout=2) as client:
                conn, _ = s.accept()
                client.sendall(b"via proxy")
                assert conn.recv(100) == b"via proxy"
                conn.close()
        finally:
            process.terminate()
            process.wait(timeout=5)
